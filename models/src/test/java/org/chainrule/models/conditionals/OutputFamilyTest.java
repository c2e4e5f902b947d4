package org.chainrule.models.conditionals;

import org.chainrule.models.Seeds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static org.chainrule.models.ModelTesting.chiSquaredCritical999;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The SameDiff and Java halves of every output family agree, are normalized, sample correctly and stay finite. */
class OutputFamilyTest {

    static Stream<OutputFamily> families() {
        return Stream.of(new Bernoulli(), new Categorical(2), new Categorical(5), new GaussianMixture(1),
                new GaussianMixture(3));
    }

    /** Random parameters {@code [n, d * P]}: logits and means ~ N(0, 2^2), log standard deviations in [-1.5, 1.5]. */
    static float[][] randomParams(OutputFamily f, int n, int d, Random r) {
        int p = f.paramsPerDim();
        float[][] params = new float[n][d * p];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < d * p; j++) {
                boolean logStd = f.levels() == 0 && j % p >= 2 * f.components();
                params[i][j] = (float) (logStd ? 3 * r.nextDouble() - 1.5 : 2 * r.nextGaussian());
            }
        }
        return params;
    }

    /** Random data of the family's value type, {@code [n, d]}. */
    static float[][] randomData(OutputFamily f, int n, int d, Random r) {
        float[][] x = new float[n][d];
        for (float[] row : x) {
            for (int j = 0; j < d; j++) {
                row[j] = f.levels() > 0 ? r.nextInt(f.levels()) : (float) (3 * r.nextGaussian());
            }
        }
        return x;
    }

    /** The SameDiff NLL of every row, from a tiny graph holding only the family's expression. */
    static double[] graphNll(OutputFamily f, float[][] params, float[][] x) {
        SameDiff sd = SameDiff.create();
        SDVariable p = sd.constant("p", Nd4j.create(params));
        SDVariable v = sd.constant("x", Nd4j.create(x));
        return f.nll(sd, p, v, x[0].length).eval().reshape(-1).castTo(DataType.DOUBLE).toDoubleVector();
    }

    static double javaLogProb(OutputFamily f, float[] params, float[] x) {
        double lp = 0;
        for (int d = 0; d < x.length; d++) {
            lp += f.logProb(params, d * f.paramsPerDim(), x[d]);
        }
        return lp;
    }

    @ParameterizedTest
    @MethodSource("families")
    void graphNllIsMinusJavaLogProb(OutputFamily f) {
        Random r = new Random(1);
        float[][] params = randomParams(f, 9, 4, r);
        float[][] x = randomData(f, 9, 4, r);
        double[] nll = graphNll(f, params, x);
        assertEquals(9, nll.length);
        for (int i = 0; i < 9; i++) {
            double lp = javaLogProb(f, params[i], x[i]);
            assertEquals(-lp, nll[i], 1e-4 * Math.max(1, Math.abs(lp)), f + " row " + i);
        }
    }

    /**
     * SameDiff can differentiate the NLL (as a training network must) and its gradient matches central finite
     * differences of the Java log-likelihood.
     */
    @ParameterizedTest
    @MethodSource("families")
    void graphGradientMatchesFiniteDifferences(OutputFamily f) {
        Random r = new Random(2);
        int d = 3;
        float[][] params = randomParams(f, 4, d, r);
        float[][] x = randomData(f, 4, d, r);
        SameDiff sd = SameDiff.create();
        SDVariable p = sd.var("p", Nd4j.create(params));
        SDVariable v = sd.constant("x", Nd4j.create(x));
        SDVariable loss = f.nll(sd, p, v, d).sum();
        sd.setLossVariables(loss);
        INDArray grad = sd.calculateGradients(Map.of(), "p").get("p");
        double eps = 1e-2;
        for (int i = 0; i < params.length; i++) {
            for (int j = 0; j < params[i].length; j++) {
                float[] up = params[i].clone();
                float[] down = params[i].clone();
                up[j] += (float) eps;
                down[j] -= (float) eps;
                double fd = -(javaLogProb(f, up, x[i]) - javaLogProb(f, down, x[i])) / (up[j] - down[j]);
                assertEquals(fd, grad.getDouble(i, j), 2e-3 * Math.max(1, Math.abs(fd)), f + " param " + i + "," + j);
            }
        }
    }

    @Test
    void categoricalProbabilitiesSumToOne() {
        Random r = new Random(3);
        for (int levels : new int[]{2, 3, 10, 256}) {
            Categorical f = new Categorical(levels);
            float[][] params = randomParams(f, 5, 1, r);
            for (float[] p : params) {
                double total = 0;
                for (int k = 0; k < levels; k++) {
                    total += Math.exp(f.logProb(p, 0, k));
                }
                assertEquals(1.0, total, 1e-6, "levels " + levels);
                assertEquals(Double.NEGATIVE_INFINITY, f.logProb(p, 0, levels));
                assertEquals(Double.NEGATIVE_INFINITY, f.logProb(p, 0, 0.5));
            }
        }
        float[] p = {0.3f};
        Bernoulli b = new Bernoulli();
        assertEquals(1.0, Math.exp(b.logProb(p, 0, 0)) + Math.exp(b.logProb(p, 0, 1)), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> new Categorical(1));
        assertThrows(IllegalArgumentException.class, () -> new GaussianMixture(0));
    }

    /** Trapezoid rule on a fine grid (exponentially accurate for Gaussian mixtures whose scales exceed the step). */
    @Test
    void mixtureIntegratesToOne() {
        Random r = new Random(4);
        for (int c : new int[]{1, 3}) {
            GaussianMixture f = new GaussianMixture(c);
            for (float[] p : randomParams(f, 4, 1, r)) {
                double step = 0.005;
                double total = 0;
                for (double v = -60; v <= 60; v += step) {
                    total += Math.exp(f.logProb(p, 0, v)) * step;
                }
                assertEquals(1.0, total, 1e-3, "components " + c + ": " + Arrays.toString(p));
            }
        }
    }

    /** Bernoulli and categorical samples pass a chi-squared test against the pmf (at temperature 1 and 0.5). */
    @Test
    void discreteSamplesFollowThePmf() {
        Random r = new Random(5);
        for (OutputFamily f : new OutputFamily[]{new Bernoulli(), new Categorical(6)}) {
            float[] p = randomParams(f, 1, 1, r)[0];
            for (double t : new double[]{1.0, 0.5}) {
                int levels = f.levels();
                int n = 20_000;
                long[] counts = new long[levels];
                for (int i = 0; i < n; i++) {
                    counts[(int) f.sample(p, 0, Seeds.derive(9, i), t)]++;
                }
                // the tempered distribution: logits / T
                float[] tempered = p.clone();
                for (int k = 0; k < tempered.length; k++) {
                    tempered[k] = (float) (p[k] / t);
                }
                double stat = 0;
                int cells = 0;
                for (int k = 0; k < levels; k++) {
                    double e = n * Math.exp(f.logProb(tempered, 0, k));
                    if (e >= 5) {
                        stat += (counts[k] - e) * (counts[k] - e) / e;
                        cells++;
                    }
                }
                double critical = cells - 1 >= 3 ? chiSquaredCritical999(cells - 1) : 13.82; // 0.1% for 1-2 dof
                assertTrue(stat < critical, f + " T=" + t + ": chi-squared " + stat + " counts "
                        + Arrays.toString(counts));
            }
        }
    }

    /**
     * Mixture samples: mean and variance match the analytic moments and the Kolmogorov-Smirnov distance to the
     * analytic CDF is below the 0.1% critical value; at temperature 0.5 the same against the tempered mixture
     * (logits / T, standard deviations * T).
     */
    @Test
    void mixtureSamplesFollowTheDensity() {
        Random r = new Random(6);
        for (int c : new int[]{1, 3}) {
            GaussianMixture f = new GaussianMixture(c);
            float[] p = randomParams(f, 1, 1, r)[0];
            for (double t : new double[]{1.0, 0.5}) {
                int n = 20_000;
                double[] s = new double[n];
                for (int i = 0; i < n; i++) {
                    s[i] = f.sample(p, 0, Seeds.derive(10 + c, i), t);
                }
                double[] w = new double[c];
                double[] mu = new double[c];
                double[] sd = new double[c];
                double norm = 0;
                for (int k = 0; k < c; k++) {
                    w[k] = Math.exp(p[k] / t);
                    norm += w[k];
                    mu[k] = p[c + k];
                    sd[k] = Math.exp(p[2 * c + k]) * t;
                }
                double mean = 0;
                double second = 0;
                for (int k = 0; k < c; k++) {
                    w[k] /= norm;
                    mean += w[k] * mu[k];
                    second += w[k] * (sd[k] * sd[k] + mu[k] * mu[k]);
                }
                double var = second - mean * mean;
                double sm = Arrays.stream(s).average().orElseThrow();
                double sv = Arrays.stream(s).map(v -> (v - sm) * (v - sm)).sum() / (n - 1);
                assertEquals(mean, sm, 5 * Math.sqrt(var / n), "mean, C=" + c + " T=" + t);
                assertEquals(var, sv, 0.05 * var, "variance, C=" + c + " T=" + t);
                Arrays.sort(s);
                double ks = 0;
                for (int i = 0; i < n; i++) {
                    double cdf = 0;
                    for (int k = 0; k < c; k++) {
                        cdf += w[k] * normalCdf((s[i] - mu[k]) / sd[k]);
                    }
                    ks = Math.max(ks, Math.max(Math.abs(cdf - (double) i / n), Math.abs(cdf - (double) (i + 1) / n)));
                }
                assertTrue(ks * Math.sqrt(n) < 1.95, "KS " + ks * Math.sqrt(n) + ", C=" + c + " T=" + t);
            }
        }
    }

    /** Standard normal CDF via erfc (Numerical Recipes' Chebyshev fit, relative error below 1.2e-7). */
    static double normalCdf(double z) {
        double x = -z / Math.sqrt(2);
        double t = 1 / (1 + 0.5 * Math.abs(x));
        double y = t * Math.exp(-x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
                + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
                + t * (-0.82215223 + t * 0.17087277)))))))));
        double erfc = x >= 0 ? y : 2 - y;
        return 0.5 * erfc;
    }

    /** Logits of +-1e4, log standard deviations of +-50 and values far out give finite NLLs, gradients and samples. */
    @ParameterizedTest
    @MethodSource("families")
    void extremeParametersStayFinite(OutputFamily f) {
        int p = f.paramsPerDim();
        int n = 6;
        float[][] params = new float[n][p];
        float[][] x = new float[n][1];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < p; j++) {
                boolean logStd = f.levels() == 0 && j >= 2 * f.components();
                boolean mean = f.levels() == 0 && !logStd && j >= f.components();
                float sign = (i + j) % 2 == 0 ? 1f : -1f;
                params[i][j] = logStd ? 50f * sign * (i < 3 ? 1 : -1) : mean ? sign * 3f : sign * 1e4f;
            }
            x[i][0] = f.levels() > 0 ? i % f.levels() : (i % 2 == 0 ? 1e4f : -3e3f);
        }
        double[] nll = graphNll(f, params, x);
        for (int i = 0; i < n; i++) {
            double lp = javaLogProb(f, params[i], x[i]);
            assertTrue(Double.isFinite(nll[i]) && nll[i] >= -1e3, f + " graph NLL " + nll[i] + " row " + i);
            assertTrue(Double.isFinite(lp), f + " Java logProb " + lp + " row " + i);
            assertEquals(-lp, nll[i], 1e-4 * Math.max(1, Math.abs(lp)), f + " row " + i);
            double s = f.sample(params[i], 0, Seeds.derive(3, i), 1.0);
            assertTrue(Double.isFinite(s), f + " sample " + s);
        }
        SameDiff sd = SameDiff.create();
        SDVariable pv = sd.var("p", Nd4j.create(params));
        sd.setLossVariables(f.nll(sd, pv, sd.constant(Nd4j.create(x)), 1).sum());
        INDArray grad = sd.calculateGradients(Map.of(), "p").get("p");
        assertTrue(Arrays.stream(grad.castTo(DataType.DOUBLE).reshape(-1).toDoubleVector()).allMatch(Double::isFinite),
                f + " gradient " + grad);
    }
}
