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
import org.chainrule.pipelines.io.Pictures;
import org.chainrule.pipelines.score.InputTable;
import org.chainrule.pipelines.score.Score;
import org.chainrule.pipelines.spark.JobLabels;
import scala.Tuple2;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.apache.spark.sql.functions.col;

/**
 * The ood-eval pipeline: how well an anomaly score ({@link Method}) tells out-of-distribution rows from
 * in-distribution ones. Both tables are scored as detect scores them; {@link Separation} gives AUROC, AUPRC and the
 * FPR at 95% TPR on Spark. Writes {@code <output>/summary.json} and {@code <output>/ood.png} (the two score
 * histograms, as fractions of each table's rows, and the ROC curve), staged together. Typicality is evaluated per
 * group (each group one item), every other method per row.
 */
public final class OodEval {
    private static final int HISTOGRAM_BINS = 60;
    private static final int ROC_POINTS = 400;

    private OodEval() {
    }

    /**
     * Settings of an ood-eval run.
     *
     * @param in              the in-distribution table, with the model, value columns and output ({@code input}
     *                        holds the in table; kept columns and partitions are not used)
     * @param out             the out-of-distribution table, read as {@code in} is
     * @param method          the anomaly score
     * @param backgroundModel likelihood ratio: the background model ("" = none)
     * @param reference       typicality: the rows of the entropy estimate
     * @param groupColumn     typicality: the column naming each row's batch
     * @param bootstrap       typicality: how the reference sample is drawn
     */
    public record Settings(Score.Settings in, String out, Method method, String backgroundModel, Reference reference,
                           String groupColumn, Detect.Bootstrap bootstrap) {
        public Settings {
            if (method.grouped() && (groupColumn.isEmpty() || !reference.given())) {
                throw new IllegalArgumentException("typicality scores batches: set group-column and a reference"
                        + " (the rows of its entropy estimate)");
            }
            if (out.isEmpty()) {
                throw new IllegalArgumentException("set out (--out): the out-of-distribution table");
            }
        }
    }

    /** Runs the evaluation; returns the summary written. */
    public static Map<String, Object> run(SparkSession spark, Settings s) {
        Configuration hconf = spark.sparkContext().hadoopConfiguration();
        Score.Settings t = s.in();
        List<String> inputs = new ArrayList<>(List.of(t.model()));
        if (!t.format().equals("table")) {
            inputs.addAll(List.of(t.input(), s.out()));
        }
        if (!s.backgroundModel().isEmpty()) {
            inputs.add(s.backgroundModel());
        }
        OutputGuard.claim(t.output(), Artefact.OOD_EVALUATION, inputs, t.overwrite(), hconf);
        AnomalyScorer scorer = AnomalyScorer.load(s.method(), t.model(), s.backgroundModel(), t.binarize(),
                t.batchSize(), hconf);
        List<String> keep = s.method().grouped() ? List.of(s.groupColumn()) : List.of();
        InputTable inTable = t.table();
        InputTable outTable = new InputTable(s.out(), t.format(), t.csv());
        inTable.verifyPrepared(spark);
        outTable.verifyPrepared(spark);
        Dataset<Row> in = scorer.score(inTable.read(spark), t.columns(), t.labelColumn(), keep);
        Dataset<Row> out = scorer.score(outTable.read(spark), t.columns(), t.labelColumn(), keep);
        Map<String, Object> summary = scorer.describe();
        summary.put("positives", "the out-of-distribution rows");
        summary.put("in", t.input());
        summary.put("out", s.out());
        // Typicality reads each table's row scores twice (group means, then the rows): computed once, kept.
        List<Dataset<Row>> cached = new ArrayList<>();
        try {
            if (s.method().grouped()) {
                Dataset<Row> ref = s.reference().read(spark, t.csv());
                Dataset<Row> refScores = cache(cached, scorer.score(ref, s.reference().columns(t.columns(),
                        ref.schema()), t.labelColumn(), List.of()).select(AnomalyScorer.SCORE));
                Typicality typ = Typicality.fit(refScores, s.bootstrap().maxRows(), s.bootstrap().seed());
                summary.put("reference", s.reference().input());
                summary.put("entropyBitsPerDim", typ.entropyBitsPerDim());
                in = perGroup(typ.groupScores(cache(cached, in), s.groupColumn()), s.groupColumn());
                out = perGroup(typ.groupScores(cache(cached, out), s.groupColumn()), s.groupColumn());
            }
            Dataset<Row> both = cache(cached, in.select(col(AnomalyScorer.SCORE).as(Separation.SCORE),
                            functions.lit(0.0).as(Separation.LABEL))
                    .union(out.select(col(AnomalyScorer.SCORE).as(Separation.SCORE),
                            functions.lit(1.0).as(Separation.LABEL))));
            JobLabels.describe(spark, "ood-eval %s vs %s: %s", t.input(), s.out(), s.method().key());
            long start = System.nanoTime();
            Row counts = both.agg(functions.sum(functions.when(col(Separation.LABEL).equalTo(0), 1).otherwise(0)),
                    functions.sum(functions.when(col(Separation.LABEL).equalTo(1), 1).otherwise(0)),
                    functions.min(Separation.SCORE), functions.max(Separation.SCORE)).first();
            Separation sep = Separation.of(both);
            summary.put("unit", s.method().grouped() ? "group" : "row");
            summary.put("inCount", counts.getLong(0));
            summary.put("outCount", counts.getLong(1));
            summary.put("inScored", sep.inRows());
            summary.put("outScored", sep.outRows());
            summary.put("auroc", sep.auroc());
            summary.put("auprc", sep.auprc());
            summary.put("fprAt95Tpr", sep.fprAt95Tpr());
            byte[] picture = picture(both, s.method().key(), counts.getDouble(2), counts.getDouble(3), sep);
            summary.put("seconds", (System.nanoTime() - start) / 1e9);
            Progress.say("ood-eval", String.format("%s: AUROC %.4f, AUPRC %.4f, FPR at 95%% TPR %.4f (%d in, %d out"
                    + " %ss) -> %s", s.method().key(), sep.auroc(), sep.auprc(), sep.fprAt95Tpr(), sep.inRows(),
                    sep.outRows(), s.method().grouped() ? "group" : "row", t.output()));
            return Outputs.staged(t.output(), hconf, staging -> {
                Outputs.writeBytes(staging + "/ood.png", picture, hconf);
                Outputs.writeText(staging + "/summary.json", Json.render(summary), hconf);
                Artefact.OOD_EVALUATION.mark(staging, hconf);
                return summary;
            });
        } finally {
            cached.forEach(Dataset::unpersist);
        }
    }

