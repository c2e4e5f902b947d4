package org.chainrule.models;

import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.lossfunctions.ILossFunction;

/**
 * The loss of a network whose last layer already outputs each example's negative log-likelihood ({@code [batch, 1]}):
 * the score is that output (averaged over the minibatch by DL4J, like every loss) and its gradient is 1. Models whose
 * conditionals are not Bernoulli compute their exact NLL inside a SameDiff layer, so SameDiff differentiates the
 * whole likelihood and no hand-written gradient can drift from it. Labels are ignored (pass any {@code [batch, 1]}).
 */
public final class NllOutputLoss implements ILossFunction {
    private static final long serialVersionUID = 1L;

    private static void checkIdentity(IActivation activation) {
        if (!(activation instanceof ActivationIdentity)) {
            throw new IllegalStateException("NllOutputLoss takes the NLL itself: use Activation.IDENTITY, not "
                    + activation);
        }
    }

    @Override
    public INDArray computeScoreArray(INDArray labels, INDArray preOutput, IActivation activation, INDArray mask) {
        checkIdentity(activation);
        INDArray s = preOutput.sum(1).reshape(-1, 1);
        return mask == null ? s : s.muli(mask.reshape(-1, 1).castTo(s.dataType()));
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
        INDArray ones = preOutput.ulike().assign(1.0);
        return mask == null ? ones : ones.muli(mask.reshape(-1, 1).castTo(ones.dataType()));
    }

    @Override
    public Pair<Double, INDArray> computeGradientAndScore(INDArray labels, INDArray preOutput, IActivation activation,
                                                          INDArray mask, boolean average) {
        return new Pair<>(computeScore(labels, preOutput, activation, mask, average),
                computeGradient(labels, preOutput, activation, mask));
    }

    @Override
    public String name() {
        return "NllOutputLoss";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NllOutputLoss;
    }

    @Override
    public int hashCode() {
        return NllOutputLoss.class.hashCode();
    }

    @Override
    public String toString() {
        return name() + "()";
    }
}
