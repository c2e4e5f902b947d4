package org.chainrule.pipelines;

import org.chainrule.pipelines.data.Holdout;
import org.chainrule.models.TrainingRecipe;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.chainrule.models.DensityModel;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.Seeds;
import org.chainrule.models.autoregressive.MadeSpec;
import org.chainrule.models.conditionals.OutputFamily;
import org.chainrule.models.nade.NadeSpec;
import org.chainrule.models.sequence.CharRnnSpec;
import org.chainrule.pipelines.data.Batches;
import org.chainrule.pipelines.data.Encoding;
import org.chainrule.pipelines.data.Example;
import org.chainrule.pipelines.data.Manifest;
import org.chainrule.pipelines.data.Prepare;
import org.chainrule.pipelines.data.Readers;
import org.chainrule.pipelines.data.Shards;
import org.chainrule.pipelines.evaluate.Evaluate;
import org.chainrule.pipelines.io.SavedModel;
import org.chainrule.pipelines.sample.Sample;
import org.chainrule.pipelines.train.Train;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The pipeline with the non-binary families end to end on Spark (2 workers, parameter averaging): real-valued data
 * with RNADE, class-conditional categorical MADE, and a character LSTM on text.
 */
class FamiliesPipelineTest {
    private final SparkSession spark = SparkTesting.spark();

    static Train.Settings train(String data, String out, ModelSpec spec, int epochs, double lr) {
        return new Train.Settings(data, out, spec, new TrainingRecipe(lr, 3), new Train.Schedule(epochs, 25, 0),
                new Train.Averaging(2, 2, 0), new Train.Scoring(1000, 0, 200), false, false, Map.of());
    }

    @SuppressWarnings("unchecked")
    static List<Double> validCurve(Map<String, Object> summary) {
        return ((List<Map<String, Object>>) summary.get("history")).stream()
                .map(m -> ((Number) m.get("validNll")).doubleValue()).toList();
    }

    @Test
    void rnadeOnRealCsvScoresInOriginalUnits(@TempDir Path tmp) throws IOException {
        NadeSpec spec = NadeSpec.of(new long[]{2}, OutputFamily.of("mixture", 0, 3), 16).withActivation("relu");
        trainOnPairsInOriginalUnits(spark, tmp, spec);
    }

    /**
     * Trains a real-valued model on 400 correlated pairs (x1 ~ N(50, 10^2), x2 = 0.5 x1 + N(0, 2^2): joint entropy
     * 5.83 nats in these units, 1.8 after standardizing) and checks that validation NLL falls, that the test NLL is in
     * the original units (a row by hand: standardized density minus sum log std), and that samples come back in them.
     *
     * @return the evaluate summary; the run is in tmp/run, the data in tmp/data
     */
    static Map<String, Object> trainOnPairsInOriginalUnits(SparkSession spark, Path tmp, ModelSpec spec)
            throws IOException {
        StringBuilder csv = new StringBuilder();
        for (int i = 0; i < 400; i++) {
            double a = normal(Seeds.derive(1, i));
            double b = normal(Seeds.derive(2, i));
            double x1 = 50 + 10 * a;
            csv.append(x1).append(',').append(0.5 * x1 + 2 * b).append(',').append(i % 2).append('\n');
        }
        Path raw = Files.createDirectories(tmp.resolve("raw")).resolve("pairs.csv");
        Files.writeString(raw, csv.toString());
        String data = tmp.resolve("data").toString();
        Manifest m = Prepare.run(spark, Prepare.Settings.builder("csv", List.of(raw.toString())).output(data)
                .shape(2).holdout(Holdout.shuffled(50, 50, 9)).encoding(new Encoding(2, 1, "none", 1, true))
                .readers(new Readers.Options(',', false, 2)).build());
        String run = tmp.resolve("run").toString();
        List<Double> curve = validCurve(Train.run(spark, train(data, run, spec, 6, 0.01)));
        assertTrue(curve.get(curve.size() - 1) < curve.get(0) - 0.1, "validation NLL must fall: " + curve);
        Map<String, Object> summary = Evaluate.run(spark, new Evaluate.Settings(run + "/model", data, "test",
                tmp.resolve("eval").toString(), 100, false));
        double nll = ((Number) summary.get("meanNllNats")).doubleValue();
        // a missing Jacobian would put this near the standardized entropy (about 1.8), far below 5
        assertTrue(nll > 5.0 && nll < 9.0, "test NLL in original units " + nll);
        assertTrue(summary.get("units").toString().contains("original units"), summary.toString());

        // one row by hand: standardized density minus sum log std
        SavedModel model = SavedModel.load(run + "/model", false, spark.sparkContext().hadoopConfiguration());
        Example row = Shards.read(spark, data, "test", m).first();
        INDArray x = Batches.matrix(List.of(row), 2, true);
        DensityModel standardized = spec.densityOf(model.network());
        double byHand = standardized.logProb(m.domain().standardize(x)).getDouble(0)
                - Math.log(m.domain().std()[0]) - Math.log(m.domain().std()[1]);
        Row scored = spark.read().parquet(tmp.resolve("eval/scores.parquet").toString())
                .filter("row_id = " + row.rowId()).first();
        assertEquals(byHand, scored.getDouble(1), 1e-4 * Math.abs(byHand));

        Sample.run(spark, new Sample.Settings(run + "/model", tmp.resolve("samples").toString(), 400, 5, 50, 0,
                false));
        double mean = spark.read().parquet(tmp.resolve("samples/samples.parquet").toString())
                .selectExpr("avg(element_at(values, 1))").first().getDouble(0);
        assertEquals(50, mean, 4, "samples come back in the original units (x1 has mean 50)");
        return summary;
    }

