package org.chainrule.jobs;

import org.chainrule.models.TrainingRecipe;
import org.apache.spark.sql.SparkSession;
import org.chainrule.models.autoregressive.Made;
import org.chainrule.models.autoregressive.MadeSpec;
import org.chainrule.pipelines.data.Batches;
import org.chainrule.pipelines.data.Example;
import org.chainrule.pipelines.data.Manifest;
import org.chainrule.pipelines.data.Shards;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Single-JVM measurements for scripts/bench.sh (not a test): MADE training examples/s, raw scoring rows/s, cached vs
 * naive sampling, and the fp32 matrix-multiply ceiling. Prints {@code BENCH name value unit} lines.
 *
 * <p>Arguments: {@code <prepared dataset dir> [train rows (10000)] [epochs (3)] [hidden (500)] [export file]}; the
 * export file, when given, receives the training rows as raw bytes (rows x 784) for the PyTorch peer.
 */
public final class Bench {
    private Bench() {
    }

    public static void main(String[] args) {
        String data = args.length > 0 ? args[0] : "data/prepared/mnist";
        int rows = args.length > 1 ? Integer.parseInt(args[1]) : 10_000;
        int epochs = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        int hidden = args.length > 3 ? Integer.parseInt(args[3]) : 500;
        SparkSession spark = SparkSession.builder().appName("chainrule bench").getOrCreate();
        List<Example> train;
        try {
            Manifest m = Manifest.read(data, spark.sparkContext().hadoopConfiguration());
            train = Shards.read(spark, data, "train", m).take(rows);
        } finally {
            spark.stop();
        }
        if (args.length > 4) {
            try (java.io.OutputStream out = java.nio.file.Files.newOutputStream(java.nio.file.Path.of(args[4]))) {
                for (Example e : train) {
                    out.write(e.x());
                }
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
        report("threads", Nd4j.getEnvironment().maxMasterThreads(), "ND4J threads");
        gemm();
        MadeSpec spec = MadeSpec.made(new long[]{28, 28}, new int[]{hidden}, 1, false, 1);
        MultiLayerNetwork net = train(spec, Batches.matrix(train, 784), epochs);
        score((Made) spec.densityOf(net), Batches.matrix(train, 784)); // the rows the evaluate job scores too
        sampling((Made) spec.densityOf(net));
    }

    static void report(String name, double value, String unit) {
        System.out.printf("BENCH %s %.1f %s%n", name, value, unit);
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    /** fp32 matrix multiply of two 1024x1024 matrices: the hardware ceiling the other figures are compared with. */
    static void gemm() {
        INDArray a = Nd4j.rand(DataType.FLOAT, 1024, 1024);
        INDArray b = Nd4j.rand(DataType.FLOAT, 1024, 1024);
        INDArray c = Nd4j.create(DataType.FLOAT, 1024, 1024);
        double[] gflops = new double[7];
        for (int i = 0; i < gflops.length + 2; i++) {
            long t0 = System.nanoTime();
            for (int r = 0; r < 5; r++) {
                a.mmuli(b, c);
            }
            double s = (System.nanoTime() - t0) / 1e9;
            if (i >= 2) {
                gflops[i - 2] = 5 * 2.0 * 1024 * 1024 * 1024 / s / 1e9;
            }
        }
        report("gemm_fp32", median(gflops), "GFLOP/s");
    }

    static MultiLayerNetwork train(MadeSpec spec, INDArray x, int epochs) {
        MultiLayerNetwork net = new MultiLayerNetwork(spec.trainingConfiguration(new TrainingRecipe(1e-3, 1)));
        net.init();
        int batch = 100;
        List<DataSet> batches = new ArrayList<>();
        for (long i = 0; i + batch <= x.rows(); i += batch) {
            INDArray b = x.get(NDArrayIndex.interval(i, i + batch), NDArrayIndex.all()).dup();
            batches.add(new DataSet(spec.trainingFeatures(b, 0), spec.trainingLabels(b)));
        }
        double[] rate = new double[epochs];
        for (int e = 0; e < epochs; e++) {
            long t0 = System.nanoTime();
            for (DataSet ds : batches) {
                net.fit(ds);
            }
            rate[e] = batches.size() * batch / ((System.nanoTime() - t0) / 1e9);
            System.out.printf("bench: training epoch %d: %.0f examples/s%n", e + 1, rate[e]);
        }
        report("train_single_jvm", median(Arrays.copyOfRange(rate, Math.min(1, epochs - 1), epochs)), "examples/s");
        return net;
    }

    static void score(Made made, INDArray x) {
        double[] rate = new double[5];
        for (int r = 0; r < rate.length; r++) {
            long t0 = System.nanoTime();
            for (long i = 0; i < x.rows(); i += 1000) {
                made.logProb(x.get(NDArrayIndex.interval(i, Math.min(x.rows(), i + 1000)), NDArrayIndex.all()));
            }
            rate[r] = x.rows() / ((System.nanoTime() - t0) / 1e9);
        }
        report("score_single_jvm", median(rate), "rows/s");
    }

    static void sampling(Made made) {
        long[] seeds = new long[16];
        for (int i = 0; i < seeds.length; i++) {
            seeds[i] = 1000 + i;
        }
        made.sample(seeds, true); // warm-up
        long t0 = System.nanoTime();
        INDArray naive = made.sample(seeds, false);
        double naiveSec = (System.nanoTime() - t0) / 1e9;
        t0 = System.nanoTime();
        INDArray cached = made.sample(seeds, true);
        double cachedSec = (System.nanoTime() - t0) / 1e9;
        report("sample_naive", seeds.length / naiveSec, "samples/s");
        report("sample_cached", seeds.length / cachedSec, "samples/s");
        report("sample_identical", naive.equals(cached) ? 1 : 0, "(1 = cached and naive samples are identical)");
    }
}
