package org.chainrule.jobs;

import org.chainrule.models.autoregressive.MadeSpec;
import org.chainrule.pipelines.data.Prepare;
import org.chainrule.pipelines.train.Train;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SettingsTest {
    static final Path CONF = Path.of(System.getProperty("chainrule.repoRoot", ".."), "conf");

    @Test
    void everyShippedConfigValidates() throws IOException {
        List<Path> confs;
        try (Stream<Path> files = Files.list(CONF)) {
            confs = files.filter(p -> p.toString().endsWith(".conf")).sorted().toList();
        }
        assertTrue(confs.size() >= 3, "conf/ should hold the shipped configs: " + confs);
        for (Path c : confs) {
            Settings s = Settings.load(c.toFile(), List.of());
            Prepare.Settings p = s.prepare(false);
            assertEquals(784, p.encoding().width(), c + ": prepare width");
            Train.Settings t = s.trainSettings(new long[]{28, 28}, false, false);
            assertTrue(t.epochs() > 0, c.toString());
            s.evaluate(false);
            s.sample(false);
        }
    }

    @Test
    void configsBuildTheModelsTheyName() {
        Train.Settings made = Settings.load(CONF.resolve("made-mnist-32masks.conf").toFile(), List.of())
                .trainSettings(new long[]{28, 28}, false, false);
        MadeSpec spec = (MadeSpec) made.spec();
        assertEquals(32, spec.variantCount());
        assertArrayEquals(new int[]{500}, spec.hidden());
        assertEquals("runs/made-mnist-32masks", made.output());
        Train.Settings fvsbn = Settings.load(CONF.resolve("fvsbn-mnist.conf").toFile(), List.of())
                .trainSettings(new long[]{28, 28}, false, false);
        assertEquals("fvsbn", fvsbn.spec().type());
    }

    @Test
    void overridesWinAndMoveDependentPaths() {
        Settings s = Settings.load(null, List.of("train.output=/tmp/elsewhere", "chainrule.train.epochs=3",
                "model.hidden=[10, 20]"));
        Train.Settings t = s.trainSettings(new long[]{4}, false, false);
        assertEquals(3, t.epochs());
        assertArrayEquals(new int[]{10, 20}, ((MadeSpec) t.spec()).hidden());
        assertEquals("/tmp/elsewhere/model", s.evaluate(false).model());
        assertEquals("/tmp/elsewhere/eval-test", s.evaluate(false).output());
    }

    @Test
    void everyProblemIsReportedAtOnce() {
        Settings s = Settings.load(null, List.of("train.epochs=0", "train.batchsize=5", "model.type=pixelcnn",
                "train.learning-rate=fast", "nonsense"));
        ConfigErrors e = assertThrows(ConfigErrors.class, () -> s.trainSettings(new long[]{4}, false, false));
        String msg = e.getMessage();
        assertTrue(msg.contains("--set expects key=value, got 'nonsense'"), msg);
        assertTrue(msg.contains("unknown key chainrule.train.batchsize"), msg);
        assertTrue(msg.contains("chainrule.train.epochs = 0 must be in [1,"), msg);
        assertTrue(msg.contains("chainrule.model.type = pixelcnn is not one of [made, fvsbn]"), msg);
        assertTrue(msg.contains("chainrule.train.learning-rate"), msg);
        assertEquals(5, e.problems().size(), msg);
    }

    @Test
    void unknownKeysInAFileNameTheFileAndLine(@TempDir Path tmp) throws IOException {
        Path f = tmp.resolve("typo.conf");
        Files.writeString(f, "chainrule {\n  train {\n    epoch = 3\n  }\n}\n");
        ConfigErrors e = assertThrows(ConfigErrors.class,
                () -> Settings.load(f.toFile(), List.of()).trainSettings(new long[]{4}, false, false));
        assertTrue(e.getMessage().contains("unknown key chainrule.train.epoch (") && e.getMessage().contains("typo.conf: 3"),
                e.getMessage());
    }

    @Test
    void badPrepareSettingsAreCaught() {
        Settings s = Settings.load(null, List.of("prepare.format=xls", "prepare.shape=[28, 0]",
                "prepare.binarize=none", "prepare.on-bad-row=ignore", "prepare.csv.delimiter=;;"));
        ConfigErrors e = assertThrows(ConfigErrors.class, () -> s.prepare(false));
        // format, shape, on-bad-row, delimiter (binarize = none with max-value 255 is legal)
        assertEquals(4, e.problems().size(), e.getMessage());
    }

    @Test
    void mainReportsConfigErrorsWithExitCode2BeforeSparkStarts() {
        assertEquals(2, Main.run("train", "--set", "train.epochs=-1"));
        assertEquals(2, Main.run("prepare", "-c", "/no/such/file.conf"));
        assertEquals(0, Main.run("--help"));
        assertEquals(0, Main.run("train", "--print-config"));
        assertFalse(Main.describe(new RuntimeException("outer", new IllegalArgumentException("the real reason")))
                .contains("outer"));
    }
}
