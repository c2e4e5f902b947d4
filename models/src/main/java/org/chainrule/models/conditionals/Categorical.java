package org.chainrule.models.conditionals;

import org.chainrule.models.Seeds;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;

/** K-way conditionals from K logits (softmax); values are the integers 0..K-1. */
public record Categorical(int levels) implements OutputFamily {
    public Categorical {
        if (levels < 2 || levels > 256) {
            throw new IllegalArgumentException("a categorical conditional needs 2..256 values, got " + levels);
        }
    }

    @Override
    public String name() {
        return "categorical";
    }

    @Override
    public int paramsPerDim() {
        return levels;
    }

    @Override
    public String valueType() {
        return "uint8";
    }

    @Override
    public SDVariable nll(SameDiff sd, SDVariable params, SDVariable x, int dim) {
        SDVariable logits = params.reshape(-1, dim, levels);
        SDVariable logp = StableMath.logSoftmax(sd, logits, 2, levels);
        SDVariable hot = sd.oneHot(x.castTo(DataType.INT), levels, -1, 1.0, 0.0, logits.dataType());
        return logp.mul(hot).sum(1, 2).neg().reshape(-1, 1);
    }

    @Override
    public double logProb(float[] p, int offset, double value) {
        int v = (int) value;
        if (v != value || v < 0 || v >= levels) {
            return Double.NEGATIVE_INFINITY;
        }
        double max = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < levels; k++) {
            max = Math.max(max, p[offset + k]);
        }
        double sum = 0;
        for (int k = 0; k < levels; k++) {
            sum += Math.exp(p[offset + k] - max);
        }
        return p[offset + v] - max - Math.log(sum);
    }

    @Override
    public double sample(float[] p, int offset, long seed, double temperature) {
        double max = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < levels; k++) {
            max = Math.max(max, p[offset + k] / temperature);
        }
        double[] w = new double[levels];
        double sum = 0;
        for (int k = 0; k < levels; k++) {
            w[k] = Math.exp(p[offset + k] / temperature - max);
            sum += w[k];
        }
        double u = Seeds.uniform(seed) * sum;
        for (int k = 0; k < levels - 1; k++) {
            u -= w[k];
            if (u < 0) {
                return k;
            }
        }
        return levels - 1;
    }
}
