package org.chainrule.pipelines.score;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.DataFrameReader;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.execution.datasources.HadoopFsRelation;
import org.apache.spark.sql.execution.datasources.LogicalRelation;
import org.apache.spark.sql.functions;
import org.chainrule.models.Units;
import org.chainrule.pipelines.Progress;
import org.chainrule.pipelines.data.Manifest;
import org.chainrule.pipelines.data.Shards;
import org.chainrule.pipelines.evaluate.Evaluate;
import org.chainrule.pipelines.io.Json;
import org.chainrule.pipelines.io.Artefact;
import org.chainrule.pipelines.io.OutputGuard;
import org.chainrule.pipelines.io.Outputs;
import org.chainrule.pipelines.spark.JobLabels;
import org.chainrule.pipelines.io.SavedModel;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.apache.spark.sql.functions.col;

/**
 * The score pipeline: any table Spark reads (Parquet, CSV, ORC, JSON files on any Hadoop filesystem, or a catalog
 * table), scored by a saved model through {@link DensityScorer}. Writes {@code <output>/scores.parquet} (the input's
 * rows with the kept columns unchanged, plus {@code log_prob_nats, nll_nats, bits_per_dim, score_error}; partitioned
 * like the input, or by {@code partitionBy}) and {@code <output>/summary.json} (count, scored, errors by kind, mean NLL,
 * its standard error, bits/dim), both or neither: the output is staged and renamed into place.
 *
 * <p>Only the columns needed (values, label, kept) are read. Every input row comes out: a row the model cannot score
 * has null scores and says why in {@code score_error}.
 */
public final class Score {
    /** Input formats: Spark's file sources, or {@code table} for a catalog table name. */
    public static final List<String> FORMATS = List.of("parquet", "csv", "orc", "json", "table");
    static final String LOG_PROB = "log_prob_nats";
    static final String NLL = "nll_nats";
    static final String ERROR = "score_error";

    private Score() {
    }

    /**
     * Settings of a score run.
     *
     * @param model       saved model directory
     * @param input       files, a directory or a glob on any Hadoop filesystem; for format {@code table}, a table name
     * @param format      one of {@link #FORMATS}
     * @param columns     the model's value columns: names or ranges (p0..p783), or one column holding whole events
     * @param keep        columns passed through unchanged ({@code *}: all, in input order; ranges allowed)
     * @param labelColumn class-conditional models: the label column ("" = none)
     * @param partitionBy output partition columns, from the kept ones ([] = the input's own partition columns)
     * @param binarize    one of {@link ValueRule#MODES}
     * @param batchSize   rows per forward pass
     * @param csv         how CSV input is read
     * @param output      output directory to create
     * @param overwrite   replace an existing output
     */
    public record Settings(String model, String input, String format, List<String> columns, List<String> keep,
                           String labelColumn, List<String> partitionBy, String binarize, int batchSize, Csv csv,
                           String output, boolean overwrite) {
        public Settings {
            if (!FORMATS.contains(format)) {
                throw new IllegalArgumentException("format must be one of " + FORMATS + ", got " + format);
            }
            columns = List.copyOf(columns);
            keep = List.copyOf(keep);
            partitionBy = List.copyOf(partitionBy);
        }

        /**
         * A builder for scoring {@code input} with the model at {@code model} into {@code output}; everything else
         * keeps the default noted at its setter (the defaults of {@code reference.conf}).
         */
        public static Builder builder(String model, String input, String output) {
            return new Builder(model, input, output);
        }

        /** Builds {@link Settings}. */
        public static final class Builder {
            private final String model;
            private final String input;
            private final String output;
            private String format = "parquet";
            private List<String> columns = List.of();
            private List<String> keep = List.of("*");
            private String labelColumn = "";
            private List<String> partitionBy = List.of();
            private String binarize = "auto";
            private int batchSize = 1000;
            private Csv csv = new Csv(true, ",", true);
            private boolean overwrite;

            private Builder(String model, String input, String output) {
                this.model = model;
                this.input = input;
                this.output = output;
            }

            /** One of {@link #FORMATS} (default parquet). */
            public Builder format(String v) {
                format = v;
                return this;
            }

            /** The value columns (required): names, ranges such as p0..p783, or one column of whole events. */
            public Builder columns(String... v) {
                columns = List.of(v);
                return this;
            }

            /** Columns passed through (default {@code *}: all). */
            public Builder keep(String... v) {
                keep = List.of(v);
                return this;
            }

            /** The class column of a label-conditional model (default none). */
            public Builder labelColumn(String v) {
                labelColumn = v;
                return this;
            }

            /** Output partition columns (default: as the input). */
            public Builder partitionBy(String... v) {
                partitionBy = List.of(v);
                return this;
            }

            /** One of {@link ValueRule#MODES} (default auto). */
            public Builder binarize(String v) {
                binarize = v;
                return this;
            }

            /** Rows per forward pass (default 1000). */
            public Builder batchSize(int v) {
                batchSize = v;
                return this;
            }

            /** CSV reading (default: header, comma, inferred schema). */
            public Builder csv(Csv v) {
                csv = v;
                return this;
            }

            /** Replace an existing output of this kind (default false). */
            public Builder overwrite(boolean v) {
                overwrite = v;
                return this;
            }

            /** The settings; the record checks the format. */
            public Settings build() {
                return new Settings(model, input, format, columns, keep, labelColumn, partitionBy, binarize, batchSize,
                        csv, output, overwrite);
            }
        }
    }

