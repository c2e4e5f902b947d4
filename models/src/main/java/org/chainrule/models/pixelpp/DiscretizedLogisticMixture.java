package org.chainrule.models.pixelpp;

import org.chainrule.models.Seeds;
import org.nd4j.autodiff.samediff.SDIndex;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.Serializable;

/**
 * The discretized logistic mixture likelihood of one pixel, from PixelCNN++ (Salimans, Karpathy, Chen and Kingma 2017,
 * "PixelCNN++: Improving the PixelCNN with Discretized Logistic Mixture Likelihood and Other Modifications", section
 * 2.1-2.2), for {@code levels} = L values per sub-pixel and C channels.
 *
 * <p><b>Values.</b> A sub-pixel value v in 0..L-1 is scaled to x = 2v / (L - 1) - 1 in [-1, 1]; its bin is
 * [x - h, x + h] with h = 1 / (L - 1), except that the bin of v = 0 extends to -inf and that of v = L - 1 to +inf, so
 * the L bins tile the real line and the probabilities of one logistic sum to exactly 1. L = 256 is 8-bit data;
 * smaller L (down to 2) lets tests enumerate every value.
 *
 * <p><b>Mixture and colour.</b> A pixel is drawn from a mixture of M components shared by its channels (one component
 * picks every channel's logistic, as in the paper). Within component k, channel c is a discretized logistic with
 * log-scale s_ck (clamped below at {@value #MIN_LOG_SCALE}: a vanishing scale would give a bin probability of 1 and an
 * unbounded gradient) and mean mu_ck + sum over c' &lt; c of tanh(a_kcc') x_c': the paper's linear dependence of G on
 * R and of B on R and G, with learned, tanh-bounded coefficients per component. C = 1 (grey) has no coefficients; any
 * C works, with C(C-1)/2 coefficients per component.
 *
 * <p><b>Parameter layout</b> (P = M (1 + 2C + C(C-1)/2) per pixel: 3M for C = 1, 10M for C = 3): M mixing logits,
 * then C groups of M means (channel-major: channel c component k at {@code M + c M + k}), C groups of M log-scales,
 * and the coefficients, one group of M per channel pair (c, c') in the order (1,0), (2,0), (2,1), ... (pair index
 * c(c-1)/2 + c'). Pixel n of an image owns columns n P .. n P + P - 1, like the project's output families.
 *
 * <p><b>Numerics.</b> With a = (x - h - mu) / s and b = (x + h - mu) / s, an interior bin's mass is sigma(b) -
 * sigma(a). The paper evaluates that difference directly and, because in float32 a sigmoid near 1 carries an absolute
 * rounding error of about 6e-8, switches to the density at the bin's centre times the bin width when the difference
 * falls below 1e-5 (there the direct difference would have a relative error above ~1%). That fallback is an
 * approximation, and not a small one when the scale is near the clamp (bin width 17 scales), so its probabilities do
 * not sum to 1 exactly. Here the difference is factored instead:
 * <pre>  sigma(b) - sigma(a) = sigma(b) sigma(-a) (1 - exp(-(b - a))),  b - a = delta = 2h / s,</pre>
 * so log p = -softplus(-b) - softplus(a) + log(1 - exp(-delta)): two stable softplus terms (max(z, 0) + log(1 +
 * exp(-|z|)), finite for every z) and a term that depends on the scale alone, never a difference of nearly equal
 * numbers. The edge bins keep one softplus each (log sigma(b) for v = 0, log sigma(-a) for v = L - 1). What remains of
 * the "mid-bin density" idea is the last term when the bin is narrow against the scale: log(1 - exp(-delta)) is
 * computed as log(-expm1(-delta)) for delta &ge; {@value #SERIES_BELOW}, and below it by the series log delta - delta /
 * 2 + delta^2 / 24 with log delta = log 2h - log s taken in log space (its next term, delta^4 / 2880, is below float
 * resolution there, and it stays finite for a huge scale where delta itself underflows). For small delta this is
 * exactly the density at the bin's centre times its width, to second order.
 *
 * <p>Like the project's {@code OutputFamily} classes the likelihood exists twice: a SameDiff expression for training
 * ({@link #nll}) and plain Java for one pixel ({@link #logProb}, and the sampler {@link #sample} that draws exactly
 * from it); tests hold them to the same numbers.
 *
 * @param channels   C, sub-pixels per pixel (1 grey, 3 colour)
 * @param components M, mixture components
 * @param levels     L, values per sub-pixel (256 for 8-bit data)
 */
public record DiscretizedLogisticMixture(int channels, int components, int levels) implements Serializable {
    /** Lower clamp of every log-scale, as in the paper. */
    public static final double MIN_LOG_SCALE = -7.0;
    /** Below this bin width (in scale units) log(1 - exp(-delta)) is taken from its series. */
    public static final double SERIES_BELOW = 1e-3;

