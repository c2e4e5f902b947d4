package org.chainrule.models.flows;

import org.chainrule.models.Described;
import org.chainrule.models.Seeds;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * How a flow over discrete values gets continuous inputs: the noise u in [0, 1)^D added to the integers x.
 *
 * <ul>
 *   <li>{@code uniform} (Uria et al. 2013; Theis et al. 2016): u ~ U[0, 1)^D, log q(u|x) = 0; no parameters.</li>
 *   <li>{@code variational} (Ho et al. 2019, "Flow++", section 3.1.2): u is itself a flow of Gaussian noise
 *   conditioned on x, {@code u = sigmoid(mu(x) + exp(logS(x)) * eps)}, eps ~ N(0, I), with mu and logS from a small
 *   network on x. Since {@code P(x) = E_q[p(x + u) / q(u|x)]}, the reported
 *   {@code E_q[log p(x + u) - log q(u|x)]} is still a lower bound on log P(x) (Jensen), but q can put the noise where
 *   the model's density is, instead of spreading it over the whole bin; with uniform q the bound is the uniform one.
 *   The change of variables from eps gives
 *   {@code log q(u|x) = log N(eps) - sum logS - sum log sigmoid'(a)}, a = mu + exp(logS) eps, with
 *   {@code log sigmoid'(a) = log sigmoid(a) + log sigmoid(-a) = -softplus(-a) - softplus(a)}.</li>
 * </ul>
 *
 * <p>The conditioner is an MLP (tanh hidden layers of widths {@code hidden}, none = linear) on the centred, scaled
 * values {@code x / L - 1/2} of the whole event, flattened: for image-shaped events it is an MLP over the pixels, not a
 * convolutional network as in Flow++. Its two output layers are mu and the raw log-scale; they start at zero weights
 * with the log-scale bias at {@value #INITIAL_LOG_SCALE}, so q starts independent of x as the logit-normal
 * {@code sigmoid(N(0, e^(2 * 0.5)))}, which is close to uniform (the logistic that sigmoid maps to exactly uniform has
 * standard deviation pi/sqrt(3) ~ 1.81, against e^0.5 ~ 1.65). Both outputs are soft-clamped as in
 * {@link MaskedAutoregressive}: {@code mu = M tanh(raw / M)} with M = {@value #MU_BOUND} and
 * {@code logS = B tanh(raw / B)} with B = {@value #LOG_SCALE_BOUND}, so one bad step cannot send exp(logS) to
 * infinity in float.
 *
 * <p>Parameters (letters and digits, prefixed {@code dq}): {@code dqW<l>}, {@code dqb<l>} for hidden layer l,
 * {@code dqWm}, {@code dqbm} for mu and {@code dqWs}, {@code dqbs} for the log-scale.
 *
 * @param mode   {@code uniform} or {@code variational}
 * @param hidden widths of the conditioner's hidden layers (variational only; empty = linear conditioner)
 */
public record Dequantization(String mode, int[] hidden) implements Described, java.io.Serializable {

    /** Dequantization modes a flow can be configured with. */
    public static final List<String> MODES = List.of("uniform", "variational");

    /** Uniform noise, no parameters: the default and what specs saved before this option existed mean. */
    public static final Dequantization UNIFORM = new Dequantization("uniform", new int[0]);

    /** Initial log-scale of q: sigmoid(N(0, e^1)) is near uniform on (0, 1). */
    public static final double INITIAL_LOG_SCALE = 0.5;
    /** Bound M of the soft-clamped shift. */
    public static final double MU_BOUND = 6.0;
    /** Bound B of the soft-clamped log-scale. */
    public static final double LOG_SCALE_BOUND = 4.0;

    private static final double HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

    public Dequantization {
        if (!MODES.contains(mode)) {
            throw new IllegalArgumentException("dequantization must be one of " + MODES + ", got " + mode);
        }
        hidden = hidden.clone();
        for (int h : hidden) {
            if (h < 1) {
                throw new IllegalArgumentException("dequantization hidden widths must be positive: "
                        + Arrays.toString(hidden));
            }
        }
        if (mode.equals("uniform") && hidden.length > 0) {
            throw new IllegalArgumentException("uniform dequantization has no network; hidden widths "
                    + Arrays.toString(hidden) + " given");
        }
    }

    /** Variational dequantization with a conditioner of the given hidden widths. */
    public static Dequantization variational(int... hidden) {
        return new Dequantization("variational", hidden);
    }

    @Override
    public int[] hidden() {
        return hidden.clone();
    }

    /** Whether q is learned (the network input then carries eps next to x). */
    public boolean isVariational() {
        return mode.equals("variational");
    }

    static String weightName(int l) {
        return "dqW" + l;
    }

    static String biasName(int l) {
        return "dqb" + l;
    }

    static final String MU_WEIGHT = "dqWm";
    static final String MU_BIAS = "dqbm";
    static final String SCALE_WEIGHT = "dqWs";
    static final String SCALE_BIAS = "dqbs";

    /** The conditioner's parameters for events of {@code dim} values; empty for uniform dequantization. */
    public Map<String, long[]> parameterShapes(int dim) {
        Map<String, long[]> m = new LinkedHashMap<>();
        if (!isVariational()) {
            return m;
        }
        int in = dim;
        for (int l = 0; l < hidden.length; l++) {
            m.put(weightName(l), new long[]{in, hidden[l]});
            m.put(biasName(l), new long[]{1, hidden[l]});
            in = hidden[l];
        }
        m.put(MU_WEIGHT, new long[]{in, dim});
        m.put(MU_BIAS, new long[]{1, dim});
        m.put(SCALE_WEIGHT, new long[]{in, dim});
        m.put(SCALE_BIAS, new long[]{1, dim});
        return m;
    }

    /**
     * Hidden weights Xavier-uniform from the seed, hidden biases 0, output weights 0, mu bias 0 and log-scale bias
     * {@link #INITIAL_LOG_SCALE}: q starts as the same near-uniform logit-normal for every x.
     */
    public void initialize(Map<String, INDArray> params, int dim, long seed) {
        if (!isVariational()) {
            return;
        }
        int in = dim;
        for (int l = 0; l < hidden.length; l++) {
            INDArray w = params.get(weightName(l));
            SplittableRandom r = new SplittableRandom(Seeds.derive(seed, l));
            double limit = Math.sqrt(6.0 / (in + hidden[l]));
            double[] v = new double[in * hidden[l]];
            for (int i = 0; i < v.length; i++) {
                v[i] = (2 * r.nextDouble() - 1) * limit;
            }
            w.assign(Nd4j.create(v, new long[]{in, hidden[l]}).castTo(w.dataType()));
            params.get(biasName(l)).assign(0);
            in = hidden[l];
        }
        params.get(MU_WEIGHT).assign(0);
        params.get(MU_BIAS).assign(0);
        params.get(SCALE_WEIGHT).assign(0);
        params.get(SCALE_BIAS).assign(INITIAL_LOG_SCALE);
    }

    /**
     * Variational dequantization in the graph: from integer values {@code x} and standard normal noise {@code eps}
     * (both {@code [batch, D]}), the dequantized values {@code x + u} and {@code log q(u|x)} per example
     * ({@code [batch]}).
     */
    Transform.Flowed sample(SameDiff sd, SDVariable x, SDVariable eps, int levels, int dim,
                            Map<String, SDVariable> params) {
        SDVariable h = x.div(levels).sub(0.5);
        for (int l = 0; l < hidden.length; l++) {
            h = sd.math().tanh(h.mmul(params.get(weightName(l))).add(params.get(biasName(l))));
        }
        SDVariable mu = softClamp(sd, h.mmul(params.get(MU_WEIGHT)).add(params.get(MU_BIAS)), MU_BOUND);
        SDVariable logS = softClamp(sd, h.mmul(params.get(SCALE_WEIGHT)).add(params.get(SCALE_BIAS)),
                LOG_SCALE_BOUND);
        SDVariable a = mu.add(sd.math().exp(logS).mul(eps));
        SDVariable u = sd.nn().sigmoid(a);
        // log q(u|x) = log N(eps) - log |du/deps|, du/deps = exp(logS) sigmoid'(a)
        SDVariable logSigmoidPrime = softplus(sd, a).add(softplus(sd, a.neg())).neg();
        SDVariable perDim = eps.mul(eps).mul(-0.5).sub(HALF_LOG_2PI).sub(logS).sub(logSigmoidPrime);
        return new Transform.Flowed(x.add(u), Flows.sumPerExample(perDim, new long[]{dim}));
    }

    /** {@code c tanh(v / c)}: v to first order near 0, never beyond +-c. */
    private static SDVariable softClamp(SameDiff sd, SDVariable v, double c) {
        return sd.math().tanh(v.div(c)).mul(c);
    }

    /**
     * {@code log(1 + e^v)} written as {@code max(v, 0) + log(1 + e^-|v|)}: no overflow for large v, no loss of the
     * linear part, and every op has a gradient in ND4J.
     */
    static SDVariable softplus(SameDiff sd, SDVariable v) {
        return sd.nn().relu(v, 0).add(sd.math().log(sd.math().exp(sd.math().abs(v).neg()).add(1.0)));
    }

    /** The keys {@link FlowSpec#toMap()} writes for this option. */
    @Override
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("dequantization", mode);
        m.put("dequantizationHidden", Arrays.stream(hidden).boxed().toList());
        return m;
    }

    /** Reads {@link #toMap()}'s keys; absent keys (specs saved before the option) mean uniform. */
    static Dequantization read(com.typesafe.config.Config c) {
        if (!c.hasPath("dequantization")) {
            return UNIFORM;
        }
        int[] hidden = c.hasPath("dequantizationHidden")
                ? c.getIntList("dequantizationHidden").stream().mapToInt(Integer::intValue).toArray() : new int[0];
        return new Dequantization(c.getString("dequantization"), hidden);
    }

    @Override
    public boolean equals(Object o) {
        return Described.sameDescription(this, o);
    }

    @Override
    public int hashCode() {
        return toMap().hashCode();
    }

    @Override
    public String toString() {
        return mode + (hidden.length > 0 ? Arrays.toString(hidden) : "");
    }
}
