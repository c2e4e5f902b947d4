package org.chainrule.pipelines.io;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The output check every job makes (issue 20, destructive overwrite): an output is never an input or around one, and
 * {@code --overwrite} replaces only the job's own kind of artefact. Directories are laid out as the jobs write them,
 * with and without the marker (older outputs have none).
 */
class OutputGuardTest {
    private final Configuration conf = new Configuration();

    /** A directory holding the given files (each with a little content). */
    private static Path dir(Path at, String... files) throws IOException {
        Files.createDirectories(at);
        for (String f : files) {
            Path p = at.resolve(f);
            Files.createDirectories(p.getParent());
            Files.writeString(p, "{}");
        }
        return at;
    }

    @Test
    void anOutputThatIsAnInputUnderAnySpellingIsRefused(@TempDir Path tmp) throws IOException {
        Path model = dir(tmp.resolve("runs/a/model"), "model.json", "network.zip");
        String m = model.toString();
        Files.createSymbolicLink(tmp.resolve("link"), tmp.resolve("runs"));
        for (String spelling : List.of(m, m + "/", m + "//", "file:" + m, "file://" + m,
                tmp + "/runs/a/../a/model", tmp + "/runs/./a/model", tmp + "/link/a/model")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> OutputGuard.claim(
                    spelling, Artefact.EVALUATION, List.of(m), true, conf), spelling);
            assertTrue(e.getMessage().contains(" is its input"), e.getMessage());
        }
        // a directory around an input, or inside one, is refused as well
        IllegalArgumentException around = assertThrows(IllegalArgumentException.class, () -> OutputGuard.claim(
                tmp + "/runs/a", Artefact.EVALUATION, List.of(m), true, conf));
        assertTrue(around.getMessage().contains("contains its input"), around.getMessage());
        IllegalArgumentException inside = assertThrows(IllegalArgumentException.class, () -> OutputGuard.claim(
                m + "/eval", Artefact.EVALUATION, List.of(m), true, conf));
        assertTrue(inside.getMessage().contains("lies inside its input"), inside.getMessage());
        assertTrue(Files.exists(model.resolve("model.json")));
    }

    @Test
    void overwriteReplacesOnlyTheJobsOwnKind(@TempDir Path tmp) throws IOException {
        String dataset = dir(tmp.resolve("dataset"), "manifest.json", "train/part-00000.parquet").toString();
        String model = dir(tmp.resolve("model"), "model.json", "network.zip").toString();
        String run = dir(tmp.resolve("run"), "checkpoint/model.json", "metrics.parquet/part-0.parquet").toString();
        String evaluation = dir(tmp.resolve("eval"), "scores.parquet/part-0.parquet", "summary.json").toString();
        String samples = dir(tmp.resolve("samples"), "samples.parquet/part-0.parquet", "summary.json").toString();
        String marked = dir(tmp.resolve("marked")).toString();
        Artefact.SCORES.mark(marked, conf);
        String home = dir(tmp.resolve("home"), "notes.txt", "photos/cat.png").toString();
        String file = dir(tmp.resolve("x"), "plain.txt").resolve("plain.txt").toString();
        long entries = count(tmp);
        Object[][] refused = {
                {model, Artefact.EVALUATION, "a model"}, {dataset, Artefact.RUN, "a dataset"},
                {run, Artefact.DATASET, "a run"}, {dataset, Artefact.SAMPLES, "a dataset"},
                {evaluation, Artefact.SAMPLES, "an evaluation"}, {samples, Artefact.EVALUATION, "samples"},
                {marked, Artefact.RUN, "scores"}, {home, Artefact.RUN, "not a chainrule output (notes.txt, photos/"},
                {file, Artefact.SAMPLES, "a file"}};
        for (Object[] c : refused) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> OutputGuard.claim((String) c[0], (Artefact) c[1], List.of(), true, conf), c[0] + " as " + c[1]);
            assertTrue(e.getMessage().contains((String) c[2]) && e.getMessage().contains("choose another output"),
                    e.getMessage());
        }
        assertEquals(entries, count(tmp), "nothing was deleted");
        assertTrue(OutputGuard.claim(run, Artefact.RUN, List.of(), true, conf), "a run may replace a run");
        assertTrue(OutputGuard.claim(marked, Artefact.SCORES, List.of(), true, conf));
        IllegalStateException noFlag = assertThrows(IllegalStateException.class,
                () -> OutputGuard.claim(evaluation, Artefact.EVALUATION, List.of(), false, conf));
        assertTrue(noFlag.getMessage().contains("already exists; remove it or pass --overwrite"), noFlag.getMessage());
        assertFalse(OutputGuard.claim(dir(tmp.resolve("empty")).toString(), Artefact.DATASET, List.of(), false, conf));
        assertFalse(OutputGuard.claim(tmp.resolve("new").toString(), Artefact.DATASET, List.of(), false, conf));
    }

    private static long count(Path tmp) throws IOException {
        try (Stream<Path> all = Files.walk(tmp)) {
            return all.count();
        }
    }

    @Test
    void anOutputMayLieInsideARunButNotInsideAnotherArtefact(@TempDir Path tmp) throws IOException {
        dir(tmp.resolve("run"), "train-summary.json");
        dir(tmp.resolve("data"), "manifest.json");
        dir(tmp.resolve("model"), "model.json");
        assertFalse(OutputGuard.claim(tmp + "/run/eval-test", Artefact.EVALUATION, List.of(), false, conf));
        for (String inside : List.of(tmp + "/data/samples", tmp + "/model/x/eval")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> OutputGuard.claim(inside, Artefact.SAMPLES, List.of(), false, conf));
            assertTrue(e.getMessage().contains("lies inside") && e.getMessage().contains("not inside another artefact"),
                    e.getMessage());
        }
    }

    @Test
    void leftoversOfKilledJobsAreTidiedAndAnInterruptedReplacementIsUndone(@TempDir Path tmp) throws IOException {
        String uuid = "0123abcd-0000-4000-8000-00000000beef";
        dir(tmp.resolve(".eval.staging-" + uuid), "scores.parquet/part-0.parquet");
        dir(tmp.resolve(".eval.previous-" + uuid.replace('0', '1')), "scores.parquet/part-0.parquet", "kept");
        dir(tmp.resolve(".other.staging-" + uuid), "x");
        List<String> done = Outputs.removeLeftovers(tmp.resolve("eval").toString(), conf);
        assertEquals(2, done.size(), done.toString());
        assertTrue(Files.exists(tmp.resolve("eval/kept")), "the old output a kill left aside is put back");
        assertFalse(Files.exists(tmp.resolve(".eval.staging-" + uuid)));
        assertTrue(Files.exists(tmp.resolve(".other.staging-" + uuid)), "another output's staging is not touched");
        // with the output present, a previous copy is only a leftover
        dir(tmp.resolve(".eval.previous-" + uuid), "old");
        Outputs.removeLeftovers(tmp.resolve("eval").toString(), conf);
        assertFalse(Files.exists(tmp.resolve(".eval.previous-" + uuid)));
        assertTrue(Files.exists(tmp.resolve("eval/kept")));
    }

    @Test
    void commitReplacesTheOldOutputOnlyOnceTheNewOneIsInPlace(@TempDir Path tmp) throws IOException {
        dir(tmp.resolve("out"), "old");
        String staging = Outputs.stagingPath(tmp.resolve("out").toString());
        dir(Path.of(staging), "new");
        Outputs.commit(staging, tmp.resolve("out").toString(), conf);
        assertTrue(Files.exists(tmp.resolve("out/new")));
        assertFalse(Files.exists(tmp.resolve("out/old")));
        try (Stream<Path> all = Files.list(tmp)) {
            assertEquals(1, all.count(), "no staging or previous copy is left");
        }
        RuntimeException e = assertThrows(RuntimeException.class, () -> Outputs.staged(tmp.resolve("out").toString(),
                conf, s -> {
                    throw new IllegalStateException("job failed");
                }));
        assertEquals("job failed", e.getMessage());
        assertTrue(Files.exists(tmp.resolve("out/new")), "a failed job leaves the output as it was");
    }
}
