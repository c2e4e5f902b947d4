package org.chainrule.pipelines.data;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.chainrule.pipelines.SparkTesting;
import org.chainrule.pipelines.spark.ReadProgress;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A big file read as many tasks gives exactly what one task per file gives: the same rows, row ids, binarization bits,
 * shards and checksums, and the same file/row/column (or line) in every error.
 */
class SplitSourcesTest {
    private static final String SPLIT_SIZE = "spark.sql.files.maxPartitionBytes";
    private static final int ROWS = 3000;
    private static final int WIDTH = 8;
    private final SparkSession spark = SparkTesting.spark();

    @AfterEach
    void oneTaskPerFileAgain() {
        spark.conf().unset(SPLIT_SIZE);
    }

    /** Tasks Spark cuts the files into at split size {@code bytes}. */
    private int tasks(long bytes, String format, Path... files) {
        spark.conf().set(SPLIT_SIZE, bytes);
        String[] paths = java.util.Arrays.stream(files).map(Path::toString).toArray(String[]::new);
        return spark.read().format(format).load(paths).javaRDD().getNumPartitions();
    }

    /**
     * A CSV of {@link #ROWS} rows with a header, CRLF and LF line ends, blank lines, and bad rows at {@code bad}
     * (0-based data rows): the label (column 1), then pixels 0..255.
     */
    private static Path csv(Path file, int... bad) throws IOException {
        Random random = new Random(5);
        StringBuilder sb = new StringBuilder("label");
        for (int d = 0; d < WIDTH; d++) {
            sb.append(",p").append(d);
        }
        sb.append('\n');
        for (int r = 0; r < ROWS; r++) {
            sb.append(r % 10);
            int row = r;
            for (int d = 0; d < WIDTH; d++) {
                boolean isBad = d == 5 && java.util.Arrays.stream(bad).anyMatch(b -> b == row);
                sb.append(',').append(isBad ? "256" : String.valueOf(random.nextInt(256)));
            }
            sb.append(r % 7 == 0 ? "\r\n" : "\n");
            if (r % 500 == 499) {
                sb.append("\n"); // a blank line: no record, but a line
            }
        }
        Files.writeString(file, sb);
        return file;
    }

    private static Prepare.Settings settings(Path train, Path test, Path out, boolean quarantine) {
        return Prepare.Settings.builder("csv", List.of(train.toString())).test(List.of(test.toString()))
                .output(out.toString()).shape(WIDTH).holdout(Holdout.tail(300)).shards(3)
                .encoding(new Encoding(WIDTH, 255, "stochastic", 11))
                .readers(new Readers.Options(',', true, 0, List.of(), 0, null)).quarantine(quarantine).build();
    }

    @Test
    void aCsvReadAsManyTasksGivesTheManifestOfOneTask(@TempDir Path tmp) throws IOException {
        Path train = csv(tmp.resolve("train.csv"), 10, 1777, 2500);
        Path test = csv(tmp.resolve("test.csv"));
        assertEquals(2, tasks(1L << 30, "text", train, test), "one task per file");
        Manifest one = Prepare.run(spark, settings(train, test, tmp.resolve("one"), true));
        assertTrue(tasks(4096, "text", train, test) >= 20, "the files cut into many tasks");
        Manifest many = Prepare.run(spark, settings(train, test, tmp.resolve("many"), true));

        assertEquals(one.splits(), many.splits(), "the same rows, bits and shards, shard by shard");
        assertEquals(List.of((long) ROWS - 300 - 3, 300L, (long) ROWS), List.of(many.splits().get("train").rows(),
                many.splits().get("valid").rows(), many.splits().get("test").rows()));
        assertEquals(3L, many.rejected().get("train"));
        List<Row> rejects = spark.read().parquet(tmp.resolve("many/rejects").toString()).orderBy("row")
                .collectAsList();
        assertEquals(List.of(11L, 1778L, 2501L), rejects.stream().map(r -> r.getLong(2)).toList(),
                "1-based data rows, the header and blank lines not counted");
        assertEquals(List.of(7, 7, 7), rejects.stream().map(r -> r.getInt(3)).toList(), "the pixel's file column");
    }

    @Test
    void errorsNameTheFileRowAndColumnOrTheLineInAnyTask(@TempDir Path tmp) throws IOException {
        Path train = csv(tmp.resolve("train.csv"), 2500);
        Path test = csv(tmp.resolve("test.csv"));
        assertTrue(tasks(2048, "text", train, test) >= 20);
        String msg = assertThrows(IllegalArgumentException.class,
                () -> Prepare.run(spark, settings(train, test, tmp.resolve("out"), false))).getMessage();
        assertTrue(msg.startsWith("1 bad record(s)") && msg.contains("train.csv row 2501 column 7: value 256.0 outside"
                + " [0, 255.0]"), msg);

        // a byte that is not UTF-8 in line 2,000 of the file (lines count the header and blank lines)
        byte[] bytes = Files.readAllBytes(train);
        int at = 0;
        for (int line = 1; line < 2000; line++) {
            at = indexOf(bytes, (byte) '\n', at) + 1;
        }
        bytes[at + 2] = (byte) 0xE9;
        Files.write(train, bytes);
        Exception e = assertThrows(Exception.class, () -> Prepare.run(spark, settings(train, test, tmp.resolve("u"),
                true)));
        assertTrue(PrepareTest.rootMessages(e).contains("train.csv line 2000: not UTF-8 text"),
                PrepareTest.rootMessages(e));
    }

