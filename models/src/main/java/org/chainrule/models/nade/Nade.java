package org.chainrule.models.nade;

import org.chainrule.models.GraphDensity;
import org.chainrule.models.LogMath;
import org.chainrule.models.Seeds;
import org.chainrule.models.conditionals.OutputFamily;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A trained NADE as a density. Log-likelihoods come from the training network itself ({@link GraphDensity}: one
 * pass per ordering, log-mean-exp over the K orderings, so an order-agnostic model costs K forward passes per row).
 * Sampling is ancestral in plain Java with the NADE running sum: the hidden pre-activation is updated by one row of W
 * per generated dimension, so a sample costs O(D H) (times the parameters per dimension), not O(D^2 H).
 *
 * <p>The Java forward pass that drives the sampler is also exposed as {@link #logProb(INDArray, INDArray, int)} so
 * tests can hold it to the graph's numbers: a sampler that disagrees with the likelihood would be caught there.
 *
 * <p>The ensemble over orderings is the uniform mixture (1/K) sum_k p_k(x); an exact sample of it draws the ordering
 * uniformly from the row's seed and then samples in that ordering.
 */
public final class Nade extends GraphDensity {
    private final NadeSpec nade;
    private final OutputFamily family;
    private final int dim;
    private final int hidden;
    private final int perDim;
    private final boolean relu;
    private final float[][] w;      // [D][H]
    private final float[] c;        // [H]
    private final float[][] v;      // [D * P][H]
    private final float[] b;        // [D * P]
    private final float[][] u;      // [D][H] or null
    private final float[][] wc;     // [C][H] or null
    private final float[][] vc;     // [C][D * P] or null
    private final int[][] orders;

    /** Snapshots the parameters of {@code network} (built from {@code spec}); later training does not leak in. */
    public Nade(NadeSpec spec, MultiLayerNetwork network) {
        super(spec, network);
        this.nade = spec;
        this.family = spec.family();
        this.dim = spec.dim();
        this.hidden = spec.hidden();
        this.perDim = family.paramsPerDim();
        this.relu = spec.activation().equals("relu");
        Layer layer = network.getLayer(0);
        this.w = matrix(layer.getParam(NadeLayer.W));
        this.c = layer.getParam(NadeLayer.C).toFloatVector();
        this.v = matrix(layer.getParam(NadeLayer.V));
        this.b = layer.getParam(NadeLayer.B).toFloatVector();
        this.u = spec.orderings() > 1 ? matrix(layer.getParam(NadeLayer.U)) : null;
        this.wc = spec.contextSize() > 0 ? matrix(layer.getParam(NadeLayer.WC)) : null;
        this.vc = spec.contextSize() > 0 ? matrix(layer.getParam(NadeLayer.VC)) : null;
        this.orders = new int[spec.orderings()][];
        for (int k = 0; k < orders.length; k++) {
            orders[k] = spec.ordering(k);
        }
    }

    /** The elements of a matrix in row-major order, as a fresh array. */
    private static float[] flat(INDArray a) {
        return a.castTo(DataType.FLOAT).dup('c').data().asFloat();
    }

    private static float[][] matrix(INDArray a) {
        return a.castTo(DataType.FLOAT).toFloatMatrix();
    }

    public NadeSpec spec() {
        return nade;
    }

    /**
     * Exact log p_k(x | context) under ordering {@code k}, from the Java running-sum forward pass the sampler uses.
     *
     * @param context {@code [batch, contextSize]}, or null for an unconditional model
     * @return {@code [batch]} nats, double precision
     */
    public INDArray logProb(INDArray x, INDArray context, int k) {
        checkRows(x, context, k);
        int n = (int) x.rows();
        double[] out = new double[n];
        float[] xs = flat(x);
        float[] ys = context == null ? null : flat(context);
        float[] row = new float[dim];
        float[] y = ys == null ? null : new float[ys.length / Math.max(n, 1)];
        for (int i = 0; i < n; i++) {
            System.arraycopy(xs, i * dim, row, 0, dim);
            if (y != null) {
                System.arraycopy(ys, i * y.length, y, 0, y.length);
            }
            out[i] = rowForward(row, y, k, null);
        }
        return Nd4j.createFromArray(out);
    }

    /**
     * The parameters of every conditional p(x_{o_t} | x_{o_&lt;t}, context) under ordering {@code k}, in the natural
     * layout {@code [batch, D * P]} (dimension d owns columns d*P .. d*P+P-1), from the Java forward pass.
     */
    public INDArray conditionalParams(INDArray x, INDArray context, int k) {
        checkRows(x, context, k);
        int n = (int) x.rows();
        float[] xs = flat(x);
        float[] ys = context == null ? null : flat(context);
        int width = dim * perDim;
        float[] params = new float[n * width];
        float[] row = new float[dim];
        float[] y = ys == null ? null : new float[ys.length / Math.max(n, 1)];
        float[] p = new float[width];
        for (int i = 0; i < n; i++) {
            System.arraycopy(xs, i * dim, row, 0, dim);
            if (y != null) {
                System.arraycopy(ys, i * y.length, y, 0, y.length);
            }
            rowForward(row, y, k, p);
            System.arraycopy(p, 0, params, i * width, width);
        }
        return Nd4j.create(params, new long[]{n, width}, DataType.FLOAT);
    }

    private void checkRows(INDArray x, INDArray context, int k) {
        if (x.rank() != 2 || x.columns() != dim) {
            throw new IllegalArgumentException("expected [batch, " + dim + "] events, got "
                    + java.util.Arrays.toString(x.shape()));
        }
        if (k < 0 || k >= orders.length) {
            throw new IllegalArgumentException("ordering " + k + " outside [0, " + orders.length + ")");
        }
        checkContext(context, x.rows());
    }

    /** Hidden pre-activation before any dimension is observed: c + Wc^T y. */
    private double[] initialPre(float[] y) {
        double[] a = new double[hidden];
        for (int j = 0; j < hidden; j++) {
            a[j] = c[j];
        }
        if (y != null) {
            for (int r = 0; r < y.length; r++) {
                if (y[r] != 0f) {
                    float[] row = wc[r];
                    for (int j = 0; j < hidden; j++) {
                        a[j] += (double) y[r] * row[j];
                    }
                }
            }
        }
        return a;
    }

    /** Output biases with the context term: b + Vc^T y, {@code [D * P]}. */
    private float[] outputBias(float[] y) {
        if (y == null) {
            return b;
        }
        double[] o = new double[b.length];
        for (int q = 0; q < b.length; q++) {
            o[q] = b[q];
        }
        for (int r = 0; r < y.length; r++) {
            if (y[r] != 0f) {
                float[] row = vc[r];
                for (int q = 0; q < o.length; q++) {
                    o[q] += (double) y[r] * row[q];
                }
            }
        }
        float[] f = new float[o.length];
        for (int q = 0; q < o.length; q++) {
            f[q] = (float) o[q];
        }
        return f;
    }

    private void activate(double[] a, float[] h) {
        for (int j = 0; j < hidden; j++) {
            h[j] = (float) (relu ? Math.max(a[j], 0.0) : LogMath.sigmoid(a[j]));
        }
    }

    /** Parameters of dimension d into p[0..P): bias[d*P + q] + V[d*P + q] . h. */
    private void params(int d, float[] h, float[] bias, float[] p) {
        for (int q = 0; q < perDim; q++) {
            float[] row = v[d * perDim + q];
            double s = bias[d * perDim + q];
            for (int j = 0; j < hidden; j++) {
                s += (double) row[j] * h[j];
            }
            p[q] = (float) s;
        }
    }

    /** Dimension d becomes observed with value {@code value}: a += value W[d] (+ U[d]). */
    private void observe(double[] a, int d, double value) {
        float[] row = w[d];
        if (value != 0) {
            for (int j = 0; j < hidden; j++) {
                a[j] += value * row[j];
            }
        }
        if (u != null) {
            float[] ur = u[d];
            for (int j = 0; j < hidden; j++) {
                a[j] += ur[j];
            }
        }
    }

    /** One row's log p_k(x | y); also writes every conditional's parameters into {@code paramsOut} when given. */
    private double rowForward(float[] x, float[] y, int k, float[] paramsOut) {
        double[] a = initialPre(y);
        float[] bias = outputBias(y);
        float[] h = new float[hidden];
        float[] p = new float[perDim];
        double lp = 0;
        for (int d : orders[k]) {
            activate(a, h);
            params(d, h, bias, p);
            if (paramsOut != null) {
                System.arraycopy(p, 0, paramsOut, d * perDim, perDim);
            }
            lp += family.logProb(p, 0, x[d]);
            observe(a, d, x[d]);
        }
        return lp;
    }

    /** Samples at temperature 1, unconditionally. */
    @Override
    public INDArray sample(long[] seeds) {
        return sample(seeds, null, 1.0);
    }

    /**
     * Ancestral sampling with the running sum. Row i draws its ordering uniformly from {@code seeds[i]} (an exact
     * sample of the ensemble mixture), then one value per dimension with seeds derived from {@code seeds[i]} and the
     * position, so a row depends only on its own seed. Temperature T scales the conditionals as the family defines
     * (logits / T, standard deviations * T); 1 is the model itself.
     */
    @Override
    public INDArray sample(long[] seeds, INDArray context, double temperature) {
        if (!(temperature > 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be positive and finite, got " + temperature);
        }
        checkContext(context, seeds.length);
        int n = seeds.length;
        float[] ys = context == null ? null : flat(context);
        float[] y = ys == null ? null : new float[nade.contextSize()];
        float[] out = new float[n * dim];
        float[] row = new float[dim];
        for (int i = 0; i < n; i++) {
            if (y != null) {
                System.arraycopy(ys, i * y.length, y, 0, y.length);
            }
            sampleRow(seeds[i], y, temperature, row);
            System.arraycopy(row, 0, out, i * dim, dim);
        }
        return Nd4j.create(out, new long[]{n, dim}, DataType.FLOAT);
    }

    /** The ordering a row with this seed is sampled in. */
    public int samplingOrdering(long seed) {
        int k = orders.length;
        return k == 1 ? 0 : Math.min(k - 1, (int) (Seeds.uniform(Seeds.derive(seed, 0)) * k));
    }

    private void sampleRow(long seed, float[] y, double temperature, float[] x) {
        int[] order = orders[samplingOrdering(seed)];
        double[] a = initialPre(y);
        float[] bias = outputBias(y);
        float[] h = new float[hidden];
        float[] p = new float[perDim];
        for (int t = 0; t < dim; t++) {
            int d = order[t];
            activate(a, h);
            params(d, h, bias, p);
            double value = family.sample(p, 0, Seeds.derive(seed, 1, t), temperature);
            x[d] = (float) value;
            observe(a, d, x[d]);
        }
    }
}
