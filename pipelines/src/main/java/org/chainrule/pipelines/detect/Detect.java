package org.chainrule.pipelines.detect;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.storage.StorageLevel;
import org.chainrule.pipelines.Progress;
import org.chainrule.pipelines.io.Artefact;
import org.chainrule.pipelines.io.Json;
import org.chainrule.pipelines.io.OutputGuard;
import org.chainrule.pipelines.io.Outputs;
import org.chainrule.pipelines.score.InputTable;
import org.chainrule.pipelines.score.Score;
import org.chainrule.pipelines.spark.JobLabels;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.apache.spark.sql.functions.col;

/**
 * The detect pipeline: a table scored as the score job scores it, plus {@code anomaly_score} (a {@link Method}, bits
 * per dimension, larger = more anomalous) and {@code is_anomaly} (score above the threshold). The threshold is fixed,
 * or the (1 - contamination) quantile of the reference rows' scores, from Spark's approximate quantiles over all of
 * them (Greenwald-Khanna, {@code relativeError}); for typicality, a bootstrap quantile per group size. Writes
 * {@code <output>/scores.parquet} (rows in = rows out; kept columns unchanged; a row the model cannot score keeps
 * null scores, a null flag and the reason) and {@code summary.json}, staged and renamed into place together.
 */
public final class Detect {
    private static final String THRESHOLD = "__chainrule_threshold";

    private Detect() {
    }

    /**
     * Settings of a detect run.
     *
     * @param table           the input, model, value columns and output, as the score job takes them
     * @param method          the anomaly score
     * @param backgroundModel likelihood ratio: the background model's directory ("" = none)
     * @param reference       the rows the threshold comes from
     * @param threshold       how the threshold is set
     * @param groupColumn     typicality: the column whose values name the batches ("" = none)
     * @param bootstrap       typicality: the bootstrap of the threshold
     */
    public record Settings(Score.Settings table, Method method, String backgroundModel, Reference reference,
                           Threshold threshold, String groupColumn, Bootstrap bootstrap) {
        public Settings {
            if (method.grouped() && groupColumn.isEmpty()) {
                throw new IllegalArgumentException("method " + method.key() + " scores batches of rows: set"
                        + " group-column to the column naming each row's batch");
            }
            if (!method.grouped() && !groupColumn.isEmpty()) {
                throw new IllegalArgumentException("group-column is only used by typicality, not " + method.key());
            }
            if (!reference.given() && (threshold.fixed() == null || method.grouped())) {
                throw new IllegalArgumentException(method.grouped()
                        ? "typicality needs reference rows (--reference) for its entropy estimate"
                        : "set --reference (rows whose score quantile is the threshold) or a fixed --threshold");
            }
        }
    }

    /**
     * How the threshold is set.
     *
     * @param contamination the fraction of reference rows (or bootstrap batches) above the threshold, in (0, 1)
     * @param fixed         a fixed threshold in the score's units, or null to use the quantile
     * @param relativeError the approximate quantile's rank error (0 = exact, at the cost of memory)
     */
    public record Threshold(double contamination, Double fixed, double relativeError) {
        public Threshold {
            if (!(contamination > 0 && contamination < 1)) {
                throw new IllegalArgumentException("contamination must be in (0, 1), got " + contamination);
            }
            if (!(relativeError >= 0 && relativeError < 1)) {
                throw new IllegalArgumentException("relative-error must be in [0, 1), got " + relativeError);
            }
            if (fixed != null && !Double.isFinite(fixed)) {
                throw new IllegalArgumentException("threshold must be a finite number, got " + fixed);
            }
        }

        /** The quantile of reference scores that is the threshold. */
        public double quantile() {
            return 1 - contamination;
        }
    }

    /**
     * The typicality bootstrap.
     *
     * @param batches batches drawn per group size
     * @param maxRows reference rows brought to the driver to draw from (a seeded sample when there are more)
     * @param seed    seed of the sample and the draws
     */
    public record Bootstrap(int batches, int maxRows, long seed) {
        public Bootstrap {
            if (batches < 10 || maxRows < 2) {
                throw new IllegalArgumentException("bootstrap needs >= 10 batches and >= 2 rows, got " + batches
                        + " and " + maxRows);
            }
        }
    }

