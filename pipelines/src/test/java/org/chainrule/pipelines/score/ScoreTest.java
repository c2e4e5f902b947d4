package org.chainrule.pipelines.score;

import org.chainrule.pipelines.data.Holdout;
import org.chainrule.models.TrainingRecipe;
import com.typesafe.config.Config;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.chainrule.models.autoregressive.MadeSpec;
import org.chainrule.pipelines.SparkTesting;
import org.chainrule.pipelines.data.Binarization;
import org.chainrule.pipelines.data.Encoding;
import org.chainrule.pipelines.data.Prepare;
import org.chainrule.pipelines.evaluate.Evaluate;
import org.chainrule.pipelines.io.Json;
import org.chainrule.pipelines.io.Outputs;
import org.chainrule.pipelines.io.SavedModel;
import org.chainrule.pipelines.train.Train;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.DataInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The score job on a user's own tables: the MNIST slice's raw test pixels (0..255) as a Parquet table and as a CSV
 * file, with an id, a string and extra numeric columns, scored by a MADE trained on the threshold-binarized slice.
 * Every row comes back with its columns unchanged and, where it can be scored, exactly the evaluate job's score of
 * the same image; the bad rows carry their reason.
 */
class ScoreTest {
    @TempDir
    static Path shared;
    static String data;
    static String model;
    static Map<Long, Double> evaluated = new HashMap<>();
    static int[][] pixels;
    private final SparkSession spark = SparkTesting.spark();
    private final Configuration conf = spark.sparkContext().hadoopConfiguration();

    @BeforeAll
    static void trainAndEvaluate() throws IOException {
        SparkSession spark = SparkTesting.spark();
        Path raw = SparkTesting.mnistSlice(shared.resolve("raw"));
        data = shared.resolve("prepared").toString();
        Prepare.run(spark, Prepare.Settings.builder("idx", List.of(raw.resolve("train-images-idx3-ubyte.gz").toString()))
                .test(List.of(raw.resolve("t10k-images-idx3-ubyte.gz").toString())).output(data).shape(28, 28)
                .holdout(Holdout.tail(100)).limit(400).encoding(new Encoding(784, 255, "threshold", 1)).build());
        String run = shared.resolve("run").toString();
        Train.run(spark, new Train.Settings(data, run, MadeSpec.made(new long[]{28, 28}, new int[]{16}, 1, false, 1),
                new TrainingRecipe(3e-3, 5), new Train.Schedule(1, 50, 0), new Train.Averaging(2, 2, 0),
                new Train.Scoring(100, 0, 200), false, false, Map.of()));
        model = run + "/model";
        String eval = shared.resolve("eval").toString();
        Evaluate.run(spark, new Evaluate.Settings(model, data, "test", eval, 128, false));
        spark.read().parquet(eval + "/scores.parquet").collectAsList()
                .forEach(r -> evaluated.put(r.getLong(0), r.getDouble(1)));
        pixels = readIdx(raw.resolve("t10k-images-idx3-ubyte.gz"));
    }

    static int[][] readIdx(Path gz) throws IOException {
        try (DataInputStream in = new DataInputStream(new GZIPInputStream(Files.newInputStream(gz)))) {
            in.readInt();
            int n = in.readInt();
            int size = in.readInt() * in.readInt();
            int[][] out = new int[n][size];
            for (int i = 0; i < n; i++) {
                for (int d = 0; d < size; d++) {
                    out[i][d] = in.readUnsignedByte();
                }
            }
            return out;
        }
    }

    /**
     * Relative agreement with evaluate's scores. The models compute in float32, and a row's score moves in its last
     * bits with the other rows of its batch (the matrix multiply's blocking and threads depend on the batch size):
     * about 1e-7 relative. Scoring the same rows in the same batches gives identical numbers.
     */
    static final double SAME = 1e-6;

    static final StructType TABLE = table();