    @Test
    void classConditionalCategoricalMadeSamplesTheAskedClass(@TempDir Path tmp) throws IOException {
        // 6 values in 0..4; class 0 draws from {0, 1}, class 1 from {3, 4}
        StringBuilder csv = new StringBuilder();
        for (int i = 0; i < 400; i++) {
            int label = i % 2;
            for (int d = 0; d < 6; d++) {
                int bit = Seeds.uniform(Seeds.derive(5, i, d)) < 0.5 ? 0 : 1;
                csv.append(label == 0 ? bit : 3 + bit).append(',');
            }
            csv.append(label).append('\n');
        }
        Path raw = Files.createDirectories(tmp.resolve("raw")).resolve("levels.csv");
        Files.writeString(raw, csv.toString());
        String data = tmp.resolve("data").toString();
        Manifest m = Prepare.run(spark, Prepare.Settings.builder("csv", List.of(raw.toString())).output(data)
                .shape(6).holdout(Holdout.shuffled(50, 50, 9)).encoding(new Encoding(6, 4, "none", 1))
                .readers(new Readers.Options(',', false, 6)).build());
        assertEquals(5, m.domain().levels());
        assertEquals(2, m.domain().classes());
        MadeSpec spec = MadeSpec.made(new long[]{6}, new int[]{32}, 1, false, 1)
                .withFamily(OutputFamily.of("categorical", 5, 0)).withContext(2);
        String run = tmp.resolve("run").toString();
        List<Double> curve = validCurve(Train.run(spark, train(data, run, spec, 5, 0.01)));
        assertTrue(curve.get(curve.size() - 1) < curve.get(0) - 1.0, "validation NLL must fall: " + curve);

        for (int label = 0; label < 2; label++) {
            String out = tmp.resolve("samples" + label).toString();
            Sample.run(spark, new Sample.Settings(run + "/model", out, 40, 5, 16, 0, false, List.of(label), 1.0));
            List<Row> rows = spark.read().parquet(out + "/samples.parquet").collectAsList();
            assertEquals(40, rows.size());
            double sum = 0;
            for (Row r : rows) {
                assertEquals(label, r.getInt(2));
                for (Object v : r.getList(3)) {
                    float f = (Float) v;
                    assertTrue(f >= 0 && f <= 4 && f == Math.rint(f), "value " + f);
                    sum += f;
                }
            }
            double mean = sum / (40 * 6);
            assertTrue(label == 0 ? mean < 1.5 : mean > 2.5, "class " + label + " sample mean " + mean);
        }
    }

