package org.chainrule.jobs;

import org.chainrule.pipelines.io.SavedModel;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the jobs' integration tests share: the small MADE-on-the-MNIST-slice configuration they all run, and the
 * Spark settings of a job run inside the test's own JVM.
 */
final class JobsTesting {
    static final Path ROOT = Path.of(System.getProperty("chainrule.repoRoot", "..")).toAbsolutePath().normalize();

    private JobsTesting() {
    }

    /** The Spark home the scripts run from: the Maven-built one, as the build passes it to the tests. */
    static String sparkHome() {
        return new File(System.getProperty("chainrule.sparkHome", ROOT + "/jobs/spark-runtime/target/spark-home"))
                .getAbsolutePath();
    }

    /** A finished script: its exit code and everything it printed (standard output and error together). */
    record Result(int code, String output) {
        /** The last lines, for failure messages, less stack frames and ND4J's debug prints. */
        String tail() {
            List<String> lines = output.lines().filter(l -> !l.startsWith("\tat ") && !l.startsWith("\t\tat ")
                    && !l.startsWith(ConsoleNoise.SAMEDIFF_GRADIENT_LINE)).toList();
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
        }
    }

    /**
     * Starts a script of the repository (path relative to its root, then its arguments) with the build's application
     * jar and Spark home, a 2 GB driver, and {@code env}; its output goes to {@code log}.
     */
    static Process start(Path log, Map<String, String> env, List<String> command) throws IOException {
        List<String> cmd = new ArrayList<>(command);
        cmd.set(0, ROOT.resolve(cmd.get(0)).toString());
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(ROOT.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile());
        pb.environment().put("CHAINRULE_DRIVER_MEMORY", "2g");
        String jar = System.getProperty("chainrule.appJar");
        if (jar != null) {
            pb.environment().put("CHAINRULE_APP_JAR", jar);
        }
        pb.environment().put("SPARK_HOME", sparkHome());
        pb.environment().putAll(env);
        return pb.start();
    }

    /** Runs a script to its end (at most 15 minutes) as {@link #start} starts it. */
    static Result run(Path log, Map<String, String> env, String... command) throws IOException, InterruptedException {
        Process p = start(log, env, List.of(command));
        if (!p.waitFor(15, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            return new Result(-1, "timed out: " + String.join(" ", command));
        }
        return new Result(p.exitValue(), Files.readString(log));
    }

    /**
     * The command line that runs {@link Main} with {@code args} in a JVM of its own, as spark-submit would on
     * {@code local[2]}: this JVM's classpath and module opens, a 1 GB heap, no Spark UI.
     */
    static List<String> mainInOwnJvm(String... args) {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "-Xmx1g", "-Dspark.master=local[2]", "-Dspark.ui.enabled=false",
                "-Dspark.driver.host=127.0.0.1"));
        java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
                .filter(a -> a.startsWith("--add-opens")).forEach(command::add);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
        command.addAll(List.of(args));
        return command;
    }

    /** Runs {@link #mainInOwnJvm} to its end (at most 10 minutes), its output (both streams) going to {@code log}. */
    static Result runMainInOwnJvm(Path log, String... args) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(mainInOwnJvm(args)).redirectErrorStream(true).redirectOutput(log.toFile())
                .start();
        if (!p.waitFor(10, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            return new Result(-1, "timed out: " + String.join(" ", args));
        }
        return new Result(p.exitValue(), Files.readString(log));
    }

    /**
     * Writes the configuration for prepare -> train (2 epochs, 2 workers) -> evaluate -> sample on the MNIST slice.
     *
     * @param raw  the directory holding the slice's four idx files (any Hadoop path or local directory)
     * @param data the prepared dataset directory
     * @param run  the run directory
     */
    static Path sliceConfig(Path file, String raw, String data, String run) {
        try {
            Files.writeString(file, String.join("\n",
                    "chainrule {",
                    "  data = \"" + data + "\"",
                    "  prepare {",
                    "    train = [\"" + raw + "/train-images-idx3-ubyte.gz\"]",
                    "    train-labels = [\"" + raw + "/train-labels-idx1-ubyte.gz\"]",
                    "    test = [\"" + raw + "/t10k-images-idx3-ubyte.gz\"]",
                    "    test-labels = [\"" + raw + "/t10k-labels-idx1-ubyte.gz\"]",
                    "    validation-rows = 200, shards = 4",
                    "  }",
                    "  model { type = made, made { hidden = [64], masks = 2, order-agnostic = true } }",
                    "  train { output = \"" + run + "\", epochs = 2, batch-size = 50,",
                    "          learning-rate = 0.003, workers = 2, averaging-frequency = 2, train-eval-rows = 300 }",
                    "  sample { count = 20, block-size = 8 }",
                    "}", ""));
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The slice prepared by {@code prepare} run in this JVM ({@link #localSparkInThisJvm}) into {@code dir/prepared};
     * returns the configuration, whose run directory is {@code dir/run}.
     */
    static Path preparedSliceInThisJvm(Path dir) {
        localSparkInThisJvm();
        Path raw = org.chainrule.pipelines.SparkTesting.mnistSlice(dir.resolve("raw"));
        Path conf = sliceConfig(dir.resolve("it.conf"), raw.toString(), dir.resolve("prepared").toString(),
                dir.resolve("run").toString());
        if (Main.run("prepare", "-c", conf.toString()) != 0) {
            throw new IllegalStateException("prepare failed (see the test's output)");
        }
        return conf;
    }

    /**
     * Makes {@link Main#run} in this JVM start a local Spark with two task slots, as spark-submit would through
     * system properties; stack traces of failed jobs go to the test report.
     */
    static void localSparkInThisJvm() {
        System.setProperty("spark.master", "local[2]");
        System.setProperty("spark.ui.enabled", "false");
        System.setProperty("spark.driver.host", "127.0.0.1");
        System.setProperty("spark.sql.shuffle.partitions", "4");
        System.setProperty("chainrule.stacktrace", "true");
    }

    /** The parameters (and, with {@code updater}, the optimizer state) of two saved models agree to float rounding. */
    static void assertSameParameters(String expectedModel, String actualModel, boolean updater) {
        org.apache.hadoop.conf.Configuration hadoop = new org.apache.hadoop.conf.Configuration();
        MultiLayerNetwork a = SavedModel.load(expectedModel, updater, hadoop).network();
        MultiLayerNetwork b = SavedModel.load(actualModel, updater, hadoop).network();
        assertClose("parameters", a.params().toFloatVector(), b.params().toFloatVector());
        if (updater) {
            assertClose("optimizer state", a.getUpdater().getStateViewArray().toFloatVector(),
                    b.getUpdater().getStateViewArray().toFloatVector());
        }
    }

    /** Equal to 1e-5 relative, entry by entry, and not all near zero (so the comparison says something). */
    static void assertClose(String what, float[] expected, float[] actual) {
        assertEquals(expected.length, actual.length, what);
        double largest = 0;
        for (int i = 0; i < expected.length; i++) {
            largest = Math.max(largest, Math.abs(expected[i]));
            assertEquals(expected[i], actual[i], 1e-5 * (1 + Math.abs(expected[i])), what + " [" + i + "]");
        }
        assertTrue(largest > 1e-3, what + " too small to compare: largest " + largest);
    }
}