    static StructType table() {
        StructType t = new StructType().add("id", DataTypes.LongType).add("name", DataTypes.StringType)
                .add("weight", DataTypes.DoubleType).add("grp", DataTypes.IntegerType);
        for (int d = 0; d < 784; d++) {
            t = t.add("p" + d, DataTypes.DoubleType);
        }
        return t;
    }

    /** The 300 test images (id = their row id in the prepared test split) and three bad rows (ids 300..302). */
    static List<Row> rows() {
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < pixels.length + 3; i++) {
            Object[] v = new Object[4 + 784];
            v[0] = (long) i;
            v[1] = "digit " + i;
            v[2] = i * 0.25;
            v[3] = i % 3;
            for (int d = 0; d < 784; d++) {
                v[4 + d] = (double) pixels[i % pixels.length][d];
            }
            rows.add(RowFactory.create(v));
        }
        // rows 300..302 repeat images 0..2 with one bad value each
        rows.set(300, with(rows.get(300), 4 + 5, 300.0));
        rows.set(301, with(rows.get(301), 4 + 7, Double.NaN));
        rows.set(302, with(rows.get(302), 4 + 3, null));
        return rows;
    }

    static Row with(Row r, int at, Object value) {
        Object[] v = new Object[r.length()];
        for (int i = 0; i < v.length; i++) {
            v[i] = r.get(i);
        }
        v[at] = value;
        return RowFactory.create(v);
    }

    static Score.Settings settings(String input, String format, List<String> keep, String binarize, String output,
                                   String modelDir) {
        return Score.Settings.builder(modelDir, input, output).format(format).columns("p0..p783")
                .keep(keep.toArray(String[]::new)).binarize(binarize).build();
    }

    /** Checks the scores against evaluate's and the kept columns against the input; returns the rows by id. */
    Map<Long, Row> checkScored(String output, int rows, List<String> keptExpected) {
        Dataset<Row> out = spark.read().parquet(output + "/scores.parquet");
        assertEquals(rows, out.count(), "rows out == rows in");
        for (String c : keptExpected) {
            assertTrue(List.of(out.columns()).contains(c), c + " kept: " + List.of(out.columns()));
        }
        Map<Long, Row> byId = new HashMap<>();
        for (Row r : out.collectAsList()) {
            byId.put(((Number) r.get(r.fieldIndex("id"))).longValue(), r);
        }
        for (long i = 0; i < 300; i++) {
            Row r = byId.get(i);
            double lp = r.getDouble(r.fieldIndex("log_prob_nats"));
            assertEquals(evaluated.get(i), lp, SAME * Math.abs(lp), "row " + i + ": the evaluate job's score");
            assertEquals(-lp, r.getDouble(r.fieldIndex("nll_nats")), 0.0);
            assertEquals(-lp / (784 * Math.log(2)), r.getDouble(r.fieldIndex("bits_per_dim")), 1e-12);
            assertNull(r.get(r.fieldIndex("score_error")));
            assertEquals("digit " + i, r.getString(r.fieldIndex("name")));
            assertEquals(i * 0.25, r.getDouble(r.fieldIndex("weight")), 0.0);
            assertEquals((int) (i % 3), ((Number) r.get(r.fieldIndex("grp"))).intValue());
        }
        return byId;
    }

    static String error(Row r) {
        return r.getString(r.fieldIndex("score_error"));
    }

    @Test
    void theTrainedModelRecordsItsBinarization() {
        Config doc = Json.parse(Outputs.readText(model + "/model.json", conf), "model.json");
        assertEquals("threshold", doc.getString("data.binarize"));
        assertEquals(255.0, doc.getDouble("data.maxValue"));
        assertEquals(new Binarization("threshold", 255), SavedModel.load(model, false, conf).domain().binarization());
    }

    @Test
    void aPartitionedParquetTableIsScoredLikeEvaluateWithItsColumnsAndLayoutKept(@TempDir Path tmp) {
        String input = tmp.resolve("events").toString();
        spark.createDataFrame(rows(), TABLE).write().partitionBy("grp").parquet(input);
        String output = tmp.resolve("scored").toString();
        Map<String, Object> summary = Score.run(spark, settings(input, "parquet", List.of("id", "name", "weight"),
                "auto", output, model));
        Map<Long, Row> byId = checkScored(output, 303, List.of("id", "name", "weight", "grp"));
        assertEquals(7 + 1, spark.read().parquet(output + "/scores.parquet").columns().length,
                "only the kept columns, the input's partition column and the scores: no pixels");
        assertTrue(Files.isDirectory(tmp.resolve("scored/scores.parquet/grp=2")), "partitioned like the input");

        assertTrue(error(byId.get(300L)).startsWith("outside the domain: column p5 = 300 outside [0, 255]"),
                error(byId.get(300L)));
        assertTrue(error(byId.get(301L)).startsWith("not a number: column p7 is NaN"), error(byId.get(301L)));
        assertTrue(error(byId.get(302L)).startsWith("null value: column p3 is null"), error(byId.get(302L)));
        for (long i = 300; i < 303; i++) {
            assertNull(byId.get(i).get(byId.get(i).fieldIndex("log_prob_nats")));
            assertEquals("digit " + i, byId.get(i).getString(byId.get(i).fieldIndex("name")));
        }

        Config written = Json.parse(Outputs.readText(output + "/summary.json", conf), "summary");
        assertEquals(303, written.getLong("count"));
        assertEquals(300, written.getLong("scored"));
        assertEquals(3, written.getLong("errors"));
        assertEquals(1, written.getLong("errorsByKind.\"null value\""));
        double mean = evaluated.values().stream().mapToDouble(v -> -v).average().orElseThrow();
        assertEquals(mean, written.getDouble("meanNllNats"), 1e-6);
        assertEquals(summary.get("count"), 303L);
        assertThrows(IllegalStateException.class, () -> Score.run(spark, settings(input, "parquet", List.of("id"),
                "auto", output, model)), "an existing output is not overwritten");
    }

    @Test
    void aCsvFileWithABadCellIsScoredRowByRow(@TempDir Path tmp) throws IOException {
        StringBuilder csv = new StringBuilder(String.join(",", TABLE.fieldNames())).append('\n');
        List<Row> rows = rows();
        for (int i = 0; i < rows.size(); i++) {
            Row r = rows.get(i);
            for (int c = 0; c < r.length(); c++) {
                Object v = r.get(c);
                csv.append(c > 0 ? "," : "").append(i == 302 && c == 4 + 9 ? "abc" : v == null ? ""
                        : v instanceof Double d && d == Math.rint(d) && c >= 4 ? String.valueOf(d.intValue()) : v);
            }
            csv.append('\n');
        }
        Path file = Files.createDirectories(tmp.resolve("in")).resolve("events.csv");
        Files.writeString(file, csv);
        String output = tmp.resolve("scored").toString();
        Score.run(spark, settings(file.toString(), "csv", List.of("*"), "auto", output, model));
        Map<Long, Row> byId = checkScored(output, 303, List.of("id", "name", "weight", "grp", "p0", "p783"));
        assertEquals(4 + 784 + 4, byId.get(0L).length(), "keep = *: every input column");
        assertEquals("abc", byId.get(302L).getString(byId.get(302L).fieldIndex("p9")), "kept as read");
        assertTrue(error(byId.get(302L)).startsWith("null value: column p3"), error(byId.get(302L)));
        assertTrue(error(byId.get(300L)).startsWith("outside the domain"), error(byId.get(300L)));
    }

    @Test
    void aModelOfStochasticallyBinarizedDataRefusesRawValuesUnlessAskedToThreshold(@TempDir Path tmp) {
        SavedModel trained = SavedModel.load(model, false, conf);
        String stochastic = tmp.resolve("stochastic").toString();
        new SavedModel(trained.spec(), trained.network(), trained.domain().withBinarization(
                new Binarization("stochastic", 255)), trained.settings(), trained.provenance()).save(stochastic, conf);
        String input = tmp.resolve("events").toString();
        spark.createDataFrame(rows().subList(0, 300), TABLE).write().parquet(input);

        Score.run(spark, settings(input, "parquet", List.of("id"), "auto", tmp.resolve("refused").toString(),
                stochastic));
        List<Row> refused = spark.read().parquet(tmp.resolve("refused/scores.parquet").toString()).collectAsList();
        assertEquals(300, refused.size());
        for (Row r : refused) {
            assertNull(r.get(1));
            assertTrue(r.getString(4).startsWith("non-binary value") && r.getString(4).contains("stochastically")
                    && r.getString(4).contains("binarize = threshold"), r.getString(4));
        }

        String thresholded = tmp.resolve("thresholded").toString();
        Score.run(spark, settings(input, "parquet", List.of("id", "name", "weight", "grp"), "threshold", thresholded,
                stochastic));
        checkScored(thresholded, 300, List.of("id"));

        String old = tmp.resolve("old").toString();
        new SavedModel(trained.spec(), trained.network(), trained.domain().withBinarization(null), trained.settings(),
                trained.provenance()).save(old, conf);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Score.run(spark,
                settings(input, "parquet", List.of("id"), "threshold", tmp.resolve("o").toString(), old)));
        assertTrue(e.getMessage().contains("max-value"), e.getMessage());
        assertFalse(Files.exists(tmp.resolve("o")), "no output when the settings are refused");
    }

    /** A prepared split is a table too: its stored bytes score exactly as evaluate scored them. */
    @Test
    void aPreparedSplitsStoredBytesScoreAsEvaluateDid(@TempDir Path tmp) {
        String output = tmp.resolve("scored").toString();
        Score.run(spark, Score.Settings.builder(model, data + "/test", output).columns("x").keep("row_id")
                .batchSize(64).build());
        List<Row> out = spark.read().parquet(output + "/scores.parquet").collectAsList();
        assertEquals(300, out.size());
        for (Row r : out) {
            assertEquals(evaluated.get(r.getLong(0)), r.getDouble(1), SAME * Math.abs(r.getDouble(1)),
                    "row " + r.getLong(0));
        }
    }

    @Test
    void aTableIsScoredByName(@TempDir Path tmp) {
        spark.createDataFrame(rows().subList(0, 20), TABLE).createOrReplaceTempView("score_test_events");
        String output = tmp.resolve("scored").toString();
        Score.run(spark, settings("score_test_events", "table", List.of("id"), "auto", output, model));
        List<Row> out = spark.read().parquet(output + "/scores.parquet").collectAsList();
        assertEquals(20, out.size());
        for (Row r : out) {
            assertEquals(evaluated.get(r.getLong(0)), r.getDouble(1), SAME * Math.abs(r.getDouble(1)));
        }
    }

    @Test
    void badSettingsAreNamedBeforeAnythingIsScored(@TempDir Path tmp) {
        String input = tmp.resolve("events").toString();
        spark.createDataFrame(rows().subList(0, 10), TABLE).write().parquet(input);
        String out = tmp.resolve("o").toString();
        IllegalArgumentException width = assertThrows(IllegalArgumentException.class, () -> Score.run(spark,
                Score.Settings.builder(model, input, out).columns("p0..p782").keep("id").batchSize(100).build()));
        assertTrue(width.getMessage().contains("783 input columns given") && width.getMessage().contains("784"),
                width.getMessage());
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class, () -> Score.run(spark,
                settings(input, "parquet", List.of("id", "colour"), "auto", out, model)));
        assertTrue(missing.getMessage().contains("no column colour"), missing.getMessage());
        IllegalArgumentException label = assertThrows(IllegalArgumentException.class, () -> Score.run(spark,
                Score.Settings.builder(model, input, out).columns("p0..p783").keep("id").labelColumn("grp")
                        .batchSize(100).build()));
        assertTrue(label.getMessage().contains("not conditioned"), label.getMessage());
        assertFalse(Files.exists(tmp.resolve("o")));
    }
}
