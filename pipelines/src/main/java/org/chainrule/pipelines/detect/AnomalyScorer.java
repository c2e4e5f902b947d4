package org.chainrule.pipelines.detect;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.chainrule.pipelines.data.Domain;
import org.chainrule.pipelines.io.SavedModel;
import org.chainrule.pipelines.score.DensityScorer;
import org.chainrule.pipelines.score.FeatureColumns;
import org.chainrule.pipelines.score.ValueRule;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.apache.spark.sql.functions.col;

/**
 * A row's anomaly score under one {@link Method}, next to the row's kept columns and the model's own score columns
 * ({@code log_prob_nats, nll_nats, bits_per_dim, score_error}, as {@link DensityScorer} writes them), plus
 * {@code background_log_prob_nats} (likelihood ratio) or {@code compressed_bits} (complexity). Rows out = rows in; a
 * row either model cannot score keeps null scores and the reason in {@code score_error}. For {@link Method#TYPICALITY}
 * the row's score is its bits/dim, which {@link Typicality} averages per group.
 */
public final class AnomalyScorer {
    /** Output column: the anomaly score, bits per dimension, larger = more anomalous. */
    public static final String SCORE = "anomaly_score";
    /** Output column: whether the score is above the threshold (null when the row has no score). */
    public static final String FLAG = "is_anomaly";
    static final String BACKGROUND_LOG_PROB = "background_log_prob_nats";
    static final String COMPRESSED_BITS = "compressed_bits";
    static final String LOG_PROB = "log_prob_nats";
    static final String NLL = "nll_nats";
    static final String BITS_PER_DIM = "bits_per_dim";
    static final String ERROR = "score_error";
    private static final String BG_PREFIX = "__chainrule_background_";

    private final Method method;
    private final DensityScorer model;
    private final DensityScorer background;
    private final String binarize;
    private final int dims;

    /**
     * @param background the background model (likelihood ratio only; else null), a density over the same values
     * @param binarize   one of {@link ValueRule#MODES}, for both models
     */
    public AnomalyScorer(Method method, DensityScorer model, DensityScorer background, String binarize,
                         int batchSize) {
        this.method = method;
        this.model = model.setBinarize(binarize).setBatchSize(batchSize);
        this.binarize = binarize;
        this.dims = dims(model.model());
        if (method.needsBackground() != (background != null)) {
            throw new IllegalArgumentException(method.needsBackground()
                    ? "method " + method.key() + " needs a background model (--background-model): a model of the"
                    + " same data trained on perturbed copies (prepare.perturb)"
                    : "method " + method.key() + " uses no background model; unset it");
        }
        if (background != null) {
            check(model.model(), background.model());
            this.background = background.setBinarize(binarize).setBatchSize(batchSize)
                    .setLogProbCol(BACKGROUND_LOG_PROB).setNllCol(BG_PREFIX + "nll")
                    .setBitsPerDimCol(BG_PREFIX + "bpd").setErrorCol(BG_PREFIX + "error");
        } else {
            this.background = null;
        }
    }

    /** A scorer of saved model directories (background: "" = none). */
    public static AnomalyScorer load(Method method, String model, String background, String binarize, int batchSize,
                                     Configuration conf) {
        DensityScorer m = DensityScorer.of(SavedModel.load(model, false, conf), model);
        DensityScorer b = background.isEmpty() ? null
                : DensityScorer.of(SavedModel.load(background, false, conf), background);
        return new AnomalyScorer(method, m, b, binarize, batchSize);
    }

    private static void check(SavedModel model, SavedModel background) {
        Domain a = model.domain();
        Domain b = background.domain();
        if (dims(model) != dims(background) || !a.valueType().equals(b.valueType()) || a.levels() != b.levels()
                || model.spec().contextSize() != background.spec().contextSize()) {
            throw new IllegalArgumentException("the background model is a density over other values than the model ("
                    + dims(background) + " " + b.valueType() + " values of " + b.levels() + " levels, "
                    + background.spec().contextSize() + " classes vs " + dims(model) + " " + a.valueType()
                    + " values of " + a.levels() + " levels, " + model.spec().contextSize() + " classes)");
        }
    }

