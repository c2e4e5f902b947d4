package org.chainrule.pipelines.data;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.io.compress.CompressionCodec;
import org.apache.hadoop.io.compress.CompressionCodecFactory;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.chainrule.pipelines.io.Outputs;
import org.chainrule.pipelines.spark.JobLabels;
import org.chainrule.pipelines.spark.ReadProgress;
import scala.Tuple2;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.TreeMap;

/**
 * CSV and Parquet sources read through Spark's file data sources: a big file is split into many tasks (Spark's
 * {@code spark.sql.files.maxPartitionBytes}, 128 MB by default; gzip files are one task each), every task streams its
 * rows, and no task ever holds a whole file.
 *
 * <p>Row numbers stay exact: a record is named by its 0-based data row in its file, as when files were read one task
 * each, so binarization seeds, row ids, shards and checksums are the same however the files are split. Parquet gives
 * the row of each record ({@code _metadata.row_index}). CSV is read twice: a first pass counts, per block of a file
 * ({@code _metadata.file_block_start}), its lines and its records (not the header line, not blank lines); the driver
 * turns the counts into each block's first line and first row; the second pass parses. A CSV line that is not UTF-8
 * fails the file naming its line number (every line of the file counted, header and blank lines included).
 */
final class TabularSources {
    private TabularSources() {
    }

    /** Whether {@code format} is read here. */
    static boolean handles(String format) {
        return format.equals("csv") || format.equals("parquet");
    }

    /**
     * The records of the source files (lazy: each action reads the files again, so persist them) and, by
     * {@code split/index}, how many records each file holds.
     */
    record Read(JavaRDD<SourceRecord> records, Map<String, Long> perFile) {
    }

    /** One block of a source file, as Spark splits it: the split it feeds, the file (URI) and its first byte. */
    record Block(String split, String file, long start) implements Serializable {
    }

    /** Reads {@code files} (every split); the counting pass (CSV) or the row counts (Parquet) run now. */
    static Read read(SparkSession spark, String format, List<SourceFile> files, Encoding enc, Readers.Options opt,
                     Configuration conf) {
        Map<String, List<SourceFile>> bySplit = new LinkedHashMap<>();
        files.forEach(f -> bySplit.computeIfAbsent(f.split(), k -> new ArrayList<>()).add(f));
        Map<String, Long> perFile = new HashMap<>();
        JavaRDD<SourceRecord> records = null;
        for (Map.Entry<String, List<SourceFile>> split : bySplit.entrySet()) {
            Map<String, SourceFile> byUri = byUri(split.getKey(), split.getValue());
            JavaRDD<SourceRecord> part = format.equals("csv")
                    ? csv(spark, split.getKey(), byUri, enc, opt, conf, perFile)
                    : parquet(spark, split.getKey(), byUri, enc, perFile);
            records = records == null ? part : records.union(part);
        }
        if (records == null) {
            throw new IllegalArgumentException("no input files");
        }
        return new Read(records, perFile);
    }

    /** The total size in bytes of {@code files}, for progress (an estimate of the rest of the read). */
    static long bytes(java.util.Collection<SourceFile> files, Configuration conf) {
        long total = 0;
        for (SourceFile f : files) {
            try {
                total += Outputs.fs(f.path(), conf).getFileStatus(new Path(f.path())).getLen();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the size of " + f.path(), e);
            }
        }
        return total;
    }

    /** A split's files by the URI Spark reports ({@code _metadata.file_path}). */
    private static Map<String, SourceFile> byUri(String split, List<SourceFile> files) {
        Map<String, SourceFile> out = new LinkedHashMap<>();
        for (SourceFile f : files) {
            if (out.put(uri(f.path()), f) != null) {
                throw new IllegalArgumentException(split + ": the file " + f.path() + " is given twice");
            }
        }
        return out;
    }

    /** A file path as one string whatever its spelling: the URI of the Hadoop path. */
    static String uri(String path) {
        return new Path(path).toUri().toString();
    }

    /** The file of a row, by the path Spark reports for it. */
    private static SourceFile file(Map<String, SourceFile> byUri, String sparkPath) {
        SourceFile f = byUri.get(sparkPath);
        if (f == null) {
            f = byUri.get(uri(new Path(java.net.URI.create(sparkPath)).toString()));
        }
        if (f == null) {
            throw new IllegalStateException("Spark read a file prepare did not list: " + sparkPath);
        }
        return f;
    }

    private static String[] paths(Map<String, SourceFile> byUri) {
        return byUri.values().stream().map(SourceFile::path).toArray(String[]::new);
    }

