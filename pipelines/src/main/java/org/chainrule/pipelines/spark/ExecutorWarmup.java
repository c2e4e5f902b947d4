package org.chainrule.pipelines.spark;

import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.nd4j.linalg.ops.transforms.Transforms;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;

/**
 * Loads what an executor's first model task would otherwise load inside the task: ND4J's native backend, its matrix
 * multiply and element-wise kernels, and DL4J's network configuration JSON, construction and archive format. A fresh
 * executor spent about 3 s of its first evaluate task on this (docs/throughput.md); started when the executor starts
 * ({@link TaskThreads}'s executor plugin, when {@link #KEY} is true), it runs in a background thread while the driver
 * is still loading the model and planning the job, so the first task finds it done or waits only for the rest (the
 * JVM's class initialisation locks make a task that gets there first wait, never run twice).
 *
 * <p>The model jobs set {@link #KEY}; prepare does not (it never loads ND4J on executors). Nothing is done on a
 * classpath with ND4J's CUDA backend: creating arrays there would open a CUDA context on device 0 before the task
 * places its thread on the GPU Spark assigned ({@link TaskDevice}). Failures are logged and otherwise ignored: the
 * task then loads what it needs itself, as without the warm-up.
 */
public final class ExecutorWarmup {
    /** Spark setting: warm executors up as they start. */
    public static final String KEY = "spark.chainrule.executor.warmup";
    private static final Logger LOG = LoggerFactory.getLogger(ExecutorWarmup.class);
    private static final String CUDA_BACKEND = "org.nd4j.linalg.jcublas.JCublasBackend";

    private ExecutorWarmup() {
    }

    /** Starts the warm-up in a daemon thread and returns it (null when there is nothing to do). */
    public static Thread start() {
        if (cudaBackend()) {
            LOG.debug("executor warm-up skipped: ND4J's CUDA backend is on the classpath");
            return null;
        }
        Thread t = new Thread(ExecutorWarmup::runQuietly, "chainrule-executor-warmup");
        t.setDaemon(true);
        t.start();
        return t;
    }

    private static void runQuietly() {
        long t0 = System.nanoTime();
        try {
            run();
            LOG.info("executor warm-up: ND4J and DL4J loaded in {} ms", (System.nanoTime() - t0) / 1_000_000);
        } catch (Throwable e) { // a failed warm-up costs nothing but its time: the task loads what it needs itself
            LOG.warn("executor warm-up failed (the first task will load ND4J itself): {}", e.toString());
        }
    }

    /** The work itself: small calls through the code paths a model task takes first. */
    static void run() throws java.io.IOException {
        INDArray a = Nd4j.rand(DataType.FLOAT, 8, 8);
        INDArray c = Nd4j.create(DataType.FLOAT, 8, 8);
        Nd4j.gemm(a, a, c, false, false, 1.0, 0.0);
        c.addiRowVector(a.getRow(0));
        Transforms.log(Transforms.exp(Transforms.abs(c, false).negi(), false).addi(1.0), false);
        Transforms.relu(c, false).sum(1).castTo(DataType.DOUBLE).toDoubleVector();

        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(1).list()
                .layer(new DenseLayer.Builder().nIn(4).nOut(4).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nIn(4).nOut(4)
                        .activation(Activation.IDENTITY).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(MultiLayerConfiguration.fromJson(conf.toJson()));
        net.init();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ModelSerializer.writeModel(net, bytes, false);
        ModelSerializer.restoreMultiLayerNetwork(new ByteArrayInputStream(bytes.toByteArray()), false)
                .output(Nd4j.rand(DataType.FLOAT, 2, 4));
    }

    private static boolean cudaBackend() {
        try {
            Class.forName(CUDA_BACKEND, false, ExecutorWarmup.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException e) {
            return false;
        }
    }
}
