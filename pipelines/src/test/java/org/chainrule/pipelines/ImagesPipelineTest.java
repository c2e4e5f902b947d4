package org.chainrule.pipelines;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.pixelcnn.PixelSpec;
import org.chainrule.models.pixelpp.PixelCnnPpSpec;
import org.chainrule.models.vae.VaeSpec;
import org.chainrule.pipelines.data.Batches;
import org.chainrule.pipelines.data.Example;
import org.chainrule.pipelines.data.Manifest;
import org.chainrule.pipelines.data.Shards;
import org.chainrule.pipelines.evaluate.Evaluate;
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

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Image models and the VAE through the pipeline on Spark (2 workers, parameter averaging) on small 4x4 bar images:
 * training lowers validation NLL, evaluate says whether the likelihood is exact, and the sample job completes
 * partial images.
 */
class ImagesPipelineTest {
    private final SparkSession spark = SparkTesting.spark();

    private Map<String, Object> trainAndScore(Path tmp, String data, ModelSpec spec, int epochs, double lr,
                                              double fall) {
        String run = tmp.resolve("run-" + spec.type()).toString();
        List<Double> curve = FamiliesPipelineTest.validCurve(Train.run(spark,
                FamiliesPipelineTest.train(data, run, spec, epochs, lr)));
        assertTrue(curve.get(curve.size() - 1) < curve.get(0) - fall, spec.type() + ": validation NLL must fall: "
                + curve);
        return Evaluate.run(spark, new Evaluate.Settings(run + "/model", data, "test",
                tmp.resolve("eval-" + spec.type()).toString(), 100, false));
    }

    @Test
    void binaryImageModelsTrainOnSpark(@TempDir Path tmp) throws IOException {
        Manifest m = FlowsPipelineTest.prepareBars(spark, tmp, 1);
        assertEquals(2, m.domain().levels());
        String data = tmp.resolve("data").toString();
        Map<String, Object> pixel = trainAndScore(tmp, data, PixelSpec.pixelCnn(new long[]{4, 4}, 2, 8, 1), 4, 0.005, 0.5);
        assertEquals("exact", pixel.get("likelihood"));
        Map<String, Object> gated = trainAndScore(tmp, data,
                PixelSpec.gated(new long[]{4, 4}, 2, 8, 2).withContext(2), 4, 0.005, 0.5);
        assertEquals("exact", gated.get("likelihood"));
        Map<String, Object> vae = trainAndScore(tmp, data, VaeSpec.of(new long[]{4, 4}, new int[]{16},
                new int[]{16}, 2, 2, 20), 12, 0.02, 0.3);
        assertTrue(vae.get("likelihood").toString().contains("importance"), vae.toString());
        // 16 bits per image at most for any sensible model of binary 4x4 images (11.1 nats)
        for (Map<String, Object> s : List.of(pixel, gated, vae)) {
            assertTrue(((Number) s.get("meanNllNats")).doubleValue() < 11.1, s.toString());
        }
    }

    @Test
    void pixelCnnPlusPlusTrainsAndCompletesTheBottomHalf(@TempDir Path tmp) throws IOException {
        Manifest m = FlowsPipelineTest.prepareBars(spark, tmp, 255);
        String data = tmp.resolve("data").toString();
        // with the paper's dropout (lighter): training feeds the key column, scoring and completion do not
        PixelCnnPpSpec spec = PixelCnnPpSpec.of(new long[]{4, 4}, 8, 1, 2).withDropout(0.1);
        Map<String, Object> summary = trainAndScore(tmp, data, spec, 4, 0.005, 0.5);
        assertTrue(((Number) summary.get("bitsPerDim")).doubleValue() < 8, summary.toString());

        String out = tmp.resolve("completions").toString();
        Map<String, Object> s = Sample.run(spark, new Sample.Settings(tmp.resolve("run-pixelcnn++/model").toString(),
                out, 1, 5, 4, 100, false, List.of(), 1.0, new Sample.Completion(data, "test", 3, 0, 2)));
        assertEquals("completions.png", s.get("picture"));
        assertTrue(Files.size(Path.of(out, "completions.png")) > 0);
        List<Row> drawn = spark.read().parquet(out + "/samples.parquet").collectAsList().stream()
                .sorted(Comparator.comparingLong(r -> r.getLong(0))).toList();
        assertEquals(6, drawn.size(), "3 images x 2 completions");
        List<Example> test = Shards.read(spark, data, "test", m).collect().stream()
                .sorted(Comparator.comparingLong(Example::rowId)).toList();
        for (int i = 0; i < drawn.size(); i++) {
            float[] source = Batches.matrix(List.of(test.get(i / 2)), 16, false).toFloatVector();
            List<Object> values = drawn.get(i).getList(3);
            for (int d = 0; d < 8; d++) {
                assertEquals(source[d], (Float) values.get(d), "completion " + i + " keeps the top half, value " + d);
            }
            for (int d = 8; d < 16; d++) {
                float v = (Float) values.get(d);
                assertTrue(v >= 0 && v <= 255 && v == Math.rint(v), "completed pixel " + v);
            }
        }
    }
}
