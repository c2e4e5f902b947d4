package org.chainrule.pipelines.detect;

import org.apache.spark.api.java.JavaDoubleRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.mllib.evaluation.BinaryClassificationMetrics;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.functions;
import scala.Tuple2;

import java.util.List;

import static org.apache.spark.sql.functions.col;

/**
 * How well a score separates out-of-distribution rows (label 1, the positives) from in-distribution rows (label 0),
 * computed on Spark with MLlib's {@link BinaryClassificationMetrics} over every distinct score (no binning): the area
 * under the ROC curve (ties count one half), the area under the precision-recall curve (Spark's trapezoidal rule), and
 * the false-positive rate at the first threshold whose true-positive rate reaches 95%.
 *
 * @param inRows      in-distribution rows (or groups) with a score
 * @param outRows     out-of-distribution rows (or groups) with a score
 * @param auroc       area under the ROC curve: the chance that an out row scores above an in row
 * @param auprc       area under the precision-recall curve, out rows positive
 * @param fprAt95Tpr  the fraction of in rows flagged when 95% of the out rows are
 */
public record Separation(long inRows, long outRows, double auroc, double auprc, double fprAt95Tpr) {
    /** Input columns of {@link #of}. */
    public static final String SCORE = "score";
    public static final String LABEL = "label";

    /** The measures of a table of ({@value #SCORE} double, {@value #LABEL} double 0/1) rows. */
    public static Separation of(Dataset<Row> scoreAndLabel) {
        Dataset<Row> rows = scoreAndLabel.select(col(SCORE).cast("double"), col(LABEL).cast("double"))
                .where(col(SCORE).isNotNull().and(functions.not(functions.isnan(col(SCORE)))));
        Row counts = rows.agg(functions.sum(functions.when(col(LABEL).equalTo(0), 1).otherwise(0)),
                functions.sum(functions.when(col(LABEL).equalTo(1), 1).otherwise(0))).first();
        long in = counts.isNullAt(0) ? 0 : counts.getLong(0);
        long out = counts.isNullAt(1) ? 0 : counts.getLong(1);
        if (in == 0 || out == 0) {
            throw new IllegalArgumentException("separation needs scored rows of both kinds; got " + in + " in and "
                    + out + " out");
        }
        JavaRDD<Tuple2<Object, Object>> pairs = rows.toJavaRDD()
                .map(r -> new Tuple2<>(r.getDouble(0), r.getDouble(1)));
        BinaryClassificationMetrics metrics = new BinaryClassificationMetrics(pairs.rdd());
        try {
            double fpr = metrics.roc().toJavaRDD().filter(p -> (Double) p._2() >= 0.95)
                    .map(p -> (Double) p._1()).reduce(Math::min);
            return new Separation(in, out, metrics.areaUnderROC(), metrics.areaUnderPR(), fpr);
        } finally {
            metrics.unpersist();
        }
    }

    /**
     * Points of the ROC curve (false-positive rate, true-positive rate), from (0, 0) to (1, 1), at most about
     * {@code bins} of them (MLlib's down-sampling of thresholds), for drawing.
     */
    public static List<Tuple2<Object, Object>> curve(Dataset<Row> scoreAndLabel, int bins) {
        JavaRDD<Tuple2<Object, Object>> pairs = scoreAndLabel.select(col(SCORE).cast("double"),
                        col(LABEL).cast("double"))
                .where(col(SCORE).isNotNull().and(functions.not(functions.isnan(col(SCORE))))).toJavaRDD()
                .map(r -> new Tuple2<>(r.getDouble(0), r.getDouble(1)));
        BinaryClassificationMetrics metrics = new BinaryClassificationMetrics(pairs.rdd(), bins);
        try {
            return metrics.roc().toJavaRDD().collect();
        } finally {
            metrics.unpersist();
        }
    }

    /** Histogram counts of the scores of one label over the given bucket edges (Spark's own histogram). */
    static long[] histogram(Dataset<Row> scoreAndLabel, double label, double[] edges) {
        JavaDoubleRDD scores = scoreAndLabel.where(col(LABEL).equalTo(label).and(col(SCORE).isNotNull())
                        .and(functions.not(functions.isnan(col(SCORE))))).select(col(SCORE).cast("double"))
                .toJavaRDD().mapToDouble(r -> r.getDouble(0));
        return scores.histogram(edges);
    }
}