    public DiscretizedLogisticMixture {
        if (channels < 1) {
            throw new IllegalArgumentException("a pixel needs at least one channel, got " + channels);
        }
        if (components < 1) {
            throw new IllegalArgumentException("a mixture needs at least one component, got " + components);
        }
        if (levels < 2) {
            throw new IllegalArgumentException("a discretized likelihood needs at least 2 levels, got " + levels);
        }
    }

    /** Channel-dependence coefficients per component: C(C-1)/2. */
    public int coefficients() {
        return channels * (channels - 1) / 2;
    }

    /** Parameter groups of M values each: logits, C means, C log-scales, the coefficients. */
    int groups() {
        return 1 + 2 * channels + coefficients();
    }

    /** Network outputs per pixel: M (1 + 2C + C(C-1)/2); 3M for grey, 10M for colour. */
    public int paramsPerPixel() {
        return components * groups();
    }

    /** Half the width of an interior bin in the [-1, 1] scale: 1 / (L - 1). */
    public double halfWidth() {
        return 1.0 / (levels - 1);
    }

    /** The value v in 0..L-1 scaled to [-1, 1]. */
    public double scaled(double v) {
        return 2.0 * v / (levels - 1) - 1.0;
    }

    /** Offset (within a pixel's parameters) of the mean of channel c, component k. */
    int mean(int c, int k) {
        return components * (1 + c) + k;
    }

    /** Offset of the log-scale of channel c, component k. */
    int logScale(int c, int k) {
        return components * (1 + channels + c) + k;
    }

    /** Offset of the coefficient of earlier channel c' in the mean of channel c (c' &lt; c), component k. */
    int coefficient(int c, int cPrev, int k) {
        return components * (1 + 2 * channels + c * (c - 1) / 2 + cPrev) + k;
    }

    // ---------------------------------------------------------------- SameDiff (training)

    /**
     * Per-example negative log-likelihood of whole images, summed over pixels.
     *
     * @param params {@code [batch, pixels * P]}, pixel n owning columns n P .. n P + P - 1
     * @param x      the raw values 0..L-1 (integer-valued floats), {@code [batch, pixels * C]}, channels last
     * @return {@code [batch, 1]} nats
     */
    public SDVariable nll(SameDiff sd, SDVariable params, SDVariable x, int pixels) {
        SDVariable lp = pixelLogProbs(sd, params, x, pixels);
        return (pixels == 1 ? lp.reshape(-1, 1) : lp.sum(true, 1)).neg();
    }

    /**
     * Log-probability of every pixel (all its channels jointly).
     *
     * @return {@code [batch, pixels]} nats
     */
    public SDVariable pixelLogProbs(SameDiff sd, SDVariable params, SDVariable x, int pixels) {
        int m = components;
        int c = channels;
        // every channel at once, [B, N, C, M]: the op count (SameDiff's cost at these sizes) does not grow with C
        SDVariable p = params.reshape(-1, pixels, groups(), m);
        SDVariable logits = groups(p, 0, 1).reshape(-1, pixels, m);
        SDVariable means = groups(p, 1, 1 + c);
        SDVariable logScales = sd.nn().relu(groups(p, 1 + c, 1 + 2 * c).sub(MIN_LOG_SCALE), 0).add(MIN_LOG_SCALE);
        SDVariable v = x.reshape(-1, pixels, c, 1);
        SDVariable xs = v.mul(2.0 / (levels - 1)).sub(1.0);
        if (c > 1) {
            means = means.add(channelShift(sd, sd.math().tanh(groups(p, 1 + 2 * c, groups())), xs, pixels));
        }
        SDVariable lp = binLogProbs(sd, v, xs.sub(means), logScales);
        SDVariable joint = logSoftmax(sd, logits).add(c == 1 ? lp.reshape(-1, pixels, m) : lp.sum(false, 2));
        return logSumExp(sd, joint, 2, m).reshape(-1, pixels);
    }

    /** Parameter groups {@code [from, to)} of {@code [B, N, G, M]}. */
    private static SDVariable groups(SDVariable p, int from, int to) {
        return p.get(SDIndex.all(), SDIndex.all(), SDIndex.interval(from, to), SDIndex.all());
    }