    private static Dataset<Row> cache(List<Dataset<Row>> cached, Dataset<Row> rows) {
        Dataset<Row> kept = rows.persist(StorageLevel.MEMORY_AND_DISK());
        cached.add(kept);
        return kept;
    }

    /** One row per group: its typicality score. */
    private static Dataset<Row> perGroup(Dataset<Row> rows, String groupColumn) {
        return rows.groupBy(AnomalyScorer.quoted(groupColumn)).agg(functions.first(col(AnomalyScorer.SCORE))
                .as(AnomalyScorer.SCORE));
    }

    /** The two score histograms (fraction of each side's rows per bin) and the ROC curve, side by side. */
    private static byte[] picture(Dataset<Row> both, String method, double min, double max, Separation sep) {
        double lo = min;
        double hi = max > min ? max : min + 1;
        double[] edges = new double[HISTOGRAM_BINS + 1];
        for (int i = 0; i <= HISTOGRAM_BINS; i++) {
            edges[i] = lo + (hi - lo) * i / HISTOGRAM_BINS;
        }
        long[] inCounts = Separation.histogram(both, 0, edges);
        long[] outCounts = Separation.histogram(both, 1, edges);
        // Steps: each bin drawn flat from its left edge to its right edge.
        double[] x = new double[2 * HISTOGRAM_BINS];
        double[] yIn = new double[x.length];
        double[] yOut = new double[x.length];
        for (int b = 0; b < HISTOGRAM_BINS; b++) {
            x[2 * b] = edges[b];
            x[2 * b + 1] = edges[b + 1];
            yIn[2 * b] = yIn[2 * b + 1] = inCounts[b] / (double) Math.max(1, sep.inRows());
            yOut[2 * b] = yOut[2 * b + 1] = outCounts[b] / (double) Math.max(1, sep.outRows());
        }
        LinkedHashMap<String, double[]> hist = new LinkedHashMap<>();
        hist.put("in-distribution", yIn);
        hist.put("out-of-distribution", yOut);
        byte[] left = Pictures.lineChart(method + " scores", "anomaly score (bits/dim)", "fraction of rows", x, hist,
                640, 420);
        List<Tuple2<Object, Object>> roc = Separation.curve(both, ROC_POINTS);
        double[] fpr = new double[roc.size()];
        double[] tpr = new double[roc.size()];
        for (int i = 0; i < fpr.length; i++) {
            fpr[i] = (Double) roc.get(i)._1();
            tpr[i] = (Double) roc.get(i)._2();
        }
        LinkedHashMap<String, double[]> curve = new LinkedHashMap<>();
        curve.put(String.format("ROC, AUROC %.3f", sep.auroc()), tpr);
        curve.put("chance", fpr.clone());
        byte[] right = Pictures.lineChart("ROC: out-of-distribution = positive", "false-positive rate",
                "true-positive rate", fpr, curve, 480, 420);
        return Pictures.sideBySide(left, right);
    }
}
