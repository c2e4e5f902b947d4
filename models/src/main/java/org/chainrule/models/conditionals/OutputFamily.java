package org.chainrule.models.conditionals;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;

import java.io.Serializable;
import java.util.List;

/**
 * The distribution family of each one-dimensional conditional p(x_d | x_<d) of an autoregressive model, given a
 * network's raw outputs for that dimension.
 *
 * <p>Parameter layout, shared by every model: a network emits {@code [batch, D * P]} values, dimension {@code d}
 * owning the {@code P = paramsPerDim()} consecutive columns starting at {@code d * P}.
 *
 * <p>Each family exists twice, once as a SameDiff expression (the training loss, differentiated by SameDiff) and once
 * as plain Java on one dimension's parameters (ancestral sampling, where a model computes one conditional at a time).
 * Tests hold the two to the same numbers.
 */
public interface OutputFamily extends Serializable {

    /** Family names the {@code model.output} config key accepts. */
    List<String> NAMES = List.of("bernoulli", "categorical", "gaussian", "mixture");

    /** Config name: {@code bernoulli}, {@code categorical} or {@code mixture} (Gaussian mixture; 1 component = gaussian). */
    String name();

    /** Network outputs per data dimension. */
    int paramsPerDim();

    /** Value type of the data the family is a distribution over: {@code binary}, {@code uint8} or {@code real}. */
    String valueType();

    /** Number of values per dimension for discrete families (2 for binary); 0 for real-valued ones. */
    int levels();

    /**
     * Per-example negative log-likelihood, summed over dimensions.
     *
     * @param params {@code [batch, D * P]}
     * @param x      data {@code [batch, D]} (integer-valued floats for discrete families)
     * @return {@code [batch, 1]}
     */
    SDVariable nll(SameDiff sd, SDVariable params, SDVariable x, int dim);

    /** {@code log p(x_d = value)} from the parameters at {@code p[offset .. offset + P)}. */
    double logProb(float[] p, int offset, double value);

    /**
     * One draw from the conditional with parameters at {@code p[offset ..]}, using only uniforms derived from
     * {@code seed}. {@code temperature} 1 is the model itself; below 1 sharpens (logits / T; standard deviations * T).
     */
    double sample(float[] p, int offset, long seed, double temperature);

    /** A family by config name. */
    static OutputFamily of(String name, int levels, int components) {
        return switch (name) {
            case "bernoulli" -> new Bernoulli();
            case "categorical" -> new Categorical(levels);
            case "gaussian" -> new GaussianMixture(1);
            case "mixture" -> new GaussianMixture(components);
            default -> throw new IllegalArgumentException("unknown output family '" + name + "'; known: " + NAMES);
        };
    }

    /** Number of mixture components (0 for discrete families). */
    default int components() {
        return 0;
    }
}
