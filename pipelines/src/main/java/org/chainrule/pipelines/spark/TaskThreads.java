package org.chainrule.pipelines.spark;

import org.apache.spark.SparkConf;
import org.apache.spark.TaskContext;
import org.apache.spark.api.plugin.DriverPlugin;
import org.apache.spark.api.plugin.ExecutorPlugin;
import org.apache.spark.api.plugin.PluginContext;
import org.apache.spark.api.plugin.SparkPlugin;
import org.apache.spark.sql.SparkSession;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.nativeblas.NativeOpsHolder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Arrays;
import java.util.Map;

/**
 * A Spark plugin that gives each task as many ND4J native threads as the task has CPUs ({@code spark.task.cpus}, or
 * its resource profile's task cpus): a user who gives tasks 4 cores gets 4 BLAS threads, one who runs one task per
 * core gets one thread per task instead of every task starting a thread per core and fighting over them.
 *
 * <p>ND4J has three thread settings, and a process-wide environment variable ({@code OMP_NUM_THREADS}) cannot serve
 * tasks with different needs. At the start of every task, in the task's own thread, this sets:
 * <ul>
 *   <li>OpenBLAS's thread count (process-wide; every task of an executor has the same cpus, so concurrent tasks agree);
 *   <li>the threads one libnd4j operation may take from its thread pool
 *       ({@link org.nd4j.linalg.factory.Environment#setMaxMasterThreads}); the pool itself is sized once, at start-up,
 *       by the machine's cores (or {@code OMP_NUM_THREADS} if set then), and bounds this;
 *   <li>OpenMP's thread count for the calling thread ({@code omp_set_num_threads} sets a per-thread value), which
 *       oneDNN's convolutions and LSTM cells use.
 * </ul>
 * On the CUDA backend these settings are left alone (there they mean kernel launch sizes, not CPU threads); instead
 * the task's thread is put on the GPU Spark assigned to the task ({@link TaskDevice}).
 *
 * <p>Enabled with {@code spark.plugins=org.chainrule.pipelines.spark.TaskThreads}; the jobs add it for you
 * ({@link #enable}). Work outside tasks (the driver's own ND4J calls) keeps ND4J's defaults or {@code OMP_NUM_THREADS}.
 * The first task of an executor loads ND4J if nothing had (about 1.4 s here), which only jobs without ND4J work, such
 * as prepare, would otherwise have saved; the model jobs load it before any task, as the executor starts
 * ({@link ExecutorWarmup}).
 */
public final class TaskThreads implements SparkPlugin {
    private static final Logger LOG = LoggerFactory.getLogger(TaskThreads.class);
    /** The process-wide part already applied (0 = not yet), so most tasks only set their own thread's value. */
    private static volatile int processWide;
    private static final ThreadLocal<Integer> PER_THREAD = ThreadLocal.withInitial(() -> 0);

    /** Adds this plugin to the session's {@code spark.plugins}, keeping any the user configured. */
    public static SparkSession.Builder enable(SparkSession.Builder builder) {
        return enable(builder, false);
    }

    /**
     * Adds this plugin, and with {@code warmExecutors} asks it to warm each executor up as it starts
     * ({@link ExecutorWarmup}) unless the user set {@value ExecutorWarmup#KEY} themselves.
     */
    public static SparkSession.Builder enable(SparkSession.Builder builder, boolean warmExecutors) {
        String name = TaskThreads.class.getName();
        SparkConf user = new SparkConf();
        String plugins = user.get("spark.plugins", "").trim();
        if (Arrays.stream(plugins.split(",")).map(String::trim).noneMatch(name::equals)) {
            builder.config("spark.plugins", plugins.isEmpty() ? name : plugins + "," + name);
        }
        if (warmExecutors && !user.contains(ExecutorWarmup.KEY)) {
            builder.config(ExecutorWarmup.KEY, "true");
        }
        return builder;
    }

    @Override
    public DriverPlugin driverPlugin() {
        return null;
    }

    @Override
    public ExecutorPlugin executorPlugin() {
        return new ExecutorPlugin() {
            @Override
            public void init(PluginContext ctx, Map<String, String> extraConf) {
                LOG.debug("ND4J threads per task follow the task's cpus (spark.task.cpus = {})",
                        ctx.conf().get("spark.task.cpus", "1"));
                if (ctx.conf().getBoolean(ExecutorWarmup.KEY, false)) {
                    ExecutorWarmup.start();
                }
            }

            @Override
            public void onTaskStart() {
                TaskContext task = TaskContext.get();
                if (task != null) {
                    apply(task.cpus());
                    TaskDevice.place(task);
                }
            }
        };
    }

    /** Gives the calling thread's ND4J work {@code threads} native threads (see the class comment). */
    public static void apply(int threads) {
        int n = Math.max(1, threads);
        org.nd4j.linalg.factory.Environment env = Nd4j.getEnvironment();
        if (!env.isCPU()) {
            return;
        }
        if (processWide != n) {
            synchronized (TaskThreads.class) {
                if (processWide != n) {
                    Nd4j.factory().blas().setMaxThreads(n);
                    env.setMaxMasterThreads(n);
                    LOG.debug("ND4J: {} BLAS / libnd4j thread(s) per task", n);
                    processWide = n;
                }
            }
        }
        if (PER_THREAD.get() != n) {
            NativeOpsHolder.getInstance().getDeviceNativeOps().setOmpNumThreads(n);
            PER_THREAD.set(n);
        }
    }

    /**
     * The threads ND4J work started from the calling thread would use now.
     *
     * @param blas        OpenBLAS threads
     * @param libnd4j     threads one libnd4j operation may use
     * @param libnd4jPool libnd4j's thread pool, the bound of {@code libnd4j}
     * @param openMp      OpenMP threads of a parallel region started from this thread
     */
    public record Seen(int blas, int libnd4j, int libnd4jPool, int openMp) implements java.io.Serializable {
        /** What the calling thread sees. */
        public static Seen now() {
            return new Seen(Nd4j.factory().blas().getMaxThreads(), Nd4j.getEnvironment().maxMasterThreads(),
                    Nd4j.getEnvironment().maxThreads(),
                    NativeOpsHolder.getInstance().getDeviceNativeOps().ompGetMaxThreads());
        }
    }
}
