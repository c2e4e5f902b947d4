package org.chainrule.models.autoregressive;

import org.chainrule.models.DensityModel;
import org.chainrule.models.LogMath;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A trained MADE (or FVSBN) as a density: exact log-likelihoods per mask set, the ensemble likelihood over mask sets,
 * and ancestral sampling.
 *
 * <p>The forward pass here is plain BLAS matrix multiplies on pre-masked weights (W * M computed once per mask set),
 * the same function the {@link MadeLayer} training graph computes, without the graph's per-call overhead or its
 * allocations.
 *
 * <p>The ensemble density is the uniform mixture (1/K) sum_k p_k(x): its log-likelihood is the log-mean-exp of the
 * per-mask log-likelihoods (never an average of logits), and a sample of it is a sample of p_k for a uniformly drawn k.
 */
public final class Made implements DensityModel {
    private final MadeSpec spec;
    private final List<INDArray> weights;
    private final List<INDArray> biases;
    private final INDArray directWeights;
    private final INDArray[][] maskedWeights;
    private final INDArray[] maskedDirect;

    /**
     * @param weights       weights[l] of shape {@code [nIn, nOut]}, unmasked
     * @param biases        biases[l] of shape {@code [1, nOut]}
     * @param directWeights {@code [D, D]} direct input-to-output weights, unmasked; null unless {@code spec.direct()}
     */
    public Made(MadeSpec spec, List<INDArray> weights, List<INDArray> biases, INDArray directWeights) {
        if (weights.size() != spec.hidden().length + 1 || biases.size() != weights.size()) {
            throw new IllegalArgumentException("expected " + (spec.hidden().length + 1) + " weight layers");
        }
        if (spec.direct() != (directWeights != null)) {
            throw new IllegalArgumentException("direct weights must be given exactly when the spec has direct connections");
        }
        this.spec = spec;
        this.weights = List.copyOf(weights);
        this.biases = List.copyOf(biases);
        this.directWeights = directWeights;
        this.maskedWeights = new INDArray[spec.variantCount()][];
        this.maskedDirect = new INDArray[spec.variantCount()];
    }

    public MadeSpec spec() {
        return spec;
    }

    @Override
    public long[] eventShape() {
        return spec.eventShape();
    }

    /** W_l * M_l for mask set {@code k}, computed on first use. */
    private synchronized INDArray[] masked(int k) {
        if (maskedWeights[k] == null) {
            MadeMasks masks = spec.masks(k);
            INDArray[] m = new INDArray[weights.size()];
            for (int l = 0; l < m.length; l++) {
                INDArray w = weights.get(l);
                m[l] = w.mul(masks.mask(l, w.dataType()));
            }
            maskedWeights[k] = m;
            if (directWeights != null) {
                maskedDirect[k] = directWeights.mul(masks.directMask(directWeights.dataType()));
            }
        }
        return maskedWeights[k];
    }

    /** W_d * M_d for mask set {@code k}, or null without direct connections. */
    private synchronized INDArray maskedDirect(int k) {
        masked(k);
        return maskedDirect[k];
    }

    /** Logits of every conditional p(x_d = 1 | x_{<d}) under mask set {@code k}, {@code [batch, D]}. */
    public INDArray logits(INDArray x, int k) {
        INDArray in = x.castTo(DataType.FLOAT).dup('c');
        return new Scratch(in.rows()).logits(in, k);
    }

