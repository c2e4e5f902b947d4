package org.chainrule.bench;

import org.apache.spark.sql.SparkSession;
import org.chainrule.models.TrainingRecipe;
import org.chainrule.models.autoregressive.MadeDensity;
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

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * Single-JVM measurements for scripts/bench.sh (not a test, not in the application jar): the fp32 matrix-multiply
 * ceiling through ND4J's matmul op and through BLAS directly, MADE 784-500-784 training examples/s with the validation
 * NLL after each epoch, the raw scoring forward rows/s, and cached vs naive sampling. Prints
 * {@code BENCH name value unit} lines.
 *
 * <p>Arguments: {@code <prepared dataset dir> <train rows> <epochs> <learning rate> <seed> [export file]}; with 0
 * epochs only the matrix multiplies and the scoring of a freshly initialised network run (to compare thread counts).
 * Training
 * is plain {@link MultiLayerNetwork#fit} on minibatches of 100 built before each epoch, in a seeded shuffled order per
 * epoch, from the same initialisation (learning rate and seed) as the train job. The validation NLL is scored on the
 * dataset's whole validation split. The export file, when given, receives the training rows as raw bytes
 * (rows x 784) for the PyTorch peer.
 */
public final class Bench {
    private static final int BATCH = 100;
    private static final int SCORE_BATCH = 1000;

    private Bench() {
    }

    public static void main(String[] args) {
        if (args.length < 5) {
            throw new IllegalArgumentException("usage: Bench <prepared dir> <train rows> <epochs> <learning rate> <seed>"
                    + " [export file]");
        }
        String data = args[0];
        int rows = Integer.parseInt(args[1]);
        int epochs = Integer.parseInt(args[2]);
        double learningRate = Double.parseDouble(args[3]);
        long seed = Long.parseLong(args[4]);
        SparkSession spark = SparkSession.builder().appName("chainrule bench").getOrCreate();
        List<Example> train;
        List<Example> valid;
        try {
            Manifest m = Manifest.read(data, spark.sparkContext().hadoopConfiguration());
            train = Shards.read(spark, data, "train", m).takeOrdered(rows, Example.BY_ROW_ID);
            valid = Shards.read(spark, data, "valid", m).collect();
        } finally {
            spark.stop();
        }
        if (args.length > 5) {
            export(train, Path.of(args[5]));
        }
        report("threads", Nd4j.getEnvironment().maxMasterThreads(), "ND4J threads");
        gemm(1024);
        gemm(2048);
        MadeSpec spec = MadeSpec.made(new long[]{28, 28}, new int[]{500}, 1, false, 1);
        INDArray x = Batches.matrix(train, 784);
        if (epochs == 0) {
            MultiLayerNetwork fresh = new MultiLayerNetwork(spec.trainingConfiguration(
                    new TrainingRecipe(learningRate, seed)));
            fresh.init();
            score((MadeDensity) spec.densityOf(fresh), x);
            return;
        }
        MultiLayerNetwork net = train(spec, x, Batches.matrix(valid, 784), epochs, learningRate, seed);
        MadeDensity made = (MadeDensity) spec.densityOf(net);
        score(made, x); // the rows the evaluate job scores too
        sampling(made);
    }

    static void report(String name, double value, String unit) {
        System.out.printf("BENCH %s %.2f %s%n", name, value, unit);
    }

    /** The median; of an even count, the mean of the middle two (as bench.sh takes the Spark epochs'). */
    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        int m = s.length / 2;
        return s.length % 2 == 1 ? s[m] : (s[m - 1] + s[m]) / 2;
    }

    private static void export(List<Example> rows, Path file) {
        try (OutputStream out = Files.newOutputStream(file)) {
            for (Example e : rows) {
                out.write(e.x());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * fp32 n x n matrix multiply, the hardware ceiling the other figures are compared with: through ND4J's general
     * matmul op ({@code mmul}, what SameDiff and DL4J layers run) and straight through BLAS ({@code Nd4j.gemm}, what
     * the MADE scorer runs).
     */
    static void gemm(int n) {
        INDArray a = Nd4j.rand(DataType.FLOAT, n, n);
        INDArray b = Nd4j.rand(DataType.FLOAT, n, n);
        INDArray c = Nd4j.create(DataType.FLOAT, n, n);
        report("gemm_fp32_mmul_" + n, gflops(n, () -> a.mmuli(b, c)), "GFLOP/s");
        report("gemm_fp32_blas_" + n, gflops(n, () -> Nd4j.gemm(a, b, c, false, false, 1.0, 0.0)), "GFLOP/s");
    }

    private static double gflops(int n, Runnable multiply) {
        int reps = n >= 2048 ? 2 : 5;
        double[] rate = new double[7];
        for (int i = 0; i < rate.length + 2; i++) {
            long t0 = System.nanoTime();
            for (int r = 0; r < reps; r++) {
                multiply.run();
            }
            double s = (System.nanoTime() - t0) / 1e9;
            if (i >= 2) {
                rate[i - 2] = reps * 2.0 * n * n * n / s / 1e9;
            }
        }
        return median(rate);
    }

    static MultiLayerNetwork train(MadeSpec spec, INDArray x, INDArray valid, int epochs, double learningRate,
                                   long seed) {
        MultiLayerNetwork net = new MultiLayerNetwork(spec.trainingConfiguration(
                new TrainingRecipe(learningRate, seed)));
        net.init();
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < x.rows(); i++) {
            order.add(i);
        }
        Random shuffle = new Random(seed);
        double[] rate = new double[epochs];
        for (int e = 0; e < epochs; e++) {
            Collections.shuffle(order, shuffle);
            List<DataSet> batches = new ArrayList<>();
            for (int from = 0; from + BATCH <= order.size(); from += BATCH) {
                long[] rows = order.subList(from, from + BATCH).stream().mapToLong(Integer::longValue).toArray();
                INDArray b = x.get(NDArrayIndex.indices(rows), NDArrayIndex.all()).dup();
                batches.add(new DataSet(spec.trainingFeatures(b, 0), spec.trainingLabels(b)));
            }
            long t0 = System.nanoTime();
            for (DataSet ds : batches) {
                net.fit(ds);
            }
            rate[e] = batches.size() * BATCH / ((System.nanoTime() - t0) / 1e9);
            double validNll = -spec.densityOf(net).logProb(valid).meanNumber().doubleValue();
            System.out.printf("bench: training epoch %d: %.0f examples/s, valid NLL %.3f nats%n", e + 1, rate[e],
                    validNll);
            report("train_valid_nll_epoch_" + (e + 1), validNll, "nats");
        }
        // epoch 1 warms up the JIT and ND4J's workspaces; the rate is the median of the later epochs
        report("train_single_jvm", median(Arrays.copyOfRange(rate, Math.min(1, epochs - 1), epochs)), "examples/s");
        return net;
    }

    /** The raw forward: log-likelihoods of every row, in batches of 1,000, as evaluate's tasks run it. */
    static void score(MadeDensity made, INDArray x) {
        double[] rate = new double[5];
        for (int r = 0; r < rate.length + 1; r++) {
            long t0 = System.nanoTime();
            for (long i = 0; i < x.rows(); i += SCORE_BATCH) {
                made.logProb(x.get(NDArrayIndex.interval(i, Math.min(x.rows(), i + SCORE_BATCH)), NDArrayIndex.all()));
            }
            if (r > 0) {
                rate[r - 1] = x.rows() / ((System.nanoTime() - t0) / 1e9);
            }
        }
        report("score_single_jvm", median(rate), "rows/s");
    }

    static void sampling(MadeDensity made) {
        long[] seeds = new long[16];
        for (int i = 0; i < seeds.length; i++) {
            seeds[i] = 1000 + i;
        }
        made.sample(seeds, null, 1.0, true); // warm-up
        long t0 = System.nanoTime();
        INDArray naive = made.sample(seeds, null, 1.0, false);
        double naiveSec = (System.nanoTime() - t0) / 1e9;
        t0 = System.nanoTime();
        INDArray cached = made.sample(seeds, null, 1.0, true);
        double cachedSec = (System.nanoTime() - t0) / 1e9;
        report("sample_naive", seeds.length / naiveSec, "samples/s");
        report("sample_cached", seeds.length / cachedSec, "samples/s");
        report("sample_identical", naive.equals(cached) ? 1 : 0, "(1 = cached and naive samples are identical)");
    }
}