    @Test
    void charLstmOnTextReportsBitsPerCharacterAndSamplesText(@TempDir Path tmp) throws IOException {
        StringBuilder text = new StringBuilder();
        String[] words = {"the ", "cat ", "sat ", "on ", "a ", "mat. "};
        for (int i = 0; i < 1500; i++) {
            text.append(words[(int) (Seeds.uniform(Seeds.derive(8, i)) * words.length)]);
        }
        Path raw = Files.createDirectories(tmp.resolve("raw")).resolve("words.txt");
        Files.writeString(raw, text.toString());
        String data = tmp.resolve("data").toString();
        Manifest m = Prepare.run(spark, Prepare.Settings.builder("text", List.of(raw.toString())).output(data)
                .shape(16).holdout(new Holdout(40, 40, "tail", 0)).encoding(new Encoding(16, 1, "none", 1))
                .readers(new Readers.Options(',', false, -1, List.of(), 16, "")).build());
        int v = m.domain().levels();
        CharRnnSpec spec = CharRnnSpec.lstm(16, v, 32);
        String run = tmp.resolve("run").toString();
        List<Double> curve = validCurve(Train.run(spark, train(data, run, spec, 3, 0.01)));
        assertTrue(curve.get(curve.size() - 1) < curve.get(0) - 1.0, "validation NLL must fall: " + curve);

        Map<String, Object> summary = Evaluate.run(spark, new Evaluate.Settings(run + "/model", data, "test",
                tmp.resolve("eval").toString(), 50, false));
        double bitsPerChar = ((Number) summary.get("bitsPerDim")).doubleValue();
        assertTrue(bitsPerChar < 0.8 * Math.log(v) / Math.log(2), "bits/char " + bitsPerChar + " with " + v
                + " characters");
        assertTrue(summary.get("units").toString().contains("bits per character"), summary.toString());

        String out = tmp.resolve("samples").toString();
        Sample.run(spark, new Sample.Settings(run + "/model", out, 6, 5, 3, 0, false, List.of(), 0.5));
        for (Row r : spark.read().parquet(out + "/samples.parquet").collectAsList()) {
            String s = r.getString(4);
            assertEquals(16, s.length());
            assertTrue(s.chars().allMatch(c -> m.domain().vocabulary().indexOf(c) >= 0), s);
        }
        assertTrue(Files.readString(Path.of(out, "samples.txt")).contains("--- sample 0"));
    }

    @Test
    void nadeKTrainsScoresAndSamplesThroughThePipeline(@TempDir Path tmp) throws IOException {
        // a binary Markov chain of 6 bits: each bit copies the previous one with probability 0.9
        StringBuilder csv = new StringBuilder();
        for (int i = 0; i < 400; i++) {
            int bit = Seeds.uniform(Seeds.derive(11, i)) < 0.5 ? 0 : 1;
            for (int d = 0; d < 6; d++) {
                if (d > 0 && Seeds.uniform(Seeds.derive(12, i, d)) < 0.1) {
                    bit = 1 - bit;
                }
                csv.append(bit).append(d < 5 ? "," : "\n");
            }
        }
        Path raw = Files.createDirectories(tmp.resolve("raw")).resolve("chain.csv");
        Files.writeString(raw, csv.toString());
        String data = tmp.resolve("data").toString();
        Prepare.run(spark, Prepare.Settings.builder("csv", List.of(raw.toString())).output(data)
                .shape(6).holdout(Holdout.shuffled(50, 50, 9)).encoding(new Encoding(6, 1, "none", 1)).build());
        ModelSpec spec = org.chainrule.models.deepnade.DeepNadeSpec.nadeK(new long[]{6}, new int[]{16}, 2, 2, 4);
        String run = tmp.resolve("run").toString();
        List<Double> curve = validCurve(Train.run(spark, train(data, run, spec, 6, 0.03)));
        assertTrue(curve.get(curve.size() - 1) < curve.get(0) - 0.3, "validation NLL must fall: " + curve);
        Map<String, Object> summary = Evaluate.run(spark, new Evaluate.Settings(run + "/model", data, "test",
                tmp.resolve("eval").toString(), 50, false));
        double nll = ((Number) summary.get("meanNllNats")).doubleValue();
        // the chain's entropy is ln 2 + 5 H(0.1) = 2.32 nats; uniform bits would be 6 ln 2 = 4.16
        assertTrue(nll > 2.0 && nll < 4.0, "test NLL " + nll);
        Sample.run(spark, new Sample.Settings(run + "/model", tmp.resolve("samples").toString(), 20, 5, 8, 0, false));
        assertEquals(20, spark.read().parquet(tmp.resolve("samples/samples.parquet").toString()).count());
    }

    static double normal(long seed) {
        double u1 = 1 - Seeds.uniform(Seeds.derive(seed, 0));
        double u2 = Seeds.uniform(Seeds.derive(seed, 1));
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }
}