    /**
     * CSV input options.
     *
     * @param header      the first line names the columns
     * @param delimiter   the field separator
     * @param inferSchema read numbers as numbers (one extra pass over the files); otherwise every column is a string
     *                    and value columns are parsed per row
     */
    public record Csv(boolean header, String delimiter, boolean inferSchema) {
    }

    /** Runs the scoring; returns the summary written. */
    public static Map<String, Object> run(SparkSession spark, Settings s) {
        Configuration hconf = spark.sparkContext().hadoopConfiguration();
        List<String> inputs = s.format().equals("table") ? List.of(s.model()) : List.of(s.model(), s.input());
        OutputGuard.claim(s.output(), Artefact.SCORES, inputs, s.overwrite(), hconf);
        DensityScorer scorer = DensityScorer.of(SavedModel.load(s.model(), false, hconf), s.model())
                .setInputCols(s.columns().toArray(String[]::new)).setBinarize(s.binarize())
                .setBatchSize(s.batchSize());
        if (!s.labelColumn().isEmpty()) {
            scorer.setLabelCol(s.labelColumn());
        }
        verifyPreparedSplit(spark, s);
        Dataset<Row> input = read(spark, s);
        List<String> inputPartitions = inputPartitions(spark, input, s);
        List<String> keep = keptColumns(s.keep(), input, inputPartitions);
        List<String> partitionBy = s.partitionBy().isEmpty() ? inputPartitions : s.partitionBy();
        for (String p : partitionBy) {
            if (!keep.contains(p)) {
                throw new IllegalArgumentException("partition-by column " + p + " is not among the kept columns "
                        + keep);
            }
        }
        DensityScorer.Plan plan = scorer.plan(input.schema(), keep); // every setting checked before Spark works
        Dataset<Row> scored = scorer.score(input, keep); // reads only the columns it selects
        Progress.say("score", String.format("scoring %s (%s) with %s (%s): values from %s; %s; keeping %s%s",
                s.input(), s.format(), s.model(), scorer.model().spec().type(), describe(plan.features()),
                plan.features().describeEncoding(plan.rule()), keep.size() > 12 ? keep.subList(0, 12) + " and " + (keep.size() - 12)
                        + " more" : keep, partitionBy.isEmpty() ? "" : "; partitioned by " + partitionBy));
        return Outputs.staged(s.output(), hconf, staging -> write(spark, s, scorer, plan, scored, partitionBy,
                staging));
    }

    /** Writes the scores into {@code staging}, then the summary computed from them as written. */
    private static Map<String, Object> write(SparkSession spark, Settings s, DensityScorer scorer,
                                             DensityScorer.Plan plan, Dataset<Row> scored, List<String> partitionBy,
                                             String staging) {
        long start = System.nanoTime();
        String scores = staging + "/scores.parquet";
        JobLabels.describe(spark, "score %s: score", s.input());
        scored.write().partitionBy(partitionBy.toArray(String[]::new)).parquet(scores);
        Artefact.SCORES.mark(staging, spark.sparkContext().hadoopConfiguration());
        double seconds = (System.nanoTime() - start) / 1e9;

        JobLabels.describe(spark, "score %s: summary", s.input());
        Dataset<Row> back = spark.read().parquet(scores);
        Row agg = back.agg(functions.count(functions.lit(1)), functions.count(col(LOG_PROB)), functions.mean(col(NLL)),
                functions.stddev_samp(col(NLL)), functions.sum(functions.when(col(LOG_PROB).isNaN()
                        .or(functions.abs(col(LOG_PROB)).equalTo(Double.POSITIVE_INFINITY)), 1).otherwise(0)))
                .first();
        long count = agg.getLong(0);
        long scoredRows = agg.getLong(1);
        Map<String, Object> byKind = new LinkedHashMap<>();
        List<Object> examples = new ArrayList<>();
        if (scoredRows < count) {
            Dataset<Row> refused = back.filter(col(ERROR).isNotNull());
            refused.groupBy(functions.substring_index(col(ERROR), ":", 1).as("kind")).count().orderBy("kind")
                    .collectAsList().forEach(r -> byKind.put(r.getString(0), r.getLong(1)));
            refused.select(ERROR).limit(5).collectAsList().forEach(r -> examples.add(r.getString(0)));
        }
        int dims = scorer.scoring().dims();
        double meanNll = scoredRows > 0 ? agg.getDouble(2) : Double.NaN;
        double stdErr = scoredRows > 1 ? agg.getDouble(3) / Math.sqrt(scoredRows) : 0.0;
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("model", s.model());
        summary.put("modelType", scorer.model().spec().type());
        summary.put("input", s.input());
        summary.put("format", s.format());
        summary.put("columns", describe(plan.features()));
        summary.put("encoding", plan.features().describeEncoding(plan.rule()));
        summary.put("count", count);
        summary.put("scored", scoredRows);
        summary.put("errors", count - scoredRows);
        summary.put("errorsByKind", byKind);
        summary.put("errorExamples", examples);
        summary.put("meanNllNats", scoredRows > 0 ? meanNll : null); // JSON has no NaN
        summary.put("stdErrNats", stdErr);
        summary.put("bitsPerDim", scoredRows > 0 ? Units.bitsPerDim(meanNll, dims) : null);
        summary.put("dims", dims);
        summary.put("nonFiniteRows", agg.get(4) == null ? 0L : ((Number) agg.get(4)).longValue());
        String caveat = Evaluate.putUnits(summary, scorer.model().spec(), scorer.model().domain(), meanNll);
        summary.put("partitionBy", partitionBy);
        summary.put("seconds", seconds);
        summary.put("rowsPerSecond", count / seconds);
        Outputs.writeText(staging + "/summary.json", Json.render(summary), spark.sparkContext().hadoopConfiguration());
        Progress.say("score", String.format("%d rows: %d scored, %d refused%s; %s, %.0f rows/s -> %s", count,
                scoredRows, count - scoredRows, byKind.isEmpty() ? "" : " " + byKind, scoredRows == 0 ? "nothing scored"
                        : String.format("mean NLL %.3f ± %.3f nats (%.4f bits/dim)%s", meanNll, stdErr,
                        Units.bitsPerDim(meanNll, dims), caveat == null ? "" : " [bound/estimate: see summary.json]"),
                count / seconds, s.output()));
        return summary;
    }