    private static int dims(SavedModel m) {
        long n = 1;
        for (long d : m.spec().eventShape()) {
            n *= d;
        }
        return Math.toIntExact(n);
    }

    public Method method() {
        return method;
    }

    /** The start of a summary: the method, its units, the models. */
    public Map<String, Object> describe() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("method", method.key());
        m.put("units", "bits/dim, larger = more anomalous");
        m.put("model", model.origin());
        m.put("backgroundModel", background == null ? null : background.origin());
        return m;
    }

    /** The model's loaded scorer. */
    public DensityScorer model() {
        return model;
    }

    /** Values per event. */
    public int dims() {
        return dims;
    }

    /**
     * Scores a table.
     *
     * @param columns     the model's value columns (names, ranges, or one whole-event column)
     * @param labelColumn class-conditional models: the label column ("" = none)
     * @param keep        columns passed through, in this order (already expanded)
     * @return the kept columns, the score columns, {@link #SCORE}
     */
    public Dataset<Row> score(Dataset<Row> table, List<String> columns, String labelColumn, List<String> keep) {
        model.setInputCols(columns.toArray(String[]::new));
        if (!labelColumn.isEmpty()) {
            model.setLabelCol(labelColumn);
        }
        Set<String> needed = new LinkedHashSet<>(keep);
        needed.addAll(FeatureColumns.expand(columns, table.schema()));
        if (!labelColumn.isEmpty()) {
            needed.add(labelColumn);
        }
        Dataset<Row> in = table.select(needed.stream().map(AnomalyScorer::quoted).toArray(Column[]::new));
        Dataset<Row> scored = model.transform(in);
        Column bitsPerDim = col(BITS_PER_DIM);
        Column score = bitsPerDim;
        List<String> extra = new ArrayList<>();
        switch (method) {
            case LIKELIHOOD_RATIO -> {
                background.setInputCols(columns.toArray(String[]::new));
                if (!labelColumn.isEmpty()) {
                    background.setLabelCol(labelColumn);
                }
                scored = background.transform(scored)
                        .withColumn(ERROR, functions.coalesce(col(ERROR), col(BG_PREFIX + "error")));
                score = col(BACKGROUND_LOG_PROB).minus(col(LOG_PROB)).divide(dims * Math.log(2));
                extra.add(BACKGROUND_LOG_PROB);
            }
            case COMPLEXITY -> {
                SavedModel m = model.model();
                FeatureColumns features = FeatureColumns.resolve(in.schema(), columns, dims, m.spec().eventShape(),
                        m.domain().vocabulary() != null);
                ValueRule rule = ValueRule.of(m.domain(), binarize, m.spec().contextSize());
                CompressedLength length = new CompressedLength(features, rule, m.spec().eventShape(),
                        m.domain().isReal() ? 0 : m.domain().levels());
                Column bits = functions.udf(length, DataTypes.DoubleType).apply(features.values());
                scored = scored.withColumn(COMPRESSED_BITS, functions.when(col(ERROR).isNull(), bits));
                score = col(NLL).divide(Math.log(2)).minus(col(COMPRESSED_BITS)).divide(dims);
                extra.add(COMPRESSED_BITS);
            }
            default -> {
            }
        }
        List<Column> out = new ArrayList<>();
        keep.forEach(k -> out.add(quoted(k)));
        for (String c : List.of(LOG_PROB, NLL, BITS_PER_DIM)) {
            out.add(col(c));
        }
        extra.forEach(c -> out.add(col(c)));
        out.add(col(ERROR));
        out.add(functions.when(col(ERROR).isNull(), score).as(SCORE));
        return scored.select(out.toArray(Column[]::new));
    }

    static Column quoted(String name) {
        return col("`" + name.replace("`", "``") + "`");
    }
}
