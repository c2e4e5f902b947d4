package org.chainrule.jobs;

import org.chainrule.models.autoregressive.MadeSpec;
import org.chainrule.models.flows.FlowSpec;
import org.chainrule.models.nade.NadeSpec;
import org.chainrule.pipelines.data.Domain;
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
        try (Stream<Path> files = Files.list(CONF.resolve("data"))) {
            confs = Stream.concat(confs.stream(), files.filter(p -> p.toString().endsWith(".conf")).sorted()).toList();
        }
        assertTrue(confs.size() >= 3, "conf/ should hold the shipped configs: " + confs);
        for (Path c : confs) {
            Settings s = Settings.load(c.toFile(), List.of());
            Prepare.Settings p = s.prepare(false);
            Train.Settings t = s.trainSettings(p.shape(), domainOf(p), false, false);
            assertTrue(t.schedule().epochs() > 0, c.toString());
            assertEquals(t.spec().valueType(), domainOf(p).valueType(), c + ": the model fits the data it names");
            s.evaluate(false);
            s.sample(false);
            s.interpolate(false);
        }
    }

    /** The domain prepare would record for these settings (labels: 10 classes; unit standardization; a vocabulary). */
    static Domain domainOf(Prepare.Settings p) {
        int width = p.encoding().width();
        if (p.sources().format().equals("text")) {
            return new Domain("uint8", 60, 0, null, null, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
        }
        if (p.encoding().real()) {
            double[] ones = new double[width];
            java.util.Arrays.fill(ones, 1.0);
            return new Domain("real", 0, 10, new double[width], ones, null);
        }
        return new Domain(p.encoding().valueType(), p.encoding().levels(), 10, null, null, null);
    }

    static final Domain BINARY = new Domain("binary", 2, 10, null, null, null);

    @Test
    void theOutputFamilyFollowsTheDataAndMismatchesAreCaught() {
        Domain digits = new Domain("uint8", 17, 10, null, null, null);
        MadeSpec made = (MadeSpec) Settings.load(null, List.of()).trainSettings(new long[]{8, 8}, digits, false, false)
                .spec();
        assertEquals("categorical", made.family().name());
        assertEquals(17, made.levels());
        NadeSpec cond = (NadeSpec) Settings.load(null, List.of("model.type=nade", "model.nade.conditional=true"))
                .trainSettings(new long[]{8, 8}, digits, false, false).spec();
        assertEquals(10, cond.contextSize());

        Domain real = new Domain("real", 0, 0, new double[]{0, 0}, new double[]{1, 1}, null);
        ConfigErrors e = assertThrows(ConfigErrors.class, () -> Settings.load(null,
                List.of("model.made.output=bernoulli", "model.made.conditional=true"))
                .trainSettings(new long[]{2}, real, false, false));
        assertTrue(e.getMessage().contains("chainrule.model.made.output = bernoulli models binary data, but the dataset"
                + " holds real"), e.getMessage());
        assertTrue(e.getMessage().contains("model.made.conditional = true, but the dataset has no labels"),
                e.getMessage());
        org.chainrule.models.deepnade.DeepNadeSpec k = (org.chainrule.models.deepnade.DeepNadeSpec) Settings.load(null,
                List.of("model.type=deep-nade", "model.deep-nade.hidden=[20, 20]", "model.deep-nade.iterations=3",
                        "model.deep-nade.orderings=2")).trainSettings(new long[]{8}, BINARY, false, false).spec();
        assertEquals(3, k.iterations());
        assertEquals(2, k.orderings());
        ConfigErrors text = assertThrows(ConfigErrors.class, () -> Settings.load(null,
                List.of("model.type=char-lstm", "model.char-lstm.hidden=[8]")).trainSettings(new long[]{4}, BINARY, false, false));
        assertTrue(text.getMessage().contains("models text; prepare the data with format = text"), text.getMessage());
    }

    @Test
    void averagingSettingsAreReadAndCheckedTogether() {
        Train.Averaging shipped = Settings.load(CONF.resolve("made-mnist.conf").toFile(), List.of())
                .trainSettings(new long[]{28, 28}, BINARY, false, false).averaging();
        assertEquals(new Train.Averaging(0, 50, 0, 0.25, 2), shipped);
        assertEquals(new Train.Averaging(0, 5, 0, 0, 1), Settings.load(null, List.of())
                .trainSettings(new long[]{28, 28}, BINARY, false, false).averaging());
        assertEquals("rounds", Settings.load(null, List.of("train.exchange=rounds"))
                .trainSettings(new long[]{28, 28}, BINARY, false, false).averaging().exchange());
        ConfigErrors e = assertThrows(ConfigErrors.class, () -> Settings.load(null,
                List.of("train.block-momentum=1", "train.averaged-step-scale=0", "train.exchange=sockets"))
                .trainSettings(new long[]{28, 28}, BINARY, false, false));
        assertTrue(e.getMessage().contains("train.block-momentum") && e.getMessage().contains("train.averaged-step-scale")
                && e.getMessage().contains("train.exchange"), e.getMessage());
    }

    @Test
    void configsBuildTheModelsTheyName() {
        Train.Settings made = Settings.load(CONF.resolve("made-mnist-32masks.conf").toFile(), List.of())
                .trainSettings(new long[]{28, 28}, BINARY, false, false);
        MadeSpec spec = (MadeSpec) made.spec();
        assertEquals(32, spec.variantCount());
        assertArrayEquals(new int[]{500}, spec.hidden());
        assertEquals("runs/made-mnist-32masks", made.output());
        Train.Settings fvsbn = Settings.load(CONF.resolve("fvsbn-mnist.conf").toFile(), List.of())
                .trainSettings(new long[]{28, 28}, BINARY, false, false);
        assertEquals("fvsbn", fvsbn.spec().type());
        Domain pixels = new Domain("uint8", 256, 10, null, null, null);
        FlowSpec glow = (FlowSpec) Settings.load(CONF.resolve("glow-mnist8.conf").toFile(), List.of())
                .trainSettings(new long[]{28, 28}, pixels, false, false).spec();
        String described = glow.toMap().toString();
        assertTrue(described.contains("actnorm") && described.contains("invconv1x1") && described.contains("factor-out"),
                described);
        assertEquals(256, glow.levels());
    }

    @Test
    void flowSettingsAreCheckedBeforeSparkStarts() {
        Domain pixels = new Domain("uint8", 256, 10, null, null, null);
        ConfigErrors tooDeep = assertThrows(ConfigErrors.class, () -> Settings.load(
                CONF.resolve("glow-mnist8.conf").toFile(), List.of("model.flow.scales=3"))
                .trainSettings(new long[]{28, 28}, pixels, false, false));
        assertTrue(tooDeep.getMessage().contains("odd size"), tooDeep.getMessage());
        ConfigErrors output = assertThrows(ConfigErrors.class, () -> Settings.load(
                CONF.resolve("maf-wine.conf").toFile(), List.of("model.output=mixture", "model.conditional=true"))
                .trainSettings(new long[]{13}, null, false, false));
        // flat keys of older configs that a flow never read are errors naming the flow's section
        assertTrue(output.getMessage().contains("chainrule.model.output does not apply to maf models; their settings"
                + " are chainrule.model.flow.{"), output.getMessage());
        assertTrue(output.getMessage().contains("chainrule.model.conditional does not apply to maf models"),
                output.getMessage());
    }

    @Test
    void overridesWinAndMoveDependentPaths() {
        Settings s = Settings.load(null, List.of("train.output=/tmp/elsewhere", "chainrule.train.epochs=3",
                "model.made.hidden=[10, 20]"));
        Train.Settings t = s.trainSettings(new long[]{4}, BINARY, false, false);
        assertEquals(3, t.schedule().epochs());
        assertArrayEquals(new int[]{10, 20}, ((MadeSpec) t.spec()).hidden());
        assertEquals("/tmp/elsewhere/model", s.evaluate(false).model());
        assertEquals("/tmp/elsewhere/eval-test", s.evaluate(false).output());
    }

    @Test
    void everyProblemIsReportedAtOnce() {
        Settings s = Settings.load(null, List.of("train.epochs=0", "train.batchsize=5", "model.type=pixelrnn",
                "train.learning-rate=fast", "nonsense"));
        ConfigErrors e = assertThrows(ConfigErrors.class, () -> s.trainSettings(new long[]{4}, BINARY, false, false));
        String msg = e.getMessage();
        assertTrue(msg.contains("--set expects key=value, got 'nonsense'"), msg);
        assertTrue(msg.contains("unknown key chainrule.train.batchsize"), msg);
        assertTrue(msg.contains("chainrule.train.epochs = 0 must be in [1,"), msg);
        assertTrue(msg.contains("chainrule.model.type = pixelrnn is not one of [made, fvsbn"), msg);
        assertTrue(msg.contains("chainrule.train.learning-rate"), msg);
        assertEquals(5, e.problems().size(), msg);
    }

    @Test
    void theTrainingRecipeIsReadFromTheTrainSection() {
        Train.Settings plain = Settings.load(null, List.of()).trainSettings(new long[]{4}, BINARY, false, false);
        // the defaults are the recipe every model trained with before recipes (unused schedule keys do not count)
        assertEquals(new org.chainrule.models.TrainingRecipe(1e-3, 42), plain.recipe());
        Settings s = Settings.load(null, List.of("train.optimizer=adamw", "train.weight-decay=0.01",
                "train.learning-rate=0.002", "train.beta2=0.99", "train.schedule.type=cosine",
                "train.schedule.warmup-steps=100", "train.schedule.floor=0.0001", "train.gradient-clip-norm=5",
                "train.ema=0.9995", "train.seed=7"));
        var r = s.trainSettings(new long[]{4}, BINARY, false, false).recipe();
        assertEquals("adamw", r.optimizer().name());
        assertEquals(0.99, r.optimizer().beta2());
        assertEquals(0.002, r.learningRate());
        assertEquals(0.01, r.weightDecay());
        assertEquals("cosine", r.schedule().type());
        assertEquals(100, r.schedule().warmupSteps());
        assertEquals(1e-4, r.schedule().floor());
        assertEquals(5, r.clipNorm());
        assertEquals(0.9995, r.ema());
        assertEquals(7, r.seed());
        ConfigErrors e = assertThrows(ConfigErrors.class, () -> Settings.load(null, List.of("train.optimizer=adamw",
                "train.schedule.type=linear")).trainSettings(new long[]{4}, BINARY, false, false));
        assertTrue(e.getMessage().contains("chainrule.train.schedule.type"), e.getMessage());
        assertTrue(e.getMessage().contains("chainrule.train.weight-decay = 0: adamw"), e.getMessage());
    }

    @Test
    void unknownKeysInAFileNameTheFileAndLine(@TempDir Path tmp) throws IOException {
        Path f = tmp.resolve("typo.conf");
        Files.writeString(f, "chainrule {\n  train {\n    epoch = 3\n  }\n}\n");
        ConfigErrors e = assertThrows(ConfigErrors.class,
                () -> Settings.load(f.toFile(), List.of()).trainSettings(new long[]{4}, BINARY, false, false));
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

    @Test
    void flatModelKeysOfOlderConfigsAreReadFromTheTypesSection() {
        Settings s = Settings.load(null, List.of("model.hidden=[10, 20]", "model.masks=2", "model.filters=32"));
        MadeSpec made = (MadeSpec) s.trainSettings(new long[]{4}, BINARY, false, false).spec();
        assertArrayEquals(new int[]{10, 20}, made.hidden());
        assertEquals(2, made.variantCount());
        assertTrue(s.notes().contains("chainrule.model.hidden is read as chainrule.model.made.hidden (model settings"
                + " now live in per-model sections)"), s.notes().toString());
        assertTrue(s.notes().stream().anyMatch(n -> n.startsWith("chainrule.model.filters does not apply to made"
                + " models and holds its old default")), s.notes().toString());

        // a renamed key: the depth of a gated PixelCNN was model.blocks
        org.chainrule.models.pixelcnn.PixelSpec gated = (org.chainrule.models.pixelcnn.PixelSpec) Settings.load(null,
                List.of("model.type=gated-pixelcnn", "model.blocks=3")).trainSettings(new long[]{8, 8},
                new Domain("binary", 2, 0, null, null, null), false, false).spec();
        assertEquals(3, gated.depth());

        ConfigErrors both = assertThrows(ConfigErrors.class, () -> Settings.load(null,
                List.of("model.hidden=[10]", "model.made.hidden=[20]")).validateTrain());
        assertTrue(both.getMessage().contains("chainrule.model.hidden and chainrule.model.made.hidden are both set"),
                both.getMessage());
        ConfigErrors foreign = assertThrows(ConfigErrors.class, () -> Settings.load(null,
                List.of("model.type=nade", "model.masks=4")).validateTrain());
        assertTrue(foreign.getMessage().contains("chainrule.model.masks does not apply to nade models; their settings"
                + " are chainrule.model.nade.{activation, components, conditional, dropout, hidden, mask-seed, ordering,"
                + " orderings, output}"), foreign.getMessage());
    }

    @Test
    void everyRegisteredTypeHasItsSectionDocumentedAndBuilds() {
        Settings defaults = Settings.load(null, List.of());
        for (String type : org.chainrule.models.ModelFamilies.types()) {
            org.chainrule.models.ModelFamily f = org.chainrule.models.ModelFamilies.of(type);
            assertTrue(defaults.render().contains(f.section(type).replace("\"", "")),
                    "reference.conf documents model." + f.section(type));
            Settings.load(null, List.of("model.type=\"" + type + "\"")).validateTrain();
        }
        assertEquals(18, org.chainrule.models.ModelFamilies.types().size(), org.chainrule.models.ModelFamilies.types()
                .toString());
    }

    @Test
    void wholeNumberSettingsRejectFractions() {
        ConfigErrors e = assertThrows(ConfigErrors.class, () -> Settings.load(null,
                List.of("train.epochs=2.9", "train.batch-size=1e2", "model.made.masks=\"3.5\"")).validateTrain());
        assertTrue(e.getMessage().contains("chainrule.train.epochs") && e.getMessage().contains("2.9"),
                e.getMessage());
        assertTrue(e.getMessage().contains("chainrule.model.made.masks"), e.getMessage());
        assertEquals(2, e.problems().size(), e.getMessage());
        Train.Settings t = Settings.load(null, List.of("train.epochs=\"3\"", "train.batch-size=2.0"))
                .trainSettings(new long[]{4}, BINARY, false, false);
        assertEquals(3, t.schedule().epochs());
        assertEquals(2, t.schedule().batchSize());
    }
}
