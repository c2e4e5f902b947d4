package org.chainrule.pipelines.score;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.ml.Model;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.param.ParamValidators;
import org.apache.spark.ml.param.StringArrayParam;
import org.apache.spark.ml.util.DefaultParamsReadable;
import org.apache.spark.ml.util.DefaultParamsWritable;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.ml.util.MLWriter;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.chainrule.pipelines.io.Outputs;
import org.chainrule.pipelines.io.SavedModel;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;

/**
 * A saved chainrule model as a Spark ML {@link Model}: {@link #transform} adds {@code log_prob_nats},
 * {@code nll_nats}, {@code bits_per_dim} and {@code score_error} to any DataFrame (batch or streaming) and changes
 * nothing else; every input row comes out, a row the model cannot score with null scores and the reason.
 *
 * <pre>{@code
 * DensityScorer scorer = DensityScorer.load("runs/made-mnist/model").setInputCol("pixels");
 * Dataset<Row> scored = scorer.transform(events);
 * }</pre>
 *
 * <p>Input: {@link #inputCols} (one numeric column per value, in event order; ranges such as {@code p0..p783} are
 * written out) or {@link #inputCol} (one column holding whole events: array of numbers, ML vector, string for text
 * models, or binary as prepare stores values); {@link #labelCol} for class-conditional models. Raw values are encoded
 * as the model's data was ({@link ValueRule}: thresholds, integer levels, vocabulary; real values are standardized
 * inside the density, with the Jacobian). Each partition is scored in batches of {@link #batchSize} rows with a
 * density rebuilt once per executor JVM from one broadcast.
 *
 * <p>Persistence: {@link #write()} saves Spark's parameter metadata plus the model files under {@code model/}, so a
 * {@code PipelineModel} holding it saves to and loads from any Hadoop path; {@link #load} reads either that or a
 * chainrule model directory.
 */
public final class DensityScorer extends Model<DensityScorer> implements DefaultParamsWritable {
    private static final DefaultParamsReadable<DensityScorer> PARAMS_READER = new DefaultParamsReadable<>() {
    };
    private static final String MODEL_DIR = "model";

    private final String uid;
    private final Param<String> inputCol;
    private final StringArrayParam inputCols;
    private final Param<String> labelCol;
    private final Param<String> logProbCol;
    private final Param<String> nllCol;
    private final Param<String> bitsPerDimCol;
    private final Param<String> errorCol;
    private final IntParam batchSize;
    private final Param<String> binarize;
    private transient SavedModel model;
    private transient String origin;
    private transient ScoringModel scoring;

    /** An empty scorer with the given uid, for Spark's reader (which sets its params, then its model). */
    public DensityScorer(String uid) {
        this.uid = uid;
        inputCol = new Param<>(this, "inputCol", "one column holding whole events: array of numbers, ML vector,"
                + " string (text models) or binary (values as prepare stores them)");
        inputCols = new StringArrayParam(this, "inputCols", "the numeric columns of the event's values, in event"
                + " order; ranges such as p0..p783 are written out");
        labelCol = new Param<>(this, "labelCol", "class-conditional models: the column of class numbers");
        logProbCol = new Param<>(this, "logProbCol", "output column: log p(x) in nats");
        nllCol = new Param<>(this, "nllCol", "output column: -log p(x) in nats");
        bitsPerDimCol = new Param<>(this, "bitsPerDimCol", "output column: -log2 p(x) / dims");
        errorCol = new Param<>(this, "errorCol", "output column: why a row could not be scored (null when scored)");
        batchSize = new IntParam(this, "batchSize", "rows per forward pass of the model", ParamValidators.gt(0));
        binarize = new Param<>(this, "binarize", "auto: the model's own encoding of raw values; threshold: raw values"
                + " >= max-value / 2 become 1 (binary models); none: values are already encoded",
                ParamValidators.inArray(ValueRule.MODES));
        setDefault(logProbCol, "log_prob_nats");
        setDefault(nllCol, "nll_nats");
        setDefault(bitsPerDimCol, "bits_per_dim");
        setDefault(errorCol, "score_error");
        setDefault(batchSize, 1000);
        setDefault(binarize, "auto");
    }

    private DensityScorer(String uid, SavedModel model, String origin) {
        this(uid);
        this.model = model;
        this.origin = origin;
    }

