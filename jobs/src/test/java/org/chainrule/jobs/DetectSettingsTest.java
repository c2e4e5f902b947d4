package org.chainrule.jobs;

import org.chainrule.pipelines.data.Prepare;
import org.chainrule.pipelines.detect.Detect;
import org.chainrule.pipelines.detect.Method;
import org.chainrule.pipelines.detect.OodEval;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The detect and ood-eval commands' flags and keys, and prepare.perturb, checked before Spark starts. */
class DetectSettingsTest {

    private static Object command(String... args) {
        return new CommandLine(new Main()).parseArgs(args).subcommand().commandSpec().userObject();
    }

    static Detect.Settings detect(String... args) {
        Main.DetectCommand c = (Main.DetectCommand) command(args);
        return c.settings().detect(c.overwrite);
    }

    @Test
    void detectFlagsSetTheDetectKeys() {
        Detect.Settings s = detect("detect", "--model", "m", "--input", "in", "--format", "csv", "--columns",
                "p0..p783", "--keep", "id", "--method", "likelihood-ratio", "--background-model", "bg",
                "--reference", "data/prepared/mnist/valid", "--contamination", "0.05", "--output", "out",
                "--set", "detect.relative-error=0.01");
        assertEquals(Method.LIKELIHOOD_RATIO, s.method());
        assertEquals("bg", s.backgroundModel());
        assertEquals("data/prepared/mnist/valid", s.reference().input());
        assertEquals(List.of(), s.reference().columns());
        assertEquals(0.95, s.threshold().quantile(), 1e-12);
        assertNull(s.threshold().fixed());
        assertEquals(0.01, s.threshold().relativeError(), 1e-12);
        assertEquals("m", s.table().model());
        assertEquals("in", s.table().input());
        assertEquals(List.of("id"), s.table().keep());
        assertEquals("out", s.table().output());
    }

    @Test
    void aFixedThresholdNeedsNoReferenceAndDefaultsFollowTheTrainingRun() {
        Detect.Settings s = detect("detect", "--input", "in", "--columns", "x", "--threshold", "0.25",
                "--set", "train.output=runs/y");
        assertEquals(0.25, s.threshold().fixed(), 1e-12);
        assertEquals(Method.NLL, s.method());
        assertFalse(s.reference().given());
        assertEquals("runs/y/model", s.table().model());
        assertEquals("runs/y/detect", s.table().output());
    }

    @Test
    void settingsThatCannotWorkAreConfigurationErrors() {
        ConfigErrors e = assertThrows(ConfigErrors.class, () -> detect("detect", "--input", "in", "--columns", "x",
                "--method", "typicality", "--reference", "r"));
        assertTrue(e.getMessage().contains("group-column"), e.getMessage());
        e = assertThrows(ConfigErrors.class, () -> detect("detect", "--input", "in", "--columns", "x",
                "--method", "surprise", "--set", "detect.threshold=high"));
        assertEquals(2, e.problems().size(), e.getMessage());
        assertEquals(2, Main.run("detect", "--input", "in", "--columns", "x"), "no reference, no threshold");
    }

    @Test
    void oodEvalReadsItsOwnKeys() {
        Main.OodEvalCommand c = (Main.OodEvalCommand) command("ood-eval", "--model", "m", "--in", "a", "--out", "b",
                "--columns", "p0..p783", "--format", "csv", "--method", "typicality", "--group-column", "g",
                "--reference", "r");
        OodEval.Settings s = c.settings().oodEval(false);
        assertEquals("a", s.in().input());
        assertEquals("b", s.out());
        assertEquals("csv", s.in().format());
        assertEquals(Method.TYPICALITY, s.method());
        assertEquals("g", s.groupColumn());
        assertEquals("r", s.reference().input());
        assertEquals(2000, s.bootstrap().batches());
    }

    @Test
    void preparePerturbIsReadAndRefusedForRealValues() {
        Prepare.Settings p = Settings.load(null, List.of("prepare.perturb.fraction=0.2", "prepare.perturb.seed=4"))
                .prepare(false);
        assertEquals(0.2, p.perturbation().fraction(), 1e-12);
        assertEquals(4, p.perturbation().seed());
        assertFalse(Settings.load(null, List.of()).prepare(false).perturbation().active());
        ConfigErrors e = assertThrows(ConfigErrors.class, () -> Settings.load(null, List.of(
                "prepare.perturb.fraction=0.2", "prepare.value-type=real", "prepare.binarize=none")).prepare(false));
        assertTrue(e.getMessage().contains("prepare.perturb.fraction"), e.getMessage());
    }

    @Test
    void helpNamesEachCommandsOwnKeys() {
        CommandLine cli = new CommandLine(new Main());
        String detect = cli.getSubcommands().get("detect").getUsageMessage();
        assertTrue(detect.contains("(detect.method)") && detect.contains("(detect.model)"), detect);
        String score = cli.getSubcommands().get("score").getUsageMessage();
        assertTrue(score.contains("(score.model)") && score.contains("(score.input)"), score);
        assertTrue(cli.getSubcommands().get("ood-eval").getUsageMessage().contains("(ood-eval.columns)"));
    }
}