    /**
     * Exact log p_k(x) in nats under mask set {@code k}, {@code [batch]}: the masked forward pass and the Bernoulli
     * log-likelihood in slices of {@link #SCORING_ROWS} rows, on buffers this thread reuses for every call.
     */
    public INDArray logProb(INDArray x, int k) {
        long rows = x.rows();
        INDArray in = x.dataType() == DataType.FLOAT && x.ordering() == 'c' && x.elementWiseStride() == 1 ? x
                : x.castTo(DataType.FLOAT).dup('c');
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
     * Rows per slice of a scoring pass: large enough for efficient matrix multiplies, small enough that the slice's
     * activations stay in cache between the element-wise steps of the likelihood.
     */
    static final int SCORING_ROWS = 512;

    private final ThreadLocal<Scratch> scratchBuffers = ThreadLocal.withInitial(() -> new Scratch(SCORING_ROWS));

    /**
     * Activation buffers for up to {@code capacity} rows, reused across slices: scoring allocates nothing per batch
     * (fresh multi-megabyte ND4J arrays per batch cost more than the arithmetic). Matrix products go straight to BLAS
     * ({@link Nd4j#gemm}), which is faster on CPUs than the general matmul op. The likelihood is computed exactly as
     * {@link LogMath#bernoulliLogProb} does it, step by step in the same precision, only in place.
     */
    private final class Scratch {
        private final INDArray[] layers;
        private final INDArray signs;
        private final INDArray tail;

        Scratch(long capacity) {
            int depth = weights.size();
            layers = new INDArray[depth];
            for (int l = 0; l < depth; l++) {
                layers[l] = Nd4j.create(DataType.FLOAT, capacity, weights.get(l).columns());
            }
            signs = Nd4j.create(DataType.FLOAT, capacity, spec.dim());
            tail = Nd4j.create(DataType.FLOAT, capacity, spec.dim());
        }

        private INDArray rows(INDArray buffer, long n) {
            return n == buffer.rows() ? buffer : buffer.get(NDArrayIndex.interval(0, n), NDArrayIndex.all());
        }

        /** The logits of float rows {@code in}, in this scratch's last layer buffer (valid until its next use). */
        INDArray logits(INDArray in, int k) {
            INDArray[] w = masked(k);
            long n = in.rows();
            INDArray h = in;
            for (int l = 0; l < w.length; l++) {
                INDArray z = rows(layers[l], n);
                Nd4j.gemm(h, w[l], z, false, false, 1.0, 0.0);
                z.addiRowVector(biases.get(l));
                h = l < w.length - 1 ? Transforms.relu(z, false) : z;
            }
            INDArray direct = maskedDirect(k);
            if (direct != null) {
                Nd4j.gemm(in, direct, h, false, false, 1.0, 1.0);
            }
            return h;
        }

        /** log p_k of float rows {@code in}: -sum_d softplus((1 - 2 x_d) z_d), stable as in LogMath. */
        double[] logProb(INDArray in, int k) {
            long n = in.rows();
            INDArray signed = logits(in, k).muli(rows(signs, n).assign(in).muli(-2.0).addi(1.0));
            INDArray t = rows(tail, n).assign(signed);
            Transforms.log(Transforms.exp(Transforms.abs(t, false).negi(), false).addi(1.0), false);
            return Transforms.relu(signed, false).addi(t).sum(1).castTo(DataType.DOUBLE).negi().toDoubleVector();
        }
    }

    /** Log-likelihood under each mask set, {@code [batch, K]}. */
    public INDArray logProbPerMask(INDArray x) {
        INDArray all = Nd4j.create(DataType.DOUBLE, x.rows(), spec.variantCount());
        for (int k = 0; k < spec.variantCount(); k++) {
            all.putColumn(k, logProb(x, k));
        }
        return all;
    }

    /** Ensemble log-likelihood: log-mean-exp over all K mask sets (exact for K = 1). */
    @Override
    public INDArray logProb(INDArray x) {
        if (x.columns() != spec.dim()) {
            throw new IllegalArgumentException("expected " + spec.dim() + " columns, got " + x.columns());
        }
        return spec.variantCount() == 1 ? logProb(x, 0) : LogMath.logMeanExp(logProbPerMask(x));
    }

    /** Ancestral sampling with cached first-layer pre-activations (O(H) per generated dimension after layer 1). */
    @Override
    public INDArray sample(long[] seeds) {
        return sample(seeds, true);
    }

    /**
     * Ancestral sampling. Each row draws its mask set and then one uniform per dimension, in generation order, from
     * its own seed, so cached and naive sampling consume identical random numbers.
     *
     * @param cached true: keep the first layer's pre-activation as a running sum and only compute the one output
     *               needed per step; false: re-run the whole network for every dimension (the naive loop)
     */
    public INDArray sample(long[] seeds, boolean cached) {
        int n = seeds.length;
        int dim = spec.dim();
        SplittableRandom[] rng = new SplittableRandom[n];
        int[] variant = new int[n];
        for (int i = 0; i < n; i++) {
            rng[i] = new SplittableRandom(seeds[i]);
            variant[i] = rng[i].nextInt(spec.variantCount());
        }
        INDArray out = Nd4j.create(DataType.FLOAT, n, dim);
        for (int k = 0; k < spec.variantCount(); k++) {
            List<Integer> rows = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                if (variant[i] == k) {
                    rows.add(i);
                }
            }
            if (rows.isEmpty()) {
                continue;
            }
            SplittableRandom[] groupRng = rows.stream().map(i -> rng[i]).toArray(SplittableRandom[]::new);
            INDArray x = cached ? sampleCached(k, groupRng) : sampleNaive(k, groupRng);
            for (int j = 0; j < rows.size(); j++) {
                out.putRow(rows.get(j), x.getRow(j));
            }
        }
        return out;
    }

