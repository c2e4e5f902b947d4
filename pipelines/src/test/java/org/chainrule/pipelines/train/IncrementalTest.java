package org.chainrule.pipelines.train;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.TrainingRecipe;
import org.chainrule.models.autoregressive.MadeSpec;
import org.chainrule.pipelines.SparkTesting;
import org.chainrule.pipelines.data.Prepare;
import org.chainrule.pipelines.evaluate.Evaluate;
import org.chainrule.pipelines.io.ModelVersions;
import org.chainrule.pipelines.io.Outputs;
import org.chainrule.pipelines.io.SavedModel;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Scheduled runs (issue 19 item 5) on real local Spark and real files: {@code --init-from} on a changed dataset,
 * {@code --if-changed} on unchanged and changed inputs, the model version history and rollback.
 */
class IncrementalTest {
    @TempDir
    static Path shared;
    /** The slice's first 400 training rows (100 of them validation). */
    static String before;
    /** A changed dataset: 700 rows, so other validation rows (the last 150) and more training rows. */
    static String after;
    static final MadeSpec SPEC = MadeSpec.made(new long[]{28, 28}, new int[]{24}, 1, false, 5);
    private final SparkSession spark = SparkTesting.spark();
    private final Configuration conf = spark.sparkContext().hadoopConfiguration();

    @BeforeAll
    static void prepare() {
        Path raw = SparkTesting.mnistSlice(shared.resolve("raw"));
        before = shared.resolve("before").toString();
        after = shared.resolve("after").toString();
        Prepare.run(SparkTesting.spark(), SparkTesting.sliceSettings(raw, before, 400, 100));
        Prepare.run(SparkTesting.spark(), SparkTesting.sliceSettings(raw, after, 700, 150));
    }

    private static Train.Settings settings(String data, String out, ModelSpec spec, double learningRate) {
        return new Train.Settings(data, out, spec, new TrainingRecipe(learningRate, 11), new Train.Schedule(1, 25, 0),
                new Train.Averaging(2, 2, 0), new Train.Scoring(100, 0, 200), false, false, Map.of());
    }

    private Map<String, Object> evaluate(String model, String data, String split, String out) {
        return Evaluate.run(spark, new Evaluate.Settings(model, data, split, out, 200, false));
    }

    /**
     * A run started from an old model on a changed dataset starts from the old weights: its validation NLL before the
     * first step is the old model's score of the new validation rows, and its provenance names the model it started
     * from. A model of another spec is refused, naming the differing key.
     */
    @Test
    void initFromContinuesFromTheOldWeights(@TempDir Path tmp) {
        String old = tmp.resolve("old").toString();
        Train.run(spark, settings(before, old, SPEC, 3e-3));
        double oldScore = ((Number) evaluate(old + "/model", after, "valid", tmp.resolve("eval").toString())
                .get("meanNllNats")).doubleValue();

        String next = tmp.resolve("next").toString();
        Map<String, Object> summary = Train.run(spark, settings(after, next, SPEC, 1e-3),
                new Incremental(old + "/model", false, 0));
        double start = ((Number) summary.get("initialValidNllNats")).doubleValue();
        assertEquals(oldScore, start, 1e-9 * oldScore, "valid NLL before the first step");
        // a fresh network gives every pixel about probability 1/2: 784 ln 2 = 543 nats; one epoch made it about 512
        assertTrue(start < 784 * Math.log(2) - 20, "started from trained weights: " + start);

        Map<String, Object> from = asMap(SavedModel.load(next + "/model", false, conf).provenance().get("initFrom"));
        assertEquals(old + "/model", from.get("path"));
        assertEquals("v1", from.get("version"));
        assertEquals(WarmStart.sha256(Outputs.readBytes(old + "/model/" + SavedModel.NETWORK, conf)),
                from.get("networkSha256"));

        MadeSpec other = MadeSpec.made(new long[]{28, 28}, new int[]{32}, 1, false, 5);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Train.run(spark,
                settings(after, tmp.resolve("other").toString(), other, 1e-3), new Incremental(old + "/model", false,
                        0)));
        assertTrue(e.getMessage().contains("hidden[0]: 24 in the model, 32 configured"), e.getMessage());
        assertFalse(Files.exists(tmp.resolve("other")), "a refused run writes nothing");
    }

    /**
     * {@code --if-changed} does nothing on an unchanged rerun and trains on changed data or settings, each finished
     * run adding a version; a rollback makes an earlier version current, with exactly its scores; a rerun warm-started
     * from the run's own model reads it before replacing the run.
     */
    @Test
    void ifChangedVersionsAndRollback(@TempDir Path tmp) {
        String run = tmp.resolve("runs/nightly").toString();
        Incremental ifChanged = new Incremental(null, true, 0);
        Map<String, Object> first = Train.run(spark, settings(before, run, SPEC, 3e-3), ifChanged);
        assertEquals("v1", first.get("version"));
        Map<String, Object> v1Scores = scores(evaluate(run + "/model", before, "test", tmp.resolve("e1").toString()),
                tmp.resolve("e1"));

        Map<String, String> files = SparkTesting.fileDigests(run);
        Map<String, Object> again = Train.run(spark, settings(before, run, SPEC, 3e-3), ifChanged);
        assertEquals(Boolean.TRUE, again.get("upToDate"));
        assertEquals(files, SparkTesting.fileDigests(run), "an up-to-date rerun changes nothing");

        Map<String, Object> newData = Train.run(spark, settings(after, run, SPEC, 3e-3), ifChanged);
        assertEquals("v2", newData.get("version"));
        Map<String, String> now = SparkTesting.fileDigests(run);
        files.forEach((file, digest) -> {
            if (file.startsWith("models/v1/")) {
                assertEquals(digest, now.get(file), "history carried over: " + file);
            }
        });

        Map<String, Object> newSettings = Train.run(spark, settings(after, run, SPEC, 1e-3),
                new Incremental(run + "/model", true, 0));
        assertEquals("v3", newSettings.get("version"));
        assertEquals("v2", asMap(newSettings.get("initFrom")).get("version"));
        assertEquals(List.of("v1", "v2", "v3"), ModelVersions.list(run, conf).stream()
                .map(ModelVersions.Version::name).toList());
        Map<String, Object> v3Scores = scores(evaluate(run + "/model", before, "test", tmp.resolve("e3").toString()),
                tmp.resolve("e3"));
        assertNotEquals(v1Scores, v3Scores);

        ModelVersions.rollback(run, "v1", conf);
        assertEquals(1, ((Number) ModelVersions.current(run, conf).get("version")).intValue());
        assertEquals(v1Scores, scores(evaluate(run + "/model", before, "test", tmp.resolve("e1b").toString()),
                tmp.resolve("e1b")), "rollback restores v1's scores exactly");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ModelVersions.rollback(run, "v9", conf));
        assertTrue(e.getMessage().contains("[v1, v2, v3]"), e.getMessage());
    }

    /** The mean NLL and every row's log-probability of an evaluation, exactly as written. */
    private Map<String, Object> scores(Map<String, Object> summary, Path eval) {
        Map<String, Object> m = new TreeMap<>();
        m.put("meanNllNats", summary.get("meanNllNats"));
        for (Row r : spark.read().parquet(eval.resolve("scores.parquet").toString()).collectAsList()) {
            m.put("row " + r.getLong(0), r.getDouble(1));
        }
        return m;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> asMap(Object o) {
        return (Map<String, Object>) o;
    }
}
