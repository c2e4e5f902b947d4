package org.chainrule.pipelines.spark;

import org.apache.spark.TaskContext;
import org.apache.spark.resource.ResourceInformation;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Map;

/**
 * Puts a task's ND4J work on the GPU that Spark's resource scheduling gave the task
 * ({@code spark.executor.resource.gpu.amount}, {@code spark.task.resource.gpu.amount} and a discovery script): the
 * first address in {@link TaskContext#resources()}{@code .get("gpu")} becomes the CUDA device of the task's thread,
 * so that two executors (or two tasks of one executor) on a machine with several GPUs do not all land on device 0.
 *
 * <p>Called by {@link TaskThreads} at the start of every task. On the CPU backend, and for a task without GPU
 * resources (local mode, or no GPU requested), nothing is done.
 */
public final class TaskDevice {
    private static final Logger LOG = LoggerFactory.getLogger(TaskDevice.class);
    private static final ThreadLocal<Integer> PLACED = ThreadLocal.withInitial(() -> -1);

    private TaskDevice() {
    }

    /** Moves the calling task thread onto its assigned GPU (see the class comment). */
    static void place(TaskContext task) {
        if (Nd4j.getEnvironment().isCPU()) {
            return;
        }
        Map<String, ResourceInformation> resources = task.resourcesJMap();
        ResourceInformation gpu = resources.get("gpu");
        if (gpu == null) {
            return;
        }
        int device = choose(gpu.addresses(), Nd4j.getAffinityManager().getNumberOfDevices());
        if (PLACED.get() != device) {
            Nd4j.getAffinityManager().unsafeSetDevice(device);
            PLACED.set(device);
            LOG.debug("task {}: ND4J on CUDA device {} (Spark assigned gpu {})", task.taskAttemptId(), device,
                    String.join(",", gpu.addresses()));
        }
    }

    /**
     * The CUDA device for a task given Spark's GPU addresses: the first address, read as a device index. When the
     * process sees fewer devices than that index (a container that isolates its GPUs renumbers the visible ones from
     * 0, while a discovery script may report the host's numbers), the index is taken modulo the visible count.
     *
     * @param addresses   the task's GPU addresses as Spark gives them (at least one)
     * @param visible     the CUDA devices this process sees (at least one)
     */
    public static int choose(String[] addresses, int visible) {
        if (addresses.length == 0) {
            throw new IllegalArgumentException("the task was given a gpu resource without an address");
        }
        if (visible < 1) {
            throw new IllegalStateException("ND4J's CUDA backend sees no device, but Spark gave this task gpu "
                    + addresses[0]);
        }
        int index;
        try {
            index = Integer.parseInt(addresses[0].trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("gpu address '" + addresses[0] + "' from Spark's discovery script is not"
                    + " a device number; the script must print device indices (as nvidia-smi's index column)", e);
        }
        if (index < 0) {
            throw new IllegalArgumentException("gpu address " + index + " is negative");
        }
        return index % visible;
    }
}
