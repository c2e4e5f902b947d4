package org.chainrule.models.pixelpp;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.chainrule.models.ModelTesting.chiSquaredCritical999;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The discretized logistic mixture of PixelCNN++: both halves (SameDiff and Java) are exactly normalized over every
 * value, also at extreme parameters, agree with each other and with a direct evaluation of the CDF differences, are
 * differentiable, and the sampler draws from the likelihood.
 */
class DiscretizedLogisticMixtureTest {

    @BeforeAll
    static void singleThreaded() {
        SmallTensors.begin();
    }

    @AfterAll
    static void restoreThreads() {
        SmallTensors.end();
    }

    /** Random parameters of one pixel: logits and means ~ N(0, 1), log-scales in [-3, 0], coefficients ~ N(0, 1). */
    static float[] randomParams(DiscretizedLogisticMixture f, Random r) {
        float[] p = new float[f.paramsPerPixel()];
        for (int k = 0; k < f.components(); k++) {
            p[k] = (float) r.nextGaussian();
            for (int c = 0; c < f.channels(); c++) {
                p[f.mean(c, k)] = (float) r.nextGaussian();
                p[f.logScale(c, k)] = (float) (-3 * r.nextDouble());
                for (int prev = 0; prev < c; prev++) {
                    p[f.coefficient(c, prev, k)] = (float) r.nextGaussian();
                }
            }
        }
        return p;
    }

    /** Parameters of a one-channel mixture with the given means and log-scales (logits 0..M-1). */
    static float[] grey(double[] means, double[] logScales) {
        DiscretizedLogisticMixture f = new DiscretizedLogisticMixture(1, means.length, 256);
        float[] p = new float[f.paramsPerPixel()];
        for (int k = 0; k < means.length; k++) {
            p[k] = k * 0.7f;
            p[f.mean(0, k)] = (float) means[k];
            p[f.logScale(0, k)] = (float) logScales[k];
        }
        return p;
    }

    /** Every pixel value of a C-channel mixture with L levels, {@code [L^C, C]}, channel 0 varying slowest. */
    static float[][] allPixels(int channels, int levels) {
        int n = (int) Math.pow(levels, channels);
        float[][] x = new float[n][channels];
        for (int i = 0; i < n; i++) {
            int rest = i;
            for (int c = channels - 1; c >= 0; c--) {
                x[i][c] = rest % levels;
                rest /= levels;
            }
        }
        return x;
    }

    /** The SameDiff log-probability of every row's single pixel under the same parameters. */
    static double[] graphLogProbs(DiscretizedLogisticMixture f, float[] params, float[][] x) {
        float[][] p = new float[x.length][];
        Arrays.fill(p, params);
        SameDiff sd = SameDiff.create();
        SDVariable pv = sd.constant("p", Nd4j.create(p));
        SDVariable xv = sd.constant("x", Nd4j.create(x));
        return f.pixelLogProbs(sd, pv, xv, 1).eval().reshape(-1).castTo(DataType.DOUBLE).toDoubleVector();
    }

