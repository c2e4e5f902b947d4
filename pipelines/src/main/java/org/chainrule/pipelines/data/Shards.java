package org.chainrule.pipelines.data;

import org.apache.spark.SparkContext;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.CollectionAccumulator;
import org.apache.spark.util.SerializableConfiguration;
import scala.Tuple2;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Reads one split of a prepared dataset back as {@link Example}s, after checking that its shards are exactly the data
 * prepare wrote: each shard's rows and checksum against the manifest.
 */
public final class Shards {
    /** Parquet schema of prepared shards. */
    public static final StructType SCHEMA = new StructType()
            .add("row_id", DataTypes.LongType, false)
            .add("label", DataTypes.IntegerType, false)
            .add("x", DataTypes.BinaryType, false);

    private Shards() {
    }

    /**
     * The examples of {@code split}, once {@link #verify} has passed; every row is checked to have the manifest's
     * width, and a bad one fails the job naming its file and row id.
     */
    public static JavaRDD<Example> read(SparkSession spark, String dir, String split, Manifest manifest) {
        verify(spark, dir, split, manifest);
        Decoder decode = new Decoder(manifest);
        return withFiles(spark, dir + "/" + split).map(decode::example);
    }

    /**
     * The examples of {@code split}, tallied per shard as a job reads them, for a job that reads every row exactly
     * once: it calls {@link Tallied#verify} after that pass and before it commits its output. The same check as
     * {@link #verify} without a pass of its own (evaluate scores 10,000 MNIST rows in about a second, of which a
     * separate pass would take a tenth).
     */
    public static Tallied readTallied(SparkSession spark, String dir, String split, Manifest manifest) {
        Manifest.Split expected = manifest.split(split, dir);
        SparkContext sc = spark.sparkContext();
        CollectionAccumulator<Object[]> tally = sc.collectionAccumulator("shard checksums of " + split);
        Decoder decode = new Decoder(manifest);
        List<List<ShardFiles.Range>> parts = ShardFiles.plan(dir + "/" + split, sc.hadoopConfiguration(),
                sc.getConf().getSizeAsBytes("spark.sql.files.maxPartitionBytes", "128m"),
                sc.getConf().getSizeAsBytes("spark.sql.files.openCostInBytes", "4m"), sc.defaultParallelism());
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(sc);
        Broadcast<SerializableConfiguration> conf = jsc.broadcast(new SerializableConfiguration(sc.hadoopConfiguration()));
        JavaRDD<Example> rows = jsc.parallelize(parts, Math.max(1, parts.size())).mapPartitions(ranges -> {
            Iterator<Map.Entry<String, Example>> files = ShardFiles.read(ranges, conf.value().value());
            return new Iterator<Example>() {
                private final Map<String, long[]> perFile = new HashMap<>();
                private String lastName;
                private long[] last;
                private boolean reported;

                @Override
                public boolean hasNext() {
                    boolean more = files.hasNext();
                    if (!more && !reported) {
                        reported = true;
                        int partition = TaskContext.getPartitionId();
                        perFile.forEach((f, acc) -> tally.add(new Object[]{partition, f, acc[0], acc[1]}));
                    }
                    return more;
                }

                @Override
                public Example next() {
                    Map.Entry<String, Example> r = files.next();
                    Example e = decode.check(r.getKey(), r.getValue());
                    if (!r.getKey().equals(lastName)) {
                        lastName = r.getKey();
                        last = perFile.computeIfAbsent(lastName, f -> new long[2]);
                    }
                    last[0]++;
                    last[1] += Manifest.rowHash(e.rowId(), e.label(), e.x());
                    return e;
                }
            };
        });
        return new Tallied(rows, tally, dir, split, expected);
    }

    /**
     * A split's examples and the per-shard tally of the pass that reads them.
     *
     * @param rows the examples; read them once, all of them, then call {@link #verify}
     */
    public record Tallied(JavaRDD<Example> rows, CollectionAccumulator<Object[]> tally, String dir, String split,
                          Manifest.Split expected) {
        /** Compares what the pass read, shard by shard, with the manifest; fails as {@link Shards#verify} does. */
        public void verify() {
            // one entry per (partition, shard): a task that ran twice (speculation, a retried stage) counts once
            Map<String, Object[]> once = new HashMap<>();
            for (Object[] e : tally.value()) {
                once.putIfAbsent(e[0] + "/" + e[1], e);
            }
            Map<String, long[]> perFile = new TreeMap<>();
            for (Object[] e : once.values()) {
                long[] acc = perFile.computeIfAbsent((String) e[1], f -> new long[2]);
                acc[0] += (Long) e[2];
                acc[1] += (Long) e[3];
            }
            compare(dir, split, expected, shards(perFile));
        }
    }

    /** Turns shard rows into examples, checking each has the manifest's width. */
    private record Decoder(int dims, int bytes) implements java.io.Serializable {
        Decoder(Manifest manifest) {
            this(manifest.dims(), manifest.dims() * manifest.domain().bytesPerValue());
        }

        Example example(Row r) {
            return check(r.getString(3), new Example(r.getLong(0), r.getInt(1), (byte[]) r.get(2)));
        }

