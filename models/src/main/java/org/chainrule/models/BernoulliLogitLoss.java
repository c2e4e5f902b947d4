package org.chainrule.models;

import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The exact Bernoulli negative log-likelihood of binary labels given logits: softplus(z) - y z per dimension, summed
 * over dimensions; its gradient is sigmoid(z) - y.
 *
 * <p>DL4J's sigmoid + binary cross-entropy clips probabilities to [1e-5, 1 - 1e-5] and then divides by p (1 - p):
 * for a confidently wrong output the gradient shrinks to about 1e-4 of its true value, which stalls learning, and
 * the reported score is not the NLL. Working on logits avoids both. Use with an identity activation.
 */
public final class BernoulliLogitLoss extends ExactLoss {
    private static final long serialVersionUID = 1L;

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
    public INDArray computeGradient(INDArray labels, INDArray preOutput, IActivation activation, INDArray mask) {
        checkIdentity(activation);
        INDArray grad = Transforms.sigmoid(preOutput, true).subi(labels.castTo(preOutput.dataType()));
        return mask == null ? grad : grad.muli(mask.castTo(grad.dataType()));
    }
}
