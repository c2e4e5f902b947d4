package org.chainrule.jobs;

import org.chainrule.pipelines.score.Score;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The score command's flags, HOCON keys and defaults, checked before Spark starts. */
class ScoreSettingsTest {

    static Score.Settings parse(String... args) {
        CommandLine.ParseResult parsed = new CommandLine(new Main()).parseArgs(args);
        Main.ScoreCommand command = (Main.ScoreCommand) parsed.subcommand().commandSpec().userObject();
        return command.settings().score(command.overwrite);
    }

    @Test
    void flagsSetTheScoreKeysAndWinOverSet() {
        Score.Settings s = parse("score", "--set", "score.batch-size=7", "--set", "score.format=orc", "--model", "m",
                "--input", "in dir/*.csv", "--format", "csv", "--columns", "p0..p783", "--keep", "id,name",
                "--label-column", "digit", "--partition-by", "day", "--binarize", "threshold", "--output", "out",
                "--overwrite");
        assertEquals("m", s.model());
        assertEquals("in dir/*.csv", s.input());
        assertEquals("csv", s.format());
        assertEquals(List.of("p0..p783"), s.columns());
        assertEquals(List.of("id", "name"), s.keep());
        assertEquals("digit", s.labelColumn());
        assertEquals(List.of("day"), s.partitionBy());
        assertEquals("threshold", s.binarize());
        assertEquals(7, s.batchSize());
        assertEquals("out", s.output());
        assertTrue(s.overwrite());
        assertTrue(s.csv().header() && s.csv().inferSchema() && s.csv().delimiter().equals(","));
    }

    @Test
    void defaultsKeepEverythingAndFollowTheTrainingRun() {
        Score.Settings s = parse("score", "--input", "t", "--format", "table", "--columns", "pixels",
                "--set", "train.output=runs/x");
        assertEquals(List.of("*"), s.keep());
        assertEquals("runs/x/model", s.model());
        assertEquals("runs/x/scores", s.output());
        assertEquals("auto", s.binarize());
        assertEquals(List.of(), s.partitionBy());
        assertEquals("", s.labelColumn());
    }

    @Test
    void everyBadScoreSettingIsReportedAtOnce() {
        ConfigErrors e = assertThrows(ConfigErrors.class, () -> parse("score", "--format", "xlsx", "--binarize",
                "maybe", "--batch-size", "0", "--set", "score.csv.delimiter=;;"));
        // input empty, no columns, format, binarize, batch size, delimiter
        assertEquals(6, e.problems().size(), e.getMessage());
        assertTrue(e.getMessage().contains("score.columns"), e.getMessage());
        assertEquals(2, Main.run("score", "--input", "x"), "a missing --columns stops before Spark starts");
    }
}