        /** The example, once its values have the manifest's width; {@code file} names it in the error. */
        Example check(String file, Example e) {
            if (e.x() == null || e.x().length != bytes) {
                throw new IllegalArgumentException(file + " row_id " + e.rowId() + ": "
                        + (e.x() == null ? "no values" : e.x().length + " bytes") + ", the manifest says " + dims
                        + " values of " + bytes / dims + " byte(s)");
            }
            return e;
        }
    }

    /** The shard rows under {@code path}: row_id, label, x and the file each came from. */
    private static JavaRDD<Row> withFiles(SparkSession spark, String path) {
        return spark.read().schema(SCHEMA).parquet(path)
                .select(functions.col("row_id"), functions.col("label"), functions.col("x"),
                        functions.input_file_name().as("file"))
                .javaRDD();
    }

    /**
     * Checks that the shards of {@code split} are the data prepare wrote: the same shard files, each with the rows and
     * order-independent checksum the manifest records (one pass over the split). Fails naming the split and the
     * shard: a changed, missing or extra file. A manifest written before shards were recorded is checked for the
     * split as a whole, and the failure lists its shards.
     */
    public static void verify(SparkSession spark, String dir, String split, Manifest manifest) {
        compare(dir, split, manifest.split(split, dir), checksums(spark, dir + "/" + split));
    }

    /** Fails unless the shards found are the ones the manifest records for the split. */
    private static void compare(String dir, String split, Manifest.Split expected, Map<String, Manifest.Shard> found) {
        String path = dir + "/" + split;
        String changed = "; the data changed after prepare wrote it, or is damaged (prepare it again)";
        if (expected.shards().isEmpty()) {
            long rows = found.values().stream().mapToLong(Manifest.Shard::rows).sum();
            String sum = Manifest.checksum(found.values().stream()
                    .mapToLong(sh -> Long.parseUnsignedLong(sh.checksum(), 16)).reduce(0L, Long::sum));
            if (rows != expected.rows() || !sum.equals(expected.checksum())) {
                throw new IllegalStateException("dataset " + dir + ", split " + split + ": its shards " + found.keySet()
                        + " hold " + rows + " rows with checksum " + sum + ", but the manifest says " + expected.rows()
                        + " rows with checksum " + expected.checksum() + changed + "; this manifest predates per-shard"
                        + " checksums, so the shard at fault cannot be named");
            }
            return;
        }
        for (Map.Entry<String, Manifest.Shard> e : expected.shards().entrySet()) {
            Manifest.Shard got = found.get(e.getKey());
            if (got == null && e.getValue().rows() > 0) {
                throw new IllegalStateException("dataset " + dir + ", split " + split + ": shard " + path + "/"
                        + e.getKey() + " is missing (the manifest lists it with " + e.getValue().rows() + " rows)"
                        + changed);
            }
            if (got != null && !got.equals(e.getValue())) {
                throw new IllegalStateException("dataset " + dir + ", split " + split + ": shard " + path + "/"
                        + e.getKey() + " holds " + got.rows() + " rows with checksum " + got.checksum()
                        + ", but the manifest says " + e.getValue().rows() + " rows with checksum "
                        + e.getValue().checksum() + changed);
            }
        }
        for (String f : found.keySet()) {
            if (!expected.shards().containsKey(f)) {
                throw new IllegalStateException("dataset " + dir + ", split " + split + ": shard " + path + "/" + f
                        + " is not in the manifest" + changed);
            }
        }
    }

    /** Rows and checksum of every shard file under {@code path} that holds rows, by file name. */
    public static Map<String, Manifest.Shard> checksums(SparkSession spark, String path) {
        Map<String, long[]> sums = withFiles(spark, path)
                .mapPartitionsToPair((Iterator<Row> rows) -> {
                    Map<String, long[]> perFile = new HashMap<>();
                    while (rows.hasNext()) {
                        Row r = rows.next();
                        long[] acc = perFile.computeIfAbsent(fileName(r.getString(3)), f -> new long[2]);
                        acc[0]++;
                        acc[1] += Manifest.rowHash(r.getLong(0), r.getInt(1), r.isNullAt(2) ? new byte[0]
                                : (byte[]) r.get(2));
                    }
                    List<Tuple2<String, long[]>> out = new ArrayList<>();
                    perFile.forEach((f, acc) -> out.add(new Tuple2<>(f, acc)));
                    return out.iterator();
                })
                .reduceByKey((a, b) -> new long[]{a[0] + b[0], a[1] + b[1]})
                .collectAsMap();
        return shards(sums);
    }

    private static Map<String, Manifest.Shard> shards(Map<String, long[]> sums) {
        Map<String, Manifest.Shard> out = new TreeMap<>();
        sums.forEach((f, acc) -> out.put(f, new Manifest.Shard(acc[0], Manifest.checksum(acc[1]))));
        return out;
    }

    /** The last segment of a file URI as Spark reports it (percent-escaped). */
    private static String fileName(String uri) {
        String name = uri.substring(uri.lastIndexOf('/') + 1);
        return URLDecoder.decode(name.replace("+", "%2B"), StandardCharsets.UTF_8);
    }
}