    static double[] javaLogProbs(DiscretizedLogisticMixture f, float[] params, float[][] x) {
        double[] lp = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            lp[i] = f.logProb(params, 0, x[i], 0);
        }
        return lp;
    }

    /**
     * How far a float32 log-probability may be from the double one: 1e-5 relative for the arithmetic, plus the float
     * rounding of the scaled value and the mean (~1.2e-7 of their magnitude) times the largest slope of log P in the
     * centred value, 1 / s per channel (a mean on a bin edge at the clamped scale is that ill-conditioned).
     */
    static double tolerance(DiscretizedLogisticMixture f, float[] p, double lp) {
        double slope = 0;
        for (int c = 0; c < f.channels(); c++) {
            double worst = 0;
            for (int k = 0; k < f.components(); k++) {
                double inverseScale = Math.exp(-Math.max(-7, p[f.logScale(c, k)]));
                worst = Math.max(worst, inverseScale * (2 + c + Math.abs(p[f.mean(c, k)])));
            }
            slope += worst;
        }
        return 1e-5 * Math.max(1, Math.abs(lp)) + 1.2e-7 * slope;
    }

    static double sumExp(double[] lp) {
        double total = 0;
        for (double v : lp) {
            total += Math.exp(v);
        }
        return total;
    }

    /**
     * The reference: mixture of products of sigmoid(b) - sigmoid(a), with the edge bins' CDFs taken to 0 and 1, in
     * double precision and in the plain textbook form (usable where the cancellation is harmless).
     */
    static double referenceLogProb(DiscretizedLogisticMixture f, float[] p, float[] x) {
        int m = f.components();
        double maxLogit = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < m; k++) {
            maxLogit = Math.max(maxLogit, p[k]);
        }
        double norm = 0;
        for (int k = 0; k < m; k++) {
            norm += Math.exp(p[k] - maxLogit);
        }
        double total = 0;
        double h = 1.0 / (f.levels() - 1);
        for (int k = 0; k < m; k++) {
            double prob = Math.exp(p[k] - maxLogit) / norm;
            double[] xs = new double[f.channels()];
            for (int c = 0; c < f.channels(); c++) {
                xs[c] = 2.0 * x[c] / (f.levels() - 1) - 1;
                double mean = p[f.mean(c, k)];
                for (int prev = 0; prev < c; prev++) {
                    mean += Math.tanh(p[f.coefficient(c, prev, k)]) * xs[prev];
                }
                double s = Math.exp(Math.max(-7, p[f.logScale(c, k)]));
                double upper = x[c] == f.levels() - 1 ? 1 : sigmoid((xs[c] + h - mean) / s);
                double lower = x[c] == 0 ? 0 : sigmoid((xs[c] - h - mean) / s);
                prob *= upper - lower;
            }
            total += prob;
        }
        return Math.log(total);
    }

    static double sigmoid(double z) {
        return 1 / (1 + Math.exp(-z));
    }

    /** Single channel, L = 256: ordinary, clamped, tiny, huge scales and means far outside [-1, 1]. */
    @Test
    void greyProbabilitiesSumToOneAtExtremes() {
        List<float[]> cases = new ArrayList<>();
        Random r = new Random(1);
        DiscretizedLogisticMixture f3 = new DiscretizedLogisticMixture(1, 3, 256);
        for (int i = 0; i < 3; i++) {
            cases.add(randomParams(f3, r));
        }
        double centre = 2.0 * 100 / 255 - 1;                             // the centre of bin 100
        cases.add(grey(new double[]{centre}, new double[]{-7}));          // the clamp, centred on a bin
        cases.add(grey(new double[]{centre + 1.0 / 255}, new double[]{-40})); // below the clamp, on a bin edge
        cases.add(grey(new double[]{0.3}, new double[]{-7}));
        cases.add(grey(new double[]{5}, new double[]{0}));                // far above the range
        cases.add(grey(new double[]{-30}, new double[]{-2}));             // far below it, narrow
        cases.add(grey(new double[]{60}, new double[]{-7}));              // far above, at the clamp
        cases.add(grey(new double[]{0.1}, new double[]{12}));             // enormous scale: tiny bins in scale units
        cases.add(grey(new double[]{0.1}, new double[]{120}));            // delta underflows even in double
        cases.add(grey(new double[]{-0.5, 0.5, 3}, new double[]{-7, -7, 4}));
        float[][] x = allPixels(1, 256);
        for (float[] p : cases) {
            DiscretizedLogisticMixture f = new DiscretizedLogisticMixture(1, p.length / 3, 256);
            double[] java = javaLogProbs(f, p, x);
            double[] graph = graphLogProbs(f, p, x);
            String what = Arrays.toString(p);
            assertEquals(1.0, sumExp(java), 1e-9, "java, " + what);
            assertEquals(1.0, sumExp(graph), 1e-5, "samediff, " + what);
            for (int v = 0; v < 256; v++) {
                assertTrue(Double.isFinite(java[v]) && Double.isFinite(graph[v]), what + " value " + v);
                assertEquals(java[v], graph[v], tolerance(f, p, java[v]), what + " value " + v);
            }
        }
    }

    /** Where the textbook CDF difference is accurate (moderate parameters), the factored form equals it. */
    @Test
    void factoredFormEqualsCdfDifference() {
        Random r = new Random(2);
        for (int channels : new int[]{1, 2, 3}) {
            for (int levels : new int[]{2, 5, 256}) {
                DiscretizedLogisticMixture f = new DiscretizedLogisticMixture(channels, 2, levels);
                for (int t = 0; t < 20; t++) {
                    float[] p = randomParams(f, r);
                    float[] x = new float[channels];
                    for (int c = 0; c < channels; c++) {
                        x[c] = r.nextInt(levels);
                    }
                    double reference = referenceLogProb(f, p, x);
                    if (reference > -15) {
                        assertEquals(reference, f.logProb(p, 0, x, 0), 1e-9 * Math.max(1, Math.abs(reference)),
                                "C " + channels + " L " + levels + " " + Arrays.toString(x));
                    }
                }
            }
        }
    }

    /** Colour: the joint over all L^3 values of a pixel sums to 1, in both halves, which agree. */
    @Test
    void colourJointSumsToOne() {
        Random r = new Random(3);
        for (int levels : new int[]{8, 16}) {
            DiscretizedLogisticMixture f = new DiscretizedLogisticMixture(3, 3, levels);
            float[][] x = allPixels(3, levels);
            List<float[]> cases = new ArrayList<>(List.of(randomParams(f, r), randomParams(f, r)));
            float[] extreme = randomParams(f, r);
            for (int k = 0; k < 3; k++) {
                extreme[f.logScale(0, k)] = -9;                     // clamped
                extreme[f.mean(1, k)] = 4;                          // outside the range
                extreme[f.coefficient(2, 0, k)] = 30;               // tanh saturated: B follows R
                extreme[f.coefficient(2, 1, k)] = -30;
            }
            cases.add(extreme);
            for (float[] p : cases) {
                double[] java = javaLogProbs(f, p, x);
                double[] graph = graphLogProbs(f, p, x);
                assertEquals(1.0, sumExp(java), 1e-9, "java, L " + levels);
                assertEquals(1.0, sumExp(graph), 1e-5, "samediff, L " + levels);
                for (int i = 0; i < x.length; i++) {
                    assertEquals(java[i], graph[i], tolerance(f, p, java[i]), "L " + levels + " " + i);
                }
            }
        }
    }

    /**
     * The channels really depend on each other: with one component, P(R, G) differs from P(R) P(G) once G's
     * coefficient on R is non-zero, and factorizes when it is zero.
     */
    @Test
    void greenDependsOnRed() {
        DiscretizedLogisticMixture f = new DiscretizedLogisticMixture(2, 1, 4);
        float[] p = new float[f.paramsPerPixel()];
        p[f.logScale(0, 0)] = -1;
        p[f.logScale(1, 0)] = -1;
        float[][] x = allPixels(2, 4);
        p[f.coefficient(1, 0, 0)] = 0;
        double[][] joint = new double[4][4];
        for (float[] v : x) {
            joint[(int) v[0]][(int) v[1]] = Math.exp(f.logProb(p, 0, v, 0));
        }
        double[] red = new double[4];
        double[] green = new double[4];
        for (int a = 0; a < 4; a++) {
            for (int b = 0; b < 4; b++) {
                red[a] += joint[a][b];
                green[b] += joint[a][b];
            }
        }
        for (int a = 0; a < 4; a++) {
            for (int b = 0; b < 4; b++) {
                assertEquals(red[a] * green[b], joint[a][b], 1e-12);
            }
        }
        p[f.coefficient(1, 0, 0)] = 2;
        // tanh(2) ~ 0.96: G's mean follows R, so P(G = 3 | R = 3) far exceeds P(G = 3 | R = 0)
        double high = Math.exp(f.logProb(p, 0, new float[]{3, 3}, 0) - f.logProb(p, 0, new float[]{3, 0}, 0));
        assertTrue(high > 5, "ratio " + high);
    }

    /** SameDiff differentiates the NLL, and its gradient is the finite-difference gradient of the Java half. */
    @Test
    void gradientMatchesFiniteDifferences() {
        Random r = new Random(4);
        DiscretizedLogisticMixture f = new DiscretizedLogisticMixture(3, 2, 16);
        int pixels = 3;
        int rows = 2;
        float[][] params = new float[rows][pixels * f.paramsPerPixel()];
        float[][] x = new float[rows][pixels * 3];
        for (int i = 0; i < rows; i++) {
            for (int n = 0; n < pixels; n++) {
                System.arraycopy(randomParams(f, r), 0, params[i], n * f.paramsPerPixel(), f.paramsPerPixel());
                for (int c = 0; c < 3; c++) {
                    x[i][n * 3 + c] = n == 0 ? 0 : n == 1 ? 15 : r.nextInt(16);   // both edges and the interior
                }
            }
        }
        SameDiff sd = SameDiff.create();
        SDVariable p = sd.var("p", Nd4j.create(params));
        SDVariable v = sd.constant("x", Nd4j.create(x));
        SDVariable nll = f.nll(sd, p, v, pixels);
        assertEquals(rows, nll.eval().rows());
        sd.setLossVariables(nll.sum());
        INDArray grad = sd.calculateGradients(Map.of(), "p").get("p");
        double eps = 1e-2;
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < params[i].length; j++) {
                float[] up = params[i].clone();
                float[] down = params[i].clone();
                up[j] += (float) eps;
                down[j] -= (float) eps;
                int n = j / f.paramsPerPixel();
                double fd = -(f.logProb(up, n * f.paramsPerPixel(), x[i], n * 3)
                        - f.logProb(down, n * f.paramsPerPixel(), x[i], n * 3)) / (up[j] - down[j]);
                assertEquals(fd, grad.getDouble(i, j), 2e-3 * Math.max(1, Math.abs(fd)), "param " + i + "," + j);
            }
        }
    }

    /** Extreme parameters give finite losses and finite gradients (no NaN from an unselected branch). */
    @Test
    void extremeParametersStayFinite() {
        DiscretizedLogisticMixture f = new DiscretizedLogisticMixture(1, 2, 256);
        float[][] params = {
                {0, 50, -1e4f, 1e4f, -200, 300},      // huge means, log-scales far below and above the clamp
                {-80, 80, 0.5f, -0.5f, -7, 90}};
        float[][][] x = {{{0}, {255}}, {{255}, {128}}};
        for (int which = 0; which < 2; which++) {
            SameDiff sd = SameDiff.create();
            float[][] p = {params[which], params[which]};
            SDVariable pv = sd.var("p", Nd4j.create(p));
            SDVariable xv = sd.constant("x", Nd4j.create(x[which]));
            SDVariable nll = f.nll(sd, pv, xv, 1);
            INDArray value = nll.eval();
            sd.setLossVariables(nll.sum());
            INDArray grad = sd.calculateGradients(Map.of(), "p").get("p");
            for (double g : value.castTo(DataType.DOUBLE).toDoubleVector()) {
                assertTrue(Double.isFinite(g), "loss " + value);
            }
            for (double g : grad.castTo(DataType.DOUBLE).reshape(-1).toDoubleVector()) {
                assertTrue(Double.isFinite(g), "gradient " + grad);
            }
        }
    }

    /** Pearson chi-squared of draws against exp(logProb) over every pixel value (cells with expectation &lt; 5 merged). */
    static void assertSamplerMatches(DiscretizedLogisticMixture f, float[] sampled, float[] scored, double temperature,
                                     long seed) {
        float[][] values = allPixels(f.channels(), f.levels());
        int n = 20000;
        long[] counts = new long[values.length];
        float[] out = new float[f.channels()];
        for (int i = 0; i < n; i++) {
            f.sample(sampled, 0, org.chainrule.models.Seeds.derive(seed, i), temperature, out, 0);
            int index = 0;
            for (int c = 0; c < f.channels(); c++) {
                index = index * f.levels() + (int) out[c];
            }
            counts[index]++;
        }
        double stat = 0;
        int cells = 0;
        double smallExpected = 0;
        long smallObserved = 0;
        for (int i = 0; i < values.length; i++) {
            double e = n * Math.exp(f.logProb(scored, 0, values[i], 0));
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
        assertTrue(cells > 5, "too few cells: " + cells);
        assertTrue(stat < chiSquaredCritical999(cells - 1), "chi2 " + stat + " over " + cells + " cells");
    }

    @Test
    void samplerMatchesLikelihood() {
        Random r = new Random(5);
        DiscretizedLogisticMixture grey = new DiscretizedLogisticMixture(1, 3, 16);
        float[] p = randomParams(grey, r);
        assertSamplerMatches(grey, p, p, 1.0, 1);
        DiscretizedLogisticMixture colour = new DiscretizedLogisticMixture(3, 2, 4);
        float[] q = randomParams(colour, r);
        q[colour.coefficient(1, 0, 0)] = 2;   // strong channel dependence, so conditioning on the wrong value would show
        q[colour.coefficient(2, 1, 1)] = -2;
        assertSamplerMatches(colour, q, q, 1.0, 2);
    }

    /**
     * At temperature T the sampler draws from the mixture with logits / T and log-scales + log T (for log-scales at
     * least log T above the clamp).
     */
    @Test
    void temperatureScalesLogisticsAndLogits() {
        Random r = new Random(6);
        double t = 0.6;
        DiscretizedLogisticMixture f = new DiscretizedLogisticMixture(2, 2, 8);
        float[] p = randomParams(f, r);
        float[] tempered = p.clone();
        for (int k = 0; k < 2; k++) {
            tempered[k] = (float) (p[k] / t);
            for (int c = 0; c < 2; c++) {
                tempered[f.logScale(c, k)] = (float) (p[f.logScale(c, k)] + Math.log(t));
            }
        }
        assertSamplerMatches(f, p, tempered, t, 3);
    }

    @Test
    void layoutAndValidation() {
        assertEquals(3 * 5, new DiscretizedLogisticMixture(1, 5, 256).paramsPerPixel());
        assertEquals(10 * 5, new DiscretizedLogisticMixture(3, 5, 256).paramsPerPixel());
        DiscretizedLogisticMixture f = new DiscretizedLogisticMixture(3, 2, 256);
        // the paper's order: logits, means, log-scales, then G on R, B on R, B on G
        assertEquals(2, f.mean(0, 0));
        assertEquals(8, f.logScale(0, 0));
        assertEquals(14, f.coefficient(1, 0, 0));
        assertEquals(16, f.coefficient(2, 0, 0));
        assertEquals(19, f.coefficient(2, 1, 1));
        assertEquals(Double.NEGATIVE_INFINITY, f.logProb(new float[20], 0, new float[]{0, 256, 0}, 0));
        assertEquals(Double.NEGATIVE_INFINITY, f.logProb(new float[20], 0, new float[]{0.5f, 2, 0}, 0));
        assertThrows(IllegalArgumentException.class, () -> new DiscretizedLogisticMixture(0, 1, 256));
        assertThrows(IllegalArgumentException.class, () -> new DiscretizedLogisticMixture(1, 0, 256));
        assertThrows(IllegalArgumentException.class, () -> new DiscretizedLogisticMixture(1, 1, 1));
    }
}
