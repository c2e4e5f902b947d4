package org.chainrule.pipelines.score;

import org.chainrule.models.TrainingRecipe;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.ml.Pipeline;
import org.apache.spark.ml.PipelineModel;
import org.apache.spark.ml.PipelineStage;
import org.apache.spark.ml.feature.VectorAssembler;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.streaming.StreamingQuery;
import org.apache.spark.sql.streaming.Trigger;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.chainrule.models.DensityModel;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.Seeds;
import org.chainrule.models.autoregressive.MadeSpec;
import org.chainrule.models.conditionals.OutputFamily;
import org.chainrule.models.flows.FlowArchitectures;
import org.chainrule.models.nade.NadeSpec;
import org.chainrule.models.pixelcnn.PixelSpec;
import org.chainrule.models.sequence.CharRnnSpec;
import org.chainrule.models.vae.VaeSpec;
import org.chainrule.pipelines.SparkTesting;
import org.chainrule.pipelines.data.Batches;
import org.chainrule.pipelines.data.Domain;
import org.chainrule.pipelines.io.SavedModel;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.factory.Nd4j;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every model family through the Spark ML transformer and the SQL function, against its own {@code logProb} on the
 * same rows; a PipelineModel saved to and loaded from a directory; a streaming DataFrame. Models are small and
 * untrained (their likelihoods are still far from uniform), saved to real directories and loaded back as a user would.
 */
class DensityScorerTest {
    private final SparkSession spark = SparkTesting.spark();
    private final Configuration conf = spark.sparkContext().hadoopConfiguration();

    /** A family with the data it models: how to draw one valid event, and one value it must refuse. */
    record Family(String name, ModelSpec spec, Domain domain, EventMaker events, Object badEvent, String badKind) {
        @Override
        public String toString() {
            return name;
        }
    }

    interface EventMaker {
        /** Event i as the table holds it (a double[] or a string) and as the model reads it (values). */
        Object event(int i, float[] values);
    }

    static EventMaker bits(int dims) {
        return (i, v) -> {
            double[] x = new double[dims];
            for (int d = 0; d < dims; d++) {
                x[d] = Seeds.uniform(Seeds.derive(3, i, d)) < 0.3 ? 1 : 0;
                v[d] = (float) x[d];
            }
            return x;
        };
    }

    /** Real vectors around a mean of 10 with spread 3, so the model's standardization and Jacobian matter. */
    static EventMaker reals(int dims) {
        return (i, v) -> {
            double[] x = new double[dims];
            for (int d = 0; d < dims; d++) {
                x[d] = 10 + 3 * (Seeds.uniform(Seeds.derive(4, i, d)) - 0.5) * 3.4;
                v[d] = (float) x[d];
            }
            return x;
        };
    }

    static final String VOCABULARY = "ab cd.";

    static EventMaker text(int length) {
        return (i, v) -> {
            StringBuilder s = new StringBuilder();
            for (int d = 0; d < length; d++) {
                int c = (int) (Seeds.uniform(Seeds.derive(5, i, d)) * VOCABULARY.length());
                s.append(VOCABULARY.charAt(c));
                v[d] = c;
            }
            return s.toString();
        };
    }

    static Domain binary() {
        return new Domain("binary", 2, 0, null, null, null);
    }

    static Domain real(int dims) {
        double[] mean = new double[dims];
        double[] std = new double[dims];
        java.util.Arrays.fill(mean, 10);
        java.util.Arrays.fill(std, 3);
        return new Domain("real", 0, 0, mean, std, null);
    }

