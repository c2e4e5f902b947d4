package org.chainrule.models;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.learning.config.Adam;

import java.io.Serializable;

/**
 * How a model's training network is optimized, for every model family in one place: the updater and its step size,
 * the seed of the network's initialisation, and the float type. A {@link ModelSpec} builds its layers on
 * {@link #base()} and sets nothing of the optimizer itself, so a change of optimizer, schedule or regularization is
 * one change here.
 *
 * @param learningRate the updater's step size (Adam)
 * @param seed         seed of the network's parameter initialisation
 */
public record TrainingRecipe(double learningRate, long seed) implements Serializable {
    public TrainingRecipe {
        if (!(learningRate > 0) || Double.isInfinite(learningRate)) {
            throw new IllegalArgumentException("learning rate must be positive and finite, got " + learningRate);
        }
    }

    /** A network configuration builder with this recipe's optimizer, seed and float type set. */
    public NeuralNetConfiguration.Builder base() {
        return new NeuralNetConfiguration.Builder()
                .seed(seed)
                .dataType(DataType.FLOAT)
                .updater(new Adam(learningRate));
    }
}
