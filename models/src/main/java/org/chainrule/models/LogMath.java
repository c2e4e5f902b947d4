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
        INDArray negAbs = Transforms.abs(z, true).negi();
        return Transforms.relu(z, true).addi(Transforms.log(Transforms.exp(negAbs, false).addi(1.0), false));
    }

    /**
     * Per-row Bernoulli log-likelihood from logits: sum_d x_d z_d - softplus(z_d), in double precision.
     *
     * @param x      binary values, {@code [batch, D]}
     * @param logits logits of p(x_d = 1), {@code [batch, D]}
     * @return {@code [batch]} nats
     */
    public static INDArray bernoulliLogProb(INDArray x, INDArray logits) {
        INDArray z = logits.castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE);
        INDArray xd = x.castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE);
        return xd.mul(z).subi(softplus(z)).sum(1);
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
