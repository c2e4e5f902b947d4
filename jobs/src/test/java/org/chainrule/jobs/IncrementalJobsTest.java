package org.chainrule.jobs;

import org.chainrule.pipelines.SparkTesting;
import org.chainrule.pipelines.data.Prepare;
import org.chainrule.pipelines.io.ModelVersions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A nightly job at the command line, each command in its own JVM through {@link Main} as spark-submit runs it:
 * {@code train --if-changed --init-from <run>/model} trains, then is up to date (no file changes), then trains a new
 * version when a setting changes; {@code models} lists the versions and {@code --rollback} makes the first current
 * again; contradictory flags are usage errors.
 */
class IncrementalJobsTest {
    @Test
    void aNightlyJobSkipsUnchangedInputsKeepsVersionsAndRollsBack(@TempDir Path tmp) throws Exception {
        String data = tmp.resolve("prepared").toString();
        Prepare.run(SparkTesting.spark(), SparkTesting.sliceSettings(SparkTesting.mnistSlice(tmp.resolve("raw")),
                data, 400, 80));
        String run = tmp.resolve("runs/nightly").toString();
        Path config = tmp.resolve("nightly.conf");
        Files.writeString(config, String.join("\n", "chainrule {", "  data = \"" + data + "\"",
                "  model { type = made, made { hidden = [16], mask-seed = 5 } }",
                "  train { output = \"" + run + "\", epochs = 1, batch-size = 20, workers = 1,",
                "          averaging-frequency = 1, train-eval-rows = 50 }", "}", ""));
        String conf = config.toString();

        JobsTesting.Result first = main(tmp, "train", "-c", conf, "--if-changed");
        assertEquals(0, first.code(), first.tail());
        assertTrue(first.output().contains("model version v1 of " + run + " is current"), first.tail());

        JobsTesting.Result again = main(tmp, "train", "-c", conf, "--if-changed", "--init-from", run + "/model");
        assertEquals(0, again.code(), again.tail());
        assertTrue(again.output().contains("--if-changed: the inputs of " + run + " changed, running:"), again.tail());
        assertTrue(again.output().contains("initFrom.path: (none) then, "), again.tail());

        Map<String, String> files = SparkTesting.fileDigests(run);
        JobsTesting.Result unchanged = main(tmp, "train", "-c", conf, "--if-changed", "--init-from", run + "/model");
        assertEquals(0, unchanged.code(), unchanged.tail());
        assertTrue(unchanged.output().contains(run + " is up to date (same data, settings and code); nothing to do"),
                unchanged.tail());
        assertEquals(files, SparkTesting.fileDigests(run), "an up-to-date run changes no file");

        JobsTesting.Result changed = main(tmp, "train", "-c", conf, "--if-changed", "--init-from", run + "/model",
                "--set", "train.learning-rate=0.002");
        assertEquals(0, changed.code(), changed.tail());
        assertTrue(changed.output().contains("settings.learningRate: 0.001 then, 0.002 now"), changed.tail());
        assertTrue(changed.output().contains("model version v3 of " + run + " is current"), changed.tail());

        JobsTesting.Result listed = main(tmp, "models", "-c", conf);
        assertEquals(0, listed.code(), listed.tail());
        List<String> lines = listed.output().lines().filter(l -> l.matches("v\\d .*")).toList();
        assertEquals(3, lines.size(), listed.tail());
        assertTrue(lines.get(2).startsWith("v3 * recorded ") && lines.get(2).contains(", from " + run
                + "/model (v2)"), lines.toString());

        JobsTesting.Result rollback = main(tmp, "models", "--run", run, "--rollback", "v1");
        assertEquals(0, rollback.code(), rollback.tail());
        assertTrue(rollback.output().contains(run + ": model/ is now v1 (was v3)"), rollback.tail());
        assertEquals(1, ((Number) ModelVersions.current(run, SparkTesting.spark().sparkContext()
                .hadoopConfiguration()).get("version")).intValue());

        JobsTesting.Result missing = main(tmp, "models", "--run", run, "--rollback", "v7");
        assertEquals(1, missing.code(), missing.tail());
        assertTrue(missing.output().contains("has no model version 'v7'; it has [v1, v2, v3]"), missing.tail());

        JobsTesting.Result both = main(tmp, "train", "-c", conf, "--resume", "--init-from", run + "/model");
        assertEquals(2, both.code(), both.tail());
        assertTrue(both.output().contains("--init-from starts a new run"), both.tail());
    }

    /** Runs the command line in a JVM of its own, on local Spark with two task slots. */
    private static JobsTesting.Result main(Path tmp, String... args) throws IOException, InterruptedException {
        return JobsTesting.runMainInOwnJvm(tmp.resolve("main-" + System.nanoTime() + ".log"), args);
    }
}
