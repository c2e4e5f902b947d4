package org.chainrule.pipelines.train;

import org.chainrule.models.TrainingRecipe;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.autoregressive.MadeSpec;
import org.chainrule.pipelines.SparkTesting;
import org.chainrule.pipelines.data.Example;
import org.chainrule.pipelines.data.Manifest;
import org.chainrule.pipelines.data.Prepare;
import org.chainrule.pipelines.data.Shards;
import org.chainrule.pipelines.io.SavedModel;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.updater.MultiLayerUpdater;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Training: parameter averaging checked round by round against {@link IndependentAveraging} (every worker's k steps
 * taken separately from the round's starting state on minibatches the test builds itself, then averaged), one worker
 * against plain minibatch training, resume, and refusals.
 */
class TrainTest {
    @TempDir
    static Path shared;
    static String data;
    static Manifest manifest;
    private final SparkSession spark = SparkTesting.spark();

    @BeforeAll
    static void prepare() {
        Path raw = SparkTesting.mnistSlice(shared.resolve("raw"));
        data = shared.resolve("prepared").toString();
        manifest = Prepare.run(SparkTesting.spark(), SparkTesting.sliceSettings(raw, data, 400, 100));
    }

    static Train.Settings settings(String out, ModelSpec spec, int epochs, int workers, int freq, int rounds,
                                   boolean resume) {
        return new Train.Settings(data, out, spec, new TrainingRecipe(2e-3, 11), new Train.Schedule(epochs, 25, 0),
                new Train.Averaging(workers, freq, rounds), new Train.Scoring(100, 0, 200), resume, false, Map.of());
    }

    /**
     * One worker with averaging frequency 1 is plain minibatch training: the run's parameters and Adam state equal
     * those of fitting the same minibatches (built by the test from the documented schedule) one after another.
     */
    @Test
    void oneWorkerEqualsSingleJvmTraining(@TempDir Path tmp) {
        MadeSpec spec = MadeSpec.made(new long[]{28, 28}, new int[]{32}, 2, true, 5);
        Train.Settings s = settings(tmp.resolve("run").toString(), spec, 2, 1, 1, 1, false);
        Train.run(spark, s);
        MultiLayerNetwork sparkTrained = SavedModel.load(s.output() + "/checkpoint", true,
                spark.sparkContext().hadoopConfiguration()).network();

        TrainingRecipe opt = s.recipe();
        List<Example> rows = Shards.read(spark, data, "train", manifest).collect();
        IndependentAveraging reference = new IndependentAveraging(spec, opt, rows, 1, s.schedule().batchSize(), 1,
                s.seed());
        MultiLayerNetwork local = opt.network(spec);
        for (int epoch = 0; epoch < 2; epoch++) {
            List<IndependentAveraging.Batch> batches = reference.batchesOf(epoch, 0);
            assertEquals(12, batches.size(), "300 rows in minibatches of 25");
            batches.forEach(b -> local.fit(b.dataSet(spec)));
        }
        IndependentAveraging.assertMatches(IndependentAveraging.State.of(local),
                IndependentAveraging.State.of(sparkTrained), 1e-5, "after 2 epochs");
    }

    /** Every recipe option but reduce-on-plateau (which needs validation NLLs) at once. */
    static TrainingRecipe everyOption(String schedule, long span, long seed) {
        return new TrainingRecipe(new TrainingRecipe.Optimizer("adam", 0.85, 0.99, 1e-7, 0.9), 3e-3,
                new TrainingRecipe.Schedule(schedule, 5, 0.5, 1, 1e-4, 1, span), 1e-4, 1e-3, 0.5, 0.99, seed);
    }

    /**
     * One worker averaging after every step equals plain fitting with every recipe option on: Adam's constants, L2,
     * decoupled weight decay, clipping, warm-up and an epoch-keyed step schedule (which sees the run's epoch), the
     * weight average updated per step, and dropout on the hidden units (masks keyed on the step).
     */
    @Test
    void oneWorkerEqualsSingleJvmTrainingWithEveryRecipeOption(@TempDir Path tmp) {
        MadeSpec spec = MadeSpec.made(new long[]{28, 28}, new int[]{32}, 2, true, 5).withDropout(0.2);
        TrainingRecipe recipe = everyOption("step", 0, 11);
        Train.Settings plain = settings(tmp.resolve("run").toString(), spec, 2, 1, 1, 0, false).withRecipe(recipe);
        // block momentum and the averaged step scale are for 2 or more workers: one worker trains as one process
        Train.Settings s = new Train.Settings(plain.data(), plain.output(), spec, recipe, plain.schedule(),
                new Train.Averaging(1, 1, 0, 0.5, 2), plain.scoring(), false, false, Map.of());
        Train.run(spark, s);
        var conf = spark.sparkContext().hadoopConfiguration();
        MultiLayerNetwork sparkTrained = SavedModel.load(s.output() + "/checkpoint", true, conf).network();
        WeightAverage sparkAverage = WeightAverage.fromBytes(org.chainrule.pipelines.io.Outputs.readBytes(
                s.output() + "/checkpoint/" + WeightAverage.FILE, conf), 0.99, sparkTrained.numParams(), "ckpt");

        MultiLayerNetwork local = recipe.network(spec);
        WeightAverage average = WeightAverage.startingAt(0.99, local.params());
        List<Example> rows = Shards.read(spark, data, "train", manifest).collect();
        IndependentAveraging reference = new IndependentAveraging(spec, recipe, rows, 1, s.schedule().batchSize(), 1,
                s.seed());
        for (int epoch = 0; epoch < 2; epoch++) {
            local.getLayerWiseConfigurations().setEpochCount(epoch);
            for (IndependentAveraging.Batch b : reference.batchesOf(epoch, 0)) {
                local.fit(b.dataSet(spec));
                average.update(local.params(), 1);
            }
        }
        double maxDiff = local.params().sub(sparkTrained.params()).amaxNumber().doubleValue();
        assertTrue(maxDiff < 1e-5, "parameters differ by up to " + maxDiff);
        assertTrue(local.getUpdater().getStateViewArray().equalsWithEps(
                sparkTrained.getUpdater().getStateViewArray(), 1e-5), "Adam state differs");
        double averageDiff = average.average().sub(sparkAverage.average()).amaxNumber().doubleValue();
        assertTrue(averageDiff < 1e-5, "weight averages differ by up to " + averageDiff);
        // the saved best model holds weights of the average, not the live ones
        INDArray best = SavedModel.load(s.output() + "/model", false, conf).network().params();
        assertTrue(best.sub(sparkTrained.params()).amaxNumber().doubleValue() > 1e-4,
                "the saved model holds the live weights");
    }

    /**
     * Stopping after epoch 1 of 2 and resuming, mid-way through a warmed-up cosine schedule with every other option
     * and dropout on (and two workers averaging every 2 steps), gives the same parameters, optimizer state and weight average as
     * running 2 epochs straight.
     */
    @Test
    void resumeMidScheduleEqualsUninterruptedRun(@TempDir Path tmp) {
        MadeSpec spec = MadeSpec.made(new long[]{28, 28}, new int[]{32}, 1, false, 5).withDropout(0.3);
        // the cosine spans the whole run (2 epochs) in both segments
        TrainingRecipe recipe = StepSizes.forRun(everyOption("cosine", 0, 11), 2, manifest.split("train", data)
                .rows(), 25, 2, 2);
        Train.Settings straight = settings(tmp.resolve("straight").toString(), spec, 2, 2, 2, 0, false)
                .withRecipe(recipe);
        Train.run(spark, straight);
        Train.Settings first = settings(tmp.resolve("resumed").toString(), spec, 1, 2, 2, 0, false)
                .withRecipe(recipe);
        Train.run(spark, first);
        Map<String, Object> summary = Train.run(spark, settings(first.output(), spec, 2, 2, 2, 0, true)
                .withRecipe(recipe));
        assertEquals(2, ((List<?>) summary.get("history")).size());
        var conf = spark.sparkContext().hadoopConfiguration();
        MultiLayerNetwork a = SavedModel.load(straight.output() + "/checkpoint", true, conf).network();
        MultiLayerNetwork b = SavedModel.load(first.output() + "/checkpoint", true, conf).network();
        double maxDiff = a.params().sub(b.params()).amaxNumber().doubleValue();
        assertTrue(maxDiff < 1e-6, "resumed run differs by up to " + maxDiff);
        assertTrue(a.getUpdater().getStateViewArray().equalsWithEps(b.getUpdater().getStateViewArray(), 1e-6),
                "optimizer state differs");
        INDArray avgA = WeightAverage.fromBytes(org.chainrule.pipelines.io.Outputs.readBytes(straight.output()
                + "/checkpoint/" + WeightAverage.FILE, conf), 0.99, a.numParams(), "a").average();
        INDArray avgB = WeightAverage.fromBytes(org.chainrule.pipelines.io.Outputs.readBytes(first.output()
                + "/checkpoint/" + WeightAverage.FILE, conf), 0.99, b.numParams(), "b").average();
        assertTrue(avgA.sub(avgB).amaxNumber().doubleValue() < 1e-6, "weight averages differ");
        assertEquals(a.getLayerWiseConfigurations().getIterationCount(),
                b.getLayerWiseConfigurations().getIterationCount());
    }

    /**
     * Block momentum and the averaged step scale are part of the run: the checkpoint keeps the velocity, and resuming
     * after epoch 1 gives the parameters, optimizer state and velocity of running 2 epochs straight; the workers
     * trained at the scaled step size.
     */
    @Test
    void resumeWithBlockMomentumEqualsUninterruptedRun(@TempDir Path tmp) {
        MadeSpec spec = MadeSpec.made(new long[]{28, 28}, new int[]{32}, 1, false, 5);
        Train.Averaging averaging = new Train.Averaging(2, 2, 0, 0.5, 2);
        java.util.function.BiFunction<String, Integer, Train.Settings> run = (out, epochs) -> new Train.Settings(data,
                out, spec, new TrainingRecipe(2e-3, 11), new Train.Schedule(epochs, 25, 0), averaging,
                new Train.Scoring(100, 0, 200), false, false, Map.of());
        Train.Settings straight = run.apply(tmp.resolve("straight").toString(), 2);
        Train.run(spark, straight);
        Train.Settings first = run.apply(tmp.resolve("resumed").toString(), 1);
        Train.run(spark, first);
        Train.run(spark, run.apply(first.output(), 2).withFlags(true, false));
        var conf = spark.sparkContext().hadoopConfiguration();
        MultiLayerNetwork a = SavedModel.load(straight.output() + "/checkpoint", true, conf).network();
        MultiLayerNetwork b = SavedModel.load(first.output() + "/checkpoint", true, conf).network();
        assertTrue(a.params().equalsWithEps(b.params(), 1e-6), "resumed parameters differ");
        assertTrue(a.getUpdater().getStateViewArray().equalsWithEps(b.getUpdater().getStateViewArray(), 1e-6),
                "optimizer state differs");
        byte[] va = org.chainrule.pipelines.io.Outputs.readBytes(straight.output() + "/checkpoint/"
                + BlockMomentum.FILE, conf);
        byte[] vb = org.chainrule.pipelines.io.Outputs.readBytes(first.output() + "/checkpoint/"
                + BlockMomentum.FILE, conf);
        INDArray pa = a.params().mul(0);
        INDArray pb = b.params().mul(0);
        BlockMomentum.fromBytes(va, 0.5, a.numParams(), "a").apply(pa.dup(), pa);
        BlockMomentum.fromBytes(vb, 0.5, b.numParams(), "b").apply(pb.dup(), pb);
        assertTrue(pa.amaxNumber().doubleValue() > 0, "the velocity is zero: no block momentum was applied");
        assertTrue(pa.equalsWithEps(pb, 1e-6), "velocities differ");
        String param = a.getLayer(0).paramTable().keySet().iterator().next();
        assertEquals(4e-3, a.getLayerWiseConfigurations().getConf(0).getLayer().getUpdaterByParam(param)
                .getLearningRate(0, 0), 1e-12, "the workers' step size");
    }

    /** Stopping after epoch 1 and resuming gives the same parameters as running 2 epochs straight. */
    @Test
    void resumeEqualsUninterruptedRun(@TempDir Path tmp) {
        MadeSpec spec = MadeSpec.made(new long[]{28, 28}, new int[]{32}, 1, false, 5);
        Train.Settings straight = settings(tmp.resolve("straight").toString(), spec, 2, 2, 2, 0, false);
        Train.run(spark, straight);
        Train.Settings first = settings(tmp.resolve("resumed").toString(), spec, 1, 2, 2, 0, false);
        Train.run(spark, first);
        Map<String, Object> summary = Train.run(spark, settings(first.output(), spec, 2, 2, 2, 0, true));
        assertEquals(2, ((List<?>) summary.get("history")).size());
        var conf = spark.sparkContext().hadoopConfiguration();
        INDArray a = SavedModel.load(straight.output() + "/checkpoint", true, conf).network().params();
        INDArray b = SavedModel.load(first.output() + "/checkpoint", true, conf).network().params();
        double maxDiff = a.sub(b).amaxNumber().doubleValue();
        assertTrue(maxDiff < 1e-6, "resumed run differs by up to " + maxDiff);
    }

    @Test
    void resumeWithoutCheckpointOrWithOtherModelIsRefused(@TempDir Path tmp) {
        MadeSpec spec = MadeSpec.made(new long[]{28, 28}, new int[]{16}, 1, false, 5);
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
                () -> Train.run(spark, settings(tmp.resolve("none").toString(), spec, 1, 1, 1, 0, true)));
        assertTrue(none.getMessage().contains("nothing to resume"), none.getMessage());
        Train.run(spark, settings(tmp.resolve("run").toString(), spec, 1, 1, 4, 0, false));
        MadeSpec other = MadeSpec.made(new long[]{28, 28}, new int[]{17}, 1, false, 5);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Train.run(spark, settings(tmp.resolve("run").toString(), other, 2, 1, 4, 0, true)));
        assertTrue(e.getMessage().contains("different model"), e.getMessage());
    }

    @Test
    void bernoulliModelRefusesNonBinaryData(@TempDir Path tmp) {
        Path raw = SparkTesting.mnistSlice(tmp.resolve("raw"));
        Prepare.Settings s = SparkTesting.sliceSettings(raw, tmp.resolve("u8").toString(), 100, 20);
        Prepare.run(spark, s.toBuilder().encoding(new org.chainrule.pipelines.data.Encoding(784, 255, "none", 1)).build());
        Train.Settings t = new Train.Settings(s.output(), tmp.resolve("run").toString(), MadeSpec.fvsbn(new long[]{28, 28}), new TrainingRecipe(1e-3, 1), new Train.Schedule(1, 10, 0),
                new Train.Averaging(1, 1, 0), new Train.Scoring(10, 0, 10), false, false, Map.of());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Train.run(spark, t));
        assertTrue(e.getMessage().contains("density over binary data") && e.getMessage().contains("uint8"),
                e.getMessage());
    }

    /**
     * 300 rows, minibatches of 25, 3 per round: 2 workers get 6 minibatches each (2 full rounds); 3 workers get 4
     * each, so their second round has one minibatch per worker. Two epochs, so the second starts from averaged state
     * and a counter that kept counting. The MADE has two mask sets, so each minibatch's variant is checked too. Both
     * exchanges: one job per round, and one barrier job per epoch whose tasks talk to the driver over sockets.
     */
    @ParameterizedTest
    @CsvSource({"2, 0, rounds", "3, 0, rounds", "2, 0.5, rounds", "2, 0, barrier", "2, 0.5, barrier"})
    void everyRoundIsTheMeanOfIndependentWorkers(int workers, double blockMomentum, String exchange) {
        MadeSpec spec = MadeSpec.made(new long[]{28, 28}, new int[]{32}, 2, true, 5);
        TrainingRecipe opt = new TrainingRecipe(2e-3, 11);
        int batchSize = 25;
        int frequency = 3;
        long seed = 11;
        JavaRDD<Example> train = Shards.read(spark, data, "train", manifest).cache();
        List<Example> rows = train.collect();
        IndependentAveraging reference = new IndependentAveraging(spec, opt, rows, workers, batchSize, frequency, seed);
        MultiLayerNetwork net = new MultiLayerNetwork(spec.trainingConfiguration(opt));
        net.init();
        // one updater block: Adam's state array is [first moments | second moments], which assertMatches splits
        assertEquals(1, ((MultiLayerUpdater) net.getUpdater()).getUpdaterBlocks().size());
        int checked = 0;
        try (AveragingRounds averaging = new AveragingRounds(JavaSparkContext.fromSparkContext(spark.sparkContext()),
                train, net, spec, manifest.domain(), 784, workers, batchSize, frequency, seed,
                blockMomentum > 0 ? BlockMomentum.starting(blockMomentum, net.numParams()) : null, exchange)) {
            assertEquals(exchange.equals("barrier"), averaging.oneJobPerEpoch());
            // with block momentum the parameters step by v = momentum v + (mean - start); the optimizer state is the mean
            INDArray velocity = net.params().mul(0);
            for (int epoch = 0; epoch < 2; epoch++) {
                AveragingRounds.Epoch e = averaging.epoch(epoch);
                assertEquals(2, e.rounds());
                assertEquals(12, e.steps());
                for (int r = 0; r < e.rounds(); r++) {
                    IndependentAveraging.State before = IndependentAveraging.State.of(net);
                    e.round(r, net);
                    IndependentAveraging.State mean = reference.round(before, epoch, r);
                    velocity.muli(blockMomentum).addi(mean.params().sub(before.params()));
                    IndependentAveraging.State expected = new IndependentAveraging.State(
                            before.params().add(velocity), mean.updater(), mean.iteration());
                    IndependentAveraging.assertMatches(expected,
                            IndependentAveraging.State.of(net), 1e-5,
                            workers + " workers, epoch " + epoch + " round " + r);
                    checked++;
                }
                e.finish();
                // a worker that closes its connection after sending its last round has ended, not been lost
                assertEquals(0, e.times().lostWorkers(), "workers reported lost in an undisturbed epoch " + epoch);
                e.close();
            }
        } finally {
            train.unpersist();
        }
        assertEquals(4, checked);
    }

    /** {@code auto} runs an epoch as one barrier job only when every worker gets a task slot at once (local[2]: 2). */
    @Test
    void autoExchangeUsesBarrierJobsOnlyWhenEveryWorkerHasASlot() {
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        assertEquals(2, jsc.defaultParallelism());
        assertTrue(AveragingRounds.oneJobPerEpoch(jsc, 1, "auto"));
        assertTrue(AveragingRounds.oneJobPerEpoch(jsc, 2, "auto"));
        assertFalse(AveragingRounds.oneJobPerEpoch(jsc, 3, "auto"));
        assertFalse(AveragingRounds.oneJobPerEpoch(jsc, 2, "rounds"));
        assertTrue(AveragingRounds.oneJobPerEpoch(jsc, 3, "barrier"));
        assertThrows(IllegalArgumentException.class, () -> AveragingRounds.oneJobPerEpoch(jsc, 2, "sockets"));
    }

    /** The schedule deals every row exactly once per epoch, into minibatches of the right size and rounds. */
    @Test
    void scheduleDealsEveryRowOnce() {
        EpochOrder order = EpochOrder.of(1003, 3, 25, 4, 7, 2);
        long[] perWorker = new long[3];
        java.util.Set<Long> seen = new java.util.HashSet<>();
        for (long rank = 0; rank < 1003; rank++) {
            long p = order.position(rank);
            assertTrue(seen.add(p), "position " + p + " given twice");
            perWorker[order.worker(p)]++;
            assertTrue(order.partition(p) < order.rounds() * 3);
        }
        for (int w = 0; w < 3; w++) {
            assertEquals(order.rowsOf(w), perWorker[w]);
        }
        assertEquals(335 + 334 + 334, order.rowsOf(0) + order.rowsOf(1) + order.rowsOf(2));
        assertEquals(14 + 14 + 14, order.steps()); // ceil(335 / 25) = ceil(334 / 25) = 14
        assertEquals(4, order.rounds());           // ceil(14 / 4)
    }
}