    /** Runs the detection; returns the summary written. */
    public static Map<String, Object> run(SparkSession spark, Settings s) {
        Configuration hconf = spark.sparkContext().hadoopConfiguration();
        Score.Settings t = s.table();
        List<String> inputs = new ArrayList<>(List.of(t.model()));
        if (!t.format().equals("table")) {
            inputs.add(t.input());
        }
        if (!s.backgroundModel().isEmpty()) {
            inputs.add(s.backgroundModel());
        }
        if (s.reference().given() && !s.reference().format().equals("table")) {
            inputs.add(s.reference().input());
        }
        OutputGuard.claim(t.output(), Artefact.DETECTION, inputs, t.overwrite(), hconf);
        AnomalyScorer scorer = AnomalyScorer.load(s.method(), t.model(), s.backgroundModel(), t.binarize(),
                t.batchSize(), hconf);
        InputTable table = t.table();
        table.verifyPrepared(spark);
        Dataset<Row> input = table.read(spark);
        List<String> inputPartitions = table.partitions(spark, input);
        List<String> keep = InputTable.keptColumns(t.keep(), input, inputPartitions);
        if (s.method().grouped() && !keep.contains(s.groupColumn())) {
            keep.add(s.groupColumn());
        }
        List<String> partitionBy = InputTable.partitionBy(t.partitionBy(), inputPartitions, keep);
        Dataset<Row> scored = scorer.score(input, t.columns(), t.labelColumn(), keep);
        Map<String, Object> summary = scorer.describe();
        summary.put("input", t.input());
        summary.put("reference", s.reference().given() ? s.reference().input() : null);

        Dataset<Row> referenceScores = null;
        Dataset<Row> rowScores = null;
        try {
            if (s.reference().given()) {
                Dataset<Row> ref = s.reference().read(spark, t.csv());
                referenceScores = scorer.score(ref, s.reference().columns(t.columns(), ref.schema()), t.labelColumn(),
                        List.of()).select(AnomalyScorer.SCORE).persist(StorageLevel.MEMORY_AND_DISK());
            }
            Dataset<Row> flagged;
            if (s.method().grouped()) {
                JobLabels.describe(spark, "detect %s: typicality of the reference", t.input());
                Typicality typ = Typicality.fit(referenceScores, s.bootstrap().maxRows(), s.bootstrap().seed());
                // the row scores are read twice (group means, then the rows): computed once, kept
                rowScores = scored.persist(StorageLevel.MEMORY_AND_DISK());
                flagged = flagGroups(spark, s, typ, rowScores, summary);
            } else {
                double threshold = rowThreshold(spark, s, referenceScores, summary);
                flagged = scored.withColumn(AnomalyScorer.FLAG, col(AnomalyScorer.SCORE).gt(threshold));
            }
            summary.put("thresholdFrom", s.threshold().fixed() != null ? "fixed"
                    : s.method().grouped() ? "bootstrap quantile of the reference, per group size"
                    : "approximate quantile of the reference scores");
            summary.put("quantile", s.threshold().fixed() != null ? null : s.threshold().quantile());
            summary.put("contamination", s.threshold().fixed() != null ? null : s.threshold().contamination());
            summary.put("relativeError", s.method().grouped() || s.threshold().fixed() != null ? null
                    : s.threshold().relativeError());
            Progress.say("detect", String.format("scoring %s with %s (%s)%s", t.input(), t.model(),
                    s.method().key(), s.reference().given() ? "; reference " + s.reference().input() : ""));
            return Outputs.staged(t.output(), hconf, staging -> write(spark, s, flagged, partitionBy, summary,
                    staging));
        } finally {
            if (referenceScores != null) {
                referenceScores.unpersist();
            }
            if (rowScores != null) {
                rowScores.unpersist();
            }
        }
    }

    /**
     * The threshold of a per-row score: the fixed one, or the quantile of the reference scores (Spark's approximate
     * quantile); notes it, and the fraction of the reference above it, in the summary.
     */
    private static double rowThreshold(SparkSession spark, Settings s, Dataset<Row> referenceScores,
                                       Map<String, Object> summary) {
        double value;
        if (s.threshold().fixed() == null) {
            JobLabels.describe(spark, "detect %s: threshold from the reference", s.table().input());
            value = referenceScores.where(functions.not(functions.isnan(col(AnomalyScorer.SCORE))))
                    .stat().approxQuantile(AnomalyScorer.SCORE, new double[]{s.threshold().quantile()},
                            s.threshold().relativeError())[0];
        } else {
            value = s.threshold().fixed();
        }
        summary.put("threshold", value);
        if (referenceScores != null) {
            Row r = referenceScores.agg(functions.count(col(AnomalyScorer.SCORE)),
                    functions.sum(functions.when(col(AnomalyScorer.SCORE).gt(value), 1).otherwise(0))).first();
            summary.put("referenceScored", r.getLong(0));
            summary.put("referenceFlaggedFraction", r.getLong(0) == 0 ? null : r.getLong(1) / (double) r.getLong(0));
        }
        return value;
    }

