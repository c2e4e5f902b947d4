package org.chainrule.models.sequence;

import org.chainrule.models.DensityModel;
import org.chainrule.models.Seeds;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.ArrayList;
import java.util.List;

/**
 * A trained character-level recurrent language model ({@link CharRnnSpec}) as a density over sequences: exact
 * log-likelihoods from one pass of the training network, and ancestral sampling one character at a time with the
 * network's stored recurrent state ({@code rnnTimeStep}), so a sample of length T costs T single-step passes, not T
 * passes over growing prefixes.
 *
 * <p>Holds its own copy of the network (later training does not leak in). The copy carries recurrent state while
 * sampling, so every method is synchronized: one caller at a time.
 */
public final class CharRnnDensity implements DensityModel {
    /**
     * Below this the network's float softmax output is not trusted for the log: exp of the shifted logit is near or in
     * the subnormal range (below about 1.2e-38 it has lost precision, and it becomes exactly 0 near 1.4e-45), so
     * log(p) would be inexact or -infinity although the model's probability is positive. Such entries are recomputed
     * as a double-precision log-softmax of the logits; above it float relative precision (1e-7) is kept.
     */
    static final double MIN_TRUSTED_PROBABILITY = 1e-30;

    private final CharRnnSpec spec;
    private final MultiLayerNetwork network;
    private double[][] outputWeights; // [H][V], read on first use by the logit fallback
    private double[] outputBias;       // [V]

    /** Wraps a copy of a network built from {@code spec.trainingConfiguration}. */
    public CharRnnDensity(CharRnnSpec spec, MultiLayerNetwork network) {
        if (network.getnLayers() != spec.hidden().length + 1) {
            throw new IllegalArgumentException("expected " + (spec.hidden().length + 1) + " layers for " + spec
                    + ", got " + network.getnLayers());
        }
        this.spec = spec;
        this.network = network.clone();
    }

    public CharRnnSpec spec() {
        return spec;
    }

    @Override
    public long[] eventShape() {
        return spec.eventShape();
    }

    /**
     * Every conditional of every sequence: entry [i, v, t] = p(x_t = v | x_{&lt;t}) of row i, from the network's
     * softmax output.
     *
     * @param x character indices {@code [batch, T]}
     * @return {@code [batch, V, T]}, double
     */
    public synchronized INDArray conditionals(INDArray x) {
        return network.output(spec.trainingFeatures(x, 0), false).castTo(DataType.DOUBLE);
    }

    /**
     * The per-step log-likelihoods log p(x_t | x_{&lt;t}) in nats. Taken as the log of the network's softmax output at
     * the true character; where that probability is below {@link #MIN_TRUSTED_PROBABILITY} (possibly 0 in float), the
     * value is instead the double-precision log-softmax of the logits, recomputed from the last recurrent layer's
     * activation and the output layer's weights, so the result is always finite and exact to float precision.
     *
     * @param x character indices {@code [batch, T]}
     * @return {@code [batch, T]}, double
     */
    public INDArray stepLogProbs(INDArray x) {
        return stepLogProbs(x, MIN_TRUSTED_PROBABILITY);
    }

    /** {@link #stepLogProbs(INDArray)} with another threshold below which the logits are used (tests compare both). */
    synchronized INDArray stepLogProbs(INDArray x, double minTrustedProbability) {
        int[][] idx = spec.indices(x);
        int n = idx.length;
        int t = spec.length();
        if (n == 0) {
            return Nd4j.create(DataType.DOUBLE, 0, t);
        }
        INDArray features = spec.trainingFeatures(x, 0);
        List<INDArray> acts = network.feedForward(features, false);
        INDArray probs = acts.get(acts.size() - 1);   // [batch, V, T]
        INDArray hidden = acts.get(acts.size() - 2);  // [batch, H, T], the output layer's input
        float[] pTrue = probs.mul(spec.trainingLabels(x)).sum(1).castTo(DataType.FLOAT).dup('c').data().asFloat();
        double[] out = new double[n * t];
        for (int i = 0; i < n; i++) {
            for (int s = 0; s < t; s++) {
                double p = pTrue[i * t + s];
                out[i * t + s] = p >= minTrustedProbability
                        ? Math.log(p)
                        : logSoftmaxFromLogits(hidden.get(NDArrayIndex.point(i), NDArrayIndex.all(),
                        NDArrayIndex.point(s)).toDoubleVector(), idx[i][s]);
            }
        }
        return Nd4j.create(out, new long[]{n, t}, DataType.DOUBLE);
    }

    /** log softmax(h W + b)[k] in double precision: the output layer's own function, without float underflow. */
    private double logSoftmaxFromLogits(double[] h, int k) {
        if (outputWeights == null) {
            org.deeplearning4j.nn.api.Layer out = network.getLayer(network.getnLayers() - 1);
            outputWeights = out.getParam("W").castTo(DataType.DOUBLE).toDoubleMatrix();
            outputBias = out.getParam("b").castTo(DataType.DOUBLE).reshape(-1).toDoubleVector();
        }
        int v = outputBias.length;
        double[] z = outputBias.clone();
        for (int j = 0; j < h.length; j++) {
            double[] w = outputWeights[j];
            for (int c = 0; c < v; c++) {
                z[c] += h[j] * w[c];
            }
        }
        double max = Double.NEGATIVE_INFINITY;
        for (double zc : z) {
            max = Math.max(max, zc);
        }
        double sum = 0;
        for (double zc : z) {
            sum += Math.exp(zc - max);
        }
        return z[k] - max - Math.log(sum);
    }

