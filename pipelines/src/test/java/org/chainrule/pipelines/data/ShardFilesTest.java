package org.chainrule.pipelines.data;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.chainrule.pipelines.SparkTesting;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The direct shard reader behind evaluate: cut into byte ranges and packed into partitions, a split's files still give
 * every row exactly once, with its file's name, and a file that is not a prepared shard is refused by name.
 */
class ShardFilesTest {
    private final SparkSession spark = SparkTesting.spark();

    /** Writes {@code files} shards of {@code rows} rows each (small row groups, so a file has several). */
    private String shards(Path dir, int files, int rows) {
        List<Row> all = new ArrayList<>();
        for (int i = 0; i < files * rows; i++) {
            byte[] x = new byte[64];
            for (int d = 0; d < x.length; d++) {
                x[d] = (byte) ((i * 31 + d) % 251);
            }
            all.add(RowFactory.create((long) i, i % 10, x));
        }
        String out = dir.resolve("train").toString();
        spark.createDataFrame(all, Shards.SCHEMA).repartition(files).write().option("parquet.block.size", 4096)
                .parquet(out);
        return out;
    }

    @Test
    void everyRowOnceWhateverTheRangesAndPartitions(@TempDir Path tmp) throws IOException {
        String dir = shards(tmp, 3, 700);
        Files.writeString(Path.of(dir, "_SUCCESS.extra"), "not data");
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        for (long maxBytes : new long[]{2_000, 10_000, 128L << 20}) {
            List<List<ShardFiles.Range>> parts = ShardFiles.plan(dir, conf, maxBytes, 1_000, 4);
            Map<Long, String> seen = new HashMap<>();
            Map<String, Integer> perFile = new HashMap<>();
            for (List<ShardFiles.Range> part : parts) {
                long bytes = part.stream().mapToLong(r -> r.end() - r.start()).sum();
                assertTrue(part.size() == 1 || bytes <= maxBytes, "a partition of several ranges over the limit");
                var it = ShardFiles.read(List.of(part).iterator(), conf);
                while (it.hasNext()) {
                    var e = it.next();
                    String before = seen.put(e.getValue().rowId(), e.getKey());
                    assertEquals(null, before, "row " + e.getValue().rowId() + " read twice at " + maxBytes);
                    perFile.merge(e.getKey(), 1, Integer::sum);
                    long i = e.getValue().rowId();
                    assertEquals(i % 10, e.getValue().label());
                    assertEquals((byte) ((i * 31 + 5) % 251), e.getValue().x()[5]);
                }
            }
            assertEquals(2100, seen.size(), "every row at maxBytes " + maxBytes);
            File[] files = new File(dir).listFiles((d, n) -> n.endsWith(".parquet"));
            assertEquals(files.length, perFile.size());
            for (File f : files) {
                assertTrue(perFile.containsKey(f.getName()), f.getName());
            }
            if (maxBytes == 2_000) {
                assertTrue(parts.size() > 3, "small ranges cut each file: " + parts.size() + " partitions");
            }
        }
    }

    @Test
    void rangesArePackedLargestFirstUpToTheSplitSize() {
        List<ShardFiles.Range> ranges = List.of(new ShardFiles.Range("a", "a", 0, 60),
                new ShardFiles.Range("b", "b", 0, 30), new ShardFiles.Range("c", "c", 0, 25),
                new ShardFiles.Range("d", "d", 0, 90));
        List<List<ShardFiles.Range>> parts = ShardFiles.pack(ranges, 100, 5);
        assertEquals(List.of(List.of("d"), List.of("a", "b"), List.of("c")),
                parts.stream().map(p -> p.stream().map(ShardFiles.Range::name).toList()).toList());
    }

    @Test
    void aFileWithoutTheShardColumnsIsNamed(@TempDir Path tmp) {
        StructType other = new StructType().add("row_id", DataTypes.LongType, false)
                .add("pixels", DataTypes.BinaryType, false);
        String dir = tmp.resolve("train").toString();
        Dataset<Row> df = spark.createDataFrame(List.of(RowFactory.create(1L, new byte[]{1})), other);
        df.write().parquet(dir);
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        List<List<ShardFiles.Range>> parts = ShardFiles.plan(dir, conf, 128L << 20, 4L << 20, 2);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ShardFiles.read(parts.get(0).iterator().next(), conf).hasNext());
        assertTrue(e.getMessage().contains("has no column label") && e.getMessage().contains(dir), e.getMessage());
    }
}
