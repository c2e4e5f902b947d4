package org.chainrule.pipelines.evaluate;

import org.chainrule.models.TrainingRecipe;
import com.typesafe.config.Config;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.chainrule.models.DensityModel;
import org.chainrule.models.autoregressive.MadeSpec;
import org.chainrule.pipelines.SparkTesting;
import org.chainrule.pipelines.data.Batches;
import org.chainrule.pipelines.data.Example;
import org.chainrule.pipelines.data.Manifest;
import org.chainrule.pipelines.data.Prepare;
import org.chainrule.pipelines.data.Shards;
import org.chainrule.pipelines.io.Json;
import org.chainrule.pipelines.io.Outputs;
import org.chainrule.pipelines.io.SavedModel;
import org.chainrule.pipelines.sample.Sample;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EvaluateSampleTest {
    @TempDir
    static Path shared;
    static String data;
    static String model;
    static Manifest manifest;
    static final MadeSpec SPEC = MadeSpec.made(new long[]{28, 28}, new int[]{24}, 3, true, 9);
    private final SparkSession spark = SparkTesting.spark();
    private final Configuration conf = SparkTesting.spark().sparkContext().hadoopConfiguration();

    @BeforeAll
    static void saveARandomModel() {
        SparkSession spark = SparkTesting.spark();
        Path raw = SparkTesting.mnistSlice(shared.resolve("raw"));
        data = shared.resolve("prepared").toString();
        manifest = Prepare.run(spark, SparkTesting.sliceSettings(raw, data, 300, 50));
        MultiLayerNetwork net = new MultiLayerNetwork(SPEC.trainingConfiguration(new TrainingRecipe(1e-3, 4)));
        net.init();
        model = shared.resolve("model").toString();
        new SavedModel(SPEC, net, Map.of("k", "v"), Map.of("seed", 4)).save(model,
                spark.sparkContext().hadoopConfiguration());
    }

    @Test
    void savedModelRoundTripsExactly() {
        SavedModel back = SavedModel.load(model, true, conf);
        assertEquals(SPEC, back.spec());
        assertEquals("v", back.settings().get("k"));
        List<Example> rows = Shards.read(spark, data, "test", manifest).take(20);
        INDArray x = Batches.matrix(rows, 784);
        DensityModel a = SPEC.densityOf(back.network());
        DensityModel b = back.payload().density();
        assertEquals(a.logProb(x), b.logProb(x));
    }

    @Test
    void summaryAgreesWithASingleJvmComputation(@TempDir Path tmp) {
        String out = tmp.resolve("eval").toString();
        Map<String, Object> summary = Evaluate.run(spark, new Evaluate.Settings(model, data, "test", out, 64, false));
        List<Example> rows = new java.util.ArrayList<>(Shards.read(spark, data, "test", manifest).collect());
        DensityModel density = SavedModel.load(model, false, conf).payload().density();
        double[] lp = density.logProb(Batches.matrix(rows, 784)).toDoubleVector();
        double mean = 0;
        for (double v : lp) {
            mean -= v / lp.length;
        }
        assertEquals(mean, ((Number) summary.get("meanNllNats")).doubleValue(), 1e-6);
        assertEquals(mean / (784 * Math.log(2)), ((Number) summary.get("bitsPerDim")).doubleValue(), 1e-9);
        Config written = Json.parse(Outputs.readText(out + "/summary.json", conf), "summary");
        assertEquals(300, written.getLong("count"));
        List<Row> scored = spark.read().parquet(out + "/scores.parquet").orderBy("row_id").collectAsList();
        rows.sort(Comparator.comparingLong(Example::rowId));
        for (int i = 0; i < rows.size(); i++) {
            assertEquals(rows.get(i).rowId(), scored.get(i).getLong(0));
        }
        assertThrows(IllegalStateException.class,
                () -> Evaluate.run(spark, new Evaluate.Settings(model, data, "test", out, 64, false)));
    }

    @Test
    void samplesAreDeterministicPerSeedWhateverTheCount(@TempDir Path tmp) {
        String a = tmp.resolve("a").toString();
        String b = tmp.resolve("b").toString();
        Sample.run(spark, new Sample.Settings(model, a, 12, 5, 4, 12, false));
        Sample.run(spark, new Sample.Settings(model, b, 20, 5, 4, 0, false));
        List<Row> ra = spark.read().parquet(a + "/samples.parquet").orderBy("sample_id").collectAsList();
        List<Row> rb = spark.read().parquet(b + "/samples.parquet").orderBy("sample_id").limit(12).collectAsList();
        assertEquals(12, ra.size());
        for (int i = 0; i < 12; i++) {
            assertEquals(ra.get(i).getLong(1), rb.get(i).getLong(1));
            assertEquals(ra.get(i).getList(3), rb.get(i).getList(3), "sample " + i);
        }
        assertTrue(ra.stream().allMatch(r -> r.getList(3).stream().allMatch(v -> (Float) v == 0f || (Float) v == 1f)));
        assertTrue(Files.exists(Path.of(a, "samples.png")));
    }

    @Test
    void incompatibleOrDamagedModelsAreRefused(@TempDir Path tmp) throws Exception {
        MultiLayerNetwork small = new MultiLayerNetwork(MadeSpec.fvsbn(new long[]{10}).trainingConfiguration(
                new TrainingRecipe(1e-3, 1)));
        small.init();
        String wrong = tmp.resolve("wrong").toString();
        new SavedModel(MadeSpec.fvsbn(new long[]{10}), small, Map.of(), Map.of()).save(wrong, conf);
        IllegalArgumentException dims = assertThrows(IllegalArgumentException.class,
                () -> Evaluate.run(spark, new Evaluate.Settings(wrong, data, "test", tmp.resolve("o1").toString(), 10, false)));
        assertTrue(dims.getMessage().contains("10 dimensions") && dims.getMessage().contains("784"), dims.getMessage());

        // a network archive with anything but JSON and arrays inside is never opened
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
            zip.putNextEntry(new ZipEntry("configuration.json"));
            zip.write("{}".getBytes());
            zip.putNextEntry(new ZipEntry("normalizer.bin"));
            zip.write(new byte[]{(byte) 0xAC, (byte) 0xED, 0, 5});
        }
        Files.write(Path.of(wrong, SavedModel.NETWORK), bytes.toByteArray());
        Files.deleteIfExists(Path.of(wrong, "." + SavedModel.NETWORK + ".crc")); // else Hadoop's checksum fails first
        IllegalArgumentException entry = assertThrows(IllegalArgumentException.class,
                () -> SavedModel.load(wrong, false, conf));
        assertTrue(entry.getMessage().contains("unexpected entry 'normalizer.bin'"), entry.getMessage());

        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> SavedModel.load(tmp.resolve("nothing-here").toString(), false, conf));
        assertTrue(missing.getMessage().contains("not a chainrule model directory"), missing.getMessage());
        assertFalse(Files.exists(tmp.resolve("o1")));
    }
}
