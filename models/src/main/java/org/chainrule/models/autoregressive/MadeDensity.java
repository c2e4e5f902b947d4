package org.chainrule.models.autoregressive;

import org.chainrule.models.GraphDensity;
import org.chainrule.models.Seeds;
import org.chainrule.models.conditionals.OutputFamily;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A trained MADE (Germain et al. 2015) with any {@link OutputFamily} and optional context, as a density. The exact
 * log-likelihood comes from the training network itself ({@link GraphDensity}: log-mean-exp over mask sets); this
 * class adds ancestral sampling, computed in plain Java on the masked weights.
 *
 * <p>The context enters every layer through unmasked weights, so for one row it is just a bias shift: each layer's
 * effective bias is {@code b_l + c C_l}, computed once per row. Generation then walks the mask set's ordering with
 * the first layer's pre-activation kept as a running sum (adding {@code x_d} times row d of the masked W0 once x_d is
 * known, as {@link Made} does for bits), so a step costs one pass over the layers above the first instead of a whole
 * forward pass. The same walk, observing x_d instead of drawing it, gives {@link #logProb(INDArray, INDArray, int)}:
 * tests hold it to the graph's likelihood, which ties the sampler to the trained density.
 *
 * <p>Sampling the ensemble (1/K) sum_k p_k exactly: each row picks its mask set uniformly from its seed, then draws
 * dimension d with seed {@code Seeds.derive(rowSeed, 1, d)}, so a row depends only on its seed and context.
 */
public final class MadeDensity extends GraphDensity {
    private final MadeSpec made;
    private final OutputFamily family;
    private final int dim;
    private final int perDim;
    private final int contextSize;
    private final float[][][] weights;        // [layer][nIn][nOut], unmasked
    private final float[][] biases;           // [layer][nOut]
    private final float[][][] contextWeights; // [layer][C][nOut], or null
    private final float[][] directWeights;    // [D][D * P], unmasked, or null
    private final MaskSet[] maskSets;

    /**
     * One mask set's ordering and pre-masked weights (float, like the network's; all sums are taken in double, so the
     * running sums of the walk and a full pass agree to rounding).
     */
    private record MaskSet(int[] ordering, float[][][] weights, float[][] direct) {
    }

    /** Decides x_d from its conditional's parameters (at {@code params[d * P ..]}): a draw or an observed value. */
    private interface Step {
        double value(int d, float[] params);
    }

    /** Snapshot of a network built by {@code spec.trainingConfiguration} (its weights are copied). */
    public MadeDensity(MadeSpec spec, MultiLayerNetwork network) {
        super(spec, network);
        if (!spec.nllOutput()) {
            throw new IllegalArgumentException("a binary unconditional MADE is scored by Made, not MadeDensity");
        }
        this.made = spec;
        this.family = spec.family();
        this.dim = spec.dim();
        this.perDim = family.paramsPerDim();
        this.contextSize = spec.contextSize();
        Layer layer = network.getLayer(0);
        int layers = spec.hidden().length + 1;
        weights = new float[layers][][];
        biases = new float[layers][];
        contextWeights = contextSize > 0 ? new float[layers][][] : null;
        for (int l = 0; l < layers; l++) {
            weights[l] = layer.getParam(MadeLayer.weightName(l)).toFloatMatrix();
            biases[l] = layer.getParam(MadeLayer.biasName(l)).toFloatVector();
            if (contextWeights != null) {
                contextWeights[l] = layer.getParam(MadeLayer.contextName(l)).toFloatMatrix();
            }
        }
        directWeights = spec.direct() ? layer.getParam(MadeLayer.DIRECT).toFloatMatrix() : null;
        maskSets = new MaskSet[spec.variantCount()];
    }

    public MadeSpec spec() {
        return made;
    }

    /** Mask set k's ordering and masked weights, computed on first use. */
    private synchronized MaskSet maskSet(int k) {
        if (maskSets[k] == null) {
            MadeMasks masks = made.masks(k);
            float[][][] w = new float[weights.length][][];
            for (int l = 0; l < w.length; l++) {
                w[l] = masked(weights[l], MadeLayer.layerMask(masks, l, perDim, DataType.FLOAT).toFloatMatrix());
            }
            float[][] d = directWeights == null ? null
                    : masked(directWeights, MadeLayer.directMask(masks, perDim, DataType.FLOAT).toFloatMatrix());
            maskSets[k] = new MaskSet(masks.ordering(), w, d);
        }
        return maskSets[k];
    }

    private static float[][] masked(float[][] w, float[][] m) {
        float[][] out = new float[w.length][w[0].length];
        for (int i = 0; i < w.length; i++) {
            for (int j = 0; j < w[i].length; j++) {
                out[i][j] = w[i][j] * m[i][j];
            }
        }
        return out;
    }

    /** Per-layer biases of one row: b_l + c C_l (the context's whole effect). */
    private double[][] rowBiases(float[] context) {
        double[][] b = new double[biases.length][];
        for (int l = 0; l < b.length; l++) {
            b[l] = new double[biases[l].length];
            for (int j = 0; j < b[l].length; j++) {
                b[l][j] = biases[l][j];
            }
            for (int c = 0; context != null && c < contextSize; c++) {
                addScaled(b[l], contextWeights[l][c], context[c]);
            }
        }
        return b;
    }

    /**
     * The parameters of every conditional under mask set {@code k}, by a full masked forward pass over all of x (no
     * ordering is used here, so the autoregressive property of these parameters is the masks' doing).
     *
     * @param x       events {@code [batch, D]}
     * @param context {@code [batch, contextSize]}, or null for an unconditional model
     * @return {@code [batch, D * P]}, dimension d owning columns d*P .. d*P+P-1
     */
    public INDArray params(INDArray x, INDArray context, int k) {
        checkEvents(x);
        checkContext(context, x.rows());
        float[][] xs = x.castTo(DataType.FLOAT).toFloatMatrix();
        float[][] cs = context == null ? null : context.castTo(DataType.FLOAT).toFloatMatrix();
        MaskSet m = maskSet(k);
        float[][] out = new float[xs.length][];
        for (int i = 0; i < xs.length; i++) {
            out[i] = fullForward(m, rowBiases(cs == null ? null : cs[i]), xs[i]);
        }
        return Nd4j.create(out);
    }

    private float[] fullForward(MaskSet m, double[][] bias, float[] x) {
        double[] h = new double[dim];
        for (int d = 0; d < dim; d++) {
            h[d] = x[d];
        }
        int last = m.weights.length - 1;
        for (int l = 0; l <= last; l++) {
            double[] z = bias[l].clone();
            for (int i = 0; i < h.length; i++) {
                addScaled(z, m.weights[l][i], h[i]);
            }
            if (l < last) {
                relu(z);
            }
            h = z;
        }
        if (m.direct != null) {
            for (int d = 0; d < dim; d++) {
                addScaled(h, m.direct[d], x[d]);
            }
        }
        float[] out = new float[h.length];
        for (int j = 0; j < h.length; j++) {
            out[j] = (float) h[j];
        }
        return out;
    }

    /**
     * Exact log p_k(x | context) in nats under mask set {@code k}, computed by the sampler's own walk through the
     * ordering (observing each x_d where the sampler would draw it).
     *
     * @return {@code [batch]}, double precision
     */
    public INDArray logProb(INDArray x, INDArray context, int k) {
        checkEvents(x);
        checkContext(context, x.rows());
        float[][] xs = x.castTo(DataType.FLOAT).toFloatMatrix();
        float[][] cs = context == null ? null : context.castTo(DataType.FLOAT).toFloatMatrix();
        MaskSet m = maskSet(k);
        double[] lp = new double[xs.length];
        for (int i = 0; i < xs.length; i++) {
            float[] observed = xs[i];
            double[] sum = new double[1];
            walk(m, rowBiases(cs == null ? null : cs[i]), new float[dim], (d, p) -> {
                sum[0] += family.logProb(p, d * perDim, observed[d]);
                return observed[d];
            });
            lp[i] = sum[0];
        }
        return Nd4j.createFromArray(lp);
    }

    /**
     * The cached autoregressive walk for one row: for each dimension in the ordering, compute its conditional's
     * parameters from the values fixed so far, let {@code step} fix x_d, and fold x_d into the running sums of the
     * first layer and the direct term.
     */
    private void walk(MaskSet m, double[][] bias, float[] x, Step step) {
        int last = m.weights.length - 1;
        double[] pre = bias[0].clone();                         // first layer (the outputs, for an FVSBN)
        double[] directSum = m.direct == null ? null : new double[dim * perDim];
        float[] params = new float[dim * perDim];
        for (int d : m.ordering) {
            int from = d * perDim;
            if (last == 0) {
                for (int c = from; c < from + perDim; c++) {
                    params[c] = (float) pre[c];
                }
            } else {
                double[] h = pre.clone();
                relu(h);
                for (int l = 1; l < last; l++) {
                    double[] z = bias[l].clone();
                    for (int i = 0; i < h.length; i++) {
                        addScaled(z, m.weights[l][i], h[i]);
                    }
                    relu(z);
                    h = z;
                }
                float[][] out = m.weights[last];
                for (int c = from; c < from + perDim; c++) {
                    double s = bias[last][c];
                    for (int i = 0; i < h.length; i++) {
                        s += h[i] * out[i][c];
                    }
                    params[c] = (float) (directSum == null ? s : s + directSum[c]);
                }
            }
            x[d] = (float) step.value(d, params);
            addScaled(pre, m.weights[0][d], x[d]);
            if (directSum != null) {
                addScaled(directSum, m.direct[d], x[d]);
            }
        }
    }

    @Override
    public INDArray sample(long[] seeds) {
        return sample(seeds, null, 1.0);
    }

    @Override
    public INDArray sample(long[] seeds, INDArray context, double temperature) {
        return sample(seeds, context, temperature, true);
    }

    /**
     * Ancestral sampling from the ensemble at a temperature (see {@link OutputFamily#sample}).
     *
     * @param cached true: the running-sum walk; false: a full forward pass per generated dimension (the naive loop,
     *               kept to test the cached one against). Both use the same seeds, so they give the same samples.
     * @return {@code [seeds.length, D]} float
     */
    public INDArray sample(long[] seeds, INDArray context, double temperature, boolean cached) {
        checkContext(context, seeds.length);
        if (!(temperature > 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be positive and finite, got " + temperature);
        }
        float[][] cs = context == null ? null : context.castTo(DataType.FLOAT).toFloatMatrix();
        float[][] out = new float[seeds.length][];
        for (int i = 0; i < seeds.length; i++) {
            long rowSeed = seeds[i];
            MaskSet m = maskSet(maskSetOf(rowSeed));
            double[][] bias = rowBiases(cs == null ? null : cs[i]);
            Step draw = (d, p) -> family.sample(p, d * perDim, Seeds.derive(rowSeed, 1, d), temperature);
            float[] x = new float[dim];
            if (cached) {
                walk(m, bias, x, draw);
            } else {
                for (int d : m.ordering) {
                    x[d] = (float) draw.value(d, fullForward(m, bias, x));
                }
            }
            out[i] = x;
        }
        return seeds.length == 0 ? Nd4j.create(DataType.FLOAT, 0, dim) : Nd4j.create(out);
    }

    /** The mask set a row samples from: uniform over the K sets, from the row's own seed. */
    private int maskSetOf(long rowSeed) {
        int k = made.variantCount();
        return k == 1 ? 0 : Math.min(k - 1, (int) (Seeds.uniform(Seeds.derive(rowSeed, 0)) * k));
    }

    private void checkEvents(INDArray x) {
        if (x.rank() != 2 || x.columns() != dim) {
            throw new IllegalArgumentException("expected [batch, " + dim + "] events, got "
                    + java.util.Arrays.toString(x.shape()));
        }
    }

    private static void addScaled(double[] target, float[] row, double scale) {
        if (scale == 0) {
            return;
        }
        for (int j = 0; j < target.length; j++) {
            target[j] += scale * row[j];
        }
    }

    private static void relu(double[] z) {
        for (int j = 0; j < z.length; j++) {
            z[j] = Math.max(z[j], 0);
        }
    }
}
