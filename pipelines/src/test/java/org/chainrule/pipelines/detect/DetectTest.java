package org.chainrule.pipelines.detect;

import com.typesafe.config.Config;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.chainrule.models.TrainingRecipe;
import org.chainrule.models.autoregressive.MadeSpec;
import org.chainrule.pipelines.SparkTesting;
import org.chainrule.pipelines.data.Encoding;
import org.chainrule.pipelines.data.Holdout;
import org.chainrule.pipelines.data.Prepare;
import org.chainrule.pipelines.data.Readers;
import org.chainrule.pipelines.io.Json;
import org.chainrule.pipelines.io.Outputs;
import org.chainrule.pipelines.sample.Sample;
import org.chainrule.pipelines.score.Score;
import org.chainrule.pipelines.train.Train;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The detect and ood-eval jobs on generated data whose answers are known: 4x4 binary images with independent pixels
 * (pixel d on with probability 0.1 + 0.8 d / 15), a small MADE trained on them, and "shifted" copies with every bit
 * flipped, which that distribution makes far less likely.
 */
class DetectTest {
    static final int DIMS = 16;
    @TempDir
    static Path shared;
    static String data;
    static String model;
    static String samples;
    private final SparkSession spark = SparkTesting.spark();
    private final Configuration conf = spark.sparkContext().hadoopConfiguration();

    @BeforeAll
    static void trainAndSample() throws IOException {
        SparkSession spark = SparkTesting.spark();
        Path csv = shared.resolve("bits.csv");
        Files.write(csv, lines(draw(3000, 11, false)));
        data = shared.resolve("prepared").toString();
        Prepare.run(spark, prepare(csv, data).build());
        String run = shared.resolve("run").toString();
        Train.run(spark, new Train.Settings(data, run, MadeSpec.made(new long[]{4, 4}, new int[]{32}, 1, false, 1),
                new TrainingRecipe(1e-2, 5), new Train.Schedule(4, 50, 0), new Train.Averaging(2, 2, 0),
                new Train.Scoring(200, 0, 200), false, false, Map.of()));
        model = run + "/model";
        samples = shared.resolve("samples").toString();
        Sample.run(spark, new Sample.Settings(model, samples, 4000, 7, 500, 0, false));
    }

    private static Prepare.Settings.Builder prepare(Path csv, String output) {
        return Prepare.Settings.builder("csv", List.of(csv.toString())).readers(new Readers.Options(',', false, -1))
                .output(output).shape(4, 4).holdout(new Holdout(500, 500, "tail", 1))
                .encoding(new Encoding(DIMS, 1, "none", 1));
    }

    /** Rows of independent bits, pixel d on with probability 0.1 + 0.8 d / 15; {@code flipped}: every bit inverted. */
    static int[][] draw(int rows, long seed, boolean flipped) {
        Random random = new Random(seed);
        int[][] out = new int[rows][DIMS];
        for (int[] row : out) {
            for (int d = 0; d < DIMS; d++) {
                int bit = random.nextDouble() < 0.1 + 0.8 * d / (DIMS - 1.0) ? 1 : 0;
                row[d] = flipped ? 1 - bit : bit;
            }
        }
        return out;
    }

    private static List<String> lines(int[][] rows) {
        List<String> out = new ArrayList<>();
        for (int[] r : rows) {
            StringBuilder b = new StringBuilder();
            for (int d = 0; d < r.length; d++) {
                b.append(d == 0 ? "" : ",").append(r[d]);
            }
            out.add(b.toString());
        }
        return out;
    }

    /** A Parquet table: id, group (id / groupSize), p0..p15. */
    private String table(String name, int[][] rows, int groupSize) {
        StructType schema = new StructType().add("id", DataTypes.LongType).add("g", DataTypes.IntegerType);
        for (int d = 0; d < DIMS; d++) {
            schema = schema.add("p" + d, DataTypes.IntegerType);
        }
        List<Row> out = new ArrayList<>();
        for (int i = 0; i < rows.length; i++) {
            Object[] v = new Object[DIMS + 2];
            v[0] = (long) i;
            v[1] = i / groupSize;
            for (int d = 0; d < DIMS; d++) {
                v[d + 2] = rows[i][d];
            }
            out.add(RowFactory.create(v));
        }
        String path = shared.resolve(name).toString();
        spark.createDataFrame(out, schema).repartition(3).write().parquet(path);
        return path;
    }

