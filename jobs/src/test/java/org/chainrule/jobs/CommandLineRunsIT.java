package org.chainrule.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.chainrule.pipelines.SparkTesting;
import org.chainrule.pipelines.data.Manifest;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 21 item 4, through the command line ({@link Main#run}, the entry point spark-submit calls, here on local
 * Spark in this JVM): the provenance a trained model carries, checked against the dataset's manifest, the data itself,
 * the settings given and the build; {@code train --resume}, {@code train --overwrite} (and its refusal without the
 * flag), and {@code interpolate} on a small Glow, again with and without {@code --overwrite}. Each test class of the
 * integration tests runs in its own JVM, so the Spark sessions the commands start and stop disturb no other test.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class CommandLineRunsIT {
    static final ObjectMapper JSON = new ObjectMapper();
    /** A small MADE and a seed other than the default, so the record shows what was asked for. */
    static final List<String> SMALL = List.of("--set", "model.made.hidden=[16]", "--set", "train.seed=1234",
            "--set", "train.epochs=1");
    @TempDir
    static Path tmp;
    static Path conf;
    static String data;
    static String run;

    @BeforeAll
    static void prepare() {
        conf = JobsTesting.preparedSliceInThisJvm(tmp);
        data = tmp.resolve("prepared").toString();
        run = tmp.resolve("run").toString();
    }

    /**
     * A local Spark session for reading outputs back: the one running, or a new one once a command has stopped it
     * (each command stops the session it ran in, as a spark-submit driver would).
     */
    static SparkSession spark() {
        return SparkSession.builder().master("local[2]").config("spark.ui.enabled", "false")
                .config("spark.driver.host", "127.0.0.1").getOrCreate();
    }

    /** Main's exit code for {@code command -c conf} plus the small-model settings and {@code more}. */
    static int cli(String command, String... more) {
        List<String> args = new ArrayList<>(List.of(command, "-c", conf.toString()));
        args.addAll(SMALL);
        args.addAll(List.of(more));
        return Main.run(args.toArray(String[]::new));
    }

    @Test
    @Order(1)
    void aTrainedModelRecordsItsDataSettingsAndBuild() throws Exception {
        Instant before = Instant.now().minusSeconds(1);
        assertEquals(0, cli("train"), "train failed (see the test's output)");
        Instant after = Instant.now().plusSeconds(1);
        JsonNode model = JSON.readTree(Path.of(run, "model/model.json").toFile());
        JsonNode provenance = model.path("provenance");

        // the data: its path, and per split the manifest's checksum, which is the one of the rows on disk
        assertEquals(data, provenance.path("data").asText());
        JsonNode splits = JSON.readTree(Path.of(data, Manifest.FILE).toFile()).path("splits");
        Map<String, String> checksums = new TreeMap<>();
        provenance.path("dataChecksums").fields()
                .forEachRemaining(e -> checksums.put(e.getKey(), e.getValue().asText()));
        assertEquals(List.of("test", "train", "valid"), List.copyOf(checksums.keySet()));
        SparkSession spark = spark();
        for (String split : checksums.keySet()) {
            assertEquals(splits.path(split).path("checksum").asText(), checksums.get(split), split + " vs manifest");
            long sum = 0;
            for (Row r : spark.read().parquet(data + "/" + split).select("row_id", "label", "x").collectAsList()) {
                sum += Manifest.rowHash(r.getLong(0), r.getInt(1), (byte[]) r.get(2));
            }
            assertEquals(Manifest.checksum(sum), checksums.get(split), split + ": the checksum of the rows on disk");
        }

        // the settings given: seed, epochs, the model's section and the training section as the run resolved them
        assertEquals(1234, provenance.path("seed").asLong());
        assertEquals(1, provenance.path("epochs").asInt());
        JsonNode settings = model.path("settings");
        assertEquals("made", settings.path("model").path("type").asText());
        assertEquals("[16]", settings.path("model").path("made").path("hidden").toString());
        assertEquals(2, settings.path("model").path("made").path("masks").asInt());
        JsonNode train = settings.path("train");
        assertEquals(1234, train.path("seed").asLong());
        assertEquals(0.003, train.path("learning-rate").asDouble(), 0.0);
        assertEquals(50, train.path("batch-size").asInt());
        assertEquals(2, train.path("workers").asInt());
        assertEquals(2, train.path("averaging-frequency").asInt());
        assertEquals(run, train.path("output").asText());
        assertEquals(data, settings.path("data").asText());
        assertEquals("[16]", model.path("spec").path("hidden").toString(), "the spec built from those settings");

        // the build: versions as the class path and the repository say, and when it was trained
        assertEquals(projectVersion(), provenance.path("chainruleVersion").asText());
        assertEquals(jarVersion("deeplearning4j-nn"), provenance.path("dl4jVersion").asText());
        assertEquals(jarVersion("spark-core_"), provenance.path("sparkVersion").asText());
        assertEquals(System.getProperty("java.version"), provenance.path("javaVersion").asText());
        assertGitCommit(provenance.path("gitCommit").asText());
        Instant time = Instant.parse(provenance.path("time").asText());
        assertTrue(!time.isBefore(before) && !time.isAfter(after), time + " outside the run " + before + " .. "
                + after);

        // the checkpoint carries the same record
        JsonNode checkpoint = JSON.readTree(Path.of(run, "checkpoint/model.json").toFile());
        assertEquals(provenance.path("dataChecksums"), checkpoint.path("provenance").path("dataChecksums"));
        assertEquals(settings, checkpoint.path("settings"));
    }

    @Test
    @Order(2)
    void resumeContinuesTheRunAndItsRecord() throws Exception {
        JsonNode first = JSON.readTree(Path.of(run, "train-summary.json").toFile()).path("history");
        assertEquals(1, first.size(), "runs after the first test's one-epoch run");
        assertEquals(0, cli("train", "--resume", "--set", "train.epochs=2"), "train --resume failed");
        JsonNode history = JSON.readTree(Path.of(run, "train-summary.json").toFile()).path("history");
        assertEquals(2, history.size());
        assertEquals(first.get(0), history.get(0), "epoch 1 as the first run measured it");
        JsonNode provenance = JSON.readTree(Path.of(run, "checkpoint/model.json").toFile()).path("provenance");
        assertEquals(2, provenance.path("epochs").asInt());
        assertEquals(1234, provenance.path("seed").asLong());
        assertEquals(2, JSON.readTree(Path.of(run, "checkpoint/state.json").toFile()).path("epochsDone").asInt());

        // resumed = uninterrupted, for the same settings (the driver sums the workers' parameters in the order their
        // results arrive, so float rounding may differ)
        String straight = tmp.resolve("run-straight").toString();
        assertEquals(0, cli("train", "--set", "train.epochs=2", "--set", "train.output=" + straight));
        JsonNode uninterrupted = JSON.readTree(Path.of(straight, "train-summary.json").toFile()).path("history");
        for (int e = 0; e < 2; e++) {
            assertEquals(uninterrupted.get(e).path("steps").asLong(), history.get(e).path("steps").asLong());
            for (String metric : List.of("trainNll", "validNll")) {
                assertEquals(uninterrupted.get(e).path(metric).asDouble(), history.get(e).path(metric).asDouble(),
                        1e-6, metric + " of epoch " + (e + 1));
            }
        }
        JobsTesting.assertSameParameters(straight + "/checkpoint", run + "/checkpoint", true);
    }

    @Test
    @Order(3)
    void trainRefusesAnExistingRunUnlessOverwriteAndThenReplacesIt() throws Exception {
        Map<String, String> before = SparkTesting.fileDigests(run);
        assertNotEquals(0, cli("train", "--set", "train.seed=99"), "a second train onto the run must be refused");
        assertEquals(before, SparkTesting.fileDigests(run), "the refused train left the run as it was");

        assertEquals(0, cli("train", "--set", "train.seed=99", "--overwrite"), "train --overwrite failed");
        JsonNode model = JSON.readTree(Path.of(run, "model/model.json").toFile());
        assertEquals(99, model.path("provenance").path("seed").asLong(), "the run was replaced");
        assertEquals(1, model.path("provenance").path("epochs").asInt());
        assertEquals(1, JSON.readTree(Path.of(run, "train-summary.json").toFile()).path("history").size());
        try (var beside = Files.list(Path.of(run).getParent())) {
            assertEquals(List.of(), beside.map(p -> p.getFileName().toString()).filter(n -> n.contains(".staging-"))
                    .toList(), "nothing staged is left beside the run");
        }
    }

    /**
     * {@code interpolate} on a small Glow trained on 8-bit digits: the strip's ends are the two asked-for test images
     * (encode then decode on dequantized pixels gives them back); run again it refuses, with {@code --overwrite} it
     * writes the same strip.
     */
    @Test
    @Order(4)
    void interpolateThroughTheCommandLine() throws Exception {
        String eight = tmp.resolve("prepared8").toString();
        String glow = tmp.resolve("glow").toString();
        String strip = tmp.resolve("strip").toString();
        List<String> flow = List.of("--set", "data=" + eight, "--set", "prepare.binarize=none", "--set",
                "prepare.max-value=255", "--set", "prepare.limit=300", "--set", "prepare.validation-rows=60",
                "--set", "model.type=glow", "--set", "model.flow.scales=1", "--set", "model.flow.steps=1",
                "--set", "model.flow.hidden-channels=4", "--set", "train.output=" + glow, "--set",
                "interpolate.rows=[0, 3]", "--set", "interpolate.steps=5", "--set", "interpolate.output=" + strip);
        assertEquals(0, cli("prepare", flow.toArray(String[]::new)), "prepare (8-bit) failed");
        assertEquals(0, cli("train", flow.toArray(String[]::new)), "train (glow) failed");
        assertEquals(0, cli("interpolate", flow.toArray(String[]::new)), "interpolate failed");

        SparkSession spark = spark();
        List<Row> steps = spark.read().parquet(strip + "/interpolation.parquet").orderBy("step").collectAsList();
        assertEquals(5, steps.size());
        List<Row> test = spark.read().parquet(eight + "/test").orderBy("row_id").limit(4).collectAsList();
        assertEquals(pixels(test.get(0)), values(steps.get(0)), "the strip starts at test image 0");
        assertEquals(pixels(test.get(3)), values(steps.get(4)), "the strip ends at test image 3");
        assertNotEquals(values(steps.get(0)), values(steps.get(2)));
        JsonNode summary = JSON.readTree(Path.of(strip, "summary.json").toFile());
        assertEquals(List.of(test.get(0).getLong(0), test.get(3).getLong(0)),
                List.of(summary.path("rowIds").get(0).asLong(), summary.path("rowIds").get(1).asLong()));
        assertTrue(Files.size(Path.of(strip, "interpolation.png")) > 100);

        Map<String, String> written = SparkTesting.fileDigests(strip);
        assertNotEquals(0, cli("interpolate", flow.toArray(String[]::new)), "a second interpolate must be refused");
        assertEquals(written, SparkTesting.fileDigests(strip));
        List<String> again = new ArrayList<>(flow);
        again.add("--overwrite");
        assertEquals(0, cli("interpolate", again.toArray(String[]::new)), "interpolate --overwrite failed");
        assertEquals(steps, spark().read().parquet(strip + "/interpolation.parquet").orderBy("step").collectAsList(),
                "the same strip again");
    }

    /** A stored image's pixels (one unsigned byte each) as the floats a strip holds. */
    private static List<Float> pixels(Row row) {
        byte[] x = (byte[]) row.get(row.fieldIndex("x"));
        List<Float> out = new ArrayList<>();
        for (byte b : x) {
            out.add((float) (b & 0xff));
        }
        return out;
    }

    private static List<Float> values(Row step) {
        List<Float> out = new ArrayList<>();
        for (Object v : step.getList(2)) {
            out.add((Float) v);
        }
        return out;
    }

    /** The version in the root pom (the project's own, after its parent's). */
    private static String projectVersion() throws IOException {
        String pom = Files.readString(JobsTesting.ROOT.resolve("pom.xml"), StandardCharsets.UTF_8);
        Matcher m = Pattern.compile("<artifactId>chainrule-parent</artifactId>\\s*<version>([^<]+)</version>")
                .matcher(pom);
        assertTrue(m.find(), "no chainrule version in the root pom");
        return m.group(1);
    }

    /** The version in the file name of the class path's jar whose name starts with {@code prefix}. */
    private static String jarVersion(String prefix) {
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            String name = Path.of(entry).getFileName().toString();
            if (name.startsWith(prefix) && name.endsWith(".jar")) {
                Matcher m = Pattern.compile("-(\\d[^-]*(?:-M[\\d.]+)?)\\.jar$").matcher(name);
                assertTrue(m.find(), name);
                return m.group(1);
            }
        }
        throw new AssertionError("no " + prefix + " jar on the class path");
    }

    /**
     * The commit the build recorded is the repository's HEAD ("unknown" where the sources are not a git checkout). In a
     * linked worktree (its .git a file) git-commit-id-maven-plugin 9.0.x reads the main checkout's HEAD instead (the
     * plugin's issue 882): there the test can only require a commit of this repository.
     */
    private static void assertGitCommit(String recorded) throws IOException, InterruptedException {
        String head = git("rev-parse", "HEAD");
        if (head == null) {
            assertEquals("unknown", recorded);
        } else if (Files.isRegularFile(JobsTesting.ROOT.resolve(".git"))) {
            assertTrue(recorded.matches("[0-9a-f]{40}") && git("cat-file", "-e", recorded + "^{commit}") != null,
                    recorded + " is no commit of this repository");
        } else {
            assertEquals(head, recorded, "the build's commit");
        }
    }

    /** What git prints for {@code args} in the repository, or null when it fails. */
    private static String git(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("git"));
        command.addAll(List.of(args));
        Process git;
        try {
            git = new ProcessBuilder(command).directory(JobsTesting.ROOT.toFile()).redirectErrorStream(true).start();
        } catch (IOException e) {
            return null; // no git installed
        }
        String out = new String(git.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        return git.waitFor() == 0 ? out : null;
    }
}