    static Stream<Family> families() {
        double[] two = {0, 1, 2, 0, 1, 0, 1, 0};
        double[] nan = {10, Double.NaN, 10};
        return Stream.of(
                new Family("made", MadeSpec.made(new long[]{8}, new int[]{16}, 1, false, 1), binary(), bits(8), two,
                        "non-binary value"),
                new Family("nade", NadeSpec.of(new long[]{8}, OutputFamily.of("bernoulli", 2, 0), 12), binary(),
                        bits(8), two, "non-binary value"),
                new Family("rnade", NadeSpec.of(new long[]{3}, OutputFamily.of("mixture", 0, 3), 8)
                        .withActivation("relu"), real(3), reals(3), nan, "not a number"),
                new Family("char-lstm", CharRnnSpec.lstm(6, VOCABULARY.length(), 8),
                        new Domain("uint8", VOCABULARY.length(), 0, null, null, VOCABULARY), text(6), "ab cdZ",
                        "unknown character"),
                new Family("pixelcnn", PixelSpec.pixelCnn(new long[]{4, 4}, 2, 4, 1), binary(), bits(16),
                        new double[15], "wrong width"),
                new Family("maf", FlowArchitectures.build("maf", new long[]{3}, 0,
                        new FlowArchitectures.Options(2, new int[]{8}, 1, 4, "auto", 0, 1, 3)), real(3), reals(3),
                        nan, "not a number"),
                new Family("vae", VaeSpec.of(new long[]{8}, new int[]{8}, new int[]{8}, 2, 1, 4), binary(), bits(8),
                        two, "non-binary value"));
    }

    static String save(Path dir, ModelSpec spec, Domain domain, Configuration conf) {
        MultiLayerNetwork net = new MultiLayerNetwork(spec.trainingConfiguration(new TrainingRecipe(1e-3, 7)));
        net.init();
        String path = dir.toString();
        new SavedModel(spec, net, domain, Map.of(), Map.of("note", "untrained")).save(path, conf);
        return path;
    }

    /** Rows (id, x, note), one of them the family's bad event; fills {@code expected} with the good rows' values. */
    static Dataset<Row> table(SparkSession spark, Family f, int rows, List<float[]> expected) {
        int dims = f.spec().eventShape().length == 1 ? (int) f.spec().eventShape()[0]
                : (int) (f.spec().eventShape()[0] * f.spec().eventShape()[1]);
        boolean text = f.badEvent() instanceof String;
        DataType type = text ? DataTypes.StringType : DataTypes.createArrayType(DataTypes.DoubleType);
        StructType schema = new StructType().add("id", DataTypes.LongType).add("x", type).add("note",
                DataTypes.StringType);
        List<Row> out = new ArrayList<>();
        for (int i = 0; i < rows; i++) {
            float[] v = new float[dims];
            Object e = f.events().event(i, v);
            expected.add(v);
            out.add(RowFactory.create((long) i, text ? e : toSeq((double[]) e), "row " + i));
        }
        Object bad = f.badEvent();
        out.add(RowFactory.create((long) rows, text ? bad : toSeq((double[]) bad), "bad"));
        return spark.createDataFrame(out, schema).repartition(3);
    }

    static Object toSeq(double[] x) {
        List<Double> l = new ArrayList<>();
        for (double v : x) {
            l.add(v);
        }
        return scala.collection.JavaConverters.asScalaBuffer(l).toSeq();
    }

    static double[] logProb(DensityModel density, List<float[]> events) {
        int dims = events.get(0).length;
        float[] buf = new float[events.size() * dims];
        for (int i = 0; i < events.size(); i++) {
            System.arraycopy(events.get(i), 0, buf, i * dims, dims);
        }
        return density.logProb(Nd4j.create(buf, new long[]{events.size(), dims}, org.nd4j.linalg.api.buffer.DataType.FLOAT)).toDoubleVector();
    }