    private Score.Settings input(String input, String output) {
        return new Score.Settings(model, input, "parquet", List.of("p0..p15"), List.of("id", "g"), "", List.of(),
                "auto", 64, new Score.Csv(true, ",", true), output, false);
    }

    private Config summary(String dir) {
        return Json.parse(Outputs.readText(dir + "/summary.json", conf), dir);
    }

    @Test
    void backgroundEqualToTheModelGivesARatioOfZeroAndEveryRowComesOut() {
        int[][] rows = draw(300, 21, false);
        rows[5][3] = 2; // not a bit: this row cannot be scored
        String in = table("lr-in", rows, 300);
        String out = shared.resolve("lr-out").toString();
        Detect.run(spark, new Detect.Settings(input(in, out), Method.LIKELIHOOD_RATIO, model,
                new Reference(data + "/valid", "parquet", List.of()), new Detect.Threshold(0.05, null, 0.001), "",
                new Detect.Bootstrap(100, 1000, 1)));
        Dataset<Row> back = spark.read().parquet(out + "/scores.parquet");
        assertEquals(300, back.count());
        for (Row r : back.collectAsList()) {
            long id = r.getLong(r.fieldIndex("id"));
            if (id == 5) {
                assertTrue(r.isNullAt(r.fieldIndex(AnomalyScorer.SCORE)));
                assertTrue(r.isNullAt(r.fieldIndex(AnomalyScorer.FLAG)));
                assertTrue(r.getString(r.fieldIndex("score_error")).startsWith("non-binary value"),
                        r.getString(r.fieldIndex("score_error")));
            } else {
                assertEquals(0.0, r.getDouble(r.fieldIndex(AnomalyScorer.SCORE)), 1e-12);
                assertEquals(r.getDouble(r.fieldIndex("log_prob_nats")),
                        r.getDouble(r.fieldIndex(AnomalyScorer.BACKGROUND_LOG_PROB)), 1e-12);
            }
        }
        Config s = summary(out);
        assertEquals(300, s.getLong("count"));
        assertEquals(299, s.getLong("scored"));
        assertEquals(1, s.getLong("errors"));
        assertEquals(0, s.getLong("flagged")); // every score is 0, none above the threshold 0
        assertEquals(0.0, s.getDouble("threshold"), 1e-12);
        assertEquals("likelihood-ratio", s.getString("method"));
    }

    @Test
    void theQuantileThresholdFlagsTheRequestedFractionOfTheReference() {
        String ref = table("q-ref", draw(2000, 31, false), 2000);
        String out = shared.resolve("q-out").toString();
        double contamination = 0.1;
        double relativeError = 0.01;
        Detect.run(spark, new Detect.Settings(input(ref, out), Method.NLL, "",
                new Reference(ref, "parquet", List.of()), new Detect.Threshold(contamination, null, relativeError), "",
                new Detect.Bootstrap(100, 1000, 1)));
        Config s = summary(out);
        double t = s.getDouble("threshold");
        assertEquals(0.9, s.getDouble("quantile"), 1e-12);
        // The scores of 16 bits tie a lot, so the claim is about both sides of the threshold: at most the fraction
        // (plus the rank error) lies above it, at least that many lie at or above it.
        Dataset<Row> back = spark.read().parquet(out + "/scores.parquet");
        double above = back.where(back.col(AnomalyScorer.SCORE).gt(t)).count() / 2000.0;
        double atOrAbove = back.where(back.col(AnomalyScorer.SCORE).geq(t)).count() / 2000.0;
        assertTrue(above <= contamination + relativeError, "above " + above);
        assertTrue(atOrAbove >= contamination - relativeError, "at or above " + atOrAbove);
        assertEquals(above, s.getDouble("flaggedFraction"), 1e-12);
        assertEquals(above, s.getDouble("referenceFlaggedFraction"), 1e-12);
    }

