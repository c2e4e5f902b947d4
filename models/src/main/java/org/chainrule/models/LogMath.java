package org.chainrule.models;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/** Numerically stable log-space helpers. */
public final class LogMath {
    private LogMath() {
    }

    /**
     * log(1 + exp(z)) without overflow: max(z, 0) + log(1 + exp(-|z|)). ND4J's own softplus overflows for large z in
     * float32, which would turn a confident correct prediction into an infinite loss.
     */
    public static INDArray softplus(INDArray z) {
        return softplusInPlace(z.dup());
    }

    /**
     * Per-row Bernoulli log-likelihood from logits: sum_d x_d z_d - softplus(z_d) = -sum_d softplus((1 - 2 x_d) z_d)
     * for binary x. The work stays in the logits' precision (float32 for trained models; per-row sums of 784 terms are
     * good to about 1e-5 relative) and the result is returned as doubles.
     *
     * @param x      binary values, {@code [batch, D]}
     * @param logits logits of p(x_d = 1), {@code [batch, D]}
     * @return {@code [batch]} nats, double precision
     */
    public static INDArray bernoulliLogProb(INDArray x, INDArray logits) {
        // mul (not muli): castTo returns x itself when the types already match, and x must stay untouched
        INDArray signed = x.castTo(logits.dataType()).mul(-2.0).addi(1.0).muli(logits);
        return softplusInPlace(signed).sum(1).castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE).negi();
    }

    /** Stable softplus computed into its argument: max(z, 0) + log(1 + exp(-|z|)). */
    private static INDArray softplusInPlace(INDArray z) {
        INDArray tail = Transforms.log(Transforms.exp(Transforms.abs(z, true).negi(), false).addi(1.0), false);
        return Transforms.relu(z, false).addi(tail);
    }

    /**
     * Row-wise log-mean-exp over columns: log((1/K) sum_k exp(a_k)), stable by subtracting the row maximum.
     *
     * @param a {@code [batch, K]}
     * @return {@code [batch]}
     */
    public static INDArray logMeanExp(INDArray a) {
        INDArray max = a.max(1);
        INDArray shifted = a.subColumnVector(max.reshape(-1, 1));
        return Transforms.log(Transforms.exp(shifted, false).sum(1), false).addi(max).subi(Math.log(a.columns()));
    }

    /** Logistic sigmoid of a scalar. */
    public static double sigmoid(double z) {
        return z >= 0 ? 1.0 / (1.0 + Math.exp(-z)) : Math.exp(z) / (1.0 + Math.exp(z));
    }
}