    @Test
    void gzipCsvIsReadByItsNameAndAMisnamedOneIsRefused(@TempDir Path tmp) throws IOException {
        Path train = csv(tmp.resolve("train.csv"));
        Path test = csv(tmp.resolve("test.csv"));
        Path gz = tmp.resolve("train.csv.gz");
        try (var out = new java.util.zip.GZIPOutputStream(Files.newOutputStream(gz))) {
            Files.copy(train, out);
        }
        Manifest plain = Prepare.run(spark, settings(train, test, tmp.resolve("plain"), false));
        Manifest zipped = Prepare.run(spark, settings(gz, test, tmp.resolve("zipped"), false));
        assertEquals(plain.splits().get("train"), zipped.splits().get("train"));
        Path misnamed = Files.copy(gz, tmp.resolve("zipped.csv"));
        String msg = assertThrows(IllegalArgumentException.class,
                () -> Prepare.run(spark, settings(misnamed, test, tmp.resolve("m"), false))).getMessage();
        assertTrue(msg.contains("zipped.csv: gzip-compressed, but the name does not end in .gz"), msg);
    }

    private static int indexOf(byte[] bytes, byte b, int from) {
        for (int i = from; i < bytes.length; i++) {
            if (bytes[i] == b) {
                return i;
            }
        }
        return -1;
    }

    @Test
    void parquetRowGroupsReadAsManyTasksGiveTheManifestOfOneTask(@TempDir Path tmp) {
        StructType schema = new StructType().add("label", DataTypes.IntegerType).add("v", DataTypes.createArrayType(
                DataTypes.IntegerType));
        List<Row> rows = new ArrayList<>();
        Random random = new Random(3);
        for (int r = 0; r < ROWS; r++) {
            List<Integer> v = new ArrayList<>();
            for (int d = 0; d < WIDTH; d++) {
                v.add(r == 2222 && d == 3 ? 300 : random.nextInt(256));
            }
            rows.add(RowFactory.create(r % 10, scala.collection.JavaConverters.asScalaBuffer(v).toSeq()));
        }
        Path train = tmp.resolve("train.parquet");
        spark.createDataFrame(rows, schema).coalesce(1).write().option("parquet.block.size", 8192)
                .option("parquet.page.size", 1024).parquet(train.toString());
        Prepare.Settings s = Prepare.Settings.builder("parquet", List.of(train.toString()))
                .output(tmp.resolve("one").toString()).shape(WIDTH).holdout(new Holdout(300, 300, "tail", 0)).shards(3)
                .encoding(new Encoding(WIDTH, 255, "stochastic", 11)).quarantine(true).build();
        spark.conf().set(SPLIT_SIZE, 1L << 30);
        Manifest one = Prepare.run(spark, s);
        assertTrue(tasks(4096, "parquet", train) >= 4, "row groups cut into tasks");
        Manifest many = Prepare.run(spark, s.toBuilder().output(tmp.resolve("many").toString()).build());
        assertEquals(one.splits(), many.splits());
        Dataset<Row> rejects = spark.read().parquet(tmp.resolve("many/rejects").toString());
        Row bad = rejects.first();
        assertEquals(List.of(1L, 2223L, 5), List.of(rejects.count(), bad.getLong(2), bad.getInt(3)),
                "row 2,223, leaf 5 (the label is leaf 1)");
    }

    @Test
    void readingPrintsRowsRateAndEta(@TempDir Path tmp) throws Exception {
        Path train = csv(tmp.resolve("train.csv"));
        List<String> lines = new CopyOnWriteArrayList<>();
        spark.conf().set(SPLIT_SIZE, 4096);
        long bytes = Files.size(train);
        long read;
        try (ReadProgress p = ReadProgress.start(spark.sparkContext(), "prepare", "reading", bytes, lines::add, 20)) {
            read = spark.read().text(train.toString()).javaRDD().map(r -> {
                Thread.sleep(1); // a read slow enough for the progress to be seen while it runs
                return r;
            }).count();
            spark.sparkContext().listenerBus().waitUntilEmpty();
            assertEquals(read, p.rows(), "Spark's records-read metric: every line");
            p.close(read);
        }
        assertTrue(lines.stream().anyMatch(l -> l.matches("reading: \\d+ rows \\(\\d+% of 0 MB\\) \\| \\d+ rows/s"
                + " \\| ETA .*")), lines.toString());
        assertTrue(lines.get(lines.size() - 1).matches("reading: " + read + " rows in \\d+s \\(\\d+ rows/s\\)"),
                lines.toString());
        assertEquals(new String(Files.readAllBytes(train), StandardCharsets.UTF_8).lines().count(), read);
    }
}
