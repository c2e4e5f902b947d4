package org.chainrule.pipelines.data;

import org.apache.spark.sql.SparkSession;
import org.chainrule.pipelines.SparkTesting;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Real-valued CSV with a column schema, shuffled holdouts, standardization statistics, and text corpora. */
class DomainDataTest {
    private final SparkSession spark = SparkTesting.spark();

    /** 60 rows sorted by class (like the sklearn CSVs): class c has values around 10 c; columns x, skip, y, label. */
    private static Path sortedCsv(Path dir) throws IOException {
        Files.createDirectories(dir);
        StringBuilder sb = new StringBuilder("x,skip,y,label\n");
        for (int i = 0; i < 60; i++) {
            int c = i / 20;
            sb.append(10.0 * c + 0.25 * (i % 20)).append(",999,").append(-3.5 + 0.125 * i).append(',').append(c)
                    .append('\n');
        }
        Path f = dir.resolve("sorted.csv");
        Files.writeString(f, sb.toString());
        return f;
    }

    private static Prepare.Settings realCsv(Path csv, Path out, List<String> columns, String holdout) {
        return Prepare.Settings.builder("csv", List.of(csv.toString())).output(out.toString()).shape(2)
                .holdout(new Holdout(10, 12, holdout, 5)).encoding(new Encoding(2, 1, "none", 1, true))
                .readers(new Readers.Options(',', true, 3, columns, 0, null)).build();
    }

    @Test
    void realCsvColumnsAreSelectedByNameStoredAsFloatsAndStandardizedOnTrain(@TempDir Path tmp) throws IOException {
        Path csv = sortedCsv(tmp.resolve("raw"));
        Manifest m = Prepare.run(spark, realCsv(csv, tmp.resolve("out"), List.of("x", "y"), "shuffled"));
        assertEquals("real", m.valueType());
        assertEquals(List.of(38L, 10L, 12L), List.of(m.splits().get("train").rows(), m.splits().get("valid").rows(),
                m.splits().get("test").rows()));
        assertEquals(3, m.domain().classes());

        String dir = tmp.resolve("out").toString();
        List<Example> train = Shards.read(spark, dir, "train", m).collect();
        double[] sum = new double[2];
        double[] sq = new double[2];
        for (Example e : train) {
            double[] v = Standardization.decode(e.x(), 2);
            int i = (int) e.rowId();
            assertEquals(10.0 * (i / 20) + 0.25 * (i % 20), v[0], 1e-6, "column x of row " + i);
            assertEquals(-3.5 + 0.125 * i, v[1], 1e-6, "column y (the 'skip' column is not a value)");
            assertEquals(i / 20, e.label());
            for (int d = 0; d < 2; d++) {
                sum[d] += v[d];
                sq[d] += v[d] * v[d];
            }
        }
        for (int d = 0; d < 2; d++) {
            double mean = sum[d] / train.size();
            double std = Math.sqrt((sq[d] - train.size() * mean * mean) / (train.size() - 1));
            assertEquals(mean, m.domain().mean()[d], 1e-9, "mean of column " + d);
            assertEquals(std, m.domain().std()[d], 1e-9, "std of column " + d);
        }
        // the shuffled holdout draws its test rows from every class even though the file is sorted by class
        Set<Integer> testClasses = Shards.read(spark, dir, "test", m).collect().stream().map(Example::label)
                .collect(Collectors.toSet());
        assertTrue(testClasses.size() >= 2, "test classes " + testClasses);
        Manifest back = Manifest.read(dir, spark.sparkContext().hadoopConfiguration());
        assertEquals(m.domain(), back.domain());

        Manifest again = Prepare.run(spark, realCsv(csv, tmp.resolve("again"), List.of("x", "y"), "shuffled"));
        assertEquals(m.splits(), again.splits(), "the shuffled holdout is the same on every run");
    }

    @Test
    void tailHoldoutTakesTestLastAndValidationBeforeIt(@TempDir Path tmp) throws IOException {
        Path csv = sortedCsv(tmp.resolve("raw"));
        Manifest m = Prepare.run(spark, realCsv(csv, tmp.resolve("out"), List.of("0", "2"), "tail"));
        String dir = tmp.resolve("out").toString();
        assertTrue(Shards.read(spark, dir, "test", m).collect().stream().allMatch(e -> e.rowId() >= 48));
        assertTrue(Shards.read(spark, dir, "valid", m).collect().stream()
                .allMatch(e -> e.rowId() >= 38 && e.rowId() < 48));
    }

