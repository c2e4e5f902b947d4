package org.chainrule.pipelines.data;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.storage.StorageLevel;
import org.chainrule.pipelines.Progress;
import org.chainrule.pipelines.io.Artefact;
import org.chainrule.pipelines.io.HadoopConf;
import org.chainrule.pipelines.io.OutputGuard;
import org.chainrule.pipelines.io.Outputs;
import org.chainrule.pipelines.spark.JobLabels;
import org.chainrule.pipelines.spark.ReadProgress;
import scala.Tuple2;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The prepare pipeline: reads source files in parallel (CSV and Parquet through Spark's data sources, many tasks per
 * big file, see {@link TabularSources}; idx and text one task per file), validates and encodes every record,
 * splits train into train + validation (the last {@code validationRows} records of train, in file order), and writes
 * each split as Parquet shards plus {@code manifest.json}. Bad records either fail the job, listing the first ones with
 * file/row/column, or are quarantined to {@code rejects/} and counted in the manifest.
 */
public final class Prepare {
    private static final StructType REJECT_SCHEMA = new StructType()
            .add("split", DataTypes.StringType).add("file", DataTypes.StringType)
            .add("row", DataTypes.LongType).add("column", DataTypes.IntegerType).add("reason", DataTypes.StringType);

    private Prepare() {
    }