    @Test
    void typicalityFlagsAShiftedBatchAndPassesTheModelsOwnSamples() {
        // 20 batches of 50 of the model's own samples (rows 2000.. of the sample run; rows 0..1999 are the
        // reference), and 4 batches of 50 flipped rows.
        Dataset<Row> own = spark.read().parquet(samples + "/samples.parquet").where("sample_id >= 2000 AND sample_id"
                + " < 3000").selectExpr("sample_id AS id", "CAST(sample_id DIV 50 AS INT) AS g", "values");
        int[][] flipped = draw(200, 41, true);
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < flipped.length; i++) {
            float[] v = new float[DIMS];
            for (int d = 0; d < DIMS; d++) {
                v[d] = flipped[i][d];
            }
            List<Float> boxed = new ArrayList<>();
            for (float f : v) {
                boxed.add(f);
            }
            rows.add(RowFactory.create(100_000L + i, 1000 + i / 50, boxed));
        }
        Dataset<Row> shifted = spark.createDataFrame(rows, own.schema());
        String in = shared.resolve("typ-in").toString();
        own.union(shifted).write().parquet(in);
        String ref = shared.resolve("typ-ref").toString();
        spark.read().parquet(samples + "/samples.parquet").where("sample_id < 2000").write().parquet(ref);
        String out = shared.resolve("typ-out").toString();
        Score.Settings table = new Score.Settings(model, in, "parquet", List.of("values"), List.of("id"), "",
                List.of(), "auto", 64, new Score.Csv(true, ",", true), out, false);
        Detect.run(spark, new Detect.Settings(table, Method.TYPICALITY, "", new Reference(ref, "parquet", List.of()),
                new Detect.Threshold(0.001, null, 0.001), "g", new Detect.Bootstrap(2000, 100_000, 3)));
        Dataset<Row> back = spark.read().parquet(out + "/scores.parquet");
        assertEquals(1200, back.count());
        List<Row> groups = back.groupBy("g").agg(org.apache.spark.sql.functions.min(AnomalyScorer.FLAG),
                org.apache.spark.sql.functions.max(AnomalyScorer.FLAG)).collectAsList();
        assertEquals(24, groups.size());
        for (Row g : groups) {
            boolean shiftedGroup = g.getInt(0) >= 1000;
            assertEquals(g.getBoolean(1), g.getBoolean(2), "one flag per group");
            assertEquals(shiftedGroup, g.getBoolean(1), "group " + g.getInt(0));
        }
        Config s = summary(out);
        assertEquals(4, s.getLong("flaggedGroups"));
        assertEquals(24, s.getLong("groups"));
        assertTrue(s.getConfig("thresholdsByGroupSize").hasPath("\"50\""));
    }

    @Test
    void oodEvalSeparatesFlippedImagesAndDrawsThePicture() throws IOException {
        String in = table("ood-in", draw(400, 51, false), 400);
        String outTable = table("ood-out", draw(300, 52, true), 300);
        for (Method method : List.of(Method.NLL, Method.COMPLEXITY)) {
            String out = shared.resolve("ood-eval-" + method.key()).toString();
            Score.Settings table = new Score.Settings(model, in, "parquet", List.of("p0..p15"), List.of(), "",
                    List.of(), "auto", 64, new Score.Csv(true, ",", true), out, false);
            OodEval.run(spark, new OodEval.Settings(table, outTable, method, "", Reference.none(), "",
                    new Detect.Bootstrap(100, 1000, 1)));
            Config s = summary(out);
            assertEquals(400, s.getLong("inScored"));
            assertEquals(300, s.getLong("outScored"));
            // flipped bits are far less likely; on 16 pixels a PNG's length is mostly its fixed chunks and adds
            // noise to the complexity score (measured 0.93)
            double least = method == Method.NLL ? 0.95 : 0.85;
            assertTrue(s.getDouble("auroc") > least, method.key() + " AUROC " + s.getDouble("auroc"));
            assertNotNull(ImageIO.read(new ByteArrayInputStream(Outputs.readBytes(out + "/ood.png", conf))));
        }
    }

    @Test
    void separationEqualsADirectComputation() {
        // scores with ties across the two sides; AUROC by counting pairs (ties one half), FPR at 95% TPR by the
        // smallest threshold whose flagged out rows reach 95%
        Random random = new Random(5);
        int nIn = 300;
        int nOut = 200;
        double[] in = new double[nIn];
        double[] out = new double[nOut];
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < nIn; i++) {
            in[i] = Math.floor(random.nextGaussian() * 4) / 4;
            rows.add(RowFactory.create(in[i], 0.0));
        }
        for (int i = 0; i < nOut; i++) {
            out[i] = Math.floor((random.nextGaussian() + 1) * 4) / 4;
            rows.add(RowFactory.create(out[i], 1.0));
        }
        StructType schema = new StructType().add(Separation.SCORE, DataTypes.DoubleType)
                .add(Separation.LABEL, DataTypes.DoubleType);
        Separation sep = Separation.of(spark.createDataFrame(rows, schema).repartition(4));
        double pairs = 0;
        for (double a : out) {
            for (double b : in) {
                pairs += a > b ? 1 : a == b ? 0.5 : 0;
            }
        }
        assertEquals(pairs / (nIn * (double) nOut), sep.auroc(), 1e-12);
        double best = 1;
        for (double t : out) {
            int tp = 0;
            int fp = 0;
            for (double a : out) {
                tp += a >= t ? 1 : 0;
            }
            for (double b : in) {
                fp += b >= t ? 1 : 0;
            }
            if (tp >= 0.95 * nOut) {
                best = Math.min(best, fp / (double) nIn);
            }
        }
        assertEquals(best, sep.fprAt95Tpr(), 1e-12);
        assertTrue(sep.auprc() > 0 && sep.auprc() <= 1);
        assertEquals(nIn, sep.inRows());
        assertEquals(nOut, sep.outRows());
    }

    @Test
    void settingsThatCannotWorkAreRefused() {
        Score.Settings t = input("x", shared.resolve("never").toString());
        assertThrows(IllegalArgumentException.class, () -> new Detect.Settings(t, Method.TYPICALITY, "",
                new Reference("r", "parquet", List.of()), new Detect.Threshold(0.01, null, 0.001), "",
                new Detect.Bootstrap(100, 1000, 1)));
        assertThrows(IllegalArgumentException.class, () -> new Detect.Settings(t, Method.NLL, "", Reference.none(),
                new Detect.Threshold(0.01, null, 0.001), "", new Detect.Bootstrap(100, 1000, 1)));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Detect.run(spark,
                new Detect.Settings(t, Method.LIKELIHOOD_RATIO, "", Reference.none(),
                        new Detect.Threshold(0.01, 1.0, 0.001), "", new Detect.Bootstrap(100, 1000, 1))));
        assertTrue(e.getMessage().contains("background model"), e.getMessage());
    }

    @Test
    void theOutputIsNeverAnInputNorAnotherJobsOutput() throws IOException {
        String in = table("guard-in", draw(50, 71, false), 50);
        Detect.Threshold fixed = new Detect.Threshold(0.01, 1.0, 0.001);
        Detect.Bootstrap bootstrap = new Detect.Bootstrap(100, 1000, 1);
        assertThrows(RuntimeException.class, () -> Detect.run(spark, new Detect.Settings(input(in, in), Method.NLL,
                "", Reference.none(), fixed, "", bootstrap)));
        Path scores = Files.createDirectories(shared.resolve("guard-scores"));
        org.chainrule.pipelines.io.Artefact.SCORES.mark(scores.toString(), conf);
        Score.Settings overwrite = new Score.Settings(model, in, "parquet", List.of("p0..p15"), List.of("id"), "",
                List.of(), "auto", 64, new Score.Csv(true, ",", true), scores.toString(), true);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Detect.run(spark,
                new Detect.Settings(overwrite, Method.NLL, "", Reference.none(), fixed, "", bootstrap)));
        assertTrue(e.getMessage().contains("scores"), e.getMessage());
        assertTrue(Files.exists(scores.resolve(org.chainrule.pipelines.io.Artefact.MARKER)));
    }

    @Test
    void prepareWritesAPerturbedCopyAndRecordsIt() throws IOException {
        Path csv = shared.resolve("bits-small.csv");
        Files.write(csv, lines(draw(1200, 61, false)));
        String clean = shared.resolve("clean").toString();
        String noisy = shared.resolve("noisy").toString();
        Prepare.run(spark, prepare(csv, clean).build());
        Prepare.run(spark, prepare(csv, noisy).perturbation(new org.chainrule.pipelines.data.Perturbation(0.2, 9))
                .build());
        Config manifest = Json.parse(Outputs.readText(noisy + "/manifest.json", conf), "manifest");
        assertTrue(manifest.toString().contains("perturb"), manifest.toString());
        List<Row> a = spark.read().parquet(clean + "/train").orderBy("row_id").collectAsList();
        List<Row> b = spark.read().parquet(noisy + "/train").orderBy("row_id").collectAsList();
        assertEquals(a.size(), b.size());
        long changed = 0;
        for (int i = 0; i < a.size(); i++) {
            byte[] x = (byte[]) a.get(i).get(2);
            byte[] y = (byte[]) b.get(i).get(2);
            for (int d = 0; d < DIMS; d++) {
                changed += x[d] != y[d] ? 1 : 0;
            }
        }
        double fraction = changed / (double) (a.size() * DIMS);
        assertEquals(0.2, fraction, 0.02, "flipped fraction"); // 3200 draws: s.d. 0.007
    }
}
