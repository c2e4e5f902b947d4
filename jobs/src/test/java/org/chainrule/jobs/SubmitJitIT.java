package org.chainrule.jobs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code scripts/submit.sh}'s JIT choice ({@code CHAINRULE_JIT}), read from the command it prints with
 * {@code --verbose} (each job only prints its help): the model jobs' executors, and the driver on a local master or
 * of a scoring job, get the quick compiler only; {@code prepare} keeps the JVM's default, as do other main classes; {@code full} and
 * {@code quick} override the choice, a bad value is refused, and the user's own JVM options come after ours.
 */
class SubmitJitIT {
    private static final String QUICK = "-XX:TieredStopAtLevel=1";

    @TempDir
    Path tmp;

    /** The command submit.sh ran (its first printed line, shell-quoted), after checking the help came out. */
    private String command(Map<String, String> env, String... args) throws Exception {
        JobsTesting.Result r = JobsTesting.run(tmp.resolve("submit-" + System.nanoTime() + ".log"), env, args);
        assertEquals(0, r.code(), r.tail());
        assertTrue(r.output().contains("Usage:"), r.tail());
        return r.output().lines().findFirst().orElse("").replace("\\ ", " ");
    }

    /** The value of {@code --conf key=...} in a printed command (up to the next --conf or the jar's path). */
    private static String conf(String command, String key) {
        int at = command.indexOf(key + "=");
        assertTrue(at >= 0, "no " + key + " in " + command);
        int end = command.length();
        for (String next : new String[]{" --conf ", " /"}) {
            int i = command.indexOf(next, at);
            end = i < 0 ? end : Math.min(end, i);
        }
        return command.substring(at, end);
    }

    @Test
    void modelJobsCompileQuicklyAndPrepareDoesNot() throws Exception {
        String evaluate = command(Map.of(), "scripts/submit.sh", "--master", "spark://203.0.113.9:7077", "--",
                "evaluate", "--help", "--verbose");
        assertTrue(conf(evaluate, "spark.executor.extraJavaOptions").contains(QUICK), evaluate);
        assertTrue(conf(evaluate, "spark.driver.extraJavaOptions").contains(QUICK),
                "a scoring job's driver only plans and commits: " + evaluate);
        String train = command(Map.of(), "scripts/submit.sh", "--master", "spark://203.0.113.9:7077", "--",
                "train", "--help", "--verbose");
        assertTrue(conf(train, "spark.executor.extraJavaOptions").contains(QUICK), train);
        assertTrue(!conf(train, "spark.driver.extraJavaOptions").contains(QUICK),
                "train's driver averages parameters and keeps the JVM's default: " + train);

        String local = command(Map.of(), "scripts/submit.sh", "--master", "local[1]", "--", "train", "--help",
                "--verbose");
        assertTrue(conf(local, "spark.driver.extraJavaOptions").contains(QUICK), "local tasks run in the driver");

        String prepare = command(Map.of(), "scripts/submit.sh", "--master", "local[1]", "--", "prepare", "--help",
                "--verbose");
        assertTrue(!prepare.contains(QUICK), prepare);

        assertTrue(!command(Map.of("CHAINRULE_JIT", "full"), "scripts/submit.sh", "--master", "local[1]", "--",
                "score", "--help", "--verbose").contains(QUICK));
        assertTrue(command(Map.of("CHAINRULE_JIT", "quick"), "scripts/submit.sh", "--master", "local[1]", "--",
                "prepare", "--help", "--verbose").contains(QUICK));

        String mine = conf(command(Map.of(), "scripts/submit.sh", "--master", "spark://203.0.113.9:7077",
                "--conf", "spark.executor.extraJavaOptions=-XX:TieredStopAtLevel=4", "--", "sample", "--help",
                "--verbose"), "spark.executor.extraJavaOptions");
        assertTrue(mine.indexOf(QUICK) >= 0 && mine.indexOf("-XX:TieredStopAtLevel=4") > mine.indexOf(QUICK),
                "the user's option must come last (the JVM keeps the last): " + mine);

        JobsTesting.Result bad = JobsTesting.run(tmp.resolve("bad.log"), Map.of("CHAINRULE_JIT", "fast"),
                "scripts/submit.sh", "--", "train", "--help");
        assertNotEquals(0, bad.code());
        assertTrue(bad.output().contains("CHAINRULE_JIT must be auto, quick or full, got 'fast'"), bad.tail());
    }
}
