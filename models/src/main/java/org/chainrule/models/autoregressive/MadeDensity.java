package org.chainrule.models.autoregressive;

import org.chainrule.models.GraphDensity;
import org.chainrule.models.LogMath;
import org.chainrule.models.Seeds;
import org.chainrule.models.conditionals.Bernoulli;
import org.chainrule.models.conditionals.OutputFamily;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A trained MADE (Germain et al. 2015) or FVSBN with any {@link OutputFamily} and optional context, as a density:
 * exact log-likelihoods per mask set and of the ensemble over mask sets, and ancestral sampling.
 *
 * <p><b>Likelihood.</b> The ensemble density is the uniform mixture (1/K) sum_k p_k(x): its log-likelihood is the
 * log-mean-exp of the per-mask log-likelihoods (never an average of logits). The binary unconditional model (Bernoulli
 * conditionals, no context), whose network outputs logits, is scored here by plain BLAS matrix multiplies on
 * pre-masked weights (W * M computed once per mask set) and the Bernoulli likelihood computed in place: the function
 * the {@link MadeLayer} training graph computes, without the graph's per-call overhead or its allocations. Every other
 * model's network outputs each example's exact NLL, and {@link GraphDensity} scores with that network itself.
 *
 * <p><b>Sampling</b>, one walk for every family. The context enters every layer through unmasked weights, so for one
 * row it is just a bias shift: each layer's effective bias is {@code b_l + c C_l}, computed once per row. Generation
 * walks the mask set's ordering with the first layer's pre-activation kept as a running sum (adding {@code x_d} times
 * row d of the masked W0 once x_d is known), so a step costs one pass over the layers above the first instead of a
 * whole forward pass. The same walk, observing x_d instead of drawing it, gives
 * {@link #logProb(INDArray, INDArray, int)} for the NLL-output models: tests hold it to the graph's likelihood, which
 * ties the sampler to the trained density. A sample of the ensemble is a sample of p_k for a uniformly drawn k.
 *
 * <p>Where a row's random numbers come from, and the walk's arithmetic, are kept as each kind of model has always had
 * them, so a saved model gives the same samples for the same seeds:
 * <ul>
 *   <li>binary unconditional: the row's {@code SplittableRandom(seed)} draws the mask set ({@code nextInt(K)}), then
 *       one uniform per dimension in generation order; sums are rounded to float after every operation (the middle
 *       layers of a deep MADE run through ND4J on the mask set's rows), as its earlier float32 sampler computed;</li>
 *   <li>every other model: the mask set from the seed's child 0, dimension d's draw from
 *       {@code Seeds.derive(rowSeed, 1, d)}; sums in double. A row depends only on its seed and context.</li>
 * </ul>
 */
public final class MadeDensity extends GraphDensity {
    /**
     * Rows per slice of a binary scoring pass: large enough for efficient matrix multiplies, small enough that the
     * slice's activations stay in cache between the element-wise steps of the likelihood.
     */
    static final int SCORING_ROWS = 512;

    private final MadeSpec made;
    private final OutputFamily family;
    private final int dim;
    private final int perDim;
    private final int contextSize;
    /** Binary and unconditional: logits network, BLAS scoring, the per-row stream and float32 sums in the walk. */
    private final boolean binary;
    private final INDArray[] weights;        // [layer] {@code [nIn, nOut]}, unmasked
    private final INDArray[] biases;         // [layer] {@code [1, nOut]}
    private final INDArray[] contextWeights; // [layer] {@code [C, nOut]}, or null
    private final INDArray directWeights;    // {@code [D, D * P]}, unmasked, or null
    private final float[][] biasRows;        // the biases as arrays, for the walk
    private final float[][][] contextRows;   // [layer][C][nOut], or null
    private final Masked[] masked;
    private final WalkWeights[] walkWeights;
    private final ThreadLocal<Scratch> scratchBuffers = ThreadLocal.withInitial(() -> new Scratch(SCORING_ROWS));

    /** One mask set's pre-masked weights, for the BLAS forward pass. */
    private record Masked(INDArray[] weights, INDArray direct) {
    }

    /**
     * One mask set's ordering and pre-masked weights as plain arrays, for the walk: every layer {@code [nIn][nOut]},
     * the last one also transposed ({@code [D * P][width]}, one row per output), the direct term {@code [D][D * P]}.
     */
    private record WalkWeights(int[] ordering, float[][][] layers, float[][] outputs, float[][] direct) {
    }

    /** Fixes x_d of a row from its conditional's parameters (at {@code params[d * P ..]}): a draw or an observation. */
    private interface Step {
        double value(int d, float[] params);
    }

    /** Snapshot of a network built by {@code spec.trainingConfiguration} (its weights are copied). */
    public MadeDensity(MadeSpec spec, MultiLayerNetwork network) {
        super(spec, network);
        this.made = spec;
        this.family = spec.family();
        this.dim = spec.dim();
        this.perDim = family.paramsPerDim();
        this.contextSize = spec.contextSize();
        this.binary = !spec.nllOutput();
        Layer layer = network.getLayer(0);
        int layers = spec.hidden().length + 1;
        weights = new INDArray[layers];
        biases = new INDArray[layers];
        contextWeights = contextSize > 0 ? new INDArray[layers] : null;
        for (int l = 0; l < layers; l++) {
            weights[l] = layer.getParam(MadeLayer.weightName(l)).dup();
            biases[l] = layer.getParam(MadeLayer.biasName(l)).dup();
            if (contextWeights != null) {
                contextWeights[l] = layer.getParam(MadeLayer.contextName(l)).dup();
            }
        }
        directWeights = spec.direct() ? layer.getParam(MadeLayer.DIRECT).dup() : null;
        biasRows = new float[layers][];
        contextRows = contextWeights == null ? null : new float[layers][][];
        for (int l = 0; l < layers; l++) {
            biasRows[l] = biases[l].toFloatVector();
            if (contextRows != null) {
                contextRows[l] = contextWeights[l].toFloatMatrix();
            }
        }
        masked = new Masked[spec.variantCount()];
        walkWeights = new WalkWeights[spec.variantCount()];
    }

    public MadeSpec spec() {
        return made;
    }

    /** W_l * M_l (and W_d * M_d) for mask set {@code k}, computed on first use. */
    private synchronized Masked masked(int k) {
        if (masked[k] == null) {
            MadeMasks masks = made.masks(k);
            INDArray[] m = new INDArray[weights.length];
            for (int l = 0; l < m.length; l++) {
                m[l] = weights[l].mul(MadeLayer.layerMask(masks, l, perDim, weights[l].dataType()));
            }
            INDArray d = directWeights == null ? null
                    : directWeights.mul(MadeLayer.directMask(masks, perDim, directWeights.dataType()));
            masked[k] = new Masked(m, d);
        }
        return masked[k];
    }

    /** Mask set k's ordering and masked weights as arrays, computed on first use (only samplers need them). */
    private synchronized WalkWeights walkWeights(int k) {
        if (walkWeights[k] == null) {
            Masked m = masked(k);
            float[][][] layers = new float[m.weights.length][][];
            for (int l = 0; l < layers.length; l++) {
                layers[l] = m.weights[l].toFloatMatrix();
            }
            float[][] outputs = m.weights[layers.length - 1].transpose().toFloatMatrix();
            walkWeights[k] = new WalkWeights(made.masks(k).ordering(), layers, outputs,
                    m.direct == null ? null : m.direct.toFloatMatrix());
        }
        return walkWeights[k];
    }

    /**
     * The parameters of every conditional under mask set {@code k}, by a full masked forward pass over all of x (no
     * ordering is used here, so the autoregressive property of these parameters is the masks' doing). For the binary
     * model these are the logits of p(x_d = 1 | x_{<d}).
     *
     * @param x       events {@code [batch, D]}
     * @param context {@code [batch, contextSize]}, or null for an unconditional model
     * @return {@code [batch, D * P]}, dimension d owning columns d*P .. d*P+P-1
     */
    public INDArray params(INDArray x, INDArray context, int k) {
        checkEvents(x);
        checkContext(context, x.rows());
        return new Scratch(x.rows()).params(floatRows(x), context == null ? null : floatRows(context), k);
    }

    private static INDArray floatRows(INDArray a) {
        return a.dataType() == DataType.FLOAT && a.ordering() == 'c' && a.elementWiseStride() == 1 ? a
                : a.castTo(DataType.FLOAT).dup('c');
    }

    @Override
    public INDArray logProb(INDArray x, INDArray context) {
        if (!binary) {
            return super.logProb(x, context);
        }
        checkContext(context, x.rows());
        checkEvents(x);
        return made.variantCount() == 1 ? binaryLogProb(x, 0) : LogMath.logMeanExp(logProbPerMask(x));
    }

    /** As {@link GraphDensity#logProbInSlices}; the binary model is scored in its own {@link #SCORING_ROWS} slices. */
    @Override
    public INDArray logProbInSlices(INDArray x, INDArray context, int rowsPerPass) {
        if (!binary) {
            return super.logProbInSlices(x, context, rowsPerPass);
        }
        if (rowsPerPass < 1) {
            throw new IllegalArgumentException("rowsPerPass must be at least 1, got " + rowsPerPass);
        }
        return logProb(x, context);
    }

    /** Log-likelihood under each mask set, {@code [batch, K]}. */
    private INDArray logProbPerMask(INDArray x) {
        INDArray all = Nd4j.create(DataType.DOUBLE, x.rows(), made.variantCount());
        for (int k = 0; k < made.variantCount(); k++) {
            all.putColumn(k, binaryLogProb(x, k));
        }
        return all;
    }

    /**
     * Exact log p_k(x | context) in nats under mask set {@code k}: for the binary model by the BLAS forward pass and
     * the in-place Bernoulli likelihood (the fast scoring path); for every other model by the sampler's own walk
     * through the ordering (observing each x_d where the sampler would draw it).
     *
     * @return {@code [batch]}, double precision
     */
    public INDArray logProb(INDArray x, INDArray context, int k) {
        checkEvents(x);
        checkContext(context, x.rows());
        if (binary) {
            return binaryLogProb(x, k);
        }
        float[][] xs = x.castTo(DataType.FLOAT).toFloatMatrix();
        float[][] cs = context == null ? null : context.castTo(DataType.FLOAT).toFloatMatrix();
        double[] lp = new double[xs.length];
        Step[] steps = new Step[xs.length];
        for (int i = 0; i < xs.length; i++) {
            float[] observed = xs[i];
            int row = i;
            steps[i] = (d, p) -> {
                lp[row] += family.logProb(p, d * perDim, observed[d]);
                return observed[d];
            };
        }
        walk(k, rowBiases(cs, xs.length), new float[xs.length][dim], steps);
        return Nd4j.createFromArray(lp);
    }

    /**
     * Exact log p_k(x) of the binary model in nats, {@code [batch]}: the masked forward pass and the Bernoulli
     * log-likelihood in slices of {@link #SCORING_ROWS} rows, on buffers this thread reuses for every call.
     */
    private INDArray binaryLogProb(INDArray x, int k) {
        long rows = x.rows();
        INDArray in = floatRows(x);
        double[] out = new double[(int) rows];
        Scratch buffers = scratchBuffers.get();
        for (long from = 0; from < rows; from += SCORING_ROWS) {
            long to = Math.min(rows, from + SCORING_ROWS);
            INDArray slice = from == 0 && to == rows ? in : in.get(NDArrayIndex.interval(from, to), NDArrayIndex.all());
            double[] lp = buffers.logProb(slice, k);
            System.arraycopy(lp, 0, out, (int) from, lp.length);
        }
        return Nd4j.createFromArray(out);
    }

    /**
     * Activation buffers for up to {@code capacity} rows, reused across slices: scoring allocates nothing per batch
     * (fresh multi-megabyte ND4J arrays per batch cost more than the arithmetic). Matrix products go straight to BLAS
     * ({@link Nd4j#gemm}), which is faster on CPUs than the general matmul op. The binary likelihood is computed
     * exactly as {@link LogMath#bernoulliLogProb} does it, step by step in the same precision, only in place.
     */
    private final class Scratch {
        private final INDArray[] layers;
        private final INDArray signs;
        private final INDArray tail;

        Scratch(long capacity) {
            layers = new INDArray[weights.length];
            for (int l = 0; l < layers.length; l++) {
                layers[l] = Nd4j.create(DataType.FLOAT, capacity, weights[l].columns());
            }
            signs = binary ? Nd4j.create(DataType.FLOAT, capacity, dim) : null;
            tail = binary ? Nd4j.create(DataType.FLOAT, capacity, dim) : null;
        }

        private INDArray rows(INDArray buffer, long n) {
            return n == buffer.rows() ? buffer : buffer.get(NDArrayIndex.interval(0, n), NDArrayIndex.all());
        }

        /**
         * The parameters of float rows {@code in} (with their float context rows, or null), in this scratch's last
         * layer buffer (valid until its next use).
         */
        INDArray params(INDArray in, INDArray context, int k) {
            Masked m = masked(k);
            long n = in.rows();
            INDArray h = in;
            for (int l = 0; l < m.weights.length; l++) {
                INDArray z = rows(layers[l], n);
                Nd4j.gemm(h, m.weights[l], z, false, false, 1.0, 0.0);
                z.addiRowVector(biases[l]);
                if (context != null) {
                    Nd4j.gemm(context, contextWeights[l], z, false, false, 1.0, 1.0);
                }
                h = l < m.weights.length - 1 ? Transforms.relu(z, false) : z;
            }
            if (m.direct != null) {
                Nd4j.gemm(in, m.direct, h, false, false, 1.0, 1.0);
            }
            return h;
        }

        /** Binary log p_k of float rows {@code in}: -sum_d softplus((1 - 2 x_d) z_d), stable as in LogMath. */
        double[] logProb(INDArray in, int k) {
            long n = in.rows();
            INDArray signed = params(in, null, k).muli(rows(signs, n).assign(in).muli(-2.0).addi(1.0));
            INDArray t = rows(tail, n).assign(signed);
            Transforms.log(Transforms.exp(Transforms.abs(t, false).negi(), false).addi(1.0), false);
            return Transforms.relu(signed, false).addi(t).sum(1).castTo(DataType.DOUBLE).negi().toDoubleVector();
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
     *               kept to test the cached one against). Both use the same random numbers, so they give the same
     *               samples up to float rounding of the conditionals' parameters.
     * @return {@code [seeds.length, D]} float
     */
    public INDArray sample(long[] seeds, INDArray context, double temperature, boolean cached) {
        checkContext(context, seeds.length);
        if (!(temperature > 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be positive and finite, got " + temperature);
        }
        int n = seeds.length;
        int[] maskSet = new int[n];
        Step[] steps = new Step[n];
        for (int i = 0; i < n; i++) {
            long rowSeed = seeds[i];
            if (binary) {
                SplittableRandom rng = new SplittableRandom(rowSeed);
                maskSet[i] = rng.nextInt(made.variantCount());
                Bernoulli bernoulli = (Bernoulli) family;
                steps[i] = (d, p) -> bernoulli.sampleFromUniform(p, d, rng.nextDouble(), temperature);
            } else {
                maskSet[i] = maskSetOf(rowSeed);
                steps[i] = (d, p) -> family.sample(p, d * perDim, Seeds.derive(rowSeed, 1, d), temperature);
            }
        }
        float[][] cs = context == null ? null : context.castTo(DataType.FLOAT).toFloatMatrix();
        float[][] out = new float[n][];
        for (int k = 0; k < made.variantCount(); k++) {
            List<Integer> rows = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                if (maskSet[i] == k) {
                    rows.add(i);
                }
            }
            if (rows.isEmpty()) {
                continue;
            }
            Step[] groupSteps = rows.stream().map(i -> steps[i]).toArray(Step[]::new);
            float[][] groupContext = cs == null ? null : rows.stream().map(i -> cs[i]).toArray(float[][]::new);
            float[][] x = new float[rows.size()][dim];
            if (cached) {
                walk(k, rowBiases(groupContext, rows.size()), x, groupSteps);
            } else {
                naive(k, groupContext, x, groupSteps);
            }
            for (int j = 0; j < rows.size(); j++) {
                out[rows.get(j)] = x[j];
            }
        }
        return n == 0 ? Nd4j.create(DataType.FLOAT, 0, dim) : Nd4j.create(out);
    }

    /** The mask set a row of an NLL-output model samples from: uniform over the K sets, from the row's own seed. */
    private int maskSetOf(long rowSeed) {
        int k = made.variantCount();
        return k == 1 ? 0 : Math.min(k - 1, (int) (Seeds.uniform(Seeds.derive(rowSeed, 0)) * k));
    }

    /** The naive sampler: a full BLAS forward pass over the rows of mask set k for every generated dimension. */
    private void naive(int k, float[][] context, float[][] x, Step[] steps) {
        Scratch scratch = new Scratch(x.length);
        INDArray c = context == null ? null : Nd4j.create(context);
        for (int d : made.masks(k).ordering()) {
            float[][] params = scratch.params(Nd4j.create(x), c, k).toFloatMatrix();
            for (int i = 0; i < x.length; i++) {
                x[i][d] = (float) steps[i].value(d, params[i]);
            }
        }
    }

    /** Per-row, per-layer biases: b_l + c C_l (the context's whole effect); one shared set without a context. */
    private double[][][] rowBiases(float[][] context, int rows) {
        double[][][] b = new double[rows][][];
        double[][] shared = context == null ? rowBiases(null) : null;
        for (int i = 0; i < rows; i++) {
            b[i] = shared != null ? shared : rowBiases(context[i]);
        }
        return b;
    }

    private double[][] rowBiases(float[] context) {
        double[][] b = new double[biasRows.length][];
        for (int l = 0; l < b.length; l++) {
            b[l] = new double[biasRows[l].length];
            for (int j = 0; j < b[l].length; j++) {
                b[l][j] = biasRows[l][j];
            }
            for (int c = 0; context != null && c < contextSize; c++) {
                addScaled(b[l], contextRows[l][c], context[c]);
            }
        }
        return b;
    }

    /**
     * The cached autoregressive walk over the rows of mask set {@code k}: for each dimension in the ordering, compute
     * every row's conditional parameters from the values fixed so far, let the row's {@code step} fix x_d, and fold
     * x_d into the running sums of the first layer and the direct term.
     *
     * @param bias per row, per layer: the effective biases ({@link #rowBiases})
     */
    private void walk(int k, double[][][] bias, float[][] x, Step[] steps) {
        WalkWeights w = walkWeights(k);
        int last = w.layers.length - 1;
        int n = x.length;
        double[][] pre = new double[n][];                       // first layer (the outputs, for an FVSBN)
        for (int i = 0; i < n; i++) {
            pre[i] = bias[i][0].clone();
        }
        double[][] directSum = w.direct == null ? null : new double[n][dim * perDim];
        float[] params = new float[dim * perDim];
        for (int d : w.ordering) {
            double[][] h = last == 0 ? null : lastHidden(k, w, pre, bias);
            for (int i = 0; i < n; i++) {
                for (int c = d * perDim; c < (d + 1) * perDim; c++) {
                    double s;
                    if (last == 0) {
                        s = pre[i][c];
                    } else {
                        s = bias[i][last][c];
                        float[] out = w.outputs[c];
                        double[] hi = h[i];
                        for (int j = 0; j < hi.length; j++) {
                            s = round(s + round(hi[j] * out[j]));
                        }
                    }
                    params[c] = (float) (directSum == null ? s : s + directSum[i][c]);
                }
                x[i][d] = (float) steps[i].value(d, params);
                addScaled(pre[i], w.layers[0][d], x[i][d]);
                if (directSum != null) {
                    addScaled(directSum[i], w.direct[d], x[i][d]);
                }
            }
        }
    }

    /**
     * The last hidden layer of every row, from the first layer's pre-activations: ReLU, then full passes through any
     * middle layers (deep MADEs), in ND4J for the binary model (as its float32 sampler always computed them), in
     * double otherwise.
     */
    private double[][] lastHidden(int k, WalkWeights w, double[][] pre, double[][][] bias) {
        int last = w.layers.length - 1;
        if (binary && last > 1) {
            float[][] first = new float[pre.length][];
            for (int i = 0; i < pre.length; i++) {
                first[i] = new float[pre[i].length];
                for (int j = 0; j < first[i].length; j++) {
                    first[i][j] = (float) pre[i][j];
                }
            }
            INDArray[] m = masked(k).weights;
            INDArray h = Transforms.relu(Nd4j.create(first), false).castTo(m[1].dataType());
            for (int l = 1; l < last; l++) {
                h = Transforms.relu(h.mmul(m[l]).addiRowVector(biases[l]), false);
            }
            float[][] hf = h.toFloatMatrix();
            double[][] out = new double[hf.length][];
            for (int i = 0; i < hf.length; i++) {
                out[i] = new double[hf[i].length];
                for (int j = 0; j < hf[i].length; j++) {
                    out[i][j] = hf[i][j];
                }
            }
            return out;
        }
        double[][] out = new double[pre.length][];
        for (int i = 0; i < pre.length; i++) {
            double[] h = pre[i].clone();
            relu(h);
            for (int l = 1; l < last; l++) {
                double[] z = bias[i][l].clone();
                for (int j = 0; j < h.length; j++) {
                    addScaled(z, w.layers[l][j], h[j]);
                }
                relu(z);
                h = z;
            }
            out[i] = h;
        }
        return out;
    }

    /**
     * A walk sum as the model's sampler computes it: rounded to float after every operation for the binary model
     * (double rounding of a sum or product of two floats is exact, so this is float32 arithmetic), as is otherwise.
     */
    private double round(double v) {
        return binary ? (float) v : v;
    }

    private void addScaled(double[] target, float[] row, double scale) {
        if (scale == 0) {
            return;
        }
        for (int j = 0; j < target.length; j++) {
            target[j] = round(target[j] + scale * row[j]);
        }
    }

    private void checkEvents(INDArray x) {
        if (x.rank() != 2 || x.columns() != dim) {
            throw new IllegalArgumentException("expected [batch, " + dim + "] events, got "
                    + Arrays.toString(x.shape()));
        }
    }

    private static void relu(double[] z) {
        for (int j = 0; j < z.length; j++) {
            z[j] = Math.max(z[j], 0);
        }
    }
}
