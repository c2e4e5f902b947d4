package org.chainrule.pipelines.sample;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.chainrule.models.DensityModel;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.Seeds;
import org.chainrule.pipelines.Progress;
import org.chainrule.pipelines.data.Batches;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.chainrule.pipelines.io.Json;
import org.chainrule.pipelines.io.Outputs;
import org.chainrule.pipelines.io.Pictures;
import org.chainrule.pipelines.io.SavedModel;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The sample pipeline: {@code count} samples, sample {@code i} drawn from its own seed derive(seed, i), generated in
 * fixed blocks spread over the executors. The same (model, seed, i) gives the same sample wherever it runs. Writes
 * {@code samples.parquet} (sample_id, seed, values) and, for image-shaped events, {@code samples.png}.
 */
public final class Sample {
    public static final StructType SCHEMA = new StructType()
            .add("sample_id", DataTypes.LongType, false)
            .add("seed", DataTypes.LongType, false)
            .add("label", DataTypes.IntegerType, false)
            .add("values", DataTypes.createArrayType(DataTypes.FloatType, false), false)
            .add("text", DataTypes.StringType, true);

    private Sample() {
    }

    /**
     * @param model     saved model directory
     * @param output    output directory to create
     * @param count     number of samples
     * @param seed      root seed
     * @param blockSize samples drawn together in one batch
     * @param maxPicture samples shown in the PNG grid (at most)
     * @param overwrite replace an existing output
     * @param labels    class-conditional models: sample i is drawn given labels[i mod size] (empty: every class in
     *                  turn); must be empty for an unconditional model
     * @param temperature sampling temperature (1 = the model; lower is sharper), for models that support it
     */
    public record Settings(String model, String output, long count, long seed, int blockSize, int maxPicture,
                           boolean overwrite, List<Integer> labels, double temperature) {
        public Settings(String model, String output, long count, long seed, int blockSize, int maxPicture,
                        boolean overwrite) {
            this(model, output, count, seed, blockSize, maxPicture, overwrite, List.of(), 1.0);
        }
    }

    /** Runs the sampler; returns its summary. */
    public static Map<String, Object> run(SparkSession spark, Settings s) {
        Configuration hconf = spark.sparkContext().hadoopConfiguration();
        Outputs.checkTarget(s.output(), s.overwrite(), hconf);
        SavedModel model = SavedModel.load(s.model(), false, hconf);
        int classes = model.spec().contextSize();
        if (classes == 0 && !s.labels().isEmpty()) {
            throw new IllegalArgumentException("sample.labels is set but the model in " + s.model()
                    + " is not class-conditional");
        }
        for (int label : s.labels()) {
            if (label < 0 || label >= classes) {
                throw new IllegalArgumentException("sample.labels holds " + label + " but the model in " + s.model()
                        + " is conditioned on classes 0.." + (classes - 1));
            }
        }
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        List<long[]> blocks = new ArrayList<>();
        for (long start = 0; start < s.count(); start += s.blockSize()) {
            blocks.add(new long[]{start, Math.min(s.count(), start + s.blockSize())});
        }
        int partitions = Math.max(1, Math.min(blocks.size(), jsc.defaultParallelism() * 2));
        Broadcast<SavedModel.Payload> payload = jsc.broadcast(model.payload());
        try {
            return Outputs.staged(s.output(), hconf, staging -> draw(spark, s, model, blocks, partitions,
                    payload, staging));
        } finally {
            payload.destroy();
        }
    }