    // ---------------------------------------------------------------------------------------------------- CSV

    private static JavaRDD<SourceRecord> csv(SparkSession spark, String split, Map<String, SourceFile> byUri,
                                             Encoding enc, Readers.Options opt, Configuration conf,
                                             Map<String, Long> perFile) {
        Map<Integer, int[]> columns = new HashMap<>();
        for (SourceFile f : byUri.values()) {
            String header = firstLine(f, conf, opt.header() && !opt.columns().isEmpty());
            if (!opt.header() || header != null) {
                int[] c = Readers.csvColumns(f, opt, header == null ? null : Readers.fields(header, opt.delimiter()));
                if (c != null) {
                    columns.put(f.index(), c);
                }
            }
        }
        // the text source keeps a line's bytes as they are (no decoding); the cast hands them over untouched
        JavaRDD<Row> lines = readsEvery(spark.read().format("text").load(paths(byUri)), byUri, "text")
                .select(functions.col("value").cast(DataTypes.BinaryType), functions.col("_metadata.file_path"),
                        functions.col("_metadata.file_block_start"))
                .javaRDD();
        JobLabels.describe(spark, "prepare: count the lines of the %s files", split);
        ReadProgress watch = ReadProgress.start(spark.sparkContext(), "prepare", "counting the lines of the " + split
                + " files", bytes(byUri.values(), conf));
        List<Tuple2<Block, long[]>> counted;
        try (watch) {
            counted = count(lines, split, opt.header());
            watch.close(counted.stream().mapToLong(c -> c._2()[0]).sum());
        }
        Map<Block, long[]> firsts = firsts(counted);
        counted.forEach(c -> perFile.merge(split + "/" + file(byUri, c._1().file()).index(), c._2()[1], Long::sum));
        return lines.mapPartitions(it -> new CsvRecords(it, byUri, firsts, columns, enc, opt));
    }

    /** Per block of a file: its lines and its records (not the header line, not blank lines). */
    private static List<Tuple2<Block, long[]>> count(JavaRDD<Row> lines, String split, boolean header) {
        return lines.mapPartitions((Iterator<Row> it) -> {
            List<Tuple2<Block, long[]>> out = new ArrayList<>();
            Block block = null;
            long[] n = null;
            while (it.hasNext()) {
                Row r = it.next();
                long start = r.getLong(2);
                String file = r.getString(1);
                if (block == null || block.start() != start || !block.file().equals(file)) {
                    block = new Block(split, file, start);
                    n = new long[2];
                    out.add(new Tuple2<>(block, n));
                }
                byte[] line = (byte[]) r.get(0);
                boolean isHeader = header && start == 0 && n[0] == 0;
                n[0]++;
                n[1] += isHeader || Readers.blank(line) ? 0 : 1;
            }
            return out.iterator();
        }).collect();
    }

    /** Each block's first line and first record in its file (0-based), from the counts of every block. */
    private static Map<Block, long[]> firsts(List<Tuple2<Block, long[]>> counted) {
        Map<String, TreeMap<Long, long[]>> byFile = new HashMap<>();
        for (Tuple2<Block, long[]> c : counted) {
            if (byFile.computeIfAbsent(c._1().file(), k -> new TreeMap<>()).put(c._1().start(), c._2()) != null) {
                throw new IllegalStateException(c._1().file() + ": Spark read the block at byte " + c._1().start()
                        + " twice");
            }
        }
        Map<Block, long[]> out = new HashMap<>();
        String split = counted.isEmpty() ? null : counted.get(0)._1().split();
        byFile.forEach((file, blocks) -> {
            long line = 0;
            long record = 0;
            for (Map.Entry<Long, long[]> b : blocks.entrySet()) {
                out.put(new Block(split, file, b.getKey()), new long[]{line, record});
                line += b.getValue()[0];
                record += b.getValue()[1];
            }
        });
        return out;
    }

    /** The records of one task's CSV lines, parsed as they stream by, each numbered by its block's first row. */
    private static final class CsvRecords implements Iterator<SourceRecord> {
        private final Iterator<Row> lines;
        private final Map<String, SourceFile> byUri;
        private final Map<Block, long[]> firsts;
        private final Map<Integer, int[]> columns;
        private final Encoding enc;
        private final Readers.Options opt;
        private String file;
        private long start = -1;
        private SourceFile source;
        private long line;
        private long row;
        private SourceRecord next;