    /**
     * When the input is a split of a dataset that {@code prepare} wrote (a Parquet directory whose parent holds
     * {@code manifest.json} listing it), checks its shards against the manifest's checksums before scoring, as
     * train and evaluate do: a changed or damaged shard fails naming the split and the shard.
     */
    static void verifyPreparedSplit(SparkSession spark, Settings s) {
        if (!s.format().equals("parquet")) {
            return;
        }
        Configuration hconf = spark.sparkContext().hadoopConfiguration();
        org.apache.hadoop.fs.Path split = new org.apache.hadoop.fs.Path(s.input());
        org.apache.hadoop.fs.Path dir = split.getParent();
        try {
            if (dir == null || !dir.getFileSystem(hconf).exists(new org.apache.hadoop.fs.Path(dir, "manifest.json"))) {
                return;
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot look for a manifest beside " + s.input(), e);
        }
        Manifest manifest = Manifest.read(dir.toString(), hconf);
        if (manifest.splits().containsKey(split.getName())) {
            Shards.verify(spark, dir.toString(), split.getName(), manifest);
        }
    }

    /** The input as Spark reads it; nothing is read yet except what schema inference needs. */
    static Dataset<Row> read(SparkSession spark, Settings s) {
        if (s.format().equals("table")) {
            return spark.table(s.input());
        }
        DataFrameReader reader = spark.read().format(s.format());
        if (s.format().equals("csv")) {
            reader = reader.option("header", s.csv().header()).option("sep", s.csv().delimiter())
                    .option("inferSchema", s.csv().inferSchema());
        }
        return reader.load(s.input());
    }

    /** The partition columns of the input: a catalog table's, or those of a partitioned file layout (k=v/ dirs). */
    static List<String> inputPartitions(SparkSession spark, Dataset<Row> input, Settings s) {
        if (s.format().equals("table")) {
            try {
                return spark.catalog().listColumns(s.input()).collectAsList().stream()
                        .filter(org.apache.spark.sql.catalog.Column::isPartition)
                        .map(org.apache.spark.sql.catalog.Column::name).toList();
            } catch (org.apache.spark.sql.AnalysisException e) {
                throw new IllegalArgumentException("cannot list the columns of table " + s.input() + ": "
                        + e.getMessage(), e);
            }
        }
        List<String> out = new ArrayList<>();
        LogicalPlan plan = input.queryExecution().analyzed();
        for (LogicalPlan leaf : scala.collection.JavaConverters.seqAsJavaList(plan.collectLeaves())) {
            if (leaf instanceof LogicalRelation r && r.relation() instanceof HadoopFsRelation fs) {
                out.addAll(Arrays.asList(fs.partitionSchema().fieldNames()));
            }
        }
        return out;
    }

    /** The kept columns: all for {@code *}, else the named ones (ranges written out); the input's partitions too. */
    static List<String> keptColumns(List<String> keep, Dataset<Row> input, List<String> inputPartitions) {
        Set<String> kept = new LinkedHashSet<>(keep.contains("*") ? Arrays.asList(input.columns())
                : FeatureColumns.expand(keep, input.schema()));
        kept.addAll(inputPartitions);
        return new ArrayList<>(kept);
    }

    private static String describe(FeatureColumns features) {
        List<String> n = features.names();
        return n.size() == 1 ? n.get(0) : n.size() + " columns " + n.get(0) + " .. " + n.get(n.size() - 1);
    }
}
