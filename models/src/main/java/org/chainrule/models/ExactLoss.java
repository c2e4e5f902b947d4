package org.chainrule.models;

import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.lossfunctions.ILossFunction;

/**
 * What this project's exact-likelihood losses share: they take raw network outputs (identity activation, checked),
 * report the per-example NLL summed over a minibatch (or its mean), and are stateless, so any two instances of a
 * class are equal (DL4J compares configurations, which hold the loss, by value).
 */
public abstract class ExactLoss implements ILossFunction {
    private static final long serialVersionUID = 1L;

    /** Fails unless the layer applies no activation: these losses do their own, exactly. */
    protected void checkIdentity(IActivation activation) {
        if (!(activation instanceof ActivationIdentity)) {
            throw new IllegalStateException(name() + " takes raw outputs: use Activation.IDENTITY, not " + activation);
        }
    }

    @Override
    public double computeScore(INDArray labels, INDArray preOutput, IActivation activation, INDArray mask,
                               boolean average) {
        double total = computeScoreArray(labels, preOutput, activation, mask).sumNumber().doubleValue();
        return average ? total / preOutput.size(0) : total;
    }

    @Override
    public Pair<Double, INDArray> computeGradientAndScore(INDArray labels, INDArray preOutput, IActivation activation,
                                                          INDArray mask, boolean average) {
        return new Pair<>(computeScore(labels, preOutput, activation, mask, average),
                computeGradient(labels, preOutput, activation, mask));
    }

    @Override
    public String name() {
        return getClass().getSimpleName();
    }

    @Override
    public boolean equals(Object o) {
        return o != null && o.getClass() == getClass();
    }

    @Override
    public int hashCode() {
        return getClass().hashCode();
    }

    @Override
    public String toString() {
        return name() + "()";
    }
}
