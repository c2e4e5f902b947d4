package org.chainrule.models;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Shared helpers for model property tests: random networks, enumeration of binary vectors, chi-squared. */
public final class ModelTesting {
    private ModelTesting() {
    }

    /** A freshly initialised training network with randomised biases (so conditionals are far from 1/2). */
    public static MultiLayerNetwork randomNetwork(ModelSpec spec, long seed) {
        MultiLayerNetwork net = new MultiLayerNetwork(spec.trainingConfiguration(new TrainingRecipe(1e-2, seed)));
        net.init();
        Random r = new Random(seed);
        INDArray p = net.params();
        for (long i = 0; i < p.length(); i++) {
            p.putScalar(i, p.getDouble(i) * 2.0 + 0.3 * r.nextGaussian());
        }
        net.setParams(p);
        return net;
    }

    /** All 2^d binary vectors, {@code [2^d, d]}. */
    public static INDArray allBinary(int d) {
        int n = 1 << d;
        float[] v = new float[n * d];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < d; j++) {
                v[i * d + j] = (i >> j & 1);
            }
        }
        return Nd4j.create(v, new long[]{n, d}, DataType.FLOAT);
    }

    /** Index of a binary row in {@link #allBinary} order. */
    public static int index(INDArray row) {
        int idx = 0;
        for (int j = 0; j < row.length(); j++) {
            idx |= (row.getDouble(j) > 0.5 ? 1 : 0) << j;
        }
        return idx;
    }

    /** Asserts that exp(logProb) sums to one over every binary vector. */
    public static void assertNormalized(DensityModel model, double tol) {
        INDArray lp = model.logProb(allBinary(model.eventSize()));
        double total = 0;
        for (double v : lp.toDoubleVector()) {
            total += Math.exp(v);
        }
        assertEquals(1.0, total, tol, "sum of exp(logProb) over all vectors");
    }

    /**
     * Pearson chi-squared statistic of sample counts against exp(logProb), merging cells whose expected count is
     * below 5 into one.
     *
     * @return {statistic, degrees of freedom}
     */
    public static double[] chiSquared(DensityModel model, INDArray samples) {
        int d = model.eventSize();
        double[] p = model.logProb(allBinary(d)).toDoubleVector();
        long[] counts = new long[p.length];
        for (int i = 0; i < samples.rows(); i++) {
            counts[index(samples.getRow(i))]++;
        }
        int n = (int) samples.rows();
        double stat = 0;
        int cells = 0;
        double smallExpected = 0;
        long smallObserved = 0;
        for (int i = 0; i < p.length; i++) {
            double e = n * Math.exp(p[i]);
            if (e < 5) {
                smallExpected += e;
                smallObserved += counts[i];
            } else {
                stat += (counts[i] - e) * (counts[i] - e) / e;
                cells++;
            }
        }
        if (smallExpected > 0) {
            stat += (smallObserved - smallExpected) * (smallObserved - smallExpected) / Math.max(smallExpected, 1e-9);
            cells++;
        }
        assertTrue(cells > 1, "too few cells for a chi-squared test");
        return new double[]{stat, cells - 1};
    }

    /**
     * Pearson's statistic of counts against probabilities proportional to {@code exp(logWeights)} (normalised here, so
     * a conditional can be given as joint log-probabilities of its cells).
     */
    public static double pearson(long[] counts, double[] logWeights) {
        double norm = 0;
        long n = 0;
        for (int k = 0; k < counts.length; k++) {
            norm += Math.exp(logWeights[k]);
            n += counts[k];
        }
        double chi = 0;
        for (int k = 0; k < counts.length; k++) {
            double e = n * Math.exp(logWeights[k]) / norm;
            chi += (counts[k] - e) * (counts[k] - e) / e;
        }
        return chi;
    }

    /**
     * Upper 0.1% critical value of chi-squared with k degrees of freedom (Wilson-Hilferty approximation; within 1% of
     * the exact quantile for k >= 3).
     */
    public static double chiSquaredCritical999(double k) {
        double z = 3.0902; // standard normal 0.999 quantile
        double a = 2.0 / (9.0 * k);
        return k * Math.pow(1 - a + z * Math.sqrt(a), 3);
    }

    /**
     * Dropout keyed by the step ({@link HashedDropout}) on a model's training network (layer 0's output): the
     * evaluation input drops nothing, a step's key moves the output, the same key gives the same output (both of
     * DL4J's passes see one mask), another key another one, and the gradient is that of the masked loss: a central
     * difference along it, over its squared norm, is what it is without dropout (DL4J's own scaling cancels out).
     */
    public static void assertDropoutKeyed(ModelSpec spec, MultiLayerNetwork net, INDArray x, INDArray context) {
        INDArray plain = layerOutput(net, spec.trainingFeatures(x, context, 0));
        INDArray keyed = layerOutput(net, spec.trainingFeatures(x, context, 0, 99L));
        assertTrue(keyed.sub(plain).amaxNumber().doubleValue() > 1e-3, "the key did not mask anything");
        assertEquals(keyed, layerOutput(net, spec.trainingFeatures(x, context, 0, 99L)), "one key, one mask");
        assertTrue(keyed.sub(layerOutput(net, spec.trainingFeatures(x, context, 0, 100L))).amaxNumber()
                .doubleValue() > 1e-3, "another step, another mask");
        double masked = slopeOverSquaredNorm(net, new org.nd4j.linalg.dataset.DataSet(
                spec.trainingFeatures(x, context, 0, 99L), spec.trainingLabels(x)));
        double unmasked = slopeOverSquaredNorm(net, new org.nd4j.linalg.dataset.DataSet(
                spec.trainingFeatures(x, context, 0), spec.trainingLabels(x)));
        assertEquals(unmasked, masked, 0.01 * Math.abs(unmasked), "directional derivative along the gradient");
    }

    /** The output of a network's first layer for {@code features}, in training mode. */
    public static INDArray layerOutput(MultiLayerNetwork net, INDArray features) {
        return net.feedForwardToLayer(0, features, true).get(1);
    }

    /** The loss's central difference along its gradient, over the gradient's squared norm. */
    private static double slopeOverSquaredNorm(MultiLayerNetwork net, org.nd4j.linalg.dataset.DataSet step) {
        INDArray theta = net.params().dup();
        net.setInput(step.getFeatures());
        net.setLabels(step.getLabels());
        net.computeGradientAndScore();
        INDArray g = net.gradient().gradient().dup();
        double norm = g.norm2Number().doubleValue();
        double eps = 1e-2 / norm;
        net.setParams(theta.sub(g.mul(eps)));
        double down = net.score(step, true);
        net.setParams(theta.add(g.mul(eps)));
        double up = net.score(step, true);
        net.setParams(theta);
        return (up - down) / (2 * eps) / (norm * norm);
    }
}