    /**
     * Typicality: every row with its group's score and flag, against the fixed threshold or the bootstrap threshold
     * at the group's size; notes the entropy estimate and the thresholds in the summary.
     */
    private static Dataset<Row> flagGroups(SparkSession spark, Settings s, Typicality typ, Dataset<Row> rowScores,
                                           Map<String, Object> summary) {
        Dataset<Row> grouped = typ.groupScores(rowScores, s.groupColumn());
        summary.put("entropyBitsPerDim", typ.entropyBitsPerDim());
        summary.put("referenceScored", typ.referenceRows());
        if (s.threshold().fixed() != null) {
            return grouped.withColumn(AnomalyScorer.FLAG, col(AnomalyScorer.SCORE).gt(s.threshold().fixed()));
        }
        Map<Integer, Double> bySize = typ.thresholds(grouped, s.threshold().quantile(), s.bootstrap().batches(),
                s.bootstrap().seed());
        Map<String, Object> shown = new LinkedHashMap<>();
        bySize.forEach((size, v) -> shown.put(String.valueOf(size), v));
        summary.put("thresholdsByGroupSize", shown);
        summary.put("bootstrapBatches", s.bootstrap().batches());
        summary.put("bootstrapRows", typ.sample().length);
        return grouped.join(functions.broadcast(Typicality.thresholdTable(spark, bySize, THRESHOLD)),
                        col(Typicality.GROUP_SIZE).equalTo(col(Typicality.SIZE)), "left")
                .withColumn(AnomalyScorer.FLAG, col(AnomalyScorer.SCORE).gt(col(THRESHOLD)))
                .drop(Typicality.SIZE, THRESHOLD);
    }

    private static Map<String, Object> write(SparkSession spark, Settings s, Dataset<Row> flagged,
                                             List<String> partitionBy, Map<String, Object> summary, String staging) {
        long start = System.nanoTime();
        String scores = staging + "/scores.parquet";
        JobLabels.describe(spark, "detect %s: score", s.table().input());
        flagged.write().partitionBy(partitionBy.toArray(String[]::new)).parquet(scores);
        double seconds = (System.nanoTime() - start) / 1e9;
        JobLabels.describe(spark, "detect %s: summary", s.table().input());
        Dataset<Row> back = spark.read().parquet(scores);
        Row agg = back.agg(functions.count(functions.lit(1)), functions.count(col(AnomalyScorer.SCORE)),
                functions.sum(functions.when(col(AnomalyScorer.FLAG), 1).otherwise(0))).first();
        long count = agg.getLong(0);
        long scoredRows = agg.getLong(1);
        long flaggedRows = agg.isNullAt(2) ? 0 : agg.getLong(2);
        Map<String, Object> byKind = new LinkedHashMap<>();
        List<Object> examples = new ArrayList<>();
        Score.refusals(back, byKind, examples);
        summary.put("count", count);
        summary.put("scored", scoredRows);
        summary.put("errors", count - scoredRows);
        summary.put("errorsByKind", byKind);
        summary.put("errorExamples", examples);
        summary.put("flagged", flaggedRows);
        summary.put("flaggedFraction", scoredRows == 0 ? null : flaggedRows / (double) scoredRows);
        if (s.method().grouped()) {
            Row g = back.groupBy(AnomalyScorer.quoted(s.groupColumn())).agg(functions.max(col(AnomalyScorer.FLAG))
                    .as("f")).agg(functions.count(functions.lit(1)), functions.sum(functions.when(col("f"), 1)
                    .otherwise(0))).first();
            summary.put("groups", g.getLong(0));
            summary.put("flaggedGroups", g.isNullAt(1) ? 0 : g.getLong(1));
        }
        summary.put("partitionBy", partitionBy);
        summary.put("seconds", seconds);
        Outputs.writeText(staging + "/summary.json", Json.render(summary), spark.sparkContext().hadoopConfiguration());
        Artefact.DETECTION.mark(staging, spark.sparkContext().hadoopConfiguration());
        Progress.say("detect", String.format("%d rows: %d scored, %d refused%s; %d flagged as anomalies (%s) -> %s",
                count, scoredRows, count - scoredRows, byKind.isEmpty() ? "" : " " + byKind, flaggedRows,
                summary.containsKey("threshold") ? String.format("%s > %.4g bits/dim", s.method().key(),
                        (Double) summary.get("threshold")) : s.method().key() + " above its threshold",
                s.table().output()));
        return summary;
    }
}