    /**
     * Settings of a prepare run.
     *
     * @param sources    what to read
     * @param encoding   validation and binarization
     * @param shape      event shape
     * @param holdout    how the validation and test splits are chosen
     * @param output     dataset directory to create
     * @param shards     Parquet files per split (at most)
     * @param quarantine true: write bad rows to {@code rejects/} and count them; false: fail on the first ones
     * @param overwrite  replace an existing output
     * @param perturbation values resampled after encoding (a background model's data); {@link Perturbation#none()}
     */
    public record Settings(Sources sources, Encoding encoding, long[] shape, Holdout holdout, String output,
                           int shards, boolean quarantine, boolean overwrite, Perturbation perturbation) {
        /** Settings without perturbation. */
        public Settings(Sources sources, Encoding encoding, long[] shape, Holdout holdout, String output,
                        int shards, boolean quarantine, boolean overwrite) {
            this(sources, encoding, shape, holdout, output, shards, quarantine, overwrite, Perturbation.none());
        }

        public Settings {
            if (sources.test().isEmpty() != (holdout.testRows() > 0)) {
                throw new IllegalArgumentException(sources.test().isEmpty()
                        ? "no test files: set test-rows to hold out that many training records as the test split"
                        : "test-rows = " + holdout.testRows() + " but test files are given; use one or the other");
            }
            shape = shape.clone();
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        /** A builder for the settings of reading {@code train} files of a format (more with its setters). */
        public static Builder builder(String format, List<String> train) {
            return new Builder(format, train);
        }

        /** A builder that starts from these settings. */
        public Builder toBuilder() {
            Builder b = new Builder(sources.format(), sources.train());
            b.trainLabels = sources.trainLabels();
            b.test = sources.test();
            b.testLabels = sources.testLabels();
            b.readers = sources.readers();
            b.limit = sources.limit();
            b.encoding = encoding;
            b.shape = shape;
            b.holdout = holdout;
            b.output = output;
            b.shards = shards;
            b.quarantine = quarantine;
            b.overwrite = overwrite;
            b.perturbation = perturbation;
            return b;
        }

        /** Builds {@link Settings}; anything not set keeps the value noted at its setter. */
        public static final class Builder {
            private final String format;
            private final List<String> train;
            private List<String> trainLabels = List.of();
            private List<String> test = List.of();
            private List<String> testLabels = List.of();
            private Readers.Options readers = new Readers.Options(',', false, -1);
            private long limit;
            private Encoding encoding;
            private long[] shape;
            private Holdout holdout = Holdout.tail(0);
            private String output;
            private int shards = 2;
            private boolean quarantine;
            private boolean overwrite;
            private Perturbation perturbation = Perturbation.none();

            private Builder(String format, List<String> train) {
                this.format = format;
                this.train = train;
            }

            /** idx label files matching the training files (default none). */
            public Builder trainLabels(List<String> v) {
                trainLabels = v;
                return this;
            }

            /** Test source files (default none: then the holdout names test rows). */
            public Builder test(List<String> v) {
                test = v;
                return this;
            }

            /** idx label files matching the test files (default none). */
            public Builder testLabels(List<String> v) {
                testLabels = v;
                return this;
            }

            /** CSV / text reading options (default: comma, no header, no label column). */
            public Builder readers(Readers.Options v) {
                readers = v;
                return this;
            }

            /** Records kept from each source split (default 0 = all). */
            public Builder limit(long v) {
                limit = v;
                return this;
            }

            /** Required. */
            public Builder encoding(Encoding v) {
                encoding = v;
                return this;
            }

            /** Required. */
            public Builder shape(long... v) {
                shape = v.clone();
                return this;
            }

            /** Default: no validation rows, test from its own files. */
            public Builder holdout(Holdout v) {
                holdout = v;
                return this;
            }

            /** Required. */
            public Builder output(String v) {
                output = v;
                return this;
            }

            /** Default 2. */
            public Builder shards(int v) {
                shards = v;
                return this;
            }

            /** Default false (fail on bad records). */
            public Builder quarantine(boolean v) {
                quarantine = v;
                return this;
            }

            /** Default false. */
            public Builder overwrite(boolean v) {
                overwrite = v;
                return this;
            }

            /** Default none. */
            public Builder perturbation(Perturbation v) {
                perturbation = v;
                return this;
            }

            public Settings build() {
                return new Settings(new Sources(format, train, trainLabels, test, testLabels, readers, limit),
                        java.util.Objects.requireNonNull(encoding, "encoding"),
                        java.util.Objects.requireNonNull(shape, "shape"), holdout,
                        java.util.Objects.requireNonNull(output, "output"), shards, quarantine, overwrite,
                        perturbation);
            }
        }
    }

    /**
     * The source files of a prepare run.
     *
     * @param format      {@code idx}, {@code csv}, {@code parquet} or {@code text}
     * @param train       training source files, directories or globs
     * @param trainLabels idx label files matching {@code train} (empty for other formats)
     * @param test        test source files (may be empty when the holdout takes test rows from train)
     * @param testLabels  idx label files matching {@code test}
     * @param readers     CSV and text options
     * @param limit       keep only the first {@code limit} records of each source split (0 = all)
     */
    public record Sources(String format, List<String> train, List<String> trainLabels, List<String> test,
                          List<String> testLabels, Readers.Options readers, long limit) {
        /** The same sources read with other options (the text vocabulary found by a scan). */
        public Sources withReaders(Readers.Options r) {
            return new Sources(format, train, trainLabels, test, testLabels, r, limit);
        }
    }

    /** Runs the pipeline; returns the manifest written. */
    public static Manifest run(SparkSession spark, Settings s) {
        Configuration hconf = spark.sparkContext().hadoopConfiguration();
        Sources src = s.sources();
        List<SourceFile> files = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        files.addAll(expand("train", src.train(), src.trainLabels(), src.format(), hconf, skipped));
        files.addAll(expand("test", src.test(), src.testLabels(), src.format(), hconf, skipped));
        OutputGuard.claim(s.output(), Artefact.DATASET, inputs(src, files), s.overwrite(), hconf);
        if (!skipped.isEmpty()) {
            Progress.say("prepare", skipped.size() + " entr" + (skipped.size() == 1 ? "y" : "ies") + " of the input"
                    + " directories not read (listed in the manifest, details.skippedInputs): "
                    + String.join(", ", skipped.subList(0, Math.min(5, skipped.size())))
                    + (skipped.size() > 5 ? ", ..." : ""));
        }

        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        HadoopConf conf = new HadoopConf(hconf);
        String format = src.format();
        Encoding enc = s.encoding();
        Map<String, Object> textFacts = new LinkedHashMap<>();
        JobLabels.describe(spark, "prepare: read sources");
        Readers.Options opt = format.equals("text") ? TextScan.options(jsc, files, src.readers(), conf, textFacts)
                : src.readers();
        Settings settings = opt == src.readers() ? s : new Settings(src.withReaders(opt), s.encoding(), s.shape(),
                s.holdout(), s.output(), s.shards(), s.quarantine(), s.overwrite(), s.perturbation());
        long bytes = TabularSources.handles(format) ? TabularSources.bytes(files, hconf) : 0;
        Function<String, ReadProgress> progress = TabularSources.handles(format)
                ? phase -> ReadProgress.start(spark.sparkContext(), "prepare", phase, bytes) : null;
        TabularSources.Read read = progress != null
                ? TabularSources.read(spark, format, files, enc, opt, hconf)
                : fileByFile(jsc, format, files, enc, opt, conf);
        Perturbation perturb = s.perturbation();
        int levels = format.equals("text") ? opt.vocabulary().length() : enc.levels();
        JavaRDD<SourceRecord> records = (perturb.active() ? read.records().map(r -> perturb.apply(r, levels))
                : read.records()).persist(StorageLevel.MEMORY_AND_DISK_SER());
        try {
            return Outputs.staged(s.output(), hconf, staging -> write(spark, settings, files, skipped, records,
                    read.perFile(), progress, textFacts, staging));
        } finally {
            records.unpersist();
        }
    }

    /** idx and text: one task per file, each file read whole by its reader; every file's records counted. */
    private static TabularSources.Read fileByFile(JavaSparkContext jsc, String format, List<SourceFile> files,
                                                  Encoding enc, Readers.Options opt, HadoopConf conf) {
        JavaRDD<SourceRecord> records = jsc.parallelize(files, files.size()).flatMap(f -> {
            List<SourceRecord> out = new ArrayList<>();
            Readers.read(format, f, enc, opt, conf.get(), out::add);
            return out.iterator();
        }).persist(StorageLevel.MEMORY_AND_DISK_SER());
        Map<String, Long> perFile = new HashMap<>();
        records.mapToPair(r -> new Tuple2<>(r.split() + "/" + r.fileIndex(), 1L)).countByKey()
                .forEach((k, v) -> perFile.put(k, v));
        return new TabularSources.Read(records, perFile);
    }

    /** Places, checks and writes every record into {@code staging}; returns the manifest written there. */
    private static Manifest write(SparkSession spark, Settings s, List<SourceFile> files, List<String> skipped,
                                  JavaRDD<SourceRecord> records, Map<String, Long> perFile,
                                  Function<String, ReadProgress> progress, Map<String, Object> textFacts,
                                  String staging) {
        Configuration hconf = spark.sparkContext().hadoopConfiguration();
        Encoding enc = s.encoding();
        Holdout h = s.holdout();
        JobLabels.describe(spark, "prepare: check records");
        Ordinals ord = Ordinals.of(files, perFile, s.sources().limit(), h.validationRows(), h.testRows(),
                h.mode().equals("shuffled"), h.seed());
        JavaRDD<Placed> placed = records.map(r -> ord.place(r)).filter(p -> p.split() != null);

        JavaRDD<Placed> bad = placed.filter(p -> !p.record().ok());
        long rejects;
        if (progress == null) {
            rejects = bad.count();
        } else {
            // the first pass over the records: it reads the sources (and fills the cache the later passes read)
            try (ReadProgress p = progress.apply("reading and checking records")) {
                rejects = bad.count();
                p.close(perFile.values().stream().mapToLong(Long::longValue).sum());
            }
        }
        Map<String, Long> rejected = new LinkedHashMap<>();
        for (String split : List.of("train", "valid", "test")) {
            rejected.put(split, 0L);
        }
        if (rejects > 0) {
            if (!s.quarantine()) {
                List<Placed> first = bad.takeOrdered(10, new FirstRows());
                StringBuilder msg = new StringBuilder(rejects + " bad record(s) in the input (on-bad-row = fail):");
                first.forEach(p -> msg.append("\n  ").append(p.record().describe()));
                if (rejects > first.size()) {
                    msg.append("\n  ... and ").append(rejects - first.size()).append(" more");
                }
                msg.append("\nFix the input, or set prepare.on-bad-row = quarantine to set them aside and count them.");
                throw new IllegalArgumentException(msg.toString());
            }
            JobLabels.describe(spark, "prepare: quarantine bad records");
            bad.mapToPair(p -> new Tuple2<>(p.split(), 1L)).countByKey().forEach((k, v) -> rejected.put(k, v));
            JavaRDD<Row> rows = bad.map(p -> RowFactory.create(p.split(), p.record().file(), p.record().row() + 1,
                    p.record().column() < 0 ? null : p.record().column() + 1, p.record().error()));
            spark.createDataFrame(rows, REJECT_SCHEMA).coalesce(1).write().parquet(staging + "/rejects");
        }

        Map<String, Manifest.Split> splits = new LinkedHashMap<>();
        JobLabels.describe(spark, "prepare: count the splits' rows");
        Map<String, IdSpan> spans = IdSpan.of(placed.filter(p -> p.record().ok()));
        for (String split : List.of("train", "valid", "test")) {
            JavaRDD<Placed> good = placed.filter(p -> p.record().ok() && p.split().equals(split));
            JobLabels.describe(spark, "prepare: write %s shards", split);
            splits.put(split, writeSplit(spark, good, staging + "/" + split, s.shards(),
                    spans.getOrDefault(split, IdSpan.EMPTY)));
        }
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("format", s.sources().format());
        details.put("train", s.sources().train());
        details.put("test", s.sources().test());
        details.put("binarize", enc.binarize());
        details.put("binarizeSeed", enc.seed());
        details.put("maxValue", enc.maxValue());
        details.put("validationRows", h.validationRows());
        details.put("testRows", h.testRows());
        details.put("holdout", h.mode());
        details.put("holdoutSeed", h.seed());
        details.put("limit", s.sources().limit());
        details.put("skippedInputs", Map.of("count", skipped.size(), "entries",
                skipped.subList(0, Math.min(MAX_LISTED, skipped.size()))));
        details.putAll(textFacts);
        if (s.perturbation().active()) {
            details.put("perturb", s.perturbation().toMap());
        }
        details.put("created", Instant.now().toString());
        JobLabels.describe(spark, "prepare: classes and standardization");
        JavaRDD<SourceRecord> trainRows = placed.filter(p -> p.record().ok() && p.split().equals("train"))
                .map(Placed::record);
        int classes = trainRows.map(SourceRecord::label).fold(-1, Math::max) + 1;
        double[][] standardization = enc.real() ? Standardization.of(trainRows, enc.width(), details) : null;
        String vocabulary = s.sources().format().equals("text") ? s.sources().readers().vocabulary() : null;
        Domain domain = new Domain(vocabulary != null ? "uint8" : enc.valueType(),
                vocabulary != null ? vocabulary.length() : enc.levels(), classes,
                standardization == null ? null : standardization[0], standardization == null ? null : standardization[1],
                vocabulary, enc.real() || vocabulary != null ? null : new Binarization(enc.binarize(), enc.maxValue()));
        Manifest manifest = new Manifest(s.shape(), domain, splits, rejected, details);
        Outputs.writeText(staging + "/" + Manifest.FILE, manifest.toJson(), hconf);
        Artefact.DATASET.mark(staging, hconf);
        return manifest;
    }

    /**
     * Writes one split as shards named {@code part-NNNNN.parquet} (in row-id order) and returns its rows and checksums,
     * computed from the files as written and read back: per shard, and for the split as the sum over its shards.
     * Nothing is cached here: the rows stream from the records' cache through a range shuffle and an external sort
     * (both spill), so a split larger than the executors' memory is written with bounded memory. (A cached DataFrame
     * of the split, Spark's columnar cache, ran the executors out of heap at 5M rows with 1 GB each.)
     */
    private static Manifest.Split writeSplit(SparkSession spark, JavaRDD<Placed> good, String path, int shards,
                                             IdSpan ids) {
        long n = ids.count();
        int parts = (int) Math.max(1, Math.min(shards, n));
        // equal ranges of row ids (not Spark's sampled range boundaries), so the same input gives the same shards
        JavaRDD<Row> ranged = good.map(p -> RowFactory.create(p.ordinal(), p.record().label(), p.record().x()))
                .keyBy(r -> r.getLong(0)).partitionBy(new IdRanges(parts, ids.first(), ids.span())).values();
        spark.createDataFrame(ranged, Shards.SCHEMA).sortWithinPartitions("row_id").write().parquet(path);
        renameShards(path, spark.sparkContext().hadoopConfiguration());
        Map<String, Manifest.Shard> written = new java.util.TreeMap<>(Shards.checksums(spark, path));
        long rowsBack = written.values().stream().mapToLong(Manifest.Shard::rows).sum();
        if (rowsBack != n) {
            throw new IllegalStateException(path + ": wrote " + n + " rows but read back " + rowsBack);
        }
        long sum = written.values().stream().mapToLong(sh -> Long.parseUnsignedLong(sh.checksum(), 16))
                .reduce(0L, Long::sum);
        return new Manifest.Split(n, Manifest.checksum(sum), written);
    }

    /** A split's row count and the range of its row ids (min, max), from one pass over every split's records. */
    record IdSpan(long count, long min, long max) implements java.io.Serializable {
        static final IdSpan EMPTY = new IdSpan(0, 0, 0);

        static Map<String, IdSpan> of(JavaRDD<Placed> placed) {
            return new java.util.HashMap<>(placed.mapToPair(p -> new Tuple2<>(p.split(), new IdSpan(1, p.ordinal(),
                    p.ordinal()))).reduceByKey(IdSpan::plus).collectAsMap());
        }

        IdSpan plus(IdSpan o) {
            return new IdSpan(count + o.count, Math.min(min, o.min), Math.max(max, o.max));
        }

        long first() {
            return count == 0 ? 0 : min;
        }

        long span() {
            return count == 0 ? 1 : max - min + 1;
        }
    }

    /** Spark names shards part-NNNNN-(job uuid)-c000.snappy.parquet; the manifest lists them as part-NNNNN.parquet. */
    private static void renameShards(String dir, Configuration conf) {
        try {
            FileSystem fs = Outputs.fs(dir, conf);
            FileStatus[] files = fs.listStatus(new Path(dir), p -> p.getName().endsWith(".parquet"));
            Arrays.sort(files, Comparator.comparing(f -> f.getPath().getName()));
            for (int i = 0; i < files.length; i++) {
                Path to = new Path(dir, String.format("part-%05d.parquet", i));
                if (!fs.rename(files[i].getPath(), to)) {
                    throw new IOException("cannot rename " + files[i].getPath() + " to " + to);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot name the shards in " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Every path prepare reads: the paths as given and the files found behind them. */
    private static List<String> inputs(Sources s, List<SourceFile> files) {
        List<String> all = new ArrayList<>();
        for (List<String> given : List.of(s.train(), s.trainLabels(), s.test(), s.testLabels())) {
            given.stream().filter(p -> !p.matches(".*[*?\\[{].*")).forEach(all::add);
        }
        for (SourceFile f : files) {
            all.add(f.path());
            if (f.labelsPath() != null) {
                all.add(f.labelsPath());
            }
        }
        return all;
    }

    /** Lists the files behind each given path (a file, a directory of files, or a glob), in a stable order. */
    static List<SourceFile> expand(String split, List<String> paths, List<String> labels, String format,
                                   Configuration conf, List<String> skipped) {
        boolean idx = format.equals("idx");
        if (idx && labels.size() != paths.size() && !labels.isEmpty()) {
            throw new IllegalArgumentException(split + ": " + paths.size() + " idx image file(s) but " + labels.size()
                    + " label file(s)");
        }
        List<SourceFile> out = new ArrayList<>();
        for (int i = 0; i < paths.size(); i++) {
            List<String> found = list(paths.get(i), conf, skipped);
            if (idx && found.size() != 1) {
                throw new IllegalArgumentException(split + ": idx source must be one file, found " + found.size()
                        + " for " + paths.get(i));
            }
            for (String f : found) {
                String label = idx && !labels.isEmpty() ? list(labels.get(i), conf, skipped).get(0) : null;
                out.add(new SourceFile(split, out.size(), f, label));
            }
        }
        return out;
    }

    /** Skipped input entries the manifest lists by name (it counts them all). */
    private static final int MAX_LISTED = 1000;

    /**
     * The files a path names: itself, or the files directly in a directory, or a glob's matches. A directory's hidden
     * entries (names starting with . or _, e.g. checksums and _SUCCESS) and its subdirectories are not read; each is
     * added to {@code skipped} with the reason.
     */
    private static List<String> list(String path, Configuration conf, List<String> skipped) {
        try {
            FileSystem fs = Outputs.fs(path, conf);
            FileStatus[] matches = fs.globStatus(new Path(path));
            if (matches == null || matches.length == 0) {
                throw new IllegalArgumentException("input not found: " + path);
            }
            List<String> files = new ArrayList<>();
            for (FileStatus m : matches) {
                if (m.isDirectory()) {
                    FileStatus[] entries = fs.listStatus(m.getPath());
                    Arrays.sort(entries, Comparator.comparing(st -> st.getPath().getName()));
                    for (FileStatus st : entries) {
                        String name = st.getPath().getName();
                        if (st.isDirectory()) {
                            skipped.add(st.getPath() + " (a directory: directories are not read recursively)");
                        } else if (name.startsWith(".") || name.startsWith("_")) {
                            skipped.add(st.getPath() + " (hidden: the name starts with " + name.charAt(0) + ")");
                        } else {
                            files.add(st.getPath().toString());
                        }
                    }
                } else {
                    files.add(m.getPath().toString());
                }
            }
            if (files.isEmpty()) {
                throw new IllegalArgumentException("no input files in " + path);
            }
            files.sort(Comparator.naturalOrder());
            return files;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + path, e);
        }
    }

    /** Shard i holds the row ids in first + [i * span / parts, (i + 1) * span / parts). */
    static final class IdRanges extends org.apache.spark.Partitioner {
        private final int parts;
        private final long first;
        private final long span;

        IdRanges(int parts, long first, long span) {
            this.parts = parts;
            this.first = first;
            this.span = span;
        }

        @Override
        public int numPartitions() {
            return parts;
        }

        @Override
        public int getPartition(Object key) {
            return (int) Math.min(parts - 1, Math.max(0, (long) ((double) ((Long) key - first) / span * parts)));
        }
    }

    /** A record with its final split and its ordinal (row id) in the source split. */
    record Placed(String split, long ordinal, SourceRecord record) implements java.io.Serializable {
    }

    /** Orders bad records by split then ordinal, so the error lists the first ones. */
    static final class FirstRows implements Comparator<Placed>, java.io.Serializable {
        @Override
        public int compare(Placed a, Placed b) {
            int c = a.record().split().compareTo(b.record().split());
            return c != 0 ? c : Long.compare(a.ordinal(), b.ordinal());
        }
    }

    /** File offsets per source split, the limit and the validation cut, computed once on the driver. */
    record Ordinals(Map<String, Long> offsets, Map<String, Long> totals, long limit, long validationRows,
                    long testRows, boolean shuffled, long seed) implements java.io.Serializable {
        static Ordinals of(List<SourceFile> files, Map<String, Long> perFile, long limit, long validationRows,
                           long testRows, boolean shuffled, long seed) {
            Map<String, Long> offsets = new HashMap<>();
            Map<String, Long> totals = new HashMap<>();
            for (SourceFile f : files) {
                long seen = totals.getOrDefault(f.split(), 0L);
                offsets.put(f.split() + "/" + f.index(), seen);
                totals.put(f.split(), seen + perFile.getOrDefault(f.split() + "/" + f.index(), 0L));
            }
            if (limit > 0) {
                totals.replaceAll((k, v) -> Math.min(v, limit));
            }
            long train = totals.getOrDefault("train", 0L);
            if (validationRows + testRows >= train) {
                throw new IllegalArgumentException("validation-rows = " + validationRows
                        + (testRows > 0 ? " and test-rows = " + testRows : "") + " leave no training rows ("
                        + train + " train records" + (limit > 0 ? " after limit " + limit : "") + ")");
            }
            return new Ordinals(offsets, totals, limit, validationRows, testRows, shuffled, seed);
        }

        Placed place(SourceRecord r) {
            long ordinal = offsets.get(r.split() + "/" + r.fileIndex()) + r.row();
            long total = totals.get(r.split());
            if (ordinal >= total) {
                return new Placed(null, ordinal, r);
            }
            if (!r.split().equals("train")) {
                return new Placed(r.split(), ordinal, r);
            }
            long position = shuffled ? Holdout.permute(ordinal, total, seed) : ordinal;
            String split = position >= total - testRows ? "test"
                    : position >= total - testRows - validationRows ? "valid" : "train";
            return new Placed(split, ordinal, r);
        }
    }
}
