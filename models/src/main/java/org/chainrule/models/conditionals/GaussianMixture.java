package org.chainrule.models.conditionals;

import org.chainrule.models.Seeds;
import org.nd4j.autodiff.samediff.SDIndex;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;

/**
 * Real-valued conditionals: a mixture of C Gaussians, as in RNADE (Uria et al. 2013). Per dimension the network emits
 * C mixing logits, C means and C log standard deviations (in that order). Log standard deviations are clamped to
 * [{@value #MIN_LOG_STD}, {@value #MAX_LOG_STD}] so a collapsing component cannot reach an infinite density; the
 * mixture is combined with a stable log-sum-exp. One component is a plain Gaussian conditional.
 */
public record GaussianMixture(int components) implements OutputFamily {
    public static final double MIN_LOG_STD = -7.0;
    public static final double MAX_LOG_STD = 7.0;
    private static final double HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

    public GaussianMixture {
        if (components < 1) {
            throw new IllegalArgumentException("a Gaussian mixture needs at least one component, got " + components);
        }
    }

    @Override
    public String name() {
        return components == 1 ? "gaussian" : "mixture";
    }

    @Override
    public int paramsPerDim() {
        return 3 * components;
    }

    @Override
    public String valueType() {
        return "real";
    }

    @Override
    public int levels() {
        return 0;
    }

    @Override
    public SDVariable nll(SameDiff sd, SDVariable params, SDVariable x, int dim) {
        int c = components;
        SDVariable p = params.reshape(-1, dim, 3L * c);
        SDVariable logits = p.get(SDIndex.all(), SDIndex.all(), SDIndex.interval(0, c));
        SDVariable mean = p.get(SDIndex.all(), SDIndex.all(), SDIndex.interval(c, 2 * c));
        SDVariable logStd = sd.math().clipByValue(p.get(SDIndex.all(), SDIndex.all(), SDIndex.interval(2 * c, 3 * c)),
                MIN_LOG_STD, MAX_LOG_STD);
        SDVariable z = x.reshape(-1, dim, 1).sub(mean).mul(sd.math().exp(logStd.neg()));
        SDVariable logNormal = sd.math().square(z).mul(-0.5).sub(logStd).sub(HALF_LOG_2PI);
        SDVariable joint = StableMath.logSoftmax(sd, logits, 2, c).add(logNormal);
        return StableMath.rowSum(StableMath.logSumExp(sd, joint, 2, c).reshape(-1, dim), dim).neg();
    }

    @Override
    public double logProb(float[] p, int offset, double value) {
        int c = components;
        double maxLogit = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < c; k++) {
            maxLogit = Math.max(maxLogit, p[offset + k]);
        }
        double norm = 0;
        for (int k = 0; k < c; k++) {
            norm += Math.exp(p[offset + k] - maxLogit);
        }
        double logNorm = maxLogit + Math.log(norm);
        double[] terms = new double[c];
        double max = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < c; k++) {
            double logStd = clamp(p[offset + 2 * c + k]);
            double z = (value - p[offset + c + k]) * Math.exp(-logStd);
            terms[k] = p[offset + k] - logNorm - 0.5 * z * z - logStd - HALF_LOG_2PI;
            max = Math.max(max, terms[k]);
        }
        double sum = 0;
        for (double t : terms) {
            sum += Math.exp(t - max);
        }
        return max + Math.log(sum);
    }

    @Override
    public double sample(float[] p, int offset, long seed, double temperature) {
        int c = components;
        double max = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < c; k++) {
            max = Math.max(max, p[offset + k] / temperature);
        }
        // the component is drawn from softmax(logits / T), as OutputFamily#sample specifies
        double[] w = new double[c];
        double sum = 0;
        for (int k = 0; k < c; k++) {
            w[k] = Math.exp(p[offset + k] / temperature - max);
            sum += w[k];
        }
        double u = Seeds.uniform(Seeds.derive(seed, 0)) * sum;
        int pick = c - 1;
        for (int k = 0; k < c - 1; k++) {
            u -= w[k];
            if (u < 0) {
                pick = k;
                break;
            }
        }
        // Box-Muller from two more uniforms of the same seed; 1 - u keeps the log finite
        double u1 = 1.0 - Seeds.uniform(Seeds.derive(seed, 1));
        double u2 = Seeds.uniform(Seeds.derive(seed, 2));
        double normal = Math.sqrt(-2.0 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
        return p[offset + c + pick] + temperature * Math.exp(clamp(p[offset + 2 * c + pick])) * normal;
    }

    @Override
    public int components() {
        return components;
    }

    private static double clamp(double logStd) {
        return Math.max(MIN_LOG_STD, Math.min(MAX_LOG_STD, logStd));
    }
}