    /** Exact log p(x) in nats: the sum of {@link #stepLogProbs} over the T steps, {@code [batch]} double. */
    @Override
    public INDArray logProb(INDArray x) {
        return stepLogProbs(x).sum(1);
    }

    @Override
    public INDArray logProb(INDArray x, INDArray context) {
        if (context != null) {
            throw new IllegalArgumentException("a " + spec.type() + " model is unconditional but was given a context");
        }
        return logProb(x);
    }

    @Override
    public INDArray sample(long[] seeds) {
        return sample(seeds, null, 1.0);
    }

    /**
     * Ancestral sampling, all rows in one batch: the state is cleared, the start token is fed, and at each step t the
     * network is stepped once ({@code rnnTimeStep}) on the previous characters of all rows. Row i draws x_t from
     * softmax(logits / temperature), computed as p^(1/temperature) renormalized (the same distribution, from the
     * network's softmax output p), by inverting the CDF at the uniform {@code Seeds.uniform(Seeds.derive(seeds[i], t))}.
     * So row i depends only on seeds[i], and temperature 1 samples the model itself exactly. Characters whose float
     * probability underflowed to 0 get weight 0 (their true weight is below 1e-45^(1/temperature) relative).
     *
     * @param context     must be null (unconditional model)
     * @param temperature positive; below 1 sharpens towards the greedy (argmax) path, above 1 flattens
     * @return character indices {@code [seeds.length, T]}, float
     */
    @Override
    public synchronized INDArray sample(long[] seeds, INDArray context, double temperature) {
        if (context != null) {
            throw new IllegalArgumentException("a " + spec.type() + " model is unconditional but was given a context");
        }
        if (!(temperature > 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be positive and finite, got " + temperature);
        }
        int n = seeds.length;
        int t = spec.length();
        int v = spec.vocabularySize();
        if (n == 0) {
            return Nd4j.create(DataType.FLOAT, 0, t);
        }
        float[] out = new float[n * t];
        int[] previous = new int[n];
        java.util.Arrays.fill(previous, v); // the start token
        network.rnnClearPreviousState();
        try {
            for (int s = 0; s < t; s++) {
                float[] hot = new float[n * (v + 1)];
                for (int i = 0; i < n; i++) {
                    hot[i * (v + 1) + previous[i]] = 1f;
                }
                INDArray p = network.rnnTimeStep(Nd4j.create(hot, new long[]{n, v + 1}, DataType.FLOAT));
                float[] pm = p.reshape(n, v).castTo(DataType.FLOAT).dup('c').data().asFloat();
                float[] row = new float[v];
                for (int i = 0; i < n; i++) {
                    System.arraycopy(pm, i * v, row, 0, v);
                    int k = draw(row, Seeds.uniform(Seeds.derive(seeds[i], s)), temperature);
                    out[i * t + s] = k;
                    previous[i] = k;
                }
            }
        } finally {
            network.rnnClearPreviousState();
        }
        return Nd4j.create(out, new long[]{n, t}, DataType.FLOAT);
    }

    /**
     * Inverse-CDF draw from p^(1/temperature), renormalized, at uniform u in [0, 1). Weights are computed relative to
     * the largest probability (exp((log p_k - log p_max) / temperature)) so sharp temperatures cannot underflow the
     * whole row.
     */
    static int draw(float[] p, double u, double temperature) {
        int v = p.length;
        double[] w = new double[v];
        double max = 0;
        for (float pk : p) {
            max = Math.max(max, pk);
        }
        if (!(max > 0)) {
            throw new IllegalStateException("the network gave no positive probability: " + java.util.Arrays.toString(p));
        }
        double logMax = Math.log(max);
        double sum = 0;
        int lastPositive = 0;
        for (int k = 0; k < v; k++) {
            if (p[k] > 0) {
                w[k] = temperature == 1.0 ? p[k] : Math.exp((Math.log(p[k]) - logMax) / temperature);
                sum += w[k];
                lastPositive = k;
            }
        }
        double target = u * sum;
        for (int k = 0; k < lastPositive; k++) {
            target -= w[k];
            if (target < 0) {
                return k;
            }
        }
        return lastPositive;
    }

    /**
     * Turns character-index rows (e.g. samples) into text: row i becomes the string of {@code vocabulary.charAt(x)}
     * for its values in order. The vocabulary is the data pipeline's index-to-character table.
     *
     * @param samples    {@code [n, T]} whole numbers in [0, vocabulary.length())
     * @param vocabulary character of each index
     */
    public static List<String> toText(INDArray samples, String vocabulary) {
        if (samples.rank() != 2) {
            throw new IllegalArgumentException("expected index rows [n, T], got " + java.util.Arrays.toString(
                    samples.shape()));
        }
        List<String> texts = new ArrayList<>();
        int n = Math.toIntExact(samples.rows());
        for (int i = 0; i < n; i++) {
            double[] row = samples.getRow(i).castTo(DataType.DOUBLE).toDoubleVector();
            StringBuilder sb = new StringBuilder(row.length);
            for (double d : row) {
                int k = (int) d;
                if (k != d || k < 0 || k >= vocabulary.length()) {
                    throw new IllegalArgumentException("value " + d + " in row " + i
                            + " is not an index into a vocabulary of " + vocabulary.length());
                }
                sb.append(vocabulary.charAt(k));
            }
            texts.add(sb.toString());
        }
        return texts;
    }
}
