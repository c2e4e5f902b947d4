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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Values the readers must take exactly as the format defines them or reject as a bad record named by file, row and
 * file column (issue 20): never a rounding, a cast, a default or a replacement character; and input entries a
 * directory listing skips are listed, not silently dropped.
 */
class ExactInputTest {
    private final SparkSession spark = SparkTesting.spark();

    /** CSV settings: 4 values per record, labels in {@code labelColumn}, the given binarization. */
    private static Prepare.Settings csv(Path train, Path test, Path out, int labelColumn, String binarize,
                                        boolean quarantine) {
        return Prepare.Settings.builder("csv", List.of(train.toString())).test(List.of(test.toString()))
                .output(out.toString()).shape(4).holdout(Holdout.tail(1)).encoding(new Encoding(4, 255, binarize, 3))
                .readers(new Readers.Options(',', false, labelColumn)).quarantine(quarantine).build();
    }

    private String failure(Prepare.Settings s) {
        return assertThrows(IllegalArgumentException.class, () -> Prepare.run(spark, s)).getMessage();
    }

    @Test
    void labelsAreWholeClassIndicesOrTheRecordIsBad(@TempDir Path tmp) throws IOException {
        Path train = tmp.resolve("train.csv");
        Files.writeString(train, String.join("\n", "1,0,1,2,3", "-3,0,1,2,3", "2.7,0,1,2,3", "NaN,0,1,2,3",
                "1e10,0,1,2,3", "2147483647,0,1,2,3", "3f,0,1,2,3", "2.0,0,1,2,3", "4,0,1,2,3", ""));
        Path test = tmp.resolve("test.csv");
        Files.writeString(test, "1,0,1,2,3\n");
        String msg = failure(csv(train, test, tmp.resolve("out"), 0, "none", false));
        assertTrue(msg.startsWith("6 bad record(s)"), msg);
        for (String[] bad : new String[][]{{"2", "-3"}, {"3", "2.7"}, {"4", "NaN"}, {"5", "1e10"}, {"6", "2147483647"},
                {"7", "3f"}}) {
            assertTrue(msg.contains("train.csv row " + bad[0] + " column 1: label '" + bad[1] + "' is not a class"
                    + " index (an integer 0..2147483646)"), msg);
        }
        assertFalse(Files.exists(tmp.resolve("out")));

        Manifest m = Prepare.run(spark, csv(train, test, tmp.resolve("q"), 0, "none", true));
        assertEquals(6L, m.rejected().get("train"));
        assertEquals(3, m.domain().classes(), "training labels 1 and 2 (written 2.0): classes 0..2");
    }

    @Test
    void aBadValueIsNamedByItsColumnInTheFile(@TempDir Path tmp) throws IOException {
        Path train = tmp.resolve("train.csv");
        // label first: value 300 sits in file column 4 (it is the 3rd value)
        Files.writeString(train, "1,0,1,2,3\n2,0,1,300,3\n1,0,1,2,3\n");
        Path test = tmp.resolve("test.csv");
        Files.writeString(test, "1,0,1,2,3\n");
        assertTrue(failure(csv(train, test, tmp.resolve("a"), 0, "none", false))
                .contains("train.csv row 2 column 4: value 300.0 outside [0, 255.0]"));
        // label in the middle: columns after it are not shifted either
        Files.writeString(train, "0,1,7,2,3\n0,1,7,2,-1\n0,1,7,2,3\n");
        Files.writeString(test, "0,1,7,2,3\n");
        assertTrue(failure(csv(train, test, tmp.resolve("b"), 2, "none", false))
                .contains("train.csv row 2 column 5: value -1.0 outside [0, 255.0]"));
    }

    @Test
    void integerDataIsNeverRounded(@TempDir Path tmp) throws IOException {
        Path train = tmp.resolve("train.csv");
        Files.writeString(train, String.join("\n", "0,1,2,3", "0,12.5,2,3", "0,1,12.0000000000000001,3", "0,1,2,1d",
                "0,1,2,3", "0,1,2e1,3", ""));
        Path test = tmp.resolve("test.csv");
        Files.writeString(test, "0,1,2,3\n");
        // stochastic binarization reads integer pixels too: a fraction is no pixel value
        String msg = failure(csv(train, test, tmp.resolve("out"), -1, "stochastic", false));
        assertTrue(msg.startsWith("3 bad record(s)"), msg);
        assertTrue(msg.contains("train.csv row 2 column 2: non-integer value 12.5"), msg);
        assertTrue(msg.contains("train.csv row 3 column 3: non-integer value '12.0000000000000001'"), msg);
        assertTrue(msg.contains("train.csv row 4 column 4: not a number: '1d'"), msg);
    }

