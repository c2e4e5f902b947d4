package org.chainrule.models.autoregressive;

import org.chainrule.models.LogMath;
import org.chainrule.models.OneNativeThread;
import org.chainrule.models.Seeds;
import org.chainrule.models.TrainingRecipe;
import org.chainrule.models.conditionals.OutputFamily;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.chainrule.models.ModelTesting.randomNetwork;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The cached (running-sum) MADE sampler against the naive one (a full forward pass per generated dimension) over
 * hundreds of seeds, for the binary MADE and for every output family. Each draw is then re-derived in this test from
 * the sampling contract (the row's mask set and its uniforms come from its own seed) and the conditional of a full
 * forward pass over the finished sample, and the draws are shown to have been genuinely uncertain (the drawn value had
 * probability below 0.9 under its conditional for a good share of them), so the agreement is not that of near-certain
 * draws, which any sampler would share.
 */
@ExtendWith(OneNativeThread.class)
class MadeCachedSamplerTest {
    static final int SEEDS = 400;
    static final double UNCERTAIN_BELOW = 0.9;
    static final double MIN_UNCERTAIN_SHARE = 0.2;

    /** Seeds spread over the long range (not 1..n), so a generator that ignored high bits would show. */
    static long[] seeds(long salt) {
        long[] s = new long[SEEDS];
        for (int i = 0; i < SEEDS; i++) {
            s[i] = Seeds.derive(salt, i);
        }
        return s;
    }

    /**
     * The binary unconditional MADE: one uniform per dimension after the mask-set draw, from the row's generator (the
     * stream it has always drawn from, so saved models keep their samples), at temperatures 1 and 0.7.
     */
    @ParameterizedTest
    @MethodSource("org.chainrule.models.autoregressive.MadeTest#specs")
    void binaryCachedSamplesAreTheNaiveOnes(MadeSpec spec) {
        MadeDensity made = (MadeDensity) spec.densityOf(randomNetwork(spec, 41));
        for (double temperature : new double[]{1.0, 0.7}) {
            long[] seeds = seeds(spec.hashCode() + Double.hashCode(temperature));
            INDArray cached = made.sample(seeds, null, temperature, true);
            INDArray naive = made.sample(seeds, null, temperature, false);
            assertArrayEquals(new long[]{SEEDS, spec.dim()}, cached.shape());
            float[][] x = cached.toFloatMatrix();
            float[][] y = naive.toFloatMatrix();
            String what = spec + ", T = " + temperature;
            float[][][] logits = new float[spec.variantCount()][][];
            for (int k = 0; k < logits.length; k++) {
                logits[k] = made.params(cached, null, k).toFloatMatrix();
            }
            int uncertain = 0;
            for (int i = 0; i < SEEDS; i++) {
                assertArrayEquals(y[i], x[i], what + ": seed " + seeds[i]);
                SplittableRandom rng = new SplittableRandom(seeds[i]);
                int k = rng.nextInt(spec.variantCount());
                float[] logit = logits[k][i];
                for (int d : spec.masks(k).ordering()) {
                    double one = LogMath.sigmoid(logit[d] / temperature);
                    assertEquals(rng.nextDouble() < one ? 1f : 0f, x[i][d], what + ": seed " + seeds[i] + ", dim " + d);
                    uncertain += (x[i][d] == 1f ? one : 1 - one) < UNCERTAIN_BELOW ? 1 : 0;
                }
            }
            assertUncertain(what, uncertain, SEEDS * spec.dim());
        }
    }

    /**
     * Every other model (categorical, Bernoulli with context, Gaussian and Gaussian mixtures): the draw of dimension
     * d uses the seed derived from (row seed, 1, d), at temperatures 1 and 0.7. Real values agree to float rounding
     * (the running sum adds in another order); discrete ones exactly.
     */
    @ParameterizedTest
    @MethodSource("org.chainrule.models.autoregressive.MadeFamiliesTest#all")
    void familyCachedSamplesAreTheNaiveOnes(MadeSpec spec) {
        MadeDensity density = MadeFamiliesTest.density(spec, MadeFamiliesTest.network(spec, 43));
        OutputFamily family = spec.family();
        int p = family.paramsPerDim();
        boolean discrete = spec.levels() > 0;
        for (double temperature : new double[]{1.0, 0.7}) {
            long[] seeds = seeds(spec.hashCode() + Double.hashCode(temperature));
            INDArray c = MadeFamiliesTest.contexts(spec, SEEDS, 0);
            float[][] x = density.sample(seeds, c, temperature, true).toFloatMatrix();
            float[][] y = density.sample(seeds, c, temperature, false).toFloatMatrix();
            String what = spec + ", T = " + temperature;
            List<List<Integer>> byMaskSet = new ArrayList<>();
            for (int k = 0; k < spec.variantCount(); k++) {
                byMaskSet.add(new ArrayList<>());
            }
            for (int i = 0; i < SEEDS; i++) {
                if (discrete) {
                    assertArrayEquals(y[i], x[i], what + ": seed " + seeds[i]);
                } else {
                    for (int d = 0; d < spec.dim(); d++) {
                        assertEquals(y[i][d], x[i][d], 1e-4 * (1 + Math.abs(y[i][d])), what + ": seed " + seeds[i]);
                    }
                }
                byMaskSet.get(maskSetOf(seeds[i], spec.variantCount())).add(i);
            }
            int uncertain = 0;
            double spread = 0;
            for (int k = 0; k < spec.variantCount(); k++) {
                float[][] paramsOfMaskSet = density.params(Nd4j.createFromArray(x), c, k).toFloatMatrix();
                for (int i : byMaskSet.get(k)) {
                    float[] params = paramsOfMaskSet[i];
                    for (int d = 0; d < spec.dim(); d++) {
                        double redrawn = family.sample(params, d * p, Seeds.derive(seeds[i], 1, d), temperature);
                        assertEquals(redrawn, x[i][d], discrete ? 0 : 1e-4 * (1 + Math.abs(redrawn)),
                                what + ": seed " + seeds[i] + ", dim " + d + " redrawn from its conditional");
                        if (discrete) {
                            float[] scaled = new float[p];
                            for (int q = 0; q < p; q++) {
                                scaled[q] = (float) (params[d * p + q] / temperature);
                            }
                            uncertain += family.logProb(scaled, 0, x[i][d]) < Math.log(UNCERTAIN_BELOW) ? 1 : 0;
                        } else {
                            spread = Math.max(spread, Math.abs(x[i][d] - x[0][d]));
                        }
                    }
                }
            }
            if (discrete) {
                assertUncertain(what, uncertain, SEEDS * spec.dim());
            } else {
                assertTrue(spread > 0.5, what + ": real samples should spread, largest distance " + spread);
            }
        }
    }

    /**
     * Samples are part of what a saved model is: the same seeds must keep giving the same samples across versions.
     * The expected rows were drawn by the earlier, separate binary and family MADE densities (the binary one with its
     * per-row generator and float32 sums, the family one with derived seeds and double sums) from parameters set by a
     * formula, so no random initialisation is involved.
     */
    @ParameterizedTest
    @MethodSource("frozenSamples")
    void samplesForASeedAreThoseOfEarlierVersions(MadeSpec spec, String expected) {
        MultiLayerNetwork net = new MultiLayerNetwork(spec.trainingConfiguration(new TrainingRecipe(1e-2, 1)));
        net.init();
        INDArray p = net.params();
        for (long i = 0; i < p.length(); i++) {
            p.putScalar(i, 1.5 * Math.sin(1.7 * i + 0.3));
        }
        net.setParams(p);
        long[] seeds = {1, 2, 3, 4, 5, 6, 7, 8};
        INDArray c = MadeFamiliesTest.contexts(spec, seeds.length, 0);
        StringBuilder drawn = new StringBuilder();
        for (float[] row : spec.densityOf(net).sample(seeds, c, 1.0).toFloatMatrix()) {
            for (float v : row) {
                drawn.append((int) v);
            }
            drawn.append(' ');
        }
        assertEquals(expected, drawn.toString().trim(), spec.toString());
    }

    static Stream<Arguments> frozenSamples() {
        return Stream.of(
                Arguments.of(MadeSpec.made(new long[]{8}, new int[]{12}, 3, true, 5).withDirect(true),
                        "10110001 00010011 10110011 00100010 01001010 10100100 00111011 01000011"),
                Arguments.of(MadeSpec.made(new long[]{8}, new int[]{12, 10}, 2, false, 5),
                        "00100000 01000101 01000101 01000101 01010011 11000111 11000111 11010111"),
                Arguments.of(MadeFamiliesTest.made(6, new int[]{12}, 2, MadeFamiliesTest.CAT3, 2).withDirect(true),
                        "220011 201012 220112 220101 201011 201012 220112 201012"));
    }

    /** The mask set a row samples from, as documented: uniform over the K sets, from the seed's child 0. */
    private static int maskSetOf(long seed, int k) {
        return k == 1 ? 0 : Math.min(k - 1, (int) (Seeds.uniform(Seeds.derive(seed, 0)) * k));
    }

    static void assertUncertain(String what, int uncertain, int draws) {
        double share = uncertain / (double) draws;
        System.out.printf("%s: %d seeds, cached = naive, %.0f%% of draws uncertain%n", what, SEEDS, 100 * share);
        assertTrue(share > MIN_UNCERTAIN_SHARE, what + ": only " + uncertain + " of " + draws + " draws had"
                + " probability below " + UNCERTAIN_BELOW + "; the equality would prove little");
    }
}