    static void near(double expected, Object actual, String what) {
        assertNotNull(actual, what);
        double a = ((Number) actual).doubleValue();
        assertEquals(expected, a, 1e-6 + 1e-5 * Math.abs(expected), what);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("families")
    void transformerAndSqlGiveTheModelsOwnLogProb(Family f, @TempDir Path tmp) {
        String path = save(tmp.resolve("model"), f.spec(), f.domain(), conf);
        List<float[]> events = new ArrayList<>();
        Dataset<Row> df = table(spark, f, 40, events);
        double[] expected = logProb(SavedModel.load(path, false, conf).payload().density(), events);
        assertTrue(expected[0] != expected[1] && Double.isFinite(expected[0]), f + " scores " + expected[0]);

        DensityScorer scorer = DensityScorer.load(path).setInputCol("x").setBatchSize(7);
        Dataset<Row> scored = scorer.transform(df);
        assertArrayEquals(new String[]{"id", "x", "note", "log_prob_nats", "nll_nats", "bits_per_dim",
                "score_error"}, scored.columns());
        Map<Long, Row> byId = new HashMap<>();
        scored.collectAsList().forEach(r -> byId.put(r.getLong(0), r));
        assertEquals(41, byId.size(), "every row comes out once");
        for (int i = 0; i < events.size(); i++) {
            Row r = byId.get((long) i);
            near(expected[i], r.get(3), f + " row " + i);
            assertEquals(-r.getDouble(3), r.getDouble(4), 0.0);
            assertEquals("row " + i, r.getString(2));
            assertNull(r.get(6));
        }
        Row bad = byId.get(40L);
        assertNull(bad.get(3));
        assertNull(bad.get(5));
        assertTrue(bad.getString(6).startsWith(f.badKind() + ":"), f + ": " + bad.getString(6));
        assertEquals("bad", bad.getString(2));

        String function = "logp_" + f.name().replace("-", "_");
        SqlFunctions.register(spark, function, path);
        df.createOrReplaceTempView("events_" + function);
        List<Row> sql = spark.sql("SELECT id, " + function + "(x) AS lp FROM events_" + function).collectAsList();
        assertEquals(41, sql.size());
        for (Row r : sql) {
            int id = (int) r.getLong(0);
            if (id == 40) {
                assertNull(r.get(1), f + ": a row the model cannot score gives NULL");
            } else {
                near(expected[id], r.get(1), f + " SQL row " + id);
            }
        }
    }

    @Test
    void aConditionalModelTakesItsLabelColumn(@TempDir Path tmp) {
        MadeSpec spec = MadeSpec.made(new long[]{6}, new int[]{12}, 1, false, 1).withContext(3);
        String path = save(tmp.resolve("model"), spec, new Domain("binary", 2, 3, null, null, null), conf);
        EventMaker bits = bits(6);
        List<Row> rows = new ArrayList<>();
        List<float[]> events = new ArrayList<>();
        int[] labels = new int[30];
        for (int i = 0; i < 30; i++) {
            float[] v = new float[6];
            double[] x = (double[]) bits.event(i, v);
            events.add(v);
            labels[i] = i % 3;
            rows.add(RowFactory.create((long) i, toSeq(x), labels[i]));
        }
        rows.add(RowFactory.create(30L, toSeq(new double[6]), 5));
        rows.add(RowFactory.create(31L, toSeq(new double[6]), null));
        Dataset<Row> df = spark.createDataFrame(rows, new StructType().add("id", DataTypes.LongType)
                .add("x", DataTypes.createArrayType(DataTypes.DoubleType)).add("y", DataTypes.IntegerType));
        float[] buf = new float[30 * 6];
        for (int i = 0; i < 30; i++) {
            System.arraycopy(events.get(i), 0, buf, i * 6, 6);
        }
        double[] expected = SavedModel.load(path, false, conf).payload().density().logProb(
                Nd4j.create(buf, new long[]{30, 6}, org.nd4j.linalg.api.buffer.DataType.FLOAT), Batches.oneHot(labels, 3)).toDoubleVector();

        IllegalArgumentException noLabel = assertThrows(IllegalArgumentException.class,
                () -> DensityScorer.load(path).setInputCol("x").transform(df));
        assertTrue(noLabel.getMessage().contains("labelCol"), noLabel.getMessage());
        Map<Long, Row> byId = new HashMap<>();
        DensityScorer.load(path).setInputCol("x").setLabelCol("y").transform(df).collectAsList()
                .forEach(r -> byId.put(r.getLong(0), r));
        for (int i = 0; i < 30; i++) {
            near(expected[i], byId.get((long) i).get(3), "row " + i);
        }
        assertTrue(byId.get(30L).getString(6).startsWith("bad label: 5"), byId.get(30L).getString(6));
        assertTrue(byId.get(31L).getString(6).startsWith("bad label: missing"), byId.get(31L).getString(6));

        SqlFunctions.register(spark, "cond_logp", path);
        df.createOrReplaceTempView("cond_events");
        for (Row r : spark.sql("SELECT id, cond_logp(x, y) FROM cond_events").collectAsList()) {
            int id = (int) r.getLong(0);
            if (id < 30) {
                near(expected[id], r.get(1), "SQL row " + id);
            } else {
                assertNull(r.get(1));
            }
        }
    }

    /** A VectorAssembler + DensityScorer pipeline, saved to a directory and loaded back, scores the same. */
    @Test
    void pipelineModelRoundTripsThroughADirectory(@TempDir Path tmp) throws Exception {
        String path = save(tmp.resolve("model"), MadeSpec.made(new long[]{5}, new int[]{10}, 2, true, 3), binary(),
                conf);
        StructType schema = new StructType().add("id", DataTypes.LongType);
        String[] cols = new String[5];
        for (int d = 0; d < 5; d++) {
            cols[d] = "p" + d;
            schema = schema.add(cols[d], DataTypes.IntegerType);
        }
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < 32; i++) {
            Object[] v = new Object[6];
            v[0] = (long) i;
            for (int d = 0; d < 5; d++) {
                v[d + 1] = (i >> d) & 1;
            }
            rows.add(RowFactory.create(v));
        }
        Dataset<Row> df = spark.createDataFrame(rows, schema);
        VectorAssembler assembler = new VectorAssembler().setInputCols(cols).setOutputCol("features");
        DensityScorer scorer = DensityScorer.load(path).setInputCol("features").setLogProbCol("lp");
        PipelineModel fitted = new Pipeline().setStages(new PipelineStage[]{assembler, scorer}).fit(df);
        List<Row> before = fitted.transform(df).orderBy("id").select("id", "lp").collectAsList();
        // all 32 binary events of a normalized density: the probabilities sum to 1
        double total = before.stream().mapToDouble(r -> Math.exp(r.getDouble(1))).sum();
        assertEquals(1.0, total, 1e-4);

        String saved = tmp.resolve("pipeline").toString();
        fitted.write().overwrite().save(saved);
        PipelineModel loaded = PipelineModel.load(saved);
        assertTrue(loaded.stages()[1] instanceof DensityScorer, loaded.stages()[1].toString());
        assertEquals("lp", ((DensityScorer) loaded.stages()[1]).getOrDefault(scorer.logProbCol()));
        List<Row> after = loaded.transform(df).orderBy("id").select("id", "lp").collectAsList();
        assertEquals(before, after);

        // the scorer alone: saved, then loaded by DensityScorer.load like a model directory
        scorer.write().overwrite().save(tmp.resolve("scorer").toString());
        DensityScorer back = DensityScorer.load(tmp.resolve("scorer").toString());
        assertEquals(scorer.uid(), back.uid());
        assertEquals(before, back.transform(assembler.transform(df)).orderBy("id").select("id", "lp")
                .collectAsList());
    }

