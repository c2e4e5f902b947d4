package org.chainrule.pipelines;

import org.chainrule.models.TrainingRecipe;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.chainrule.models.autoregressive.MadeSpec;
import org.chainrule.pipelines.data.Manifest;
import org.chainrule.pipelines.data.Prepare;
import org.chainrule.pipelines.evaluate.Evaluate;
import org.chainrule.pipelines.sample.Sample;
import org.chainrule.pipelines.train.Train;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** prepare -> train -> evaluate -> sample on the MNIST slice with local Spark; every output read back. */
class PipelineTest {

    @Test
    void endToEndOnMnistSlice(@TempDir Path tmp) throws Exception {
        SparkSession spark = SparkTesting.spark();
        Path raw = SparkTesting.mnistSlice(tmp.resolve("raw"));
        String data = tmp.resolve("prepared").toString();
        Manifest m = Prepare.run(spark, SparkTesting.sliceSettings(raw, data, 0, 200));
        assertEquals(1000, m.splits().get("train").rows());
        assertEquals(200, m.splits().get("valid").rows());
        assertEquals(300, m.splits().get("test").rows());
        assertEquals("binary", m.valueType());

        String run = tmp.resolve("run").toString();
        MadeSpec spec = MadeSpec.made(new long[]{28, 28}, new int[]{64}, 2, true, 3);
        Map<String, Object> summary = Train.run(spark, new Train.Settings(data, run, spec, new TrainingRecipe(3e-3, 5), new Train.Schedule(2, 50, 0),
                new Train.Averaging(2, 2, 0), new Train.Scoring(300, 60, 500), false, false, Map.of("note", "test")));
        List<?> history = (List<?>) summary.get("history");
        assertEquals(2, history.size());
        long validScored = ((Number) summary.get("validRowsScored")).longValue();
        assertTrue(validScored > 20 && validScored < 120, "a subset of about 60 of the 200 validation rows: " + validScored);
        Dataset<Row> metrics = spark.read().parquet(run + "/metrics.parquet");
        assertEquals(2, metrics.count());
        List<Row> rows = metrics.orderBy("epoch").collectAsList();
        double uniform = 784 * Math.log(2);
        assertTrue(rows.get(0).getDouble(3) < uniform && rows.get(1).getDouble(3) < rows.get(0).getDouble(3),
                "validation NLL should fall below the uniform model's and keep falling: " + rows);
        assertTrue(Files.size(Path.of(run, "loss-curve.png")) > 1000);

        String eval = tmp.resolve("eval").toString();
        Map<String, Object> es = Evaluate.run(spark, new Evaluate.Settings(run + "/model", data, "test", eval, 128, false));
        assertEquals(300L, ((Number) es.get("count")).longValue());
        Dataset<Row> scores = spark.read().parquet(eval + "/scores.parquet");
        assertEquals(300, scores.count());
        assertArrayEquals(new String[]{"row_id", "log_prob_nats", "bits_per_dim"}, scores.columns());
        double mean = ((Number) es.get("meanNllNats")).doubleValue();
        assertTrue(mean > 0 && mean < 543, "test NLL " + mean);

        String samples = tmp.resolve("samples").toString();
        Sample.run(spark, new Sample.Settings(run + "/model", samples, 10, 7, 4, 10, false));
        Dataset<Row> s = spark.read().parquet(samples + "/samples.parquet");
        assertEquals(10, s.count());
        assertArrayEquals(new String[]{"sample_id", "seed", "label", "values", "text"}, s.columns());
        assertEquals(784, s.first().getList(3).size());
        assertTrue(Files.size(Path.of(samples, "samples.png")) > 500);
    }
}