    /**
     * A scorer of a chainrule model directory ({@code model.json} + {@code network.zip}) or of a directory this class
     * (or a PipelineModel stage) wrote, on any Hadoop filesystem, read with the active Spark session's configuration.
     */
    public static DensityScorer load(String path) {
        Configuration conf = SparkSession.active().sparkContext().hadoopConfiguration();
        if (Outputs.exists(path + "/metadata", conf)) {
            return read().load(path);
        }
        return of(SavedModel.load(path, false, conf), path);
    }

    /** A scorer of a loaded model; {@code origin} says where it came from. */
    public static DensityScorer of(SavedModel model, String origin) {
        return new DensityScorer("densityScorer_" + UUID.randomUUID().toString().substring(24), model, origin);
    }

    /** Spark's reader of what {@link #write()} saved (found by reflection when a PipelineModel loads). */
    public static MLReader<DensityScorer> read() {
        return new Reader();
    }

    @Override
    public MLWriter write() {
        return new Writer(this);
    }

    private MLWriter paramsWriter() {
        return DefaultParamsWritable.super.write();
    }

    @Override
    public String uid() {
        return uid;
    }

    // ------------------------------------------------------------------------------------------------ params

    public Param<String> inputCol() {
        return inputCol;
    }

    public StringArrayParam inputCols() {
        return inputCols;
    }

    public Param<String> labelCol() {
        return labelCol;
    }

    public Param<String> logProbCol() {
        return logProbCol;
    }

    public Param<String> nllCol() {
        return nllCol;
    }

    public Param<String> bitsPerDimCol() {
        return bitsPerDimCol;
    }

    public Param<String> errorCol() {
        return errorCol;
    }

    public IntParam batchSize() {
        return batchSize;
    }

    public Param<String> binarize() {
        return binarize;
    }

    public DensityScorer setInputCol(String value) {
        set(inputCol, value);
        return this;
    }

    public DensityScorer setInputCols(String... value) {
        set(inputCols, value);
        return this;
    }

    public DensityScorer setLabelCol(String value) {
        set(labelCol, value);
        return this;
    }

    public DensityScorer setLogProbCol(String value) {
        set(logProbCol, value);
        return this;
    }

    public DensityScorer setNllCol(String value) {
        set(nllCol, value);
        return this;
    }

    public DensityScorer setBitsPerDimCol(String value) {
        set(bitsPerDimCol, value);
        return this;
    }

    public DensityScorer setErrorCol(String value) {
        set(errorCol, value);
        return this;
    }

    public DensityScorer setBatchSize(int value) {
        set(batchSize, value);
        return this;
    }

    public DensityScorer setBinarize(String value) {
        set(binarize, value);
        return this;
    }

    public int getBatchSize() {
        return ((Number) getOrDefault(batchSize)).intValue();
    }

    /** The loaded model (spec, network, domain, settings and provenance). */
    public SavedModel model() {
        if (model == null) {
            throw new IllegalStateException("DensityScorer " + uid + " has no model: create it with"
                    + " DensityScorer.load(path)");
        }
        return model;
    }

    /** Where the model was loaded from. */
    public String origin() {
        return origin;
    }

    /** What executors receive: the model as bytes, with its identity. */
    synchronized ScoringModel scoring() {
        if (scoring == null) {
            scoring = new ScoringModel(model(), origin);
        }
        return scoring;
    }

    // ------------------------------------------------------------------------------------------------ transform

    /**
     * How a schema is scored: the columns handed to the row scorer (the kept ones, then the label, then the values),
     * where the values and the label are among them, and the output schema.
     */
    record Plan(FeatureColumns features, ValueRule rule, Column[] select, int valuesOrdinal, int labelOrdinal,
                int[] kept, StructType output) {
    }

