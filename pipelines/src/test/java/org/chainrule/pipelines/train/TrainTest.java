package org.chainrule.pipelines.train;

import org.chainrule.models.TrainingRecipe;
import org.apache.spark.api.java.JavaRDD;
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
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import scala.Tuple2;

import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

    /** dl4j-spark with one worker and averaging frequency 1 must equal plain fitting of the same minibatches. */
    @Test
    void oneWorkerEqualsSingleJvmTraining(@TempDir Path tmp) {
        MadeSpec spec = MadeSpec.made(new long[]{28, 28}, new int[]{32}, 2, true, 5);
        Train.Settings s = settings(tmp.resolve("run").toString(), spec, 2, 1, 1, 1, false);
        Train.run(spark, s);
        MultiLayerNetwork sparkTrained = SavedModel.load(s.output() + "/checkpoint", true,
                spark.sparkContext().hadoopConfiguration()).network();

        MultiLayerNetwork local = new MultiLayerNetwork(spec.trainingConfiguration(s.recipe()));
        local.init();
        JavaRDD<Example> train = Shards.read(spark, data, "train", manifest);
        for (int epoch = 0; epoch < 2; epoch++) {
            List<Tuple2<DataSet, Long>> batches = Train.epochBatches(train, spec, manifest.domain(),
                    s.schedule().batchSize(), s.seed(), epoch, 1, 784).collect();
            batches.stream().sorted(Comparator.comparingLong(Tuple2::_2)).forEach(b -> local.fit(b._1()));
        }
        INDArray a = local.params();
        INDArray b = sparkTrained.params();
        double maxDiff = a.sub(b).amaxNumber().doubleValue();
        assertTrue(maxDiff < 1e-5, "parameters differ by up to " + maxDiff);
        assertTrue(local.getUpdater().getStateViewArray().equalsWithEps(
                sparkTrained.getUpdater().getStateViewArray(), 1e-5), "Adam state differs");
    }

    /** Every recipe option but reduce-on-plateau (which needs validation NLLs) at once. */
    static TrainingRecipe everyOption(String schedule, long span, long seed) {
        return new TrainingRecipe(new TrainingRecipe.Optimizer("adam", 0.85, 0.99, 1e-7, 0.9), 3e-3,
                new TrainingRecipe.Schedule(schedule, 5, 0.5, 1, 1e-4, 1, span), 1e-4, 1e-3, 0.5, 0.99, seed);
    }

    /**
     * One worker averaging after every step equals plain fitting with every recipe option on: Adam's constants, L2,
     * decoupled weight decay, clipping, warm-up and an epoch-keyed step schedule (which sees the run's epoch), and
     * the weight average updated per step.
     */
    @Test
    void oneWorkerEqualsSingleJvmTrainingWithEveryRecipeOption(@TempDir Path tmp) {
        MadeSpec spec = MadeSpec.made(new long[]{28, 28}, new int[]{32}, 2, true, 5);
        TrainingRecipe recipe = everyOption("step", 0, 11);
        Train.Settings s = settings(tmp.resolve("run").toString(), spec, 2, 1, 1, 0, false).withRecipe(recipe);
        Train.run(spark, s);
        var conf = spark.sparkContext().hadoopConfiguration();
        MultiLayerNetwork sparkTrained = SavedModel.load(s.output() + "/checkpoint", true, conf).network();
        WeightAverage sparkAverage = WeightAverage.fromBytes(org.chainrule.pipelines.io.Outputs.readBytes(
                s.output() + "/checkpoint/" + WeightAverage.FILE, conf), 0.99, sparkTrained.numParams(), "ckpt");

        MultiLayerNetwork local = recipe.network(spec);
        WeightAverage average = WeightAverage.startingAt(0.99, local.params());
        JavaRDD<Example> train = Shards.read(spark, data, "train", manifest);
        for (int epoch = 0; epoch < 2; epoch++) {
            local.getLayerWiseConfigurations().setEpochCount(epoch);
            List<Tuple2<DataSet, Long>> batches = Train.epochBatches(train, spec, manifest.domain(),
                    s.schedule().batchSize(), s.seed(), epoch, 1, 784).collect();
            for (Tuple2<DataSet, Long> b : batches.stream().sorted(Comparator.comparingLong(Tuple2::_2)).toList()) {
                local.fit(b._1());
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
     * on (and two workers averaging every 2 steps), gives the same parameters, optimizer state and weight average as
     * running 2 epochs straight.
     */
    @Test
    void resumeMidScheduleEqualsUninterruptedRun(@TempDir Path tmp) {
        MadeSpec spec = MadeSpec.made(new long[]{28, 28}, new int[]{32}, 1, false, 5);
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
}
