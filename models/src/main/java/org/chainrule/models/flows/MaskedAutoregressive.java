package org.chainrule.models.flows;

import com.typesafe.config.Config;
import org.chainrule.models.Seeds;
import org.chainrule.models.autoregressive.MadeMasks;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * An affine autoregressive flow layer over vectors {@code [batch, D]}: a MADE (Germain et al. 2015) with ReLU hidden
 * layers reads a conditioning vector c and outputs, for every dimension d, a shift {@code mu_d} and a log-scale
 * {@code alpha_d} that depend only on {@code c_<d} (natural order, mask set 0 of {@link MadeMasks}). The output layer
 * has 2D columns: column d is {@code mu_d} and column D+d is the raw log-scale of d, both masked like dimension d.
 *
 * <p>Two flows use this network, one read from either end:
 * <ul>
 *   <li><b>MAF</b> (Papamakarios et al. 2017, "Masked Autoregressive Flow for Density Estimation"): the network reads
 *   the data. Density evaluation (forward, x to z) is one pass, {@code z = (x - mu(x)) exp(-alpha(x))},
 *   {@code log|det| = -sum alpha(x)}; sampling (inverse) must build x one dimension at a time,
 *   {@code x_d = z_d exp(alpha_d(x_<d)) + mu_d(x_<d)}, {@code log|det| = +sum alpha(x)}.</li>
 *   <li><b>IAF</b> ({@code inverseAutoregressive}; Kingma et al. 2016, "Improved Variational Inference with Inverse
 *   Autoregressive Flow"): the network reads the latent. Sampling (inverse) is one pass,
 *   {@code x = z exp(alpha(z)) + mu(z)}, {@code log|det| = +sum alpha(z)}; density evaluation (forward) solves
 *   {@code z_d = (x_d - mu_d(z_<d)) exp(-alpha_d(z_<d))} one dimension at a time, {@code log|det| = -sum alpha(z)}.
 *   Training an IAF by maximum likelihood therefore pays D network passes per step; it suits models trained from
 *   their own samples (variational posteriors), as in the paper.</li>
 * </ul>
 *
 * <p>The sequential direction is written as D fixed-point sweeps of the one-pass formula (the proof is at {@code solve}), each a
 * full network pass, all unrolled into the SameDiff graph: the graph grows by D copies of the network, fine for D up
 * to a few hundred, not for images. The result is exact (not an approximation that improves with sweeps) and is
 * differentiable like any other graph.
 *
 * <p>The log-scale is soft-clamped, {@code alpha = A tanh(raw / A)} with bound A ({@link #DEFAULT_ALPHA_BOUND} unless
 * given): it equals {@code raw} to first order near 0, so the zero-initialised output layer still starts the flow at
 * the identity with unit slope, while {@code exp(+-alpha)} stays within {@code [e^-A, e^A]}. The unbounded form of
 * the paper lets one bad step produce {@code exp(large)} and an infinite loss in float; here the sequential
 * direction can amplify a perturbation by at most {@code e^A} per dimension and layer. A softplus scale would bound
 * only one side, and a sigmoid scale (Glow) would not start at slope 1 without an offset.
 *
 * <p>Parameters are {@code W0..Wn, b0..bn} as in {@link org.chainrule.models.autoregressive.MadeLayer}: {@code Wl} is
 * {@code [nIn, nOut]} (masked when used), {@code bl} is {@code [1, nOut]}. They do not broadcast over a batch
 * dimension (no amortised parameters).
 */
public final class MaskedAutoregressive extends DescribedTransform {
    private static final long serialVersionUID = 1L;

    /** Default bound on |alpha|: a factor of at most e^3 ~ 20 per dimension and layer. */
    public static final double DEFAULT_ALPHA_BOUND = 3.0;

    private final int dim;
    private final int[] hidden;
    private final boolean inverseAutoregressive;
    private final long maskSeed;
    private final double alphaBound;

    /** A MAF layer, or an IAF layer when {@code inverseAutoregressive}, with the default alpha bound. */
    public MaskedAutoregressive(int dim, int[] hidden, boolean inverseAutoregressive, long maskSeed) {
        this(dim, hidden, inverseAutoregressive, maskSeed, DEFAULT_ALPHA_BOUND);
    }

    /**
     * @param dim                   D, the event size
     * @param hidden                widths of the MADE's ReLU hidden layers (may be empty: then mu and alpha are
     *                              linear in c_<d)
     * @param inverseAutoregressive IAF (network reads the latent) instead of MAF (network reads the data)
     * @param maskSeed              seed of the hidden units' MADE degrees
     * @param alphaBound            A in {@code alpha = A tanh(raw / A)}
     */
    public MaskedAutoregressive(int dim, int[] hidden, boolean inverseAutoregressive, long maskSeed,
                                double alphaBound) {
        if (dim < 1) {
            throw new IllegalArgumentException("dim must be positive: " + dim);
        }
        for (int h : hidden) {
            if (h < 1) {
                throw new IllegalArgumentException("hidden widths must be positive: " + Arrays.toString(hidden));
            }
        }
        if (!(alphaBound > 0) || Double.isInfinite(alphaBound)) {
            throw new IllegalArgumentException("alphaBound must be positive and finite: " + alphaBound);
        }
        this.dim = dim;
        this.hidden = hidden.clone();
        this.inverseAutoregressive = inverseAutoregressive;
        this.maskSeed = maskSeed;
        this.alphaBound = alphaBound;
    }

    public int dim() {
        return dim;
    }

    public int[] hidden() {
        return hidden.clone();
    }

    public boolean inverseAutoregressive() {
        return inverseAutoregressive;
    }

    public long maskSeed() {
        return maskSeed;
    }

    public double alphaBound() {
        return alphaBound;
    }

    /** The MADE connectivity: natural order, mask set 0. */
    public MadeMasks masks() {
        return MadeMasks.of(dim, hidden, false, maskSeed, 0);
    }

    static String weightName(int l) {
        return "W" + l;
    }

    static String biasName(int l) {
        return "b" + l;
    }

    private int[] widths() {
        int[] w = new int[hidden.length + 2];
        w[0] = dim;
        System.arraycopy(hidden, 0, w, 1, hidden.length);
        w[w.length - 1] = 2 * dim;
        return w;
    }

    /** Index of the output layer. */
    int outputLayer() {
        return hidden.length;
    }

    @Override
    public long[] inputShape() {
        return new long[]{dim};
    }

    @Override
    public Map<String, long[]> parameterShapes() {
        int[] w = widths();
        Map<String, long[]> m = new LinkedHashMap<>();
        for (int l = 0; l < w.length - 1; l++) {
            m.put(weightName(l), new long[]{w[l], w[l + 1]});
            m.put(biasName(l), new long[]{1, w[l + 1]});
        }
        return m;
    }

    /**
     * Hidden weights Xavier-uniform from the seed, hidden biases 0, and the output layer all zeros, so mu = alpha = 0:
     * the flow starts as the identity (the gradient still reaches the output layer at once, and the hidden layers
     * after the first step).
     */
    @Override
    public void initialize(Map<String, INDArray> params, long seed) {
        int[] w = widths();
        for (int l = 0; l < w.length - 1; l++) {
            INDArray weight = params.get(weightName(l));
            params.get(biasName(l)).assign(0);
            if (l == outputLayer()) {
                weight.assign(0);
                continue;
            }
            SplittableRandom r = new SplittableRandom(Seeds.derive(seed, l));
            double limit = Math.sqrt(6.0 / (w[l] + w[l + 1]));
            double[] values = new double[w[l] * w[l + 1]];
            for (int i = 0; i < values.length; i++) {
                values[i] = (2 * r.nextDouble() - 1) * limit;
            }
            weight.assign(Nd4j.create(values, new long[]{w[l], w[l + 1]}).castTo(weight.dataType()));
        }
    }

    @Override
    public Flowed forward(SameDiff sd, SDVariable x, Map<String, SDVariable> params) {
        Made made = made(sd, params);
        return inverseAutoregressive ? solve(sd, x, made, false) : step(sd, x, x, made, false);
    }

    @Override
    public Flowed inverse(SameDiff sd, SDVariable z, Map<String, SDVariable> params) {
        Made made = made(sd, params);
        return inverseAutoregressive ? step(sd, z, z, made, true) : solve(sd, z, made, true);
    }

    /**
     * The MADE's weights for one direction, built once and shared by all sweeps: hidden layers as masked weights and
     * biases, the output layer split into the mu part and the raw-alpha part.
     */
    private record Made(SDVariable[] weights, SDVariable[] biases, SDVariable muWeight, SDVariable muBias,
                        SDVariable alphaWeight, SDVariable alphaBias) {
    }

    /**
     * The weights times their MADE masks, the output layer's 2D columns split in two by products with constant 0/1
     * selection matrices: splitting by slicing would put a strided slice in the graph, whose gradient ND4J M2.1 gets
     * wrong on a 1-row batch, and splitting the parameters here, once, costs far less than splitting the outputs of
     * every sweep.
     */
    private Made made(SameDiff sd, Map<String, SDVariable> params) {
        MadeMasks masks = masks();
        int out = outputLayer();
        SDVariable[] weights = new SDVariable[out];
        SDVariable[] biases = new SDVariable[out];
        for (int l = 0; l < out; l++) {
            SDVariable w = params.get(weightName(l));
            weights[l] = w.mul(sd.constant(masks.mask(l, w.dataType())));
            biases[l] = params.get(biasName(l));
        }
        SDVariable w = params.get(weightName(out));
        SDVariable b = params.get(biasName(out));
        INDArray mask = masks.mask(out, w.dataType());
        SDVariable masked = w.mul(sd.constant(Nd4j.concat(1, mask, mask))); // mu_d, raw alpha_d: what d may see
        INDArray eye = Nd4j.eye(dim).castTo(w.dataType());
        INDArray zero = Nd4j.zeros(w.dataType(), dim, dim);
        SDVariable pickMu = sd.constant(Nd4j.concat(0, eye, zero));
        SDVariable pickAlpha = sd.constant(Nd4j.concat(0, zero, eye));
        return new Made(weights, biases, masked.mmul(pickMu), b.mmul(pickMu), masked.mmul(pickAlpha),
                b.mmul(pickAlpha));
    }

    /**
     * One pass: with mu, alpha = MADE(c), {@code generate} gives {@code u exp(alpha) + mu} (log-det +sum alpha), else
     * {@code (u - mu) exp(-alpha)} (log-det -sum alpha). MAF's forward and IAF's inverse are this with c = u.
     */
    private Flowed step(SameDiff sd, SDVariable u, SDVariable c, Made made, boolean generate) {
        SDVariable[] muAlpha = muAlpha(sd, c, made);
        SDVariable mu = muAlpha[0];
        SDVariable alpha = muAlpha[1];
        long[] event = inputShape();
        if (generate) {
            return new Flowed(u.mul(sd.math().exp(alpha)).add(mu), Flows.sumPerExample(alpha, event));
        }
        return new Flowed(u.sub(mu).mul(sd.math().exp(alpha.neg())), Flows.sumPerExample(alpha, event).neg());
    }

    /**
     * The sequential direction: the v with {@code v = step(u, c = v)}, found by iterating {@code v <- step(u, c = v)}
     * exactly D times from {@code v = u}.
     *
     * <p>Why D sweeps are exact: the step's output d depends on c only through {@code c_<d} (the MADE masks). Claim:
     * after k sweeps, the first k dimensions of v equal the solution v*. For k = 1, output 0 depends on no input, so
     * it is v*_0 whatever v was. If v_<k = v*_<k after k sweeps, sweep k+1 computes every output j <= k from
     * {@code v_<j}, which is part of {@code v_<k}, i.e. from exactly the values the solution's own equation uses, so
     * it gives v*_j. After D sweeps v = v*. The same argument shows the log-det of the last sweep is the one at v*:
     * alpha_d reads only {@code v_<d}, already exact before the last sweep. Since the first k entries equal v* as
     * functions of the parameters, the graph's gradients are those of v* too.
     */
    private Flowed solve(SameDiff sd, SDVariable u, Made made, boolean generate) {
        SDVariable v = u;
        Flowed f = null;
        for (int k = 0; k < dim; k++) {
            f = step(sd, u, v, made, generate);
            v = f.value();
        }
        return f;
    }

    /** mu and alpha ({@code [batch, D]} each) of the MADE applied to c. */
    private SDVariable[] muAlpha(SameDiff sd, SDVariable c, Made made) {
        SDVariable h = c;
        for (int l = 0; l < made.weights().length; l++) {
            h = sd.nn().relu(h.mmul(made.weights()[l]).add(made.biases()[l]), 0);
        }
        SDVariable mu = h.mmul(made.muWeight()).add(made.muBias());
        SDVariable raw = h.mmul(made.alphaWeight()).add(made.alphaBias());
        SDVariable alpha = sd.math().tanh(raw.div(alphaBound)).mul(alphaBound);
        return new SDVariable[]{mu, alpha};
    }

    @Override
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("kind", "masked-autoregressive");
        m.put("dim", dim);
        List<Integer> h = new ArrayList<>();
        for (int v : hidden) {
            h.add(v);
        }
        m.put("hidden", h);
        m.put("inverseAutoregressive", inverseAutoregressive);
        m.put("maskSeed", maskSeed);
        m.put("alphaBound", alphaBound);
        return m;
    }

    /** Reads {@link #toMap()} back. */
    static MaskedAutoregressive fromConfig(Config c) {
        int[] hidden = c.getIntList("hidden").stream().mapToInt(Integer::intValue).toArray();
        return new MaskedAutoregressive(c.getInt("dim"), hidden, c.getBoolean("inverseAutoregressive"),
                c.getLong("maskSeed"), c.getDouble("alphaBound"));
    }
}
