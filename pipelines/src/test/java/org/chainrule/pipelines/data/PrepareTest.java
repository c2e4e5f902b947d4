package org.chainrule.pipelines.data;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.chainrule.pipelines.SparkTesting;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PrepareTest {
    private final SparkSession spark = SparkTesting.spark();

    @Test
    void mnistSliceIsSplitShardedAndReproducible(@TempDir Path tmp) {
        Path raw = SparkTesting.mnistSlice(tmp.resolve("raw"));
        Manifest a = Prepare.run(spark, SparkTesting.sliceSettings(raw, tmp.resolve("a").toString(), 0, 200));
        Manifest b = Prepare.run(spark, SparkTesting.sliceSettings(raw, tmp.resolve("b").toString(), 0, 200));
        assertEquals(a.splits(), b.splits(), "same input and seed must give the same bits");
        assertEquals(List.of(1000L, 200L, 300L), List.of(a.splits().get("train").rows(),
                a.splits().get("valid").rows(), a.splits().get("test").rows()));
        Manifest back = Manifest.read(tmp.resolve("a").toString(), spark.sparkContext().hadoopConfiguration());
        assertEquals(a.splits(), back.splits());

        List<Example> train = Shards.read(spark, tmp.resolve("a").toString(), "train", a).collect();
        assertEquals(1000, train.size());
        Example first = train.stream().filter(e -> e.rowId() == 0).findFirst().orElseThrow();
        assertEquals(5, first.label(), "MNIST's first training digit is a 5");
        long ones = 0;
        for (Example e : train) {
            for (byte v : e.x()) {
                assertTrue(v == 0 || v == 1);
                ones += v;
            }
        }
        // MNIST's mean intensity is about 0.13, so stochastic binarization sets about 13% of the bits
        double fraction = ones / (1000.0 * 784);
        assertTrue(fraction > 0.10 && fraction < 0.16, "fraction of ones " + fraction);
        List<Example> valid = Shards.read(spark, tmp.resolve("a").toString(), "valid", a).collect();
        assertTrue(valid.stream().allMatch(e -> e.rowId() >= 1000 && e.rowId() < 1200), "validation = last 200 rows");

        Manifest other = Prepare.run(spark, withSeed(SparkTesting.sliceSettings(raw, tmp.resolve("c").toString(), 0, 200), 2));
        assertNotEquals(a.splits().get("train").checksum(), other.splits().get("train").checksum());
    }

    @Test
    void limitTakesTheFirstRows(@TempDir Path tmp) {
        Path raw = SparkTesting.mnistSlice(tmp.resolve("raw"));
        Manifest m = Prepare.run(spark, SparkTesting.sliceSettings(raw, tmp.resolve("out").toString(), 100, 20));
        assertEquals(80, m.splits().get("train").rows());
        assertEquals(20, m.splits().get("valid").rows());
        assertEquals(100, m.splits().get("test").rows());
    }

    @Test
    void existingOutputIsNotOverwrittenByDefault(@TempDir Path tmp) {
        Path raw = SparkTesting.mnistSlice(tmp.resolve("raw"));
        String out = tmp.resolve("out").toString();
        Prepare.run(spark, SparkTesting.sliceSettings(raw, out, 50, 10));
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> Prepare.run(spark, SparkTesting.sliceSettings(raw, out, 50, 10)));
        assertTrue(e.getMessage().contains("already exists"), e.getMessage());
    }

    @Test
    void badCsvRowsAreReportedWithFileRowAndColumn(@TempDir Path tmp) throws IOException {
        Path csv = tmp.resolve("bad.csv");
        Files.writeString(csv, String.join("\n",
                "0,1,2,3",
                "0,1,2",          // row 2: wrong width
                "0,NaN,2,3",      // row 3: NaN in column 2
                "0,1,300,3",      // row 4: pixel 300 in column 3
                "0,1,x,3",        // row 5: not a number in column 3
                "4,5,6,7", ""));
        Path test = tmp.resolve("test.csv");
        Files.writeString(test, "1,2,3,4\n5,6,7,8\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Prepare.run(spark, csvSettings(csv, test, tmp.resolve("out"), "stochastic", 255, false)));
        String msg = e.getMessage();
        assertTrue(msg.startsWith("4 bad record(s)"), msg);
        assertTrue(msg.contains("bad.csv row 2: expected 4 values, found 3"), msg);
        assertTrue(msg.contains("bad.csv row 3 column 2: value is NaN"), msg);
        assertTrue(msg.contains("bad.csv row 4 column 3: value 300.0 outside [0, 255.0]"), msg);
        assertTrue(msg.contains("bad.csv row 5 column 3: not a number: 'x'"), msg);
        assertFalse(Files.exists(tmp.resolve("out")), "a failed prepare leaves no output");
    }

    @Test
    void quarantinedRowsAreWrittenAndCounted(@TempDir Path tmp) throws IOException {
        Path csv = tmp.resolve("train.csv");
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 20; i++) {
            sb.append(i == 7 ? "0,1,2" : i == 12 ? "1,2,999,0" : "1,2,3,4").append('\n');
        }
        Files.writeString(csv, sb);
        Path test = tmp.resolve("test.csv");
        Files.writeString(test, "1,2,3,4\nNaN,1,1,1\n");
        Path out = tmp.resolve("out");
        Manifest m = Prepare.run(spark, csvSettings(csv, test, out, "threshold", 255, true));
        // 20 rows: rows 1-15 train, 16-20 validation; rows 8 (width) and 13 (999) rejected from train
        assertEquals(13, m.splits().get("train").rows());
        assertEquals(5, m.splits().get("valid").rows());
        assertEquals(1, m.splits().get("test").rows());
        assertEquals(2L, m.rejected().get("train"));
        assertEquals(0L, m.rejected().get("valid"));
        assertEquals(1L, m.rejected().get("test"));
        Dataset<Row> rejects = spark.read().parquet(out.resolve("rejects").toString());
        assertEquals(3, rejects.count());
        Row width = rejects.filter("row = 8").first();
        assertEquals("train", width.getString(0));
        assertTrue(width.getString(1).endsWith("train.csv"));
        assertTrue(width.isNullAt(3));
        assertEquals("expected 4 values, found 3", width.getString(4));
        assertEquals(3, rejects.filter("row = 13").first().getInt(3));
    }

    @Test
    void nonBinaryValuesAreRejectedForBinaryData(@TempDir Path tmp) throws IOException {
        Path csv = tmp.resolve("bits.csv");
        Files.writeString(csv, "0,1,1,0\n1,0.5,1,0\n1,1,1,1\n0,0,0,1\n");
        Path test = tmp.resolve("test.csv");
        Files.writeString(test, "0,1,1,0\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Prepare.run(spark, csvSettings(csv, test, tmp.resolve("out"), "none", 1, false)));
        assertTrue(e.getMessage().contains("bits.csv row 2 column 2: non-binary value 0.5"), e.getMessage());
    }

    @Test
    void missingInputIsNamed(@TempDir Path tmp) {
        Path nowhere = tmp.resolve("no-such-file.csv");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Prepare.run(spark, csvSettings(nowhere, nowhere, tmp.resolve("out"), "none", 255, false)));
        assertTrue(e.getMessage().contains("input not found") && e.getMessage().contains("no-such-file.csv"),
                e.getMessage());
    }

    @Test
    void truncatedIdxFileIsNamed(@TempDir Path tmp) throws IOException {
        Path raw = SparkTesting.mnistSlice(tmp.resolve("raw"));
        byte[] images;
        try (GZIPInputStream in = new GZIPInputStream(Files.newInputStream(raw.resolve("t10k-images-idx3-ubyte.gz")))) {
            images = in.readAllBytes();
        }
        Path cut = tmp.resolve("cut-images");
        try (OutputStream out = Files.newOutputStream(cut)) {
            out.write(images, 0, 16 + 784 * 10 + 100);
        }
        Prepare.Settings s = SparkTesting.sliceSettings(raw, tmp.resolve("out").toString(), 0, 200);
        Prepare.Settings bad = s.toBuilder().test(List.of(cut.toString())).testLabels(List.of()).build();
        Exception e = assertThrows(Exception.class, () -> Prepare.run(spark, bad));
        assertTrue(rootMessages(e).contains("cut-images: truncated at image 11 of 300"), rootMessages(e));
    }

    @Test
    void corruptShardFailsNamingTheFile(@TempDir Path tmp) throws IOException {
        Path raw = SparkTesting.mnistSlice(tmp.resolve("raw"));
        String out = tmp.resolve("out").toString();
        Manifest m = Prepare.run(spark, SparkTesting.sliceSettings(raw, out, 100, 20));
        Path shard;
        try (var files = Files.list(Path.of(out, "test"))) {
            shard = files.filter(p -> p.getFileName().toString().endsWith(".parquet")).findFirst().orElseThrow();
        }
        Files.write(shard, "this is not parquet".getBytes());
        Exception e = assertThrows(Exception.class, () -> Shards.read(spark, out, "test", m).count());
        assertTrue(rootMessages(e).contains(shard.getFileName().toString()), rootMessages(e));
    }

    @Test
    void parquetSourcesAreRead(@TempDir Path tmp) {
        StructType schema = new StructType().add("a", DataTypes.DoubleType).add("b", DataTypes.IntegerType)
                .add("label", DataTypes.IntegerType).add("c", DataTypes.FloatType);
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            rows.add(RowFactory.create(i % 2 * 1.0, i % 3 == 0 ? 1 : 0, i % 10, i == 5 ? 7f : 1f));
        }
        String train = tmp.resolve("train.parquet").toString();
        spark.createDataFrame(rows, schema).coalesce(2).write().parquet(train);
        Prepare.Settings s = Prepare.Settings.builder("parquet", List.of(train)).test(List.of(train))
                .output(tmp.resolve("out").toString()).shape(3).holdout(Holdout.tail(2))
                .encoding(new Encoding(3, 1, "none", 1)).quarantine(true).build();
        Manifest m = Prepare.run(spark, s);
        assertEquals(9, m.splits().get("train").rows());
        assertEquals(2, m.splits().get("valid").rows());
        assertEquals(1L, m.rejected().get("train"), "the row with c = 7 is out of range");
        List<Example> test = Shards.read(spark, s.output(), "test", m).collect();
        Example row3 = test.stream().filter(e -> e.rowId() == 3).findFirst().orElseThrow();
        assertEquals(3, row3.label());
        assertEquals(List.of(1, 1, 1), List.of(row3.value(0), row3.value(1), row3.value(2)));
    }

    static String rootMessages(Throwable e) {
        StringBuilder sb = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) {
            sb.append(t.getMessage()).append(" | ");
        }
        return sb.toString();
    }

    private static Prepare.Settings csvSettings(Path train, Path test, Path out, String binarize, double max,
                                                boolean quarantine) {
        return Prepare.Settings.builder("csv", List.of(train.toString())).test(List.of(test.toString()))
                .output(out.toString()).shape(4).holdout(Holdout.tail(train.toString().endsWith("train.csv") ? 5 : 1))
                .encoding(new Encoding(4, max, binarize, 3)).quarantine(quarantine).build();
    }

    private static Prepare.Settings withSeed(Prepare.Settings s, long seed) {
        Encoding e = s.encoding();
        return s.toBuilder().encoding(new Encoding(e.width(), e.maxValue(), e.binarize(), seed)).build();
    }
}