    /** A file stream read with availableNow, scored by the transformer into a memory sink. */
    @Test
    void aStreamingDataFrameIsScored(@TempDir Path tmp) throws Exception {
        Family made = families().findFirst().orElseThrow();
        String path = save(tmp.resolve("model"), made.spec(), made.domain(), conf);
        List<float[]> events = new ArrayList<>();
        Dataset<Row> df = table(spark, made, 50, events);
        String in = tmp.resolve("incoming").toString();
        df.write().parquet(in);
        double[] expected = logProb(SavedModel.load(path, false, conf).payload().density(), events);

        Dataset<Row> stream = spark.readStream().schema(df.schema()).parquet(in);
        Dataset<Row> scored = DensityScorer.load(path).setInputCol("x").transform(stream);
        assertTrue(scored.isStreaming());
        StreamingQuery q = scored.writeStream().format("memory").queryName("scored_stream")
                .option("checkpointLocation", tmp.resolve("checkpoint").toString())
                .trigger(Trigger.AvailableNow()).start();
        assertTrue(q.awaitTermination(TimeUnit.MINUTES.toMillis(2)), "the stream did not finish");
        List<Row> out = spark.table("scored_stream").collectAsList();
        assertEquals(51, out.size());
        for (Row r : out) {
            int id = (int) r.getLong(0);
            if (id == 50) {
                assertTrue(r.getString(6).startsWith("non-binary value"), r.getString(6));
            } else {
                near(expected[id], r.get(3), "streamed row " + id);
            }
        }
    }
}
