package org.chainrule.pipelines.train;

import com.typesafe.config.Config;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.chainrule.models.TrainingRecipe;
import org.chainrule.models.autoregressive.MadeSpec;
import org.chainrule.pipelines.SparkTesting;
import org.chainrule.pipelines.data.Encoding;
import org.chainrule.pipelines.data.Prepare;
import org.chainrule.pipelines.io.Json;
import org.chainrule.pipelines.io.Outputs;
import org.chainrule.pipelines.io.SavedModel;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Honest provenance (issue 20): {@code --resume} refuses settings that change what the run's epochs compute, naming
 * each one, and with {@code --allow-changed-settings} records which settings produced which epochs (and really uses
 * the new learning rate).
 */
class ResumeSettingsTest {
    @TempDir
    static Path shared;
    static String data;
    static String otherData;
    static final MadeSpec SPEC = MadeSpec.made(new long[]{28, 28}, new int[]{8}, 1, false, 5);
    private final SparkSession spark = SparkTesting.spark();
    private final Configuration conf = SparkTesting.spark().sparkContext().hadoopConfiguration();

    @BeforeAll
    static void prepare() {
        Path raw = SparkTesting.mnistSlice(shared.resolve("raw"));
        data = shared.resolve("prepared").toString();
        Prepare.run(SparkTesting.spark(), SparkTesting.sliceSettings(raw, data, 200, 40));
        Prepare.Settings s = SparkTesting.sliceSettings(raw, shared.resolve("other").toString(), 200, 40);
        otherData = s.output();
        Prepare.run(SparkTesting.spark(), s.toBuilder().encoding(new Encoding(784, 255, "stochastic", 2)).build());
    }

    private static Train.Settings run(String data, String out, int epochs, int batch, double lr, long seed,
                                      boolean resume, Map<String, Object> record) {
        return new Train.Settings(data, out, SPEC, new TrainingRecipe(lr, seed), new Train.Schedule(epochs, batch, 0),
                new Train.Averaging(1, 2, 0), new Train.Scoring(50, 0, 100), resume, false, record);
    }

    @Test
    void aResumeThatChangesWhatTheEpochsComputeIsRefusedNamingEachSetting(@TempDir Path tmp) {
        String out = tmp.resolve("run").toString();
        Train.run(spark, run(data, out, 1, 25, 2e-3, 11, false, Map.of()));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Train.run(spark, run(data, out, 2, 20, 1e-3, 12, true, Map.of())));
        String msg = e.getMessage();
        assertTrue(msg.contains("train.seed: 11 in the run, 12 now"), msg);
        assertTrue(msg.contains("train.learning-rate: 0.002 in the run, 0.001 now"), msg);
        assertTrue(msg.contains("train.batch-size: 25 in the run, 20 now"), msg);
        assertTrue(msg.contains("--allow-changed-settings"), msg);
        // other data (the same images binarized with another seed) is another run too
        IllegalArgumentException d = assertThrows(IllegalArgumentException.class,
                () -> Train.run(spark, run(otherData, out, 2, 25, 2e-3, 11, true, Map.of())));
        assertTrue(d.getMessage().contains("data (train split checksum): ")
                && d.getMessage().contains("data (valid split checksum): "), d.getMessage());
        assertEquals(1, state(out).getInt("epochsDone"), "the refused resumes trained nothing");
        // the epochs and patience may change: the same run, continued
        Train.run(spark, run(data, out, 2, 25, 2e-3, 11, true, Map.of()));
        assertEquals(2, state(out).getInt("epochsDone"));
        assertEquals(1, state(out).getConfigList("settings").size());
    }

    @Test
    void allowedChangesAreRecordedPerEpochAndApplied(@TempDir Path tmp) {
        String out = tmp.resolve("run").toString();
        Train.run(spark, run(data, out, 1, 25, 2e-3, 11, false, Map.of()));
        Train.run(spark, run(data, out, 2, 25, 5e-4, 11, true, Map.of()).withAllowChangedSettings(true));
        List<? extends Config> segments = state(out).getConfigList("settings");
        assertEquals(2, segments.size());
        assertEquals(List.of(1, 2), segments.stream().map(c -> c.getInt("fromEpoch")).toList());
        assertEquals(List.of(2e-3, 5e-4), segments.stream().map(c -> c.getDouble("learningRate")).toList());
        SavedModel checkpoint = SavedModel.load(out + "/" + Train.CHECKPOINT, true, conf);
        assertEquals(2, ((List<?>) checkpoint.provenance().get("settingsByEpoch")).size(), "model.json says it too");
        var made = (org.deeplearning4j.nn.conf.layers.samediff.AbstractSameDiffLayer) checkpoint.network()
                .getLayerWiseConfigurations().getConf(0).getLayer();
        assertEquals(5e-4, made.getUpdater().getLearningRate(0, 0), 1e-12,
                "the optimizer the workers are built from has the new rate");

        // another optimizer cannot be put into a restored one: refused even with the flag
        Train.Settings sgd = run(data, out, 3, 25, 5e-4, 11, true, Map.of());
        TrainingRecipe r = sgd.recipe();
        Train.Settings other = new Train.Settings(sgd.data(), sgd.output(), sgd.spec(), new TrainingRecipe(
                new TrainingRecipe.Optimizer("sgd", 0.9, 0.999, 1e-8, 0.9), r.learningRate(), r.schedule(), 1e-4, 0,
                0, 0, r.seed()), sgd.schedule(), sgd.averaging(), sgd.scoring(), true, false, Map.of(), true);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Train.run(spark, other));
        assertTrue(e.getMessage().contains("even --allow-changed-settings") && e.getMessage().contains(
                "train.optimizer (and its constants): Optimizer[name=adam") && e.getMessage().contains(
                "train.l2: 0 in the run, 1.0E-4 now"), e.getMessage());
        assertEquals(2, state(out).getInt("epochsDone"));
    }

    @Test
    void aCheckpointFromBeforeRecordedSettingsIsCheckedByItsSettingsRecord(@TempDir Path tmp) throws IOException {
        String out = tmp.resolve("run").toString();
        Map<String, Object> record = Map.of("train", Map.of("seed", 11, "learning-rate", 0.002, "batch-size", 25,
                "workers", 0));
        Train.run(spark, run(data, out, 1, 25, 2e-3, 11, false, record));
        // as written before segments were recorded: no "settings" in state.json
        Path state = Path.of(out, Train.CHECKPOINT, Train.STATE);
        Files.writeString(state, Files.readString(state).replaceAll("(?s),?\\s*\"settings\"\\s*:\\s*\\[.*\\]", ""));
        Files.deleteIfExists(state.resolveSibling("." + Train.STATE + ".crc"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Train.run(spark, run(data, out, 2, 50, 2e-3, 11, true, record)));
        assertTrue(e.getMessage().contains("train.batch-size: 25 in the run, 50 now"), e.getMessage());
    }

    private Config state(String out) {
        String path = out + "/" + Train.CHECKPOINT + "/" + Train.STATE;
        return Json.parse(Outputs.readText(path, conf), path);
    }
}
