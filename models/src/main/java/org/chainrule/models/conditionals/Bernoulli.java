package org.chainrule.models.conditionals;

import org.chainrule.models.LogMath;
import org.chainrule.models.Seeds;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;

/** Binary conditionals from one logit: p(x = 1) = sigmoid(z); the NLL is softplus((1 - 2x) z), exact and stable. */
public record Bernoulli() implements OutputFamily {
    @Override
    public String name() {
        return "bernoulli";
    }

    @Override
    public int paramsPerDim() {
        return 1;
    }

    @Override
    public String valueType() {
        return "binary";
    }

    @Override
    public int levels() {
        return 2;
    }

    @Override
    public SDVariable nll(SameDiff sd, SDVariable params, SDVariable x, int dim) {
        SDVariable signed = x.mul(-2.0).add(1.0).mul(params);
        return StableMath.rowSum(Softplus.stable(sd, signed), dim);
    }

    @Override
    public double logProb(float[] p, int offset, double value) {
        double z = value > 0.5 ? -p[offset] : p[offset];
        return -(Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z))));
    }

    @Override
    public double sample(float[] p, int offset, long seed, double temperature) {
        return sampleFromUniform(p, offset, Seeds.uniform(seed), temperature);
    }

    /**
     * The draw for a given uniform in [0, 1): 1 when it falls below p(x = 1). For samplers whose uniforms come from
     * another source than {@link #sample(float[], int, long, double)}'s seed (the binary MADE's per-row stream).
     */
    public double sampleFromUniform(float[] p, int offset, double uniform, double temperature) {
        return uniform < LogMath.sigmoid(p[offset] / temperature) ? 1.0 : 0.0;
    }
}
