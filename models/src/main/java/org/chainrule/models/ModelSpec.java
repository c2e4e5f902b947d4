package org.chainrule.models;

import com.typesafe.config.Config;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Map;

/**
 * The architecture of a model, as a value: enough to build its DL4J training network and to turn trained parameters
 * back into a {@link DensityModel}. Saved next to the weights so a model reloads without guessing.
 */
public interface ModelSpec extends Described, java.io.Serializable {

    /** The model type, e.g. {@code made}. */
    String type();

    /** Shape of one event. */
    long[] eventShape();

    /** The value type of the data this model is a density over, as the dataset manifest names it ({@code binary}). */
    String valueType();

    /**
     * How many connectivity variants (mask sets / orderings) the model trains over; the training data schedule picks
     * one per minibatch. 1 for models with a single fixed structure.
     */
    int variantCount();

    /** The DL4J training view: a network whose loss is the mean negative log-likelihood (nats) of a minibatch. */
    MultiLayerConfiguration trainingConfiguration(TrainingRecipe optimization);

    /**
     * Network input for a minibatch of events trained with connectivity variant {@code variant}.
     *
     * @param x events {@code [batch, D]}
     */
    INDArray trainingFeatures(INDArray x, int variant);

    /**
     * Values per dimension of discrete data (2 for binary, K for K-way categorical); 0 for real-valued models. A
     * dataset must have exactly this many levels for the model to train on or score it.
     */
    default int levels() {
        return valueType().equals("binary") ? 2 : 0;
    }

    /** Length of the conditioning vector of p(x | context); 0 for an unconditional model. */
    default int contextSize() {
        return 0;
    }

    /**
     * Network input for a minibatch of events with their conditioning context.
     *
     * @param context {@code [batch, contextSize()]}, or null for an unconditional model
     */
    default INDArray trainingFeatures(INDArray x, INDArray context, int variant) {
        if (context != null) {
            throw new IllegalArgumentException("a " + type() + " model is unconditional but was given a context");
        }
        return trainingFeatures(x, variant);
    }

    /**
     * Network input for a training step: {@link #trainingFeatures(INDArray, INDArray, int)} plus whatever the step's
     * own randomness needs, drawn from {@code stepSeed} (a function of the run's seed and the global step, so it is
     * the same on any worker and after a resume): the dropout key of a model with dropout ({@link HashedDropout}).
     * Scoring never calls this; the other overloads give the evaluation input.
     */
    default INDArray trainingFeatures(INDArray x, INDArray context, int variant, long stepSeed) {
        return trainingFeatures(x, context, variant);
    }

    /**
     * Data-dependent initialisation of a freshly built training network from a sample of training events (standardized
     * like the training minibatches), before the first step: Glow's actnorm. Most models have none.
     */
    default void initializeFromData(MultiLayerNetwork network, INDArray x) {
    }

    /**
     * What the reported log-likelihood is when it is not exact: a bound or an estimate, and of what. Null for models
     * whose likelihood is exact (every autoregressive model).
     */
    default String likelihoodCaveat() {
        return null;
    }

    /**
     * Elements of the largest activation the training network holds per example, when it is far larger than the
     * event (NADE's running sums are {@code D x H} per row); 0 when nothing stands out. Scoring cuts its batches so
     * that one such activation stays near {@link GraphDensity#SCORING_ELEMENTS}: a NADE scored over 1,000 MNIST rows
     * at once would hold 1.6 GB per array and several of them per task.
     */
    default long activationElementsPerRow() {
        return 0;
    }

    /** Training labels for a minibatch of events. */
    INDArray trainingLabels(INDArray x);

    /** The density defined by a trained network's current parameters (a snapshot: later training does not leak in). */
    DensityModel densityOf(MultiLayerNetwork network);

    /**
     * Description that {@link #fromConfig} reads back, saved next to the weights; also the spec's identity
     * ({@link Described#sameDescription}).
     */
    @Override
    Map<String, Object> toMap();

    /** Reads a spec written by {@link #toMap} (as a parsed config), through the family its type names. */
    static ModelSpec fromConfig(Config c) {
        return ModelFamilies.read(c);
    }
}