        CsvRecords(Iterator<Row> lines, Map<String, SourceFile> byUri, Map<Block, long[]> firsts,
                   Map<Integer, int[]> columns, Encoding enc, Readers.Options opt) {
            this.lines = lines;
            this.byUri = byUri;
            this.firsts = firsts;
            this.columns = columns;
            this.enc = enc;
            this.opt = opt;
        }

        @Override
        public boolean hasNext() {
            while (next == null && lines.hasNext()) {
                Row r = lines.next();
                if (r.getLong(2) != start || !r.getString(1).equals(file)) {
                    file = r.getString(1);
                    start = r.getLong(2);
                    source = TabularSources.file(byUri, file);
                    long[] first = firsts.get(new Block(source.split(), file, start));
                    if (first == null) {
                        throw new IllegalStateException(source.path() + ": the block at byte " + start
                                + " was not counted; the input changed while prepare read it");
                    }
                    line = first[0];
                    row = first[1];
                }
                boolean isHeader = opt.header() && line == 0;
                String text = Readers.utf8Line((byte[]) r.get(0), source.path(), ++line);
                if (!isHeader && !text.isBlank()) {
                    next = Readers.parseCsv(source, row++, Readers.fields(text, opt.delimiter()),
                            columns.get(source.index()), enc, opt);
                }
            }
            return next != null;
        }

        @Override
        public SourceRecord next() {
            if (!hasNext()) {
                throw new NoSuchElementException();
            }
            SourceRecord r = next;
            next = null;
            return r;
        }
    }

    /**
     * {@code table}, once it is sure to read every file of {@code byUri}: Spark's file sources skip files whose names
     * start with {@code _} or {@code .}, and a file given by name must not vanish that way.
     */
    private static Dataset<Row> readsEvery(Dataset<Row> table, Map<String, SourceFile> byUri, String source) {
        java.util.Set<String> read = new java.util.HashSet<>();
        for (String f : table.inputFiles()) {
            read.add(uri(new Path(java.net.URI.create(f)).toString()));
        }
        for (Map.Entry<String, SourceFile> f : byUri.entrySet()) {
            if (!read.contains(f.getKey()) && !read.contains(uri(f.getValue().path()))) {
                throw new IllegalArgumentException(f.getValue().path() + ": Spark's " + source + " source does not read"
                        + " this file (names starting with _ or . are hidden from it); rename it");
            }
        }
        return table;
    }

    /**
     * The first line of a file when {@code wanted} (its header; null for an empty file), decompressed as Spark's text
     * source does, by the file name's extension. Fails for a gzip file whose name does not say so: Spark would read
     * its compressed bytes as text.
     */
    private static String firstLine(SourceFile f, Configuration conf, boolean wanted) {
        Path path = new Path(f.path());
        CompressionCodec codec = new CompressionCodecFactory(conf).getCodec(path);
        try (InputStream raw = new java.io.BufferedInputStream(Outputs.fs(f.path(), conf).open(path));
             InputStream in = codec == null ? raw : codec.createInputStream(raw)) {
            if (codec == null) {
                raw.mark(2);
                if (raw.read() == 0x1f && raw.read() == 0x8b) {
                    throw new IllegalArgumentException(f.path() + ": gzip-compressed, but the name does not end in"
                            + " .gz (files are decompressed by their extension); rename it");
                }
                raw.reset();
            }
            if (!wanted) {
                return null;
            }
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            int b = in.read();
            if (b < 0) {
                return null;
            }
            while (b >= 0 && b != '\n' && b != '\r') {
                line.write(b);
                b = in.read();
            }
            return Readers.utf8Line(line.toByteArray(), f.path(), 1);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + f.path() + ": " + e.getMessage(), e);
        }
    }

    // ------------------------------------------------------------------------------------------------ Parquet

    private static JavaRDD<SourceRecord> parquet(SparkSession spark, String split, Map<String, SourceFile> byUri,
                                                 Encoding enc, Map<String, Long> perFile) {
        Dataset<Row> table = readsEvery(spark.read().parquet(paths(byUri)), byUri, "parquet");
        StructType schema = table.schema();
        for (Row r : table.groupBy(functions.col("_metadata.file_path")).count().collectAsList()) {
            perFile.merge(split + "/" + file(byUri, r.getString(0)).index(), r.getLong(1), Long::sum);
        }
        int fields = schema.size();
        return table.select(functions.col("*"), functions.col("_metadata.file_path"),
                        functions.col("_metadata.row_index"))
                .javaRDD().map(r -> ParquetRecords.record(file(byUri, r.getString(fields)), r.getLong(fields + 1),
                        r, schema, enc));
    }
}