    /**
     * The channel dependence of the means, {@code [B, N, C, M]}: for channel c, the sum over c' &lt; c of
     * tanh(a_cc') x_c'. Both index maps are constant 0/1 matrices applied by matrix products (exact): the source
     * channel of each coefficient pair, and the target channel each pair adds to.
     *
     * @param coefficients tanh of the coefficients, {@code [B, N, K, M]}
     * @param xs           scaled values, {@code [B, N, C, 1]}
     */
    private SDVariable channelShift(SameDiff sd, SDVariable coefficients, SDVariable xs, int pixels) {
        int c = channels;
        int k = coefficients();
        INDArray source = Nd4j.zeros(xs.dataType(), c, k);
        INDArray target = Nd4j.zeros(xs.dataType(), k, c);
        for (int ch = 1; ch < c; ch++) {
            for (int prev = 0; prev < ch; prev++) {
                int pair = ch * (ch - 1) / 2 + prev;
                source.putScalar(prev, pair, 1.0);
                target.putScalar(pair, ch, 1.0);
            }
        }
        SDVariable earlier = xs.reshape(-1, c).mmul(sd.constant(source)).reshape(-1, pixels, k, 1);
        SDVariable terms = coefficients.mul(earlier).permute(0, 1, 3, 2).reshape(-1, k);
        return terms.mmul(sd.constant(target)).reshape(-1, pixels, components, c).permute(0, 1, 3, 2);
    }

    /**
     * log P(v) of every channel under every component: the bin terms of the class comment, each switched on by an
     * indicator computed arithmetically from the integer value (below the top level: clip(L - 1 - v, 0, 1); above the
     * bottom: clip(v, 0, 1)), so every term is finite and the switched-off ones contribute exactly 0, also to the
     * gradient.
     *
     * @param v        raw values {@code [B, N, C, 1]}
     * @param centred  x - mean, {@code [B, N, C, M]}
     * @param logScale clamped log-scales {@code [B, N, C, M]}
     */
    private SDVariable binLogProbs(SameDiff sd, SDVariable v, SDVariable centred, SDVariable logScale) {
        double h = halfWidth();
        SDVariable inverseScale = sd.math().exp(logScale.neg());
        SDVariable logSigmoidB = softplus(sd, centred.add(h).mul(inverseScale).neg()).neg();
        SDVariable logSigmoidMinusA = softplus(sd, centred.sub(h).mul(inverseScale)).neg();
        SDVariable belowTop = sd.math().clipByValue(v.rsub(levels - 1.0), 0.0, 1.0);
        SDVariable aboveBottom = sd.math().clipByValue(v, 0.0, 1.0);
        SDVariable logDelta = logScale.rsub(Math.log(2 * h));
        SDVariable delta = sd.math().exp(logDelta);
        SDVariable series = logDelta.sub(delta.mul(0.5)).add(sd.math().square(delta).div(24.0));
        // the other branch gets delta clipped into its own range, so neither branch is ever log(0) (a NaN gradient
        // of an unselected branch would still poison the sum)
        SDVariable clipped = sd.nn().relu(delta.sub(SERIES_BELOW), 0).add(SERIES_BELOW); // max(delta, SERIES_BELOW)
        SDVariable direct = sd.math().log(sd.math().expm1(clipped.neg()).neg());
        SDVariable small = sd.math().clipByValue(delta.rsub(SERIES_BELOW).mul(1e30), 0.0, 1.0);
        SDVariable logOneMinusExp = small.mul(series).add(small.rsub(1.0).mul(direct));
        return belowTop.mul(logSigmoidB).add(aboveBottom.mul(logSigmoidMinusA))
                .add(belowTop.mul(aboveBottom).mul(logOneMinusExp));
    }

    /** log(1 + exp(z)) as max(z, 0) + log(1 + exp(-|z|)): finite for any z in float32, unlike the fused op. */
    static SDVariable softplus(SameDiff sd, SDVariable z) {
        return sd.nn().relu(z, 0).add(sd.math().log(sd.math().exp(sd.math().abs(z).neg()).add(1.0)));
    }

    /** x - logsumexp(x) over the last axis (of length M), by elementary ops (the fused one cannot be cloned). */
    private SDVariable logSoftmax(SameDiff sd, SDVariable x) {
        if (components == 1) {
            return x.sub(x);
        }
        SDVariable shifted = x.sub(x.max(true, 2));
        return shifted.sub(sd.math().log(sd.math().exp(shifted).sum(true, 2)));
    }

    private static SDVariable logSumExp(SameDiff sd, SDVariable x, int axis, int size) {
        if (size == 1) {
            return x;
        }
        SDVariable max = x.max(true, axis);
        return sd.math().log(sd.math().exp(x.sub(max)).sum(true, axis)).add(max);
    }

    // ---------------------------------------------------------------- plain Java (scoring one pixel, sampling)

