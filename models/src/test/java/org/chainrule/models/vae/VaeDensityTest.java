package org.chainrule.models.vae;

import org.chainrule.models.TrainingRecipe;
import org.chainrule.models.DensityModel;
import org.chainrule.models.LogMath;
import org.chainrule.models.ModelTesting;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Trained VAEs (K = 0 and K = 4 planar steps, 2-D latent, D = 6) as densities: training raises the ELBO, the
 * importance-weighted estimate behaves as the IWAE bound should against the exact marginal (by quadrature, see
 * {@link VaeReference#marginal}) and sums to one over all 2^6 vectors, and sampling is seeded and follows the marginal.
 */
class VaeDensityTest {
    private static final int D = 6;
    private static final int STEPS = 150;
    private static final int BATCH = 200;
    /** Importance draws per vector for the checks against the exact marginal. */
    private static final int DRAWS = 1000;

    static final INDArray DATA = dataset(1000, 1);
    static final INDArray HELD_OUT = dataset(500, 2);
    static final INDArray ALL = ModelTesting.allBinary(D);

    /** A trained model, its held-out ELBO before and after training, and its exact and sampled quantities on ALL. */
    record Trained(VaeSpec spec, MultiLayerNetwork net, double elboBefore, double elboAfter, double[] logP,
                   double[][] logW) {
        VaeDensity density() {
            return (VaeDensity) spec.densityOf(net);
        }
    }

    static Trained plain;
    static Trained flowed;

    /** Three prototypes, each bit flipped with probability 0.05: a structured distribution over 2^6 vectors. */
    static INDArray dataset(int n, long seed) {
        int[][] prototypes = {{1, 1, 1, 0, 0, 0}, {0, 0, 0, 1, 1, 1}, {1, 0, 1, 0, 1, 0}};
        Random r = new Random(seed);
        float[] v = new float[n * D];
        for (int i = 0; i < n; i++) {
            int[] p = prototypes[r.nextInt(prototypes.length)];
            for (int j = 0; j < D; j++) {
                v[i * D + j] = (r.nextDouble() < 0.05) != (p[j] == 1) ? 1f : 0f;
            }
        }
        return Nd4j.create(v, new long[]{n, D}, 'c');
    }

    static VaeSpec spec(int flowSteps) {
        return VaeSpec.of(new long[]{D}, new int[]{16}, new int[]{16}, 2, flowSteps, 20);
    }

    /** A plain DL4J fit loop over minibatches, fresh noise per step (variant = step). */
    static Trained train(VaeSpec spec, long seed) {
        MultiLayerNetwork net = new MultiLayerNetwork(spec.trainingConfiguration(new TrainingRecipe(2e-2, seed)));
        net.init();
        spec.initializeFromData(net, DATA);
        double before = ((VaeDensity) spec.densityOf(net)).elbo(HELD_OUT).meanNumber().doubleValue();
        for (int step = 0; step < STEPS; step++) {
            int from = (step * BATCH) % (int) DATA.rows();
            INDArray x = DATA.get(NDArrayIndex.interval(from, from + BATCH), NDArrayIndex.all());
            net.fit(new DataSet(spec.trainingFeatures(x, step), spec.trainingLabels(x)));
        }
        VaeDensity m = (VaeDensity) spec.densityOf(net);
        double after = m.elbo(HELD_OUT).meanNumber().doubleValue();
        double[] p = new VaeReference(spec, net).marginal(ALL, 0.05);
        double[] logP = new double[p.length];
        for (int i = 0; i < p.length; i++) {
            logP[i] = Math.log(p[i]);
        }
        return new Trained(spec, net, before, after, logP, m.logWeights(ALL, DRAWS).toDoubleMatrix());
    }

    @BeforeAll
    static void trainModels() {
        plain = train(spec(0), 3);
        flowed = train(spec(4), 3);
    }

    @Test
    void trainingRaisesTheElboAndFlowsDoNotHurt() {
        for (Trained t : new Trained[]{plain, flowed}) {
            // independent bits at the data's marginals score about -3.9 nats; the generating distribution's entropy
            // is about 2.3 nats, so an ELBO above -3.2 means the latent captured the prototypes
            assertTrue(t.elboAfter > t.elboBefore + 1.0, "K=" + t.spec.flowSteps() + ": ELBO " + t.elboBefore
                    + " -> " + t.elboAfter);
            assertTrue(t.elboAfter > -3.2, "K=" + t.spec.flowSteps() + ": trained ELBO " + t.elboAfter);
            assertTrue(t.elboAfter < -2.0, "no ELBO can beat the data's entropy by much: " + t.elboAfter);
        }
        // a richer posterior can only tighten the bound at the optimum; allow for optimisation noise
        assertTrue(flowed.elboAfter > plain.elboAfter - 0.15, "K=4 ELBO " + flowed.elboAfter + " vs K=0 "
                + plain.elboAfter);
    }

    @Test
    void theQuadratureReferenceIsConverged() {
        double[] coarse = new VaeReference(plain.spec, plain.net).marginal(ALL, 0.1);
        double total = 0;
        for (int i = 0; i < coarse.length; i++) {
            total += Math.exp(plain.logP[i]);
            // halving the step changes nothing that matters: the midpoint rule has converged
            assertEquals(plain.logP[i], Math.log(coarse[i]), 1e-3, "vector " + i);
        }
        // sum_x p(x | z) = 1 for every z, so this checks the prior's normalisation on the grid
        assertEquals(1.0, total, 1e-6);
    }

    /**
     * The IWAE estimate with S draws, {@code L_S(x) = E[log mean_S w]}, grows with S towards log p(x): estimated from
     * the same {@value #DRAWS} draws per vector, L_1 is their mean log weight and L_200 the mean over 5 disjoint groups
     * of 200 of the group's log-mean-exp. Averaged under p(x), the ELBO gap {@code log p - L_1} is positive, and L_200
     * closes most of it without overshooting log p by more than its sampling noise.
     */
    @Test
    void importanceEstimateTightensWithMoreDrawsTowardTheExactMarginal() {
        for (Trained t : new Trained[]{plain, flowed}) {
            double gap1 = 0;
            double gap200 = 0;
            double var200 = 0;
            for (int i = 0; i < ALL.rows(); i++) {
                double p = Math.exp(t.logP[i]);
                double[] w = t.logW[i];
                double mean = 0;
                double sq = 0;
                for (double v : w) {
                    mean += v / w.length;
                    sq += v * v / w.length;
                }
                // E log w <= log E w = log p(x) per vector (Jensen), up to the sampling error of the mean
                double se1 = Math.sqrt(Math.max(sq - mean * mean, 0) / w.length);
                assertTrue(mean < t.logP[i] + 4 * se1 + 1e-4, "K=" + t.spec.flowSteps() + " vector " + i
                        + ": mean log weight " + mean + " above log p " + t.logP[i]);
                double[] groups = new double[5];
                for (int g = 0; g < groups.length; g++) {
                    INDArray part = Nd4j.createFromArray(java.util.Arrays.copyOfRange(w, g * 200, (g + 1) * 200));
                    groups[g] = LogMath.logMeanExp(part.reshape(1, 200)).getDouble(0);
                }
                double l200 = java.util.Arrays.stream(groups).average().orElseThrow();
                double v200 = java.util.Arrays.stream(groups).map(v -> (v - l200) * (v - l200)).sum() / 4 / 5;
                gap1 += p * (t.logP[i] - mean);
                gap200 += p * (t.logP[i] - l200);
                var200 += p * p * v200;
            }
            String k = "K=" + t.spec.flowSteps() + ": ";
            assertTrue(gap1 > 0.01, k + "the ELBO should sit below log p(x) on average, gap " + gap1);
            assertTrue(gap200 < 0.5 * gap1, k + "200 draws should close most of the gap: " + gap200 + " vs " + gap1);
            assertTrue(gap200 > -4 * Math.sqrt(var200) - 1e-3, k + "the S = 200 estimate overshoots log p(x): gap "
                    + gap200 + ", standard error " + Math.sqrt(var200));
        }
    }

    /**
     * {@code exp(logProb(x))} with S draws is {@code (1/S) sum_s w_s}, an unbiased estimate of p(x) (as
     * {@code E_q[p(x, z) / q(z | x)] = p(x)}); the 64 vectors draw independent noise (seeded by their values), so the
     * sum over all of them is an unbiased estimate of 1 with variance {@code sum_x Var(w(x)) / S}, estimated from the
     * draws themselves. It must fall within 5 of those standard errors (which must be below 0.02, so that the check
     * means something: within a few percent), and each estimate must agree with the exact log p(x) on average.
     */
    @Test
    void importanceEstimateSumsToOneOverAllVectors() {
        for (Trained t : new Trained[]{plain, flowed}) {
            double total = 0;
            double variance = 0;
            double weightedError = 0;
            for (int i = 0; i < ALL.rows(); i++) {
                double[] w = t.logW[i];
                double mean = 0;
                for (double v : w) {
                    mean += Math.exp(v) / w.length;
                }
                double var = 0;
                for (double v : w) {
                    var += (Math.exp(v) - mean) * (Math.exp(v) - mean) / (w.length - 1);
                }
                total += mean;
                variance += var / w.length;
                weightedError += Math.exp(t.logP[i]) * Math.abs(Math.log(mean) - t.logP[i]);
            }
            double sigma = Math.sqrt(variance);
            String k = "K=" + t.spec.flowSteps() + ": ";
            assertTrue(sigma < 0.02, k + "standard error of the total " + sigma);
            assertEquals(1.0, total, 5 * sigma + 1e-4, k + "sum of exp(IWAE estimate), standard error " + sigma);
            assertTrue(weightedError < 0.05, k + "mean |estimate - log p(x)| under p: " + weightedError);
        }
        // the density's own logProb is the same estimate: the log-mean-exp of these weights
        VaeDensity m = flowed.density();
        INDArray x = ALL.get(NDArrayIndex.interval(0, 8), NDArrayIndex.all());
        VaeDensity wide = (VaeDensity) flowed.spec.withEvalSamples(DRAWS).densityOf(flowed.net);
        double[] lp = wide.logProb(x).toDoubleVector();
        for (int i = 0; i < 8; i++) {
            double expected = LogMath.logMeanExp(Nd4j.createFromArray(flowed.logW[i]).reshape(1, DRAWS)).getDouble(0);
            assertEquals(expected, lp[i], 1e-9, "vector " + i);
        }
        // and never below the ELBO of the same draws (Jensen, draw by draw)
        double[] elbo = m.elbo(x).toDoubleVector();
        double[] iwae = m.logProb(x).toDoubleVector();
        for (int i = 0; i < 8; i++) {
            assertTrue(iwae[i] >= elbo[i], "vector " + i + ": " + iwae[i] + " < " + elbo[i]);
        }
    }

    @Test
    void samplingIsSeededAndFollowsTheMarginal() {
        VaeDensity m = plain.density();
        VaeReference ref = new VaeReference(plain.spec, plain.net);
        long[] seeds = {5, 6, 7, 8, 9};
        INDArray s = m.sample(seeds);
        assertEquals(s, m.sample(seeds));
        assertEquals(s.getRow(2), m.sample(new long[]{7}).getRow(0), "a row depends on its seed only");
        // the density's decoder is the reference decoder
        INDArray z = Nd4j.randn(DataType.DOUBLE, 10, 2);
        assertTrue(m.decoderLogits(z).sub(ref.decoderLogits(z)).amaxNumber().doubleValue() < 1e-9);
        // temperature -> 0: the decoder's mode at z = 0, whatever the seed
        double[] atOrigin = ref.decoderLogits(Nd4j.zeros(DataType.DOUBLE, 1, 2)).toDoubleVector();
        INDArray cold = m.sample(new long[]{1, 2, 3, 4, 5, 6}, null, 1e-9);
        for (int i = 0; i < cold.rows(); i++) {
            for (int j = 0; j < D; j++) {
                assertEquals(atOrigin[j] > 0 ? 1.0 : 0.0, cold.getDouble(i, j), 0.0, "row " + i + " dim " + j);
            }
        }
        // at temperature 1, the samples follow the exact marginal (chi-squared, 0.1% level)
        DensityModel exact = new DensityModel() {
            @Override
            public long[] eventShape() {
                return new long[]{D};
            }

            @Override
            public INDArray logProb(INDArray x) {
                assertEquals(ALL, x);
                return Nd4j.createFromArray(plain.logP);
            }

            @Override
            public INDArray sample(long[] seeds) {
                throw new UnsupportedOperationException();
            }
        };
        double[] chi = ModelTesting.chiSquared(exact, m.sample(20000, 17));
        assertTrue(chi[0] < ModelTesting.chiSquaredCritical999(chi[1]), "chi-squared " + chi[0] + " on " + chi[1]
                + " degrees of freedom");
        assertThrows(UnsupportedOperationException.class, () -> m.sample(seeds, Nd4j.zeros(5, 2), 1.0));
        assertThrows(IllegalArgumentException.class, () -> m.sample(seeds, null, 0.0));
    }
}
