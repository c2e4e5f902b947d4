package org.chainrule.jobs;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.chainrule.models.TrainingRecipe;
import org.chainrule.models.autoregressive.MadeSpec;
import org.chainrule.pipelines.SparkTesting;
import org.chainrule.pipelines.data.Manifest;
import org.chainrule.pipelines.data.Prepare;
import org.chainrule.pipelines.data.Shards;
import org.chainrule.pipelines.io.SavedModel;
import org.chainrule.pipelines.train.Train;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import java.util.zip.ZipOutputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 20 at the command line: settings that must be whole numbers, failure messages whose first line names the
 * file, and a {@code train --overwrite} killed mid-epoch in its own JVM, which must leave the previous run intact.
 */
class SafetyJobsTest {
    @TempDir
    static Path shared;
    static String data;
    static final MadeSpec SPEC = MadeSpec.made(new long[]{28, 28}, new int[]{16}, 1, false, 5);
    private final SparkSession spark = SparkTesting.spark();
    private final Configuration conf = SparkTesting.spark().sparkContext().hadoopConfiguration();

    @BeforeAll
    static void prepare() {
        data = shared.resolve("prepared").toString();
        Prepare.run(SparkTesting.spark(), SparkTesting.sliceSettings(SparkTesting.mnistSlice(shared.resolve("raw")),
                data, 400, 80));
    }

    @Test
    void settingsThatMustBeWholeNumbersRejectFractions() {
        ConfigErrors train = assertThrows(ConfigErrors.class, () -> Settings.load(null, List.of("train.epochs=2.9",
                "train.batch-size=\"3.5\"", "model.made.hidden=[64, 2.9]", "train.seed=1e30")).validateTrain());
        for (String key : List.of("train.epochs", "train.batch-size", "model.made.hidden[1]", "train.seed")) {
            assertProblem(train, "chainrule." + key);
        }
        assertProblem(assertThrows(ConfigErrors.class, () -> Settings.load(null, List.of("prepare.shape=[28.5, 28]"))
                .prepare(false)), "chainrule.prepare.shape[0] = 28.5");
        assertProblem(assertThrows(ConfigErrors.class, () -> Settings.load(null, List.of("sample.labels=[1.5]"))
                .sample(false)), "chainrule.sample.labels[0] = 1.5");
        Settings.load(null, List.of("train.epochs=2.0", "model.made.hidden=[64.0]")).validateTrain(); // whole
    }

    /** The errors hold a line naming {@code key} that says it must be a whole number. */
    private static void assertProblem(ConfigErrors e, String key) {
        assertTrue(e.getMessage().lines().anyMatch(l -> l.contains(key) && l.contains("must be a whole number")),
                key + " in:\n" + e.getMessage());
    }

    /** The first line of the message a failed job prints. */
    private static String firstLine(Throwable e) {
        return Main.describe(e).lines().findFirst().orElse("");
    }

    @Test
    void aCorruptShardIsNamedOnTheFirstLine(@TempDir Path tmp) throws IOException {
        Manifest m = Manifest.read(data, conf);
        // a page header Parquet cannot decode, and a page it decodes to other values (the checksum's case)
        for (int offset : new int[]{4, 100}) {
            Path copy = SparkTesting.copyTree(data, tmp.resolve("copy" + offset));
            Path shard = copy.resolve("test/part-00001.parquet");
            byte[] b = Files.readAllBytes(shard);
            b[offset] ^= 0x5a;
            Files.write(shard, b);
            Files.delete(copy.resolve("test/.part-00001.parquet.crc"));
            Exception e = assertThrows(Exception.class, () -> Shards.read(spark, copy.toString(), "test", m).count());
            String line = firstLine(e);
            assertTrue(line.contains(copy.resolve("test/part-00001.parquet").toString()), line);
        }
    }

    @Test
    void aDamagedModelIsNamedAndNeverAllocated(@TempDir Path tmp) throws IOException {
        MultiLayerNetwork net = new MultiLayerNetwork(SPEC.trainingConfiguration(new TrainingRecipe(1e-3, 1)));
        net.init();
        String model = tmp.resolve("model").toString();
        new SavedModel(SPEC, net, Map.of(), Map.of()).save(model, conf);
        Path zip = Path.of(model, SavedModel.NETWORK);
        Path json = Path.of(model, SavedModel.DESCRIPTION);
        Files.delete(Path.of(model, "." + SavedModel.NETWORK + ".crc"));
        Files.delete(Path.of(model, "." + SavedModel.DESCRIPTION + ".crc"));
        byte[] archive = Files.readAllBytes(zip);
        String description = Files.readString(json);

        Files.write(zip, java.util.Arrays.copyOf(archive, archive.length * 2 / 3));
        assertEquals(zip + ": corrupt network archive: Unexpected end of ZLIB input stream", firstLine(
                assertThrows(IllegalArgumentException.class, () -> SavedModel.load(model, true, conf))));

        Files.write(zip, withEntry(archive, "configuration.json", s -> inArray(s, "hidden", "16", "2000000000")));
        String edited = firstLine(assertThrows(IllegalArgumentException.class, () -> SavedModel.load(model, false,
                conf)));
        assertTrue(edited.startsWith(zip + ": configuration.json declares 3138000000784 parameters, but"
                + " coefficients.bin holds "), edited);

        Files.write(zip, archive);
        for (String[] change : new String[][]{{"hidden", "16", "2000000000", "do not belong together"},
                {"eventShape", "28", "100000", "eventShape [100000,100000] has more dimensions than an event can"},
                {"eventShape", "28", "29", "describes a made model of shape [29, 29] with 27769 parameters"}}) {
            Files.writeString(json, inArray(description, change[0], change[1], change[2]));
            String line = firstLine(assertThrows(IllegalArgumentException.class,
                    () -> SavedModel.load(model, false, conf)));
            assertTrue(line.startsWith(json.toString()) && line.contains(change[3]), line);
        }
    }