    /** Draws into {@code staging}: the Parquet, the picture from the Parquet as written, the summary. */
    private static Map<String, Object> draw(SparkSession spark, Settings s, SavedModel model, List<long[]> blocks,
                                            int partitions, Broadcast<SavedModel.Payload> payload, String staging) {
        Configuration hconf = spark.sparkContext().hadoopConfiguration();
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        long root = s.seed();
        ModelSpec spec = model.spec();
        int classes = spec.contextSize();
        int[] labels = s.labels().isEmpty() ? java.util.stream.IntStream.range(0, classes).toArray()
                : s.labels().stream().mapToInt(Integer::intValue).toArray();
        double temperature = s.temperature();
        String vocabulary = model.domain().vocabulary();
        long t0 = System.nanoTime();
        Progress.say("sample", "drawing " + s.count() + " samples from " + s.model() + " (seed " + root + ", "
                + blocks.size() + " blocks on " + partitions + " partitions)");
        JavaRDD<Row> rows = jsc.parallelize(blocks, partitions).mapPartitions(it -> {
            List<Row> out = new ArrayList<>();
            if (!it.hasNext()) {
                return out.iterator();
            }
            DensityModel m = payload.value().density();
            while (it.hasNext()) {
                long[] b = it.next();
                long[] seeds = new long[(int) (b[1] - b[0])];
                for (int i = 0; i < seeds.length; i++) {
                    seeds[i] = Seeds.derive(root, b[0] + i);
                }
                int[] rowLabels = new int[seeds.length];
                for (int i = 0; i < seeds.length; i++) {
                    rowLabels[i] = classes == 0 ? -1 : labels[(int) ((b[0] + i) % labels.length)];
                }
                INDArray context = classes == 0 ? null : Batches.oneHot(rowLabels, classes);
                float[][] x = m.sample(seeds, context, temperature).toFloatMatrix();
                for (int i = 0; i < seeds.length; i++) {
                    Float[] boxed = new Float[x[i].length];
                    StringBuilder text = vocabulary == null ? null : new StringBuilder(x[i].length);
                    for (int d = 0; d < boxed.length; d++) {
                        boxed[d] = x[i][d];
                        if (text != null) {
                            text.append(vocabulary.charAt((int) x[i][d]));
                        }
                    }
                    out.add(RowFactory.create(b[0] + i, seeds[i], rowLabels[i], boxed,
                            text == null ? null : text.toString()));
                }
            }
            return out.iterator();
        });
        spark.createDataFrame(rows, SCHEMA).write().parquet(staging + "/samples.parquet");
        double seconds = (System.nanoTime() - t0) / 1e9;
        long[] shape = spec.eventShape();
        boolean image = s.maxPicture() > 0 && !model.domain().isReal()
                && (shape.length == 2 || (shape.length == 3 && (shape[2] == 1 || shape[2] == 3)));
        if (image) {
            List<Row> first = spark.read().parquet(staging + "/samples.parquet").orderBy("sample_id")
                    .limit(s.maxPicture()).collectAsList();
            float[][] images = new float[first.size()][];
            for (int i = 0; i < images.length; i++) {
                List<Float> v = first.get(i).getList(3);
                images[i] = new float[v.size()];
                for (int d = 0; d < v.size(); d++) {
                    images[i][d] = v.get(d) / Math.max(1, model.domain().levels() - 1);
                }
            }
            int channels = shape.length == 3 ? (int) shape[2] : 1;
            int columns = (int) Math.ceil(Math.sqrt(images.length));
            Outputs.writeBytes(staging + "/samples.png", Pictures.imageGrid(images, (int) shape[0], (int) shape[1],
                    channels, columns, 3), hconf);
        }
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("model", s.model());
        summary.put("count", s.count());
        summary.put("seed", s.seed());
        summary.put("seedOfSample", "sample i uses seed derive(seed, i) (SplitMix64), shown per row");
        summary.put("seconds", seconds);
        summary.put("samplesPerSecond", s.count() / seconds);
        summary.put("picture", image ? "samples.png" : "none");
        summary.put("temperature", temperature);
        if (classes > 0) {
            summary.put("labels", "sample i is drawn given label labels[i mod " + labels.length + "] of "
                    + java.util.Arrays.toString(labels) + "; the label column says which");
        }
        if (vocabulary != null) {
            List<Row> texts = spark.read().parquet(staging + "/samples.parquet").orderBy("sample_id")
                    .limit(Math.max(1, Math.min(20, (int) s.count()))).collectAsList();
            StringBuilder txt = new StringBuilder();
            texts.forEach(r -> txt.append("--- sample ").append(r.getLong(0)).append(" (seed ").append(r.getLong(1))
                    .append(")\n").append(r.getString(4)).append("\n"));
            Outputs.writeText(staging + "/samples.txt", txt.toString(), hconf);
            summary.put("text", "samples.txt (the first " + texts.size() + " samples as text)");
        }
        Outputs.writeText(staging + "/summary.json", Json.render(summary), hconf);
        Progress.say("sample", String.format("%d samples in %s (%.1f samples/s) -> %s", s.count(),
                Progress.duration(seconds), s.count() / seconds, s.output()));
        return summary;
    }

}