    @Test
    void badRealValuesAndUnknownColumnsAreNamed(@TempDir Path tmp) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("raw"));
        StringBuilder sb = new StringBuilder("x,skip,y,label\n");
        for (int i = 0; i < 30; i++) {
            sb.append(i == 7 ? "NaN" : i == 9 ? "1e99" : String.valueOf(i)).append(",a,")
                    .append(i == 11 ? "two" : "2").append(",0\n");
        }
        Path csv = dir.resolve("bad.csv");
        Files.writeString(csv, sb.toString());
        String msg = PrepareTest.rootMessages(assertThrows(Exception.class,
                () -> Prepare.run(spark, realCsv(csv, tmp.resolve("out"), List.of("x", "y"), "tail"))));
        assertTrue(msg.contains("3 bad record(s)"), msg);
        assertTrue(msg.contains("row 8 column 1: value is NaN"), msg);
        assertTrue(msg.contains("row 10 column 1: value 1.0E99 does not fit in float32"), msg);
        assertTrue(msg.contains("row 12 column 3: not a number: 'two'"), msg);

        String unknown = PrepareTest.rootMessages(assertThrows(Exception.class,
                () -> Prepare.run(spark, realCsv(csv, tmp.resolve("out2"), List.of("x", "z"), "tail"))));
        assertTrue(unknown.contains("no column named 'z'"), unknown);
    }

    @Test
    void holdoutPermutationIsABijection() {
        for (long n : new long[]{1, 2, 3, 7, 64, 65, 1000, 4097}) {
            Set<Long> seen = new HashSet<>();
            for (long i = 0; i < n; i++) {
                long p = Holdout.permute(i, n, 42);
                assertTrue(p >= 0 && p < n);
                seen.add(p);
            }
            assertEquals(n, seen.size(), "permutation of " + n);
        }
        List<Long> a = new ArrayList<>();
        List<Long> b = new ArrayList<>();
        for (long i = 0; i < 100; i++) {
            a.add(Holdout.permute(i, 100, 1));
            b.add(Holdout.permute(i, 100, 2));
        }
        assertTrue(!a.equals(b), "the seed changes the permutation");
    }

    private static Prepare.Settings text(Path file, Path out, String vocabulary, boolean quarantine) {
        return Prepare.Settings.builder("text", List.of(file.toString())).output(out.toString()).shape(5)
                .holdout(new Holdout(2, 2, "tail", 0)).encoding(new Encoding(5, 1, "none", 1))
                .readers(new Readers.Options(',', false, -1, List.of(), 5, vocabulary)).shards(3)
                .quarantine(quarantine).build();
    }

    @Test
    void textIsCutIntoSequencesOverItsOwnVocabulary(@TempDir Path tmp) throws IOException {
        String corpus = "In the beginning was the word.\nAnd the word was with it. Tail";
        Path f = Files.createDirectories(tmp.resolve("raw")).resolve("corpus.txt");
        Files.writeString(f, corpus);
        Manifest m = Prepare.run(spark, text(f, tmp.resolve("out"), "", false));
        String vocabulary = m.domain().vocabulary();
        assertEquals(corpus.chars().distinct().count(), vocabulary.length());
        assertEquals("uint8", m.valueType());
        assertEquals(vocabulary.length(), m.domain().levels());
        assertArrayEquals(new long[]{5}, m.shape());
        int records = corpus.length() / 5;
        assertEquals(corpus.length() % 5, ((Number) m.details().get("charactersInNoRecord")).intValue());
        assertEquals(List.of(records - 4L, 2L, 2L), List.of(m.splits().get("train").rows(),
                m.splits().get("valid").rows(), m.splits().get("test").rows()));

        Map<Long, String> decoded = new TreeMap<>();
        for (String split : List.of("train", "valid", "test")) {
            for (Example e : Shards.read(spark, tmp.resolve("out").toString(), split, m).collect()) {
                StringBuilder sb = new StringBuilder();
                for (int i = 0; i < 5; i++) {
                    sb.append(vocabulary.charAt(e.value(i)));
                }
                decoded.put(e.rowId(), sb.toString());
            }
        }
        assertEquals(corpus.substring(0, records * 5), String.join("", decoded.values()),
                "the records are the text, in order, over the vocabulary");
        assertNull(m.domain().mean());
    }

    @Test
    void aCharacterOutsideAFixedVocabularyIsNamed(@TempDir Path tmp) throws IOException {
        Path f = Files.createDirectories(tmp.resolve("raw")).resolve("corpus.txt");
        StringBuilder text = new StringBuilder("abc".repeat(14).substring(0, 40));
        text.setCharAt(12, ' '); // record 3 (1-based), position 3
        Files.writeString(f, text.toString());
        String msg = PrepareTest.rootMessages(assertThrows(Exception.class,
                () -> Prepare.run(spark, text(f, tmp.resolve("out"), "abc", false))));
        assertTrue(msg.contains("corpus.txt row 3 column 3: character ' ' is not in the vocabulary"), msg);
        Manifest m = Prepare.run(spark, text(f, tmp.resolve("q"), "abc", true));
        assertEquals(1L, m.rejected().get("train") + m.rejected().get("valid") + m.rejected().get("test"),
                "only the record holding the space is set aside");
    }
}
