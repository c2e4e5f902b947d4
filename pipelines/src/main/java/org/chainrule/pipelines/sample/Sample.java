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
import org.chainrule.pipelines.data.Example;
import org.chainrule.pipelines.data.Manifest;
import org.chainrule.pipelines.data.Shards;
import org.chainrule.pipelines.evaluate.Evaluate;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.chainrule.pipelines.io.Artefact;
import org.chainrule.pipelines.io.Json;
import org.chainrule.pipelines.io.OutputGuard;
import org.chainrule.pipelines.io.Outputs;
import org.chainrule.pipelines.io.Pictures;
import org.chainrule.pipelines.io.SavedModel;
import org.chainrule.pipelines.spark.JobLabels;

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
                           boolean overwrite, List<Integer> labels, double temperature, Completion completion) {
        public Settings(String model, String output, long count, long seed, int blockSize, int maxPicture,
                        boolean overwrite) {
            this(model, output, count, seed, blockSize, maxPicture, overwrite, List.of(), 1.0);
        }

        public Settings(String model, String output, long count, long seed, int blockSize, int maxPicture,
                        boolean overwrite, List<Integer> labels, double temperature) {
            this(model, output, count, seed, blockSize, maxPicture, overwrite, labels, temperature, null);
        }
    }

    /**
     * Image completion instead of free sampling: the first {@code images} rows (in row-id order) of a split of a
     * prepared dataset keep their top {@code knownRows} pixel rows, and {@code perImage} completions of the rest are
     * drawn for each; sample i completes image i / perImage, with seed derive(seed, i) as usual.
     *
     * @param knownRows given pixel rows from the top; 0 = the top half
     */
    public record Completion(String data, String split, int images, int knownRows, int perImage)
            implements java.io.Serializable {
        public Completion {
            if (images < 1 || perImage < 1 || knownRows < 0) {
                throw new IllegalArgumentException("completion needs images >= 1, perImage >= 1 and knownRows >= 0");
            }
        }
    }

    /** Runs the sampler; returns its summary. */
    public static Map<String, Object> run(SparkSession spark, Settings s) {
        Configuration hconf = spark.sparkContext().hadoopConfiguration();
        OutputGuard.claim(s.output(), Artefact.SAMPLES, s.completion() == null ? List.of(s.model())
                : List.of(s.model(), s.completion().data()), s.overwrite(), hconf);
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
        JobLabels.describe(spark, "sample: read the images to complete");
        Partial partial = s.completion() == null ? null : Partial.read(spark, s.completion(), model);
        long count = partial == null ? s.count() : (long) partial.rows().length * s.completion().perImage();
        List<long[]> blocks = new ArrayList<>();
        for (long start = 0; start < count; start += s.blockSize()) {
            blocks.add(new long[]{start, Math.min(count, start + s.blockSize())});
        }
        int partitions = Math.max(1, Math.min(blocks.size(), jsc.defaultParallelism() * 2));
        Broadcast<SavedModel.Payload> payload = jsc.broadcast(model.payload());
        try {
            return Outputs.staged(s.output(), hconf, staging -> draw(spark, s, model, blocks, partitions,
                    payload, staging, partial, count));
        } finally {
            payload.destroy();
        }
    }

    /** Draws into {@code staging}: the Parquet, the picture from the Parquet as written, the summary. */
    private static Map<String, Object> draw(SparkSession spark, Settings s, SavedModel model, List<long[]> blocks,
                                            int partitions, Broadcast<SavedModel.Payload> payload, String staging,
                                            Partial partial, long count) {
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
        Progress.say("sample", (partial == null ? "drawing " + count + " samples" : "completing " + partial.rows().length
                + " images x " + s.completion().perImage() + " (the top " + partial.known() / partial.rowWidth()
                + " pixel rows given)") + " from " + s.model() + " (seed " + root + ", " + blocks.size() + " blocks on "
                + partitions + " partitions)");
        int perImage = partial == null ? 1 : s.completion().perImage();
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
                    rowLabels[i] = classes == 0 ? -1 : partial != null ? partial.labels()[(int) ((b[0] + i) / perImage)]
                            : labels[(int) ((b[0] + i) % labels.length)];
                }
                INDArray context = classes == 0 ? null : Batches.oneHot(rowLabels, classes);
                float[][] x;
                if (partial == null) {
                    x = m.sample(seeds, context, temperature).toFloatMatrix();
                } else {
                    float[][] given = new float[seeds.length][];
                    for (int i = 0; i < seeds.length; i++) {
                        given[i] = partial.rows()[(int) ((b[0] + i) / perImage)];
                    }
                    x = m.complete(org.nd4j.linalg.factory.Nd4j.create(given), partial.known(), seeds, context,
                            temperature).toFloatMatrix();
                }
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
        JobLabels.describe(spark, "sample: draw %d samples", count);
        spark.createDataFrame(rows, SCHEMA).write().parquet(staging + "/samples.parquet");
        double seconds = (System.nanoTime() - t0) / 1e9;
        long[] shape = spec.eventShape();
        JobLabels.describe(spark, "sample: pictures and text");
        boolean image = s.maxPicture() > 0 && !model.domain().isReal()
                && (shape.length == 2 || (shape.length == 3 && (shape[2] == 1 || shape[2] == 3)));
        if (image && partial != null) {
            Outputs.writeBytes(staging + "/completions.png", completionPicture(spark, staging, partial, perImage,
                    shape, model.domain().levels()), hconf);
        } else if (image) {
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
        summary.put("count", count);
        summary.put("seed", s.seed());
        summary.put("seedOfSample", "sample i uses seed derive(seed, i) (SplitMix64), shown per row");
        summary.put("seconds", seconds);
        summary.put("samplesPerSecond", count / seconds);
        summary.put("picture", !image ? "none" : partial != null ? "completions.png" : "samples.png");
        if (partial != null) {
            summary.put("completion", "sample i completes image i / " + perImage + " of the first "
                    + partial.rows().length + " rows of " + s.completion().data() + "/" + s.completion().split()
                    + " (row ids " + java.util.Arrays.toString(partial.rowIds()) + "), keeping its first "
                    + partial.known() + " values (the top " + partial.known() / partial.rowWidth() + " pixel rows)");
        }
        summary.put("temperature", temperature);
        if (classes > 0) {
            summary.put("labels", "sample i is drawn given label labels[i mod " + labels.length + "] of "
                    + java.util.Arrays.toString(labels) + "; the label column says which");
        }
        if (vocabulary != null) {
            List<Row> texts = spark.read().parquet(staging + "/samples.parquet").orderBy("sample_id")
                    .limit(Math.max(1, Math.min(20, (int) count))).collectAsList();
            StringBuilder txt = new StringBuilder();
            texts.forEach(r -> txt.append("--- sample ").append(r.getLong(0)).append(" (seed ").append(r.getLong(1))
                    .append(")\n").append(r.getString(4)).append("\n"));
            Outputs.writeText(staging + "/samples.txt", txt.toString(), hconf);
            summary.put("text", "samples.txt (the first " + texts.size() + " samples as text)");
        }
        Outputs.writeText(staging + "/summary.json", Json.render(summary), hconf);
        Artefact.SAMPLES.mark(staging, hconf);
        Progress.say("sample", String.format("%d samples in %s (%.1f samples/s) -> %s", count,
                Progress.duration(seconds), count / seconds, s.output()));
        return summary;
    }


    /**
     * The completion picture: one line per source image: the original, what was given (the unknown part grey), then
     * its completions.
     */
    private static byte[] completionPicture(SparkSession spark, String staging, Partial partial, int perImage,
                                            long[] shape, int levels) {
        List<Row> drawn = spark.read().parquet(staging + "/samples.parquet").orderBy("sample_id").collectAsList();
        int columns = perImage + 2;
        int images = partial.rows().length;
        float[][] tiles = new float[images * columns][];
        float scale = Math.max(1, levels - 1);
        for (int n = 0; n < images; n++) {
            float[] original = partial.original()[n];
            tiles[n * columns] = new float[original.length];
            tiles[n * columns + 1] = new float[original.length];
            for (int d = 0; d < original.length; d++) {
                tiles[n * columns][d] = original[d] / scale;
                tiles[n * columns + 1][d] = d < partial.known() ? original[d] / scale : 0.5f;
            }
            for (int k = 0; k < perImage; k++) {
                List<Float> v = drawn.get(n * perImage + k).getList(3);
                float[] t = new float[v.size()];
                for (int d = 0; d < t.length; d++) {
                    t[d] = v.get(d) / scale;
                }
                tiles[n * columns + 2 + k] = t;
            }
        }
        int channels = shape.length == 3 ? (int) shape[2] : 1;
        return Pictures.imageGrid(tiles, (int) shape[0], (int) shape[1], channels, columns, 3);
    }

    /** The source images of a completion: their values (unknown part zeroed), labels and row ids. */
    record Partial(float[][] rows, float[][] original, int[] labels, long[] rowIds, int known, int rowWidth)
            implements java.io.Serializable {


        static Partial read(SparkSession spark, Completion c, SavedModel model) {
            Configuration hconf = spark.sparkContext().hadoopConfiguration();
            Manifest manifest = Manifest.read(c.data(), hconf);
            Evaluate.checkCompatible(model.spec(), manifest, c.data());
            long[] shape = manifest.shape();
            if (shape.length < 2 || manifest.domain().isReal() || manifest.domain().vocabulary() != null) {
                throw new IllegalArgumentException("completion takes images ([H, W] or [H, W, C] integer pixels); "
                        + c.data() + " holds " + manifest.domain().valueType() + " events of shape "
                        + java.util.Arrays.toString(shape));
            }
            int height = (int) shape[0];
            int rowWidth = manifest.dims() / height;
            int knownRows = c.knownRows() == 0 ? height / 2 : c.knownRows();
            if (knownRows > height) {
                throw new IllegalArgumentException("sample.complete.known-rows = " + knownRows + " but the images have "
                        + height + " rows");
            }
            List<Example> rows = Shards.read(spark, c.data(), c.split(), manifest).takeOrdered(c.images(),
                    Example.BY_ROW_ID);
            if (rows.isEmpty()) {
                throw new IllegalArgumentException("the " + c.split() + " split of " + c.data() + " has no rows");
            }
            int known = knownRows * rowWidth;
            float[][] original = Batches.matrix(rows, manifest.dims(), false).toFloatMatrix();
            float[][] given = new float[original.length][];
            int[] labels = new int[rows.size()];
            long[] ids = new long[rows.size()];
            for (int i = 0; i < original.length; i++) {
                given[i] = new float[original[i].length];
                System.arraycopy(original[i], 0, given[i], 0, known);
                labels[i] = rows.get(i).label();
                ids[i] = rows.get(i).rowId();
                if (model.spec().contextSize() > 0 && (labels[i] < 0 || labels[i] >= model.spec().contextSize())) {
                    throw new IllegalArgumentException("row_id " + ids[i] + " of " + c.data() + "/" + c.split()
                            + " has label " + labels[i] + ", but the class-conditional model needs 0.."
                            + (model.spec().contextSize() - 1));
                }
            }
            return new Partial(given, original, labels, ids, known, rowWidth);
        }
    }
}