    Plan plan(StructType schema, List<String> keep) {
        ScoringModel m = scoring();
        if (isSet(inputCol) == isSet(inputCols)) {
            throw new IllegalArgumentException("set exactly one of inputCol (one column holding whole events) and"
                    + " inputCols (one numeric column per value)");
        }
        List<String> requested = isSet(inputCol) ? List.of(getOrDefault(inputCol)) : List.of(getOrDefault(inputCols));
        FeatureColumns features = FeatureColumns.resolve(schema, requested, m.dims(), m.spec().eventShape(),
                m.domain().vocabulary() != null);
        ValueRule rule = ValueRule.of(m.domain(), getOrDefault(binarize), m.contextSize());
        List<Column> select = new ArrayList<>();
        int[] kept = new int[keep.size()];
        StructType output = new StructType();
        for (int k = 0; k < keep.size(); k++) {
            output = output.add(schema.fields()[FeatureColumns.ordinal(schema, keep.get(k))]);
            select.add(FeatureColumns.quoted(keep.get(k)));
            kept[k] = k;
        }
        int labelOrdinal = -1;
        if (m.contextSize() > 0) {
            if (!isSet(labelCol)) {
                throw new IllegalArgumentException("the model is conditioned on a class label (0.."
                        + (m.contextSize() - 1) + "): set labelCol (--label-column) to the column holding it");
            }
            FeatureColumns.ordinal(schema, getOrDefault(labelCol));
            labelOrdinal = select.size();
            select.add(FeatureColumns.quoted(getOrDefault(labelCol)).as("__chainrule_label"));
        } else if (isSet(labelCol)) {
            throw new IllegalArgumentException("the model is not conditioned on a label; unset labelCol ("
                    + getOrDefault(labelCol) + ")");
        }
        int valuesOrdinal = select.size();
        select.add(features.values().as("__chainrule_values"));
        Set<String> names = new HashSet<>(keep);
        for (Param<String> p : List.of(logProbCol, nllCol, bitsPerDimCol, errorCol)) {
            String name = getOrDefault(p);
            if (!names.add(name)) {
                throw new IllegalArgumentException("output column " + name + " is already taken (an input column or"
                        + " another output); set " + p.name() + " to another name");
            }
        }
        output = output.add(getOrDefault(logProbCol), DataTypes.DoubleType, true)
                .add(getOrDefault(nllCol), DataTypes.DoubleType, true)
                .add(getOrDefault(bitsPerDimCol), DataTypes.DoubleType, true)
                .add(getOrDefault(errorCol), DataTypes.StringType, true);
        return new Plan(features, rule, select.toArray(Column[]::new), valuesOrdinal, labelOrdinal, kept, output);
    }

    @Override
    public StructType transformSchema(StructType schema) {
        return plan(schema, Arrays.asList(schema.fieldNames())).output();
    }

    /** Every input column, unchanged, plus the four score columns. */
    @Override
    public Dataset<Row> transform(Dataset<?> dataset) {
        return score(dataset.toDF(), Arrays.asList(dataset.schema().fieldNames()));
    }

    /** The kept columns (in this order) of every input row, plus the four score columns. */
    Dataset<Row> score(Dataset<Row> input, List<String> keep) {
        Plan plan = plan(input.schema(), keep);
        Broadcast<ScoringModel> broadcast = JavaSparkContext.fromSparkContext(input.sparkSession().sparkContext())
                .broadcast(scoring());
        return input.select(plan.select()).mapPartitions(new RowScorer(broadcast, plan.features(), plan.rule(),
                plan.valuesOrdinal(), plan.labelOrdinal(), plan.kept(), getBatchSize()), Encoders.row(plan.output()));
    }

    @Override
    public DensityScorer copy(ParamMap extra) {
        DensityScorer copy = new DensityScorer(uid, model, origin);
        copy.scoring = scoring;
        return copyValues(copy, extra).setParent(parent());
    }

    @Override
    public String toString() {
        return "DensityScorer: uid=" + uid + (model == null ? "" : ", " + model.spec().type() + " model from "
                + origin);
    }

    // ------------------------------------------------------------------------------------------------ persistence

    /** Spark's parameter metadata (so PipelineModel finds this class), then the model files under model/. */
    private static final class Writer extends MLWriter {
        private final DensityScorer scorer;

        Writer(DensityScorer scorer) {
            this.scorer = scorer;
        }

        @Override
        public void saveImpl(String path) {
            try {
                scorer.paramsWriter().session(sparkSession()).save(path);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot save the parameters of " + scorer.uid + " to " + path, e);
            }
            scorer.model().save(path + "/" + MODEL_DIR, sc().hadoopConfiguration());
        }
    }

    private static final class Reader extends MLReader<DensityScorer> {
        @Override
        public DensityScorer load(String path) {
            DensityScorer params = PARAMS_READER.read().session(sparkSession()).load(path);
            String dir = path + "/" + MODEL_DIR;
            DensityScorer scorer = new DensityScorer(params.uid, SavedModel.load(dir, false,
                    sc().hadoopConfiguration()), dir);
            return params.copyValues(scorer, ParamMap.empty());
        }
    }
}
