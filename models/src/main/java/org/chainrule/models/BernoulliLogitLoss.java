package org.chainrule.models;

import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.lossfunctions.ILossFunction;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The exact Bernoulli negative log-likelihood of binary labels given logits: softplus(z) - y z per dimension, summed
 * over dimensions; its gradient is sigmoid(z) - y.
 *
 * <p>DL4J's sigmoid + binary cross-entropy clips probabilities to [1e-5, 1 - 1e-5] and then divides by p (1 - p):
 * for a confidently wrong output the gradient shrinks to about 1e-4 of its true value, which stalls learning, and
 * the reported score is not the NLL. Working on logits avoids both. Use with an identity activation.
 */
public final class BernoulliLogitLoss implements ILossFunction {
    private static final long serialVersionUID = 1L;

    private static void checkIdentity(IActivation activation) {
        if (!(activation instanceof ActivationIdentity)) {
            throw new IllegalStateException("BernoulliLogitLoss takes logits: use Activation.IDENTITY, not " + activation);
        }
    }

    @Override
    public INDArray computeScoreArray(INDArray labels, INDArray preOutput, IActivation activation, INDArray mask) {
        checkIdentity(activation);
        INDArray perDim = LogMath.softplus(preOutput).subi(labels.castTo(preOutput.dataType()).mul(preOutput));
        if (mask != null) {
            perDim.muli(mask.castTo(perDim.dataType()));
        }
        return perDim.sum(1).reshape(-1, 1);
    }

    @Override
    public double computeScore(INDArray labels, INDArray preOutput, IActivation activation, INDArray mask,
                               boolean average) {
        double total = computeScoreArray(labels, preOutput, activation, mask).sumNumber().doubleValue();
        return average ? total / preOutput.size(0) : total;
    }

    @Override
    public INDArray computeGradient(INDArray labels, INDArray preOutput, IActivation activation, INDArray mask) {
        checkIdentity(activation);
        INDArray grad = Transforms.sigmoid(preOutput, true).subi(labels.castTo(preOutput.dataType()));
        return mask == null ? grad : grad.muli(mask.castTo(grad.dataType()));
    }

    @Override
    public Pair<Double, INDArray> computeGradientAndScore(INDArray labels, INDArray preOutput, IActivation activation,
                                                          INDArray mask, boolean average) {
        return new Pair<>(computeScore(labels, preOutput, activation, mask, average),
                computeGradient(labels, preOutput, activation, mask));
    }

    @Override
    public String name() {
        return "BernoulliLogitLoss";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BernoulliLogitLoss;
    }

    @Override
    public int hashCode() {
        return BernoulliLogitLoss.class.hashCode();
    }

    @Override
    public String toString() {
        return name() + "()";
    }
}
