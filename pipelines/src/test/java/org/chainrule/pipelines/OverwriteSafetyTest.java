package org.chainrule.pipelines;

import org.apache.spark.sql.SparkSession;
import org.chainrule.models.TrainingRecipe;
import org.chainrule.models.autoregressive.MadeSpec;
import org.chainrule.pipelines.data.Manifest;
import org.chainrule.pipelines.data.Prepare;
import org.chainrule.pipelines.data.Shards;
import org.chainrule.pipelines.evaluate.Evaluate;
import org.chainrule.pipelines.io.SavedModel;
import org.chainrule.pipelines.sample.Sample;
import org.chainrule.pipelines.train.Train;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * No job deletes or replaces its own input or another kind of artefact, even with --overwrite (issue 20): the real
 * jobs pointed at a model, a dataset and a run, under several spellings of the path, leave them byte for byte as they
 * were.
 */
class OverwriteSafetyTest {
    @TempDir
    static Path shared;
    static String data;
    static String run;
    static String model;
    static final MadeSpec SPEC = MadeSpec.made(new long[]{28, 28}, new int[]{8}, 1, false, 5);
    private final SparkSession spark = SparkTesting.spark();

    @BeforeAll
    static void prepareAndTrain() {
        Path raw = SparkTesting.mnistSlice(shared.resolve("raw"));
        data = shared.resolve("prepared").toString();
        Prepare.run(SparkTesting.spark(), SparkTesting.sliceSettings(raw, data, 150, 30));
        run = shared.resolve("runs/made").toString();
        Train.run(SparkTesting.spark(), train(data, run, true));
        model = run + "/model";
    }

    static Train.Settings train(String data, String output, boolean overwrite) {
        return new Train.Settings(data, output, SPEC, new TrainingRecipe(1e-3, 3), new Train.Schedule(1, 30, 0),
                new Train.Averaging(1, 2, 0), new Train.Scoring(30, 0, 100), false, overwrite, Map.of());
    }

    static Map<String, String> contents(String dir) {
        return SparkTesting.fileDigests(dir);
    }

    @Test
    void evaluateWithOverwriteNeverReplacesTheModelItScores() throws IOException {
        Map<String, String> before = contents(run);
        for (String output : new String[]{model, model + "/", "file:" + model, run + "/x/../model", run}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Evaluate.run(spark,
                    new Evaluate.Settings(model, data, "test", output, 64, true)), output);
            assertTrue(e.getMessage().startsWith("evaluate output " + output + " "), e.getMessage());
        }
        assertEquals(before, contents(run));
        SavedModel.load(model, false, spark.sparkContext().hadoopConfiguration());
    }

    @Test
    void trainWithOverwriteNeverReplacesTheDatasetItReads() throws IOException {
        Map<String, String> before = contents(data);
        for (String output : new String[]{data, data + "/", shared + "/runs/../prepared", data + "/train"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Train.run(spark, train(data, output, true)), output);
            assertTrue(e.getMessage().contains("its input " + data), e.getMessage());
        }
        // another dataset than the one it reads is not a run either
        String other = shared.resolve("other-data").toString();
        Prepare.run(spark, SparkTesting.sliceSettings(SparkTesting.mnistSlice(shared.resolve("raw2")), other, 60, 10));
        Map<String, String> otherBefore = contents(other);
        IllegalStateException kind = assertThrows(IllegalStateException.class,
                () -> Train.run(spark, train(data, other, true)));
        assertTrue(kind.getMessage().contains("holds a dataset (written by the prepare job), not a run"),
                kind.getMessage());
        assertEquals(before, contents(data));
        assertEquals(otherBefore, contents(other));
        Shards.verify(spark, data, "train", Manifest.read(data, spark.sparkContext().hadoopConfiguration()));
    }

    @Test
    void prepareOntoARunAndSampleOntoADatasetAreRefused() throws IOException {
        Map<String, String> runBefore = contents(run);
        Map<String, String> dataBefore = contents(data);
        Prepare.Settings p = SparkTesting.sliceSettings(SparkTesting.mnistSlice(shared.resolve("raw3")), run, 60, 10);
        IllegalStateException prepare = assertThrows(IllegalStateException.class, () -> Prepare.run(spark,
                p.toBuilder().overwrite(true).build()));
        assertTrue(prepare.getMessage().contains("holds a run (written by the train job), not a dataset"),
                prepare.getMessage());
        IllegalStateException sample = assertThrows(IllegalStateException.class, () -> Sample.run(spark,
                new Sample.Settings(model, data, 4, 1, 4, 0, true)));
        assertTrue(sample.getMessage().contains("holds a dataset"), sample.getMessage());
        IllegalArgumentException inside = assertThrows(IllegalArgumentException.class, () -> Sample.run(spark,
                new Sample.Settings(model, data + "/samples", 4, 1, 4, 0, true)));
        assertTrue(inside.getMessage().contains("not inside another artefact"), inside.getMessage());
        assertEquals(runBefore, contents(run));
        assertEquals(dataBefore, contents(data));
    }
}
