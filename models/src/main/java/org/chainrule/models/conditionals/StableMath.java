package org.chainrule.models.conditionals;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;

/**
 * Log-space reductions for the families' SameDiff expressions, written with elementary ops because the fused ones
 * fail in ND4J 1.0.0-M2.1: {@code logSoftmax} cannot be cloned (SameDiff clones the graph to build gradients, so a
 * network using it cannot train), {@code reduce_logsumexp} underflows to -inf when every term is very negative, and
 * any reduction over a dimension of size 1 throws inside the executioner (so those are skipped here).
 */
final class StableMath {
    private StableMath() {
    }

    /** log(sum(exp(x))) over {@code dim} (of length {@code size}), kept as a size-1 dimension; stable via the max. */
    static SDVariable logSumExp(SameDiff sd, SDVariable x, int dim, int size) {
        if (size == 1) {
            return x;
        }
        SDVariable max = x.max(true, dim);
        return sd.math().log(sd.math().exp(x.sub(max)).sum(true, dim)).add(max);
    }

    /**
     * x - logSumExp(x) over {@code dim}, as (x - max) - log(sum(exp(x - max))): finite for finite x, however extreme,
     * and without adding the max back (which would cost float32 precision for large logits).
     */
    static SDVariable logSoftmax(SameDiff sd, SDVariable x, int dim, int size) {
        if (size == 1) {
            return x.sub(x);
        }
        SDVariable shifted = x.sub(x.max(true, dim));
        return shifted.sub(sd.math().log(sd.math().exp(shifted).sum(true, dim)));
    }

    /** Per-row sum of {@code [batch, dim]} as {@code [batch, 1]}. */
    static SDVariable rowSum(SDVariable x, int dim) {
        return dim == 1 ? x.reshape(-1, 1) : x.sum(true, 1);
    }
}
