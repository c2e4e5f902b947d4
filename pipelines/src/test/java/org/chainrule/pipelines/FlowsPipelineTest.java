package org.chainrule.pipelines;

import org.chainrule.pipelines.data.Holdout;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.chainrule.models.Seeds;
import org.chainrule.models.flows.FlowArchitectures;
import org.chainrule.models.flows.FlowSpec;
import org.chainrule.pipelines.data.Batches;
import org.chainrule.pipelines.data.Encoding;
import org.chainrule.pipelines.data.Example;
import org.chainrule.pipelines.data.Manifest;
import org.chainrule.pipelines.data.Prepare;
import org.chainrule.pipelines.data.Readers;
import org.chainrule.pipelines.data.Shards;
import org.chainrule.pipelines.evaluate.Evaluate;
import org.chainrule.pipelines.sample.Interpolate;
import org.chainrule.pipelines.sample.Sample;
import org.chainrule.pipelines.train.Train;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Flows through the whole pipeline on Spark (2 workers, parameter averaging): a MAF on real-valued CSV data in
 * original units, and a Glow on small 8-bit images with actnorm's data-dependent initialisation, the dequantization
 * bound in bits per pixel, temperature samples and a latent interpolation strip.
 */
class FlowsPipelineTest {
    private final SparkSession spark = SparkTesting.spark();

    private static FlowArchitectures.Options options(int steps, int[] hidden, int scales, int channels) {
        return new FlowArchitectures.Options(steps, hidden, scales, channels, "auto", 1e-6, 1, 3);
    }

    @Test
    void mafOnRealCsvScoresInOriginalUnits(@TempDir Path tmp) throws IOException {
        FlowSpec spec = FlowArchitectures.build("maf", new long[]{2}, 0, options(3, new int[]{16}, 1, 1));
        Map<String, Object> summary = FamiliesPipelineTest.trainOnPairsInOriginalUnits(spark, tmp, spec);
        assertEquals("exact", summary.get("likelihood"));
        String run = tmp.resolve("run").toString();
        String data = tmp.resolve("data").toString();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Interpolate.run(spark,
                new Interpolate.Settings(run + "/model", data, "test", 0, 1, 5, tmp.resolve("i").toString(), false)));
        assertTrue(e.getMessage().contains("image"), e.getMessage());
    }

    @Test
    void glowOnSmallImagesTrainsSamplesAndInterpolates(@TempDir Path tmp) throws IOException {
        Manifest m = prepareBars(spark, tmp, 255);
        String data = tmp.resolve("data").toString();
        assertEquals(256, m.domain().levels());
        FlowSpec spec = FlowArchitectures.build("glow", new long[]{4, 4}, 256, options(2, new int[0], 1, 8));
        String run = tmp.resolve("run").toString();
        List<Double> curve = FamiliesPipelineTest.validCurve(Train.run(spark,
                FamiliesPipelineTest.train(data, run, spec, 4, 0.005)));
        assertTrue(curve.stream().allMatch(Double::isFinite), curve.toString());
        assertTrue(curve.get(curve.size() - 1) < curve.get(0), "validation NLL must fall: " + curve);

        Map<String, Object> summary = Evaluate.run(spark, new Evaluate.Settings(run + "/model", data, "test",
                tmp.resolve("eval").toString(), 100, false));
        double bits = ((Number) summary.get("bitsPerDim")).doubleValue();
        // below 8 bits/pixel (uniform over 256 levels) once it has learned anything; above 0 for a lower bound on
        // discrete data
        assertTrue(bits > 0 && bits < 8, "bits/dim " + bits);
        assertTrue(summary.get("likelihood").toString().startsWith("a lower bound"), summary.toString());

        Map<String, Object> samples = Sample.run(spark, new Sample.Settings(run + "/model",
                tmp.resolve("samples").toString(), 16, 5, 8, 16, false, List.of(), 0.7));
        assertEquals("samples.png", samples.get("picture"));
        List<Row> drawn = spark.read().parquet(tmp.resolve("samples/samples.parquet").toString()).collectAsList();
        for (Row r : drawn) {
            for (Object v : r.getList(3)) {
                float f = (Float) v;
                assertTrue(f >= 0 && f <= 255 && f == Math.rint(f), "sampled pixel " + f);
            }
        }

        String strip = tmp.resolve("interp").toString();
        Interpolate.run(spark, new Interpolate.Settings(run + "/model", data, "test", 0, 3, 6, strip, false));
        assertTrue(Files.size(Path.of(strip, "interpolation.png")) > 0);
        List<Row> steps = spark.read().parquet(strip + "/interpolation.parquet").collectAsList().stream()
                .sorted(Comparator.comparingInt(r -> r.getInt(0))).toList();
        assertEquals(6, steps.size());
        // the ends are the two test images themselves: encode then decode is exact on dequantized pixels
        List<Example> test = Shards.read(spark, data, "test", m).collect().stream()
                .sorted(Comparator.comparingLong(Example::rowId)).toList();
        assertArrayEquals(Batches.matrix(List.of(test.get(0)), 16, false).toFloatVector(), floats(steps.get(0)));
        assertArrayEquals(Batches.matrix(List.of(test.get(3)), 16, false).toFloatVector(), floats(steps.get(5)));
    }

    /**
     * 300 4x4 images of a bar, vertical (label 0) or horizontal (label 1), at a random position, plus noise, with
     * values 0..maxValue (1: binary), prepared into tmp/data with 40 validation and 40 test rows.
     */
    static Manifest prepareBars(SparkSession spark, Path tmp, int maxValue) throws IOException {
        StringBuilder csv = new StringBuilder();
        for (int i = 0; i < 300; i++) {
            boolean vertical = i % 2 == 0;
            int at = (int) (Seeds.uniform(Seeds.derive(4, i)) * 4);
            for (int r = 0; r < 4; r++) {
                for (int c = 0; c < 4; c++) {
                    boolean on = vertical ? c == at : r == at;
                    double noise = Seeds.uniform(Seeds.derive(5, i, r * 4 + c));
                    int v = maxValue == 1 ? (on ^ noise < 0.05 ? 1 : 0) : (on ? 200 : 30) + (int) (noise * 40);
                    csv.append(v).append(',');
                }
            }
            csv.append(vertical ? 0 : 1).append('\n');
        }
        Path raw = Files.createDirectories(tmp.resolve("raw")).resolve("bars.csv");
        Files.writeString(raw, csv.toString());
        return Prepare.run(spark, Prepare.Settings.builder("csv", List.of(raw.toString()))
                .output(tmp.resolve("data").toString()).shape(4, 4).holdout(Holdout.shuffled(40, 40, 9))
                .encoding(new Encoding(16, maxValue, "none", 1)).readers(new Readers.Options(',', false, 16)).build());
    }

    private static float[] floats(Row r) {
        List<Object> v = r.getList(2);
        float[] out = new float[v.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (Float) v.get(i);
        }
        return out;
    }
}