    /** The JSON with every {@code from} inside the array named {@code key} replaced by {@code to}. */
    private static String inArray(String json, String key, String from, String to) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"" + key + "\"\\s*:\\s*\\[([^]]*)]")
                .matcher(json);
        assertTrue(m.find(), key + " in " + json);
        return json.substring(0, m.start(1)) + m.group(1).replaceAll("\\b" + from + "\\b", to)
                + json.substring(m.end(1));
    }

    private static byte[] withEntry(byte[] zip, String name, java.util.function.UnaryOperator<String> edit)
            throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ZipInputStream in = new ZipInputStream(new ByteArrayInputStream(zip));
             ZipOutputStream z = new ZipOutputStream(out)) {
            for (ZipEntry e = in.getNextEntry(); e != null; e = in.getNextEntry()) {
                byte[] content = in.readAllBytes();
                if (e.getName().equals(name)) {
                    content = edit.apply(new String(content, StandardCharsets.UTF_8)).getBytes(StandardCharsets.UTF_8);
                }
                z.putNextEntry(new ZipEntry(e.getName()));
                z.write(content);
                z.closeEntry();
            }
        }
        return out.toByteArray();
    }

    /**
     * {@code train --overwrite} on an existing run, in its own JVM through the real command line, killed with
     * SIGKILL once it has trained an epoch and started the next: the previous run is byte for byte as it was and still
     * resumes; the killed replacement's staging directory is removed by the next train on that output.
     */
    @Test
    void aKilledTrainOverwriteLeavesThePreviousRunIntact(@TempDir Path tmp) throws Exception {
        String run = tmp.resolve("runs/made").toString();
        Train.run(spark, new Train.Settings(data, run, SPEC, new TrainingRecipe(1e-3, 7), new Train.Schedule(1, 20, 0),
                new Train.Averaging(1, 1, 0), new Train.Scoring(50, 0, 100), false, false, Map.of()));
        Map<String, String> before = SparkTesting.fileDigests(run);
        Path config = tmp.resolve("kill.conf");
        Files.writeString(config, String.join("\n", "chainrule {", "  data = \"" + data + "\"",
                "  model { type = made, made { hidden = [16], mask-seed = 5 } }",
                "  train { output = \"" + run + "\", epochs = 500, batch-size = 10, workers = 1,",
                "          averaging-frequency = 1, rounds-per-call = 1, train-eval-rows = 50, patience = 0 }", "}", ""));

        List<String> command = JobsTesting.mainInOwnJvm("train", "-c", config.toString(), "--overwrite");
        // progress lines are log lines ("... INFO Train: [train] epoch 2/500 step ..."), on either stream
        Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
        List<String> seen = new ArrayList<>();
        CompletableFuture<Boolean> secondEpoch = CompletableFuture.supplyAsync(() -> {
            try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String line = out.readLine(); line != null; line = out.readLine()) {
                    seen.add(line);
                    if (line.contains("[train] epoch 2/500 step ")) {
                        return true;
                    }
                }
                return false;
            } catch (IOException e) {
                return false;
            }
        });
        boolean started;
        try {
            started = secondEpoch.get(180, TimeUnit.SECONDS);
        } finally {
            child.destroyForcibly();
            child.waitFor(60, TimeUnit.SECONDS);
        }
        assertTrue(started, "the child never reached epoch 2; its output:\n" + String.join("\n", seen));
        assertTrue(seen.stream().anyMatch(l -> l.contains("--overwrite: the new run is trained beside")), seen.toString());

        assertEquals(before, SparkTesting.fileDigests(run), "the previous run is untouched");
        List<Path> staging;
        try (Stream<Path> beside = Files.list(Path.of(run).getParent())) {
            staging = beside.filter(p -> p.getFileName().toString().startsWith(".made.staging-")).toList();
        }
        assertEquals(1, staging.size(), "the killed replacement is left beside it, with its epoch-1 checkpoint");
        assertTrue(Files.exists(staging.get(0).resolve("checkpoint/model.json")));

        Map<String, Object> resumed = Train.run(spark, new Train.Settings(data, run, SPEC, new TrainingRecipe(1e-3, 7),
                new Train.Schedule(2, 20, 0), new Train.Averaging(1, 1, 0), new Train.Scoring(50, 0, 100), true, false,
                Map.of()));
        assertEquals(2, ((List<?>) resumed.get("history")).size(), "the previous run resumes from its own epoch 1");
        assertFalse(Files.exists(staging.get(0)), "the next train on the output removed the killed staging");
    }
}
