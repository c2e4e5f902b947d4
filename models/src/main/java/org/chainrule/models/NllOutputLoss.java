package org.chainrule.models;

import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The loss of a network whose last layer already outputs each example's negative log-likelihood ({@code [batch, 1]}):
 * the score is that output (averaged over the minibatch by DL4J, like every loss) and its gradient is 1. Models whose
 * conditionals are not Bernoulli compute their exact NLL inside a SameDiff layer, so SameDiff differentiates the
 * whole likelihood and no hand-written gradient can drift from it. Labels are ignored (pass any {@code [batch, 1]}).
 */
public final class NllOutputLoss extends ExactLoss {
    private static final long serialVersionUID = 1L;

    @Override
    public INDArray computeScoreArray(INDArray labels, INDArray preOutput, IActivation activation, INDArray mask) {
        checkIdentity(activation);
        INDArray s = preOutput.sum(1).reshape(-1, 1);
        return mask == null ? s : s.muli(mask.reshape(-1, 1).castTo(s.dataType()));
    }

    @Override
    public INDArray computeGradient(INDArray labels, INDArray preOutput, IActivation activation, INDArray mask) {
        checkIdentity(activation);
        INDArray ones = preOutput.ulike().assign(1.0);
        return mask == null ? ones : ones.muli(mask.reshape(-1, 1).castTo(ones.dataType()));
    }
}