    private INDArray sampleNaive(int k, SplittableRandom[] rng) {
        int[] order = spec.masks(k).ordering();
        INDArray x = Nd4j.create(DataType.FLOAT, rng.length, spec.dim());
        for (int d : order) {
            double[] logit = logits(x, k).getColumn(d).toDoubleVector();
            draw(x, d, logit, rng);
        }
        return x;
    }

    /**
     * Cached sampling. The first layer's pre-activation is a running sum per row (adding one row of W when a generated
     * bit is 1), and only the one output logit needed per step is computed, both in plain arrays: O(H) work per row
     * and dimension instead of a whole network pass. Layers between the first and the last (deep MADEs) are
     * recomputed per step with ND4J.
     */
    private INDArray sampleCached(int k, SplittableRandom[] rng) {
        int[] order = spec.masks(k).ordering();
        INDArray[] w = masked(k);
        int last = w.length - 1;
        int n = rng.length;
        int dim = spec.dim();
        float[][] firstRows = w[0].toFloatMatrix();                                   // [D][width of layer 1]
        float[][] lastCols = last == 0 ? null : w[last].transpose().toFloatMatrix();  // [D][width of layer L]
        float[] lastBias = biases.get(last).toFloatVector();
        float[][] pre = new float[n][];
        float[] b0 = biases.get(0).toFloatVector();
        for (int i = 0; i < n; i++) {
            pre[i] = b0.clone();
        }
        // the direct term's running sum: x (W_d * M_d), updated like the first layer
        INDArray direct = maskedDirect(k);
        float[][] directRows = direct == null ? null : direct.toFloatMatrix();
        float[][] directPre = direct == null ? null : new float[n][dim];
        float[][] x = new float[n][dim];
        double[] logit = new double[n];
        for (int d : order) {
            if (last == 0) {
                for (int i = 0; i < n; i++) {
                    logit[i] = pre[i][d];
                }
            } else {
                float[][] h = hiddenBeforeOutput(pre, w, last);
                float[] col = lastCols[d];
                for (int i = 0; i < n; i++) {
                    float sum = lastBias[d];
                    float[] hi = h[i];
                    for (int j = 0; j < col.length; j++) {
                        sum += hi[j] * col[j];
                    }
                    logit[i] = sum;
                }
            }
            float[] row = firstRows[d];
            for (int i = 0; i < n; i++) {
                if (directPre != null) {
                    logit[i] = (float) logit[i] + directPre[i][d];
                }
                if (rng[i].nextDouble() < LogMath.sigmoid(logit[i])) {
                    x[i][d] = 1f;
                    addTo(pre[i], row);
                    if (directPre != null) {
                        addTo(directPre[i], directRows[d]);
                    }
                }
            }
        }
        return Nd4j.create(x).castTo(DataType.FLOAT);
    }

    private static void addTo(float[] target, float[] row) {
        for (int j = 0; j < target.length; j++) {
            target[j] += row[j];
        }
    }

    /** ReLU of the first layer's pre-activations, then full passes through any middle layers: the last hidden layer. */
    private float[][] hiddenBeforeOutput(float[][] pre, INDArray[] w, int last) {
        if (last == 1) {
            float[][] h = new float[pre.length][];
            for (int i = 0; i < pre.length; i++) {
                h[i] = pre[i].clone();
                for (int j = 0; j < h[i].length; j++) {
                    h[i][j] = Math.max(h[i][j], 0f);
                }
            }
            return h;
        }
        INDArray h = Transforms.relu(Nd4j.create(pre), false).castTo(w[1].dataType());
        for (int l = 1; l < last; l++) {
            h = Transforms.relu(h.mmul(w[l]).addiRowVector(biases.get(l)), false);
        }
        return h.toFloatMatrix();
    }

    /** Sets column d of x to Bernoulli(sigmoid(logit)) draws; returns that column. */
    private static INDArray draw(INDArray x, int d, double[] logit, SplittableRandom[] rng) {
        float[] v = new float[rng.length];
        for (int i = 0; i < rng.length; i++) {
            v[i] = rng[i].nextDouble() < LogMath.sigmoid(logit[i]) ? 1f : 0f;
        }
        INDArray col = Nd4j.create(v, new long[]{rng.length}, DataType.FLOAT);
        x.putColumn(d, col);
        return col;
    }
}