    /**
     * log P(pixel) of one pixel's C values, all channels jointly.
     *
     * @param p       parameters, the pixel's P values starting at {@code offset}
     * @param x       raw values 0..L-1, the pixel's C values starting at {@code xOffset}
     * @return nats; -inf for a value that is not one of the L levels
     */
    public double logProb(float[] p, int offset, float[] x, int xOffset) {
        int m = components;
        double[] xs = new double[channels];
        for (int c = 0; c < channels; c++) {
            double v = x[xOffset + c];
            if (v != Math.rint(v) || v < 0 || v > levels - 1) {
                return Double.NEGATIVE_INFINITY;
            }
            xs[c] = scaled(v);
        }
        double[] joint = logSoftmax(p, offset, 1.0);
        for (int k = 0; k < m; k++) {
            for (int c = 0; c < channels; c++) {
                double logScale = Math.max(MIN_LOG_SCALE, p[offset + logScale(c, k)]);
                joint[k] += binLogProb((int) x[xOffset + c], xs[c] - mean(p, offset, xs, c, k), logScale);
            }
        }
        return logSumExp(joint);
    }

    /** The mean of channel c in component k given the earlier channels' scaled values. */
    private double mean(float[] p, int offset, double[] xs, int c, int k) {
        double mean = p[offset + mean(c, k)];
        for (int prev = 0; prev < c; prev++) {
            mean += Math.tanh(p[offset + coefficient(c, prev, k)]) * xs[prev];
        }
        return mean;
    }

    /** log P(v) of one discretized logistic: the factored form of the class comment. */
    double binLogProb(int v, double centred, double logScale) {
        double h = halfWidth();
        double inverseScale = Math.exp(-logScale);
        double lp = 0;
        if (v < levels - 1) {
            lp -= softplus(-(centred + h) * inverseScale);
        }
        if (v > 0) {
            lp -= softplus((centred - h) * inverseScale);
        }
        if (v > 0 && v < levels - 1) {
            double logDelta = Math.log(2 * h) - logScale;
            double delta = Math.exp(logDelta);
            lp += delta < SERIES_BELOW ? logDelta - delta / 2 + delta * delta / 24 : Math.log(-Math.expm1(-delta));
        }
        return lp;
    }

    static double softplus(double z) {
        return Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
    }

    /** log softmax(logits / temperature) of the M mixing logits. */
    private double[] logSoftmax(float[] p, int offset, double temperature) {
        double[] out = new double[components];
        for (int k = 0; k < components; k++) {
            out[k] = p[offset + k] / temperature;
        }
        double lse = logSumExp(out);
        for (int k = 0; k < components; k++) {
            out[k] -= lse;
        }
        return out;
    }

    private static double logSumExp(double[] a) {
        double max = Double.NEGATIVE_INFINITY;
        for (double v : a) {
            max = Math.max(max, v);
        }
        if (max == Double.NEGATIVE_INFINITY) {
            return max;
        }
        double sum = 0;
        for (double v : a) {
            sum += Math.exp(v - max);
        }
        return max + Math.log(sum);
    }

    /**
     * Draws one pixel (all C channels together) from the mixture, using only uniforms derived from {@code seed}: a
     * component k from softmax(logits / T) (uniform {@code derive(seed, 0)}), then channel by channel a logistic
     * y = mean + s T log(u / (1 - u)) (uniform {@code derive(seed, 1 + c)}; s = exp(max(log-scale, -7)), the mean
     * shifted by the earlier channels' drawn values), and the level whose bin holds y. Because the bins tile the line
     * this is an exact draw from the discretized logistic, and conditioning later channels on the <em>discretized</em>
     * earlier values is what {@link #logProb} scores. (The paper's own sampler feeds the continuous, clipped draw to
     * the later channels instead, which the likelihood never sees.)
     *
     * <p>Temperature T: 1 is the model itself; below 1 sharpens by dividing the mixing logits by T and multiplying
     * every logistic scale by T (after the clamp), leaving means and channel coefficients alone. At T = 1 the draw has
     * exactly the distribution {@link #logProb} scores.
     *
     * @param out receives the C raw values 0..L-1 starting at {@code outOffset}
     */
    public void sample(float[] p, int offset, long seed, double temperature, float[] out, int outOffset) {
        double[] logWeights = logSoftmax(p, offset, temperature);
        double u = Seeds.uniform(Seeds.derive(seed, 0));
        int k = components - 1;
        for (int j = 0; j < components - 1; j++) {
            u -= Math.exp(logWeights[j]);
            if (u < 0) {
                k = j;
                break;
            }
        }
        double[] xs = new double[channels];
        for (int c = 0; c < channels; c++) {
            double scale = Math.exp(Math.max(MIN_LOG_SCALE, p[offset + logScale(c, k)])) * temperature;
            double w = Seeds.uniform(Seeds.derive(seed, 1 + c));
            double y = mean(p, offset, xs, c, k) + scale * (Math.log(w) - Math.log1p(-w)); // w = 0 gives -inf: level 0
            double level = Math.rint((y + 1) * (levels - 1) / 2);
            int v = (int) Math.max(0, Math.min(levels - 1, level));
            out[outOffset + c] = v;
            xs[c] = scaled(v);
        }
    }
}
