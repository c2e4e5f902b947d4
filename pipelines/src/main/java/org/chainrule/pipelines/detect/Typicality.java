package org.chainrule.pipelines.detect;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.apache.spark.sql.functions.col;

/**
 * The typicality test of Nalisnick et al. 2019b ("Detecting out-of-distribution inputs to deep generative models
 * using typicality"): a batch of M inputs is in-distribution when its mean NLL lies within epsilon of the model's
 * entropy, estimated as the mean NLL of reference (training or held-out) data. Epsilon comes from the bootstrap:
 * many batches of M reference rows drawn with replacement give the distribution of |mean - entropy| under the null,
 * and its (1 - alpha) quantile is the threshold at size M. Scores here are in bits per dimension.
 *
 * <p>The entropy estimate is an aggregate over all reference rows (on Spark); the bootstrap draws from at most
 * {@code maxRows} of their per-row scores, a seeded Spark sample brought to the driver (the batches are small
 * compared with any such sample, so a bounded sample costs nothing in accuracy).
 *
 * @param entropyBitsPerDim mean bits/dim of the reference rows
 * @param referenceRows     scored reference rows
 * @param sample            per-row bits/dim of (a sample of) the reference rows, for the bootstrap
 */
public record Typicality(double entropyBitsPerDim, long referenceRows, double[] sample) {
    static final String GROUP_SIZE = "group_size";
    static final String GROUP_MEAN = "group_mean_bits_per_dim";
    /** The size column of {@link #thresholdTable}. */
    static final String SIZE = "__chainrule_size";

    /** The entropy estimate and bootstrap sample of a scored reference table (its {@link AnomalyScorer#SCORE}). */
    public static Typicality fit(Dataset<Row> referenceScores, int maxRows, long seed) {
        Dataset<Row> ok = referenceScores.select(col(AnomalyScorer.SCORE)).where(col(AnomalyScorer.SCORE).isNotNull());
        Row agg = ok.agg(functions.count(functions.lit(1)), functions.mean(col(AnomalyScorer.SCORE))).first();
        long n = agg.getLong(0);
        if (n < 2) {
            throw new IllegalArgumentException("typicality needs scored reference rows to estimate the entropy; "
                    + n + " were scored");
        }
        Dataset<Row> drawn = n <= maxRows ? ok : ok.sample(false, Math.min(1.0, 1.1 * maxRows / n), seed)
                .limit(maxRows);
        double[] sample = drawn.collectAsList().stream().mapToDouble(r -> r.getDouble(0)).toArray();
        return new Typicality(agg.getDouble(1), n, sample);
    }

    /**
     * The bootstrap threshold at batch size {@code size}: the {@code quantile} of |mean of size draws - entropy| over
     * {@code batches} batches drawn with replacement from the reference sample.
     */
    public double threshold(int size, double quantile, int batches, long seed) {
        SplittableRandom random = new SplittableRandom(seed ^ (0x9E3779B97F4A7C15L * size));
        double[] distance = new double[batches];
        for (int b = 0; b < batches; b++) {
            double sum = 0;
            for (int i = 0; i < size; i++) {
                sum += sample[random.nextInt(sample.length)];
            }
            distance[b] = Math.abs(sum / size - entropyBitsPerDim);
        }
        Arrays.sort(distance);
        return distance[(int) Math.min(batches - 1, Math.ceil(quantile * batches) - 1)];
    }

    /**
     * Replaces each row's {@link AnomalyScorer#SCORE} (its bits/dim) by its group's typicality score
     * |mean bits/dim of the group's scored rows - entropy|, and adds {@code group_size} (scored rows in the group)
     * and {@code group_mean_bits_per_dim}. Rows out = rows in; a group with no scored row has a null score.
     */
    public Dataset<Row> groupScores(Dataset<Row> rowScores, String groupColumn) {
        String key = "__chainrule_group";
        Dataset<Row> groups = rowScores.groupBy(AnomalyScorer.quoted(groupColumn).as(key))
                .agg(functions.count(col(AnomalyScorer.SCORE)).as(GROUP_SIZE),
                        functions.mean(col(AnomalyScorer.SCORE)).as(GROUP_MEAN));
        Dataset<Row> joined = rowScores.join(groups, AnomalyScorer.quoted(groupColumn).eqNullSafe(col(key)), "left");
        List<String> columns = new ArrayList<>(Arrays.asList(rowScores.columns()));
        columns.remove(AnomalyScorer.SCORE);
        List<org.apache.spark.sql.Column> out = new ArrayList<>();
        columns.forEach(c -> out.add(AnomalyScorer.quoted(c)));
        out.add(col(GROUP_SIZE));
        out.add(col(GROUP_MEAN));
        out.add(functions.abs(col(GROUP_MEAN).minus(entropyBitsPerDim)).as(AnomalyScorer.SCORE));
        return joined.select(out.toArray(org.apache.spark.sql.Column[]::new));
    }

    /** Thresholds per group size, for every size found among the groups of {@code grouped}. */
    public Map<Integer, Double> thresholds(Dataset<Row> grouped, double quantile, int batches, long seed) {
        Map<Integer, Double> out = new LinkedHashMap<>();
        grouped.select(col(GROUP_SIZE)).where(col(GROUP_SIZE).gt(0)).distinct().orderBy(GROUP_SIZE).limit(100_001)
                .collectAsList().forEach(r -> out.put(Math.toIntExact(r.getLong(0)),
                        threshold(Math.toIntExact(r.getLong(0)), quantile, batches, seed)));
        if (out.size() > 100_000) {
            throw new IllegalArgumentException("more than 100,000 different group sizes: typicality tests batches,"
                    + " and a group column with so many sizes is not one");
        }
        return out;
    }

    /** A table of (group_size, threshold), to join the thresholds to the rows on Spark. */
    static Dataset<Row> thresholdTable(SparkSession spark, Map<Integer, Double> thresholds, String thresholdColumn) {
        List<Row> rows = new ArrayList<>();
        thresholds.forEach((size, t) -> rows.add(org.apache.spark.sql.RowFactory.create((long) size, t)));
        StructType schema = new StructType().add(SIZE, DataTypes.LongType)
                .add(thresholdColumn, DataTypes.DoubleType);
        return spark.createDataFrame(rows, schema);
    }
}
