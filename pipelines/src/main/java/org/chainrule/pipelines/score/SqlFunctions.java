package org.chainrule.pipelines.score;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.api.java.UDF2;
import org.apache.spark.sql.types.DataTypes;
import org.chainrule.models.DensityModel;
import org.chainrule.pipelines.data.Batches;
import org.chainrule.pipelines.io.SavedModel;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A saved model as a Spark SQL function: after {@code SqlFunctions.register(spark, "mnist_logp", path)},
 * {@code SELECT id, mnist_logp(pixels) AS lp FROM events} gives log p(x) in nats per row. The argument holds a whole
 * event (an array of numbers, an ML vector, a string for text models, or stored bytes); a class-conditional model's
 * function takes the label as a second argument. A row the model cannot score gives NULL (the {@link DensityScorer}
 * transformer says why, in {@code score_error}).
 *
 * <p>The model is broadcast once; each executor JVM rebuilds its density once and reuses it for every call. Spark
 * calls SQL functions one row at a time, so for bulk scoring the transformer, which runs the model on large batches,
 * is several times faster.
 */
public final class SqlFunctions {
    private SqlFunctions() {
    }

    /** Registers {@code name} for the model at {@code path}, which encodes raw values as the model's data was. */
    public static void register(SparkSession spark, String name, String path) {
        register(spark, name, path, "auto");
    }

    /**
     * Registers {@code name} for the model at {@code path} (any Hadoop filesystem).
     *
     * @param binarize one of {@link ValueRule#MODES}: how binary models read raw values
     */
    public static void register(SparkSession spark, String name, String path, String binarize) {
        SavedModel saved = SavedModel.load(path, false, spark.sparkContext().hadoopConfiguration());
        ScoringModel model = new ScoringModel(saved, path);
        ValueRule rule = ValueRule.of(model.domain(), binarize, model.contextSize());
        Broadcast<ScoringModel> broadcast = JavaSparkContext.fromSparkContext(spark.sparkContext()).broadcast(model);
        if (model.contextSize() == 0) {
            spark.udf().register(name, (UDF1<Object, Double>) x -> logProb(broadcast.value(), rule, x, null),
                    DataTypes.DoubleType);
        } else {
            spark.udf().register(name, (UDF2<Object, Object, Double>) (x, label) -> logProb(broadcast.value(), rule, x,
                    label), DataTypes.DoubleType);
        }
    }

    /** log p(x) of one event, or null when it cannot be scored. */
    static Double logProb(ScoringModel model, ValueRule rule, Object event, Object label) {
        int dims = model.dims();
        float[] x = new float[dims];
        if (FeatureColumns.readEvent(event, "the argument", dims, rule, x, 0) != null) {
            return null;
        }
        INDArray context = null;
        if (model.contextSize() > 0) {
            int y = rule.label(label);
            if (y < 0) {
                return null;
            }
            context = Batches.oneHot(new int[]{y}, model.contextSize());
        }
        DensityModel density = model.borrow();
        try {
            return density.logProb(Nd4j.create(x, new long[]{1, dims}, DataType.FLOAT), context).getDouble(0);
        } finally {
            model.giveBack(density);
        }
    }
}
