package org.chainrule.models.flows;

import com.typesafe.config.Config;
import org.chainrule.models.Described;
import org.chainrule.models.Seeds;
import org.chainrule.models.autoregressive.MadeMasks;
import org.chainrule.models.conditionals.GaussianMixture;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The density of a flow's latent z (flattened to {@code [batch, D]}):
 *
 * <ul>
 *   <li>{@code normal}: N(0, I), the usual base; no parameters.</li>
 *   <li>{@code made-mog}: the base of "MAF MoG" in Papamakarios et al. 2017 (a "MADE MoG"): a MADE over z
 *   (Germain et al. 2015; natural order, mask set 0 of {@link MadeMasks}, ReLU hidden layers) whose conditionals
 *   {@code p(z_d | z_<d)} are mixtures of C Gaussians ({@link GaussianMixture}: per dimension C mixing logits, C means,
 *   C log standard deviations). A multimodal base lets a flow of few layers fit multimodal data that a unimodal base
 *   would need many layers to reach.</li>
 * </ul>
 *
 * <p>The MADE-MoG likelihood is written once in the graph (training and scoring go through
 * {@link GaussianMixture#nll}) and sampled in plain Java ({@link #sample}), dimension by dimension with
 * {@link GaussianMixture#sample}: D passes of the MADE per row, so sampling cost grows as D times a network pass. It
 * is offered for vector flows; image flows keep the normal base.
 *
 * <p>It starts as exactly N(0, I): zero output weights, equal mixing logits, means evenly spread over [-1/2, 1/2]
 * (distinct, so the components do not receive identical gradients forever) and a common standard deviation chosen
 * so that the mixture has unit variance.
 *
 * <p>Parameters (prefixed {@code mog}): {@code mogW<l>} {@code [nIn, nOut]} (masked when used), {@code mogb<l>}
 * {@code [1, nOut]}; the last layer has {@code D * 3C} outputs, dimension d owning columns {@code d*3C .. d*3C+3C-1}.
 *
 * @param kind       {@code normal} or {@code made-mog}
 * @param hidden     MADE hidden widths (made-mog; may be empty: conditionals linear in z_<d)
 * @param components C, the mixture components per conditional (made-mog; 0 for normal)
 * @param maskSeed   seed of the MADE's hidden degrees
 */
public record BaseDistribution(String kind, int[] hidden, int components, long maskSeed)
        implements Described, java.io.Serializable {

    /** Base kinds a flow can be configured with. */
    public static final List<String> KINDS = List.of("normal", "made-mog");

    /** The standard normal: the default and what specs saved before this option existed mean. */
    public static final BaseDistribution NORMAL = new BaseDistribution("normal", new int[0], 0, 0);

    private static final double HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

    public BaseDistribution {
        if (!KINDS.contains(kind)) {
            throw new IllegalArgumentException("flow base must be one of " + KINDS + ", got " + kind);
        }
        hidden = hidden.clone();
        for (int h : hidden) {
            if (h < 1) {
                throw new IllegalArgumentException("base hidden widths must be positive: " + Arrays.toString(hidden));
            }
        }
        if (kind.equals("normal") && (hidden.length > 0 || components != 0)) {
            throw new IllegalArgumentException("the normal base has no network; got hidden " + Arrays.toString(hidden)
                    + " and " + components + " components");
        }
        if (kind.equals("made-mog") && components < 1) {
            throw new IllegalArgumentException("a MADE-MoG base needs at least one component, got " + components);
        }
    }

    /** A MADE-MoG base with the given hidden widths and components per conditional. */
    public static BaseDistribution madeMog(int[] hidden, int components, long maskSeed) {
        return new BaseDistribution("made-mog", hidden, components, maskSeed);
    }

    @Override
    public int[] hidden() {
        return hidden.clone();
    }

    /** Whether this is the standard normal. */
    public boolean isNormal() {
        return kind.equals("normal");
    }

    /** The MADE connectivity over D latent dimensions. */
    public MadeMasks masks(int dim) {
        return MadeMasks.of(dim, hidden, false, maskSeed, 0);
    }

    private GaussianMixture mixture() {
        return new GaussianMixture(components);
    }

    static String weightName(int l) {
        return "mogW" + l;
    }

    static String biasName(int l) {
        return "mogb" + l;
    }

    private int[] widths(int dim) {
        int[] w = new int[hidden.length + 2];
        w[0] = dim;
        System.arraycopy(hidden, 0, w, 1, hidden.length);
        w[w.length - 1] = dim * 3 * components;
        return w;
    }

    /** The MADE's parameters over {@code dim} latent values; empty for the normal base. */
    public Map<String, long[]> parameterShapes(int dim) {
        Map<String, long[]> m = new LinkedHashMap<>();
        if (isNormal()) {
            return m;
        }
        int[] w = widths(dim);
        for (int l = 0; l < w.length - 1; l++) {
            m.put(weightName(l), new long[]{w[l], w[l + 1]});
            m.put(biasName(l), new long[]{1, w[l + 1]});
        }
        return m;
    }

    /** Initial values: the MADE-MoG starts as N(0, I) (see the class comment). */
    public void initialize(Map<String, INDArray> params, int dim, long seed) {
        if (isNormal()) {
            return;
        }
        int[] w = widths(dim);
        int out = w.length - 2;
        for (int l = 0; l < out; l++) {
            INDArray weight = params.get(weightName(l));
            SplittableRandom r = new SplittableRandom(Seeds.derive(seed, l));
            double limit = Math.sqrt(6.0 / (w[l] + w[l + 1]));
            double[] v = new double[w[l] * w[l + 1]];
            for (int i = 0; i < v.length; i++) {
                v[i] = (2 * r.nextDouble() - 1) * limit;
            }
            weight.assign(Nd4j.create(v, new long[]{w[l], w[l + 1]}).castTo(weight.dataType()));
            params.get(biasName(l)).assign(0);
        }
        params.get(weightName(out)).assign(0);
        int c = components;
        double[] means = new double[c];
        double spread = 0;
        for (int k = 0; k < c; k++) {
            means[k] = c == 1 ? 0 : -0.5 + (double) k / (c - 1);
            spread += means[k] * means[k] / c;
        }
        double logStd = 0.5 * Math.log(1 - spread);
        double[] bias = new double[dim * 3 * c];
        for (int d = 0; d < dim; d++) {
            for (int k = 0; k < c; k++) {
                bias[d * 3 * c + c + k] = means[k];
                bias[d * 3 * c + 2 * c + k] = logStd;
            }
        }
        INDArray b = params.get(biasName(out));
        b.assign(Nd4j.create(bias, new long[]{1, bias.length}).castTo(b.dataType()));
    }

    /** The output layer's mask with every column repeated 3C times: dimension d's parameters see what d may see. */
    INDArray outputMask(MadeMasks masks, DataType type) {
        INDArray m = masks.mask(masks.layerCount() - 1, type);
        int p = 3 * components;
        long rows = m.rows();
        long cols = m.columns();
        INDArray out = Nd4j.create(type, rows, cols * p);
        for (long i = 0; i < rows; i++) {
            for (long j = 0; j < cols; j++) {
                double v = m.getDouble(i, j);
                for (int k = 0; k < p; k++) {
                    out.putScalar(i, j * p + k, v);
                }
            }
        }
        return out;
    }

    /** {@code log p(z)} per example ({@code [batch]}) in the graph; z is {@code [batch, D]}. */
    SDVariable logProb(SameDiff sd, SDVariable z, int dim, Map<String, SDVariable> params) {
        if (isNormal()) {
            return Flows.sumPerExample(z.mul(z), new long[]{dim}).mul(-0.5).sub(dim * HALF_LOG_2PI);
        }
        MadeMasks masks = masks(dim);
        int out = masks.layerCount() - 1;
        SDVariable h = z;
        for (int l = 0; l <= out; l++) {
            SDVariable w = params.get(weightName(l));
            INDArray mask = l == out ? outputMask(masks, w.dataType()) : masks.mask(l, w.dataType());
            SDVariable a = h.mmul(w.mul(sd.constant(mask))).add(params.get(biasName(l)));
            h = l < out ? sd.nn().relu(a, 0) : a;
        }
        return mixture().nll(sd, h, z, dim).reshape(-1).neg();
    }

    /**
     * The MADE-MoG on plain arrays, for sampling: masked weights copied out once, in double.
     */
    final class Made {
        private final double[][][] weights;
        private final double[][] biases;
        private final int dim;

        Made(Map<String, INDArray> params, int dim) {
            this.dim = dim;
            MadeMasks masks = masks(dim);
            int layers = masks.layerCount();
            weights = new double[layers][][];
            biases = new double[layers][];
            for (int l = 0; l < layers; l++) {
                INDArray mask = l == layers - 1 ? outputMask(masks, DataType.DOUBLE) : masks.mask(l, DataType.DOUBLE);
                weights[l] = params.get(weightName(l)).castTo(DataType.DOUBLE).mul(mask).toDoubleMatrix();
                biases[l] = params.get(biasName(l)).castTo(DataType.DOUBLE).reshape(-1).toDoubleVector();
            }
        }

        /**
         * The 3C mixture parameters of {@code p(z_d | z_<d)} (logits, means, log standard deviations) for one row;
         * by the masks they depend only on {@code z_<d}.
         */
        float[] conditional(double[] z, int d) {
            double[] h = z;
            int last = weights.length - 1;
            for (int l = 0; l < last; l++) {
                double[] next = biases[l].clone();
                for (int i = 0; i < h.length; i++) {
                    if (h[i] == 0) {
                        continue;
                    }
                    double[] row = weights[l][i];
                    for (int k = 0; k < next.length; k++) {
                        next[k] += h[i] * row[k];
                    }
                }
                for (int k = 0; k < next.length; k++) {
                    next[k] = Math.max(next[k], 0);
                }
                h = next;
            }
            int p = 3 * components;
            float[] out = new float[p];
            for (int k = 0; k < p; k++) {
                double v = biases[last][d * p + k];
                for (int i = 0; i < h.length; i++) {
                    v += h[i] * weights[last][i][d * p + k];
                }
                out[k] = (float) v;
            }
            return out;
        }

        /** {@code log p(z)} of one row, the sum of the conditionals' {@link GaussianMixture#logProb}. */
        double logProb(double[] z) {
            double sum = 0;
            for (int d = 0; d < dim; d++) {
                sum += mixture().logProb(conditional(z, d), 0, z[d]);
            }
            return sum;
        }
    }

    /**
     * Draws {@code z [seeds.length, D]} from the base. Row i uses only {@code seeds[i]}: the normal base draws D
     * standard normals from {@code java.util.Random(seeds[i])} (as flows always have), the MADE-MoG builds z in the
     * MADE's order, the t-th dimension drawn by {@link GaussianMixture#sample} with seed
     * {@code derive(seeds[i], t)} from the conditional given the dimensions already drawn. Temperature T multiplies
     * the standard deviations (the normal's and each component's); the mixture's component is drawn from
     * softmax(logits / T), as {@link GaussianMixture#sample} defines it, so T = 1 is the model itself.
     */
    public INDArray sample(Map<String, INDArray> params, int dim, long[] seeds, double temperature) {
        double[] z = new double[seeds.length * dim];
        if (isNormal()) {
            for (int i = 0; i < seeds.length; i++) {
                java.util.Random r = new java.util.Random(seeds[i]);
                for (int j = 0; j < dim; j++) {
                    z[i * dim + j] = temperature * r.nextGaussian();
                }
            }
            return Nd4j.create(z, new long[]{seeds.length, dim}, 'c');
        }
        Made made = new Made(params, dim);
        int[] order = masks(dim).ordering();
        GaussianMixture family = mixture();
        for (int i = 0; i < seeds.length; i++) {
            double[] row = new double[dim];
            for (int t = 0; t < dim; t++) {
                int d = order[t];
                row[d] = family.sample(made.conditional(row, d), 0, Seeds.derive(seeds[i], t), temperature);
            }
            System.arraycopy(row, 0, z, i * dim, dim);
        }
        return Nd4j.create(z, new long[]{seeds.length, dim}, 'c');
    }

    /** The keys {@link FlowSpec#toMap()} writes for this option. */
    @Override
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("base", kind);
        m.put("baseHidden", Arrays.stream(hidden).boxed().toList());
        m.put("baseComponents", components);
        m.put("baseMaskSeed", maskSeed);
        return m;
    }

    /** Reads {@link #toMap()}'s keys; absent keys (specs saved before the option) mean the normal base. */
    static BaseDistribution read(Config c) {
        if (!c.hasPath("base")) {
            return NORMAL;
        }
        int[] hidden = c.hasPath("baseHidden")
                ? c.getIntList("baseHidden").stream().mapToInt(Integer::intValue).toArray() : new int[0];
        return new BaseDistribution(c.getString("base"), hidden,
                c.hasPath("baseComponents") ? c.getInt("baseComponents") : 0,
                c.hasPath("baseMaskSeed") ? c.getLong("baseMaskSeed") : 0);
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
        return isNormal() ? kind : kind + Arrays.toString(hidden) + "x" + components;
    }
}