    @Test
    void parquetLabelsAreCheckedAndNamedByColumn(@TempDir Path tmp) {
        StructType schema = new StructType().add("label", DataTypes.DoubleType, true).add("a", DataTypes.IntegerType)
                .add("b", DataTypes.IntegerType);
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            Double label = (double) (i % 3);
            if (i == 3 || i == 5 || i == 7) {
                label = i == 3 ? Double.valueOf(2.7) : i == 7 ? Double.valueOf(-1.0) : null;
            }
            rows.add(RowFactory.create(label, 1, i == 8 ? 2 : 0));
        }
        String train = tmp.resolve("train.parquet").toString();
        spark.createDataFrame(rows, schema).coalesce(1).write().parquet(train);
        Prepare.Settings s = Prepare.Settings.builder("parquet", List.of(train)).test(List.of(train))
                .output(tmp.resolve("out").toString()).shape(2).holdout(Holdout.tail(1))
                .encoding(new Encoding(2, 1, "none", 1)).quarantine(true).build();
        Manifest m = Prepare.run(spark, s);
        assertEquals(4L, m.rejected().get("train"), "labels 2.7, null and -1, and the value 2 of a binary column");
        Dataset<Row> rejects = spark.read().parquet(s.output() + "/rejects").filter("split = 'train'").orderBy("row");
        List<Row> r = rejects.collectAsList();
        assertEquals(List.of(4L, 6L, 8L, 9L), r.stream().map(x -> x.getLong(2)).toList());
        assertEquals("label 2.7 is not a class index (an integer 0..2147483646)", r.get(0).getString(4));
        assertEquals("the label is null", r.get(1).getString(4));
        assertEquals(List.of(1, 1, 1, 3), r.stream().map(x -> x.getInt(3)).toList(),
                "the label is column 1; the bad value of b is column 3, counting the label");
    }

    @Test
    void textThatIsNotUtf8FailsNamingTheByte(@TempDir Path tmp) throws IOException {
        Path text = tmp.resolve("corpus.txt");
        byte[] good = "abcab\ncabca\nbcabc\nabcab\n".getBytes();
        byte[] bad = new byte[good.length + 2];
        System.arraycopy(good, 0, bad, 0, 14);
        bad[14] = (byte) 0xC3; // a lead byte followed by no continuation byte
        bad[15] = (byte) 0x28;
        System.arraycopy(good, 14, bad, 16, good.length - 14);
        Files.write(text, bad);
        Prepare.Settings s = Prepare.Settings.builder("text", List.of(text.toString()))
                .output(tmp.resolve("out").toString()).shape(5).holdout(new Holdout(1, 1, "tail", 0))
                .encoding(new Encoding(5, 1, "none", 1)).readers(new Readers.Options(',', false, -1, List.of(), 5, ""))
                .quarantine(true).build();
        Exception e = assertThrows(Exception.class, () -> Prepare.run(spark, s));
        assertTrue(PrepareTest.rootMessages(e).contains("corpus.txt: not UTF-8 text: malformed bytes at byte offset 14"
                + " (line 3, character 14 of the file)"), PrepareTest.rootMessages(e));
        assertFalse(Files.exists(tmp.resolve("out")));

        Path csv = tmp.resolve("latin1.csv");
        Files.write(csv, new byte[]{'0', ',', '1', ',', '2', ',', '3', '\n', '0', ',', (byte) 0xE9, ',', '2', ',', '3'});
        Exception c = assertThrows(Exception.class, () -> Prepare.run(spark, csv(csv, csv, tmp.resolve("o2"), -1,
                "none", true)));
        assertTrue(PrepareTest.rootMessages(c).contains("latin1.csv line 2: not UTF-8 text (Input length = 1)"),
                PrepareTest.rootMessages(c));
    }

    @Test
    void inputEntriesThatAreNotReadAreListed(@TempDir Path tmp) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("in"));
        Files.writeString(dir.resolve("a.csv"), "0,1,2,3\n1,1,1,1\n2,2,2,2\n");
        Files.writeString(dir.resolve("_SUCCESS"), "");
        Files.writeString(dir.resolve(".b.csv"), "9,9,9,9\n");
        Files.createDirectories(dir.resolve("more")).resolve("c.csv").toFile().createNewFile();
        Path test = tmp.resolve("test.csv");
        Files.writeString(test, "0,1,2,3\n");
        Manifest m = Prepare.run(spark, csv(dir, test, tmp.resolve("out"), -1, "none", false));
        assertEquals(2, m.splits().get("train").rows());
        @SuppressWarnings("unchecked")
        Map<String, Object> skipped = (Map<String, Object>) m.details().get("skippedInputs");
        assertEquals(3, skipped.get("count"));
        String entries = skipped.get("entries").toString();
        assertTrue(entries.contains(".b.csv (hidden: the name starts with .)") && entries.contains("_SUCCESS (hidden")
                && entries.contains("more (a directory: directories are not read recursively)"), entries);
        @SuppressWarnings("unchecked")
        Map<String, Object> back = (Map<String, Object>) Manifest.read(tmp.resolve("out").toString(),
                spark.sparkContext().hadoopConfiguration()).details().get("skippedInputs");
        assertEquals(3, ((Number) back.get("count")).intValue(), "the manifest on disk lists them");
    }
}
