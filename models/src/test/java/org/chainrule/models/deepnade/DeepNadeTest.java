package org.chainrule.models.deepnade;

import org.chainrule.models.TrainingRecipe;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigRenderOptions;
import org.chainrule.models.DensityModel;
import org.chainrule.models.LogMath;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.OneNativeThread;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.chainrule.models.ModelTesting.allBinary;
import static org.chainrule.models.ModelTesting.assertNormalized;
import static org.chainrule.models.ModelTesting.chiSquared;
import static org.chainrule.models.ModelTesting.chiSquaredCritical999;
import static org.chainrule.models.ModelTesting.randomNetwork;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@ExtendWith(OneNativeThread.class)
class DeepNadeTest {
    private static final int D = 5;

    static Stream<DeepNadeSpec> specs() {
        return Stream.of(
                DeepNadeSpec.deepNade(new long[]{D}, new int[]{8, 8}, 1, 3),
                DeepNadeSpec.deepNade(new long[]{D}, new int[]{8}, 3, 4),
                DeepNadeSpec.nadeK(new long[]{D}, new int[]{8, 8}, 3, 1, 5),
                DeepNadeSpec.nadeK(new long[]{D}, new int[]{8, 8}, 3, 3, 6).withIntermediateLoss(true));
    }

    private static DeepNade density(DeepNadeSpec spec, long seed) {
        return (DeepNade) spec.densityOf(randomNetwork(spec, seed));
    }

    /** One ordering of a density as a density of its own. */
    private static DensityModel single(DeepNade model, int k) {
        return new DensityModel() {
            public long[] eventShape() {
                return model.eventShape();
            }

            public INDArray logProb(INDArray x) {
                return model.logProb(x, k);
            }

            public INDArray sample(long[] seeds) {
                throw new UnsupportedOperationException();
            }
        };
    }

    private static INDArray randomBinary(int rows, int cols, long seed) {
        Random r = new Random(seed);
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) {
            v[i] = r.nextBoolean() ? 1f : 0f;
        }
        return Nd4j.create(v, new long[]{rows, cols}, DataType.FLOAT);
    }

    private static INDArray prefixMask(int[] order, int i, int rows) {
        INDArray m = Nd4j.zeros(DataType.FLOAT, rows, order.length);
        for (int j = 0; j < i; j++) {
            m.getColumn(order[j]).assign(1);
        }
        return m;
    }

    @ParameterizedTest
    @MethodSource("specs")
    void exactlyNormalizedPerOrderingAndAsMixture(DeepNadeSpec spec) {
        DeepNade model = density(spec, 17);
        assertNormalized(model, 1e-4);
        for (int k = 0; k < spec.orderings(); k++) {
            assertNormalized(single(model, k), 1e-4);
        }
        // the mixture is the log-mean-exp of its orderings, and the orderings really differ
        INDArray all = allBinary(D);
        INDArray per = model.logProbPerOrdering(all);
        INDArray mix = model.logProb(all);
        for (int i = 0; i < all.rows(); i++) {
            double mean = 0;
            for (int k = 0; k < spec.orderings(); k++) {
                mean += Math.exp(per.getDouble(i, k)) / spec.orderings();
            }
            assertEquals(Math.log(mean), mix.getDouble(i), 1e-9);
        }
        if (spec.orderings() > 1) {
            assertTrue(per.getColumn(0).sub(per.getColumn(1)).amaxNumber().doubleValue() > 1e-3,
                    "two orderings of an untrained order-agnostic net should give different densities");
        }
    }

    /** Ordering 0 is natural; the others are permutations, distinct, and a function of the seed only. */
    @Test
    void orderingsAreSeededPermutations() {
        DeepNadeSpec spec = DeepNadeSpec.deepNade(new long[]{4, 5}, new int[]{3}, 4, 9);
        assertArrayEquals(java.util.stream.IntStream.range(0, 20).toArray(), spec.ordering(0));
        for (int k = 1; k < 4; k++) {
            int[] sorted = spec.ordering(k).clone();
            java.util.Arrays.sort(sorted);
            assertArrayEquals(spec.ordering(0), sorted);
            assertArrayEquals(spec.ordering(k), DeepNadeSpec.deepNade(new long[]{20}, new int[]{7}, 4, 9).ordering(k));
            assertFalse(java.util.Arrays.equals(spec.ordering(0), spec.ordering(k)));
        }
        assertFalse(java.util.Arrays.equals(spec.ordering(1), spec.ordering(2)));
        assertFalse(java.util.Arrays.equals(spec.ordering(1),
                DeepNadeSpec.deepNade(new long[]{20}, new int[]{3}, 4, 10).ordering(1)));
        assertThrows(IllegalArgumentException.class, () -> spec.ordering(4));
    }

    /**
     * The conditional of pi_i given the prefix never changes when x at pi_i or later changes (the mask hides them),
     * but does change with the observed prefix (so the test can fail).
     */
    @ParameterizedTest
    @MethodSource("specs")
    void conditionalsIgnoreUnobservedDimensions(DeepNadeSpec spec) {
        DeepNade model = density(spec, 11);
        INDArray x = randomBinary(32, D, 3);
        int dependsOnPast = 0;
        for (int k = 0; k < spec.orderings(); k++) {
            int[] order = spec.ordering(k);
            for (int i = 0; i < D; i++) {
                INDArray m = prefixMask(order, i, 32);
                INDArray base = model.logits(x, m);
                INDArray future = x.dup();
                for (int j = i; j < D; j++) {
                    future.getColumn(order[j]).rsubi(1.0);
                }
                INDArray changed = model.logits(future, m);
                assertEquals(0.0, changed.sub(base).amaxNumber().doubleValue(), 0.0,
                        "ordering " + k + ", step " + i + ": an unobserved value leaked into the conditionals");
                if (i > 0) {
                    INDArray past = x.dup();
                    past.getColumn(order[i - 1]).rsubi(1.0);
                    double diff = model.logits(past, m).getColumn(order[i]).sub(base.getColumn(order[i]))
                            .amaxNumber().doubleValue();
                    if (diff > 1e-5) {
                        dependsOnPast++;
                    }
                }
            }
        }
        assertTrue(dependsOnPast >= spec.orderings() * (D - 1) / 2, "too few conditionals use the past: " + dependsOnPast);
    }

    /**
     * The stacked likelihood (running first layer, one logit read per prefix, any chunking) equals the plain
     * prefix-by-prefix sum of log conditionals from the full forward pass.
     */
    @ParameterizedTest
    @MethodSource("specs")
    void stackedLikelihoodIsTheChainRule(DeepNadeSpec spec) {
        DeepNade model = density(spec, 13);
        INDArray x = randomBinary(7, D, 4);
        for (int k = 0; k < spec.orderings(); k++) {
            int[] order = spec.ordering(k);
            double[] expected = new double[7];
            for (int i = 0; i < D; i++) {
                INDArray z = model.logits(x, prefixMask(order, i, 7));
                for (int r = 0; r < 7; r++) {
                    double p1 = LogMath.sigmoid(z.getDouble(r, order[i]));
                    expected[r] += Math.log(x.getDouble(r, order[i]) > 0.5 ? p1 : 1 - p1);
                }
            }
            assertArrayEquals(expected, model.logProb(x, k).toDoubleVector(), 1e-4);
            // chunks of 1, 2 and 3 prefixes carry the running first layer across chunk boundaries
            for (int chunk = 1; chunk <= 3; chunk++) {
                assertArrayEquals(expected, model.logProb(x, k, chunk).toDoubleVector(), 1e-4, "chunk " + chunk);
            }
        }
    }

    /** The Java forward's weighted order-agnostic loss equals the training graph's output for the same features. */
    @ParameterizedTest
    @MethodSource("specs")
    void javaLossMatchesTrainingGraph(DeepNadeSpec spec) {
        MultiLayerNetwork net = randomNetwork(spec, 19);
        DeepNade model = (DeepNade) spec.densityOf(net);
        INDArray x = randomBinary(40, D, 5);
        for (int variant : new int[]{0, 7, 123456}) {
            INDArray features = spec.trainingFeatures(x, variant);
            double[] graph = net.feedForwardToLayer(0, features, false).get(1).reshape(-1)
                    .castTo(DataType.DOUBLE).toDoubleVector();
            double[] ours = model.trainingLoss(features).toDoubleVector();
            for (int i = 0; i < graph.length; i++) {
                assertEquals(graph[i], ours[i], 1e-4 * Math.max(1, Math.abs(graph[i])), "row " + i);
            }
        }
        // with one dimension left to predict, the loss is D times that conditional's NLL: the density's own term
        int[] order = spec.ordering(0);
        INDArray m = prefixMask(order, D - 1, 40);
        INDArray z = model.logits(x, m);
        double[] loss = model.trainingLoss(spec.features(x, m)).toDoubleVector();
        if (!spec.intermediateLoss()) {
            for (int r = 0; r < 40; r++) {
                double p1 = LogMath.sigmoid(z.getDouble(r, order[D - 1]));
                double nll = -Math.log(x.getDouble(r, order[D - 1]) > 0.5 ? p1 : 1 - p1);
                assertEquals(D * nll, loss[r], 1e-4 * Math.max(1, D * nll));
            }
        }
    }

    /** Masks: deterministic per (variant, row), observed count uniform over 0..D-1, never all observed. */
    @Test
    void trainingMasksAreSeededAndUniformInCount() {
        DeepNadeSpec spec = DeepNadeSpec.deepNade(new long[]{D}, new int[]{4}, 1, 21);
        INDArray x = randomBinary(3000, D, 6);
        INDArray f = spec.trainingFeatures(x, 42);
        assertArrayEquals(new long[]{3000, 2 * D}, f.shape());
        assertEquals(x, f.get(NDArrayIndex.all(), NDArrayIndex.interval(0, D)));
        assertEquals(f, spec.trainingFeatures(x, 42));
        assertNotEquals(f, spec.trainingFeatures(x, 43));
        // a row's mask depends on its variant and row index only, not on the batch around it
        assertEquals(f.getRow(5).get(NDArrayIndex.interval(D, 2 * D)),
                spec.trainingFeatures(x.get(NDArrayIndex.interval(0, 6), NDArrayIndex.all()), 42).getRow(5)
                        .get(NDArrayIndex.interval(D, 2 * D)));
        double[] counts = new double[D];
        double[] perDim = new double[D];
        double[] observed = f.get(NDArrayIndex.all(), NDArrayIndex.interval(D, 2 * D)).sum(1).toDoubleVector();
        for (double o : observed) {
            assertTrue(o >= 0 && o <= D - 1, "observed count " + o);
            counts[(int) o]++;
        }
        double[] dims = f.get(NDArrayIndex.all(), NDArrayIndex.interval(D, 2 * D)).sum(0).toDoubleVector();
        double chi = 0;
        for (int o = 0; o < D; o++) {
            double e = 3000.0 / D;
            chi += (counts[o] - e) * (counts[o] - e) / e;
        }
        assertTrue(chi < chiSquaredCritical999(D - 1), "observed counts not uniform: " + java.util.Arrays.toString(counts));
        // each dimension is observed with probability E[o]/D = (D-1)/(2D)
        for (double c : dims) {
            assertEquals(3000.0 * (D - 1) / (2.0 * D), c, 4 * Math.sqrt(3000 * 0.25));
        }
    }

    static Stream<DeepNadeSpec> samplingSpecs() {
        return Stream.of(
                DeepNadeSpec.deepNade(new long[]{D}, new int[]{8, 8}, 1, 3),
                DeepNadeSpec.nadeK(new long[]{D}, new int[]{8}, 3, 3, 7));
    }

    @ParameterizedTest
    @MethodSource("samplingSpecs")
    void samplesFollowTheExactDensity(DeepNadeSpec spec) {
        DeepNade model = density(spec, 23);
        INDArray samples = model.sample(20_000, 99L);
        double[] chi = chiSquared(model, samples);
        assertTrue(chi[0] < chiSquaredCritical999(chi[1]),
                "chi-squared " + chi[0] + " with " + chi[1] + " dof exceeds the 0.1% critical value");
    }

    @ParameterizedTest
    @MethodSource("samplingSpecs")
    void samplingIsSeededPerRow(DeepNadeSpec spec) {
        DeepNade model = density(spec, 29);
        long[] seeds = {11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22};
        INDArray a = model.sample(seeds);
        assertEquals(a, model.sample(seeds));
        assertEquals(a, model.sample(seeds, null, 1.0));
        for (int i : new int[]{0, 4, 11}) {
            assertEquals(a.getRow(i), model.sample(new long[]{seeds[i]}).getRow(0), "row " + i);
        }
        long[] reversed = new long[seeds.length];
        for (int i = 0; i < seeds.length; i++) {
            reversed[i] = seeds[seeds.length - 1 - i];
        }
        INDArray b = model.sample(reversed);
        for (int i = 0; i < seeds.length; i++) {
            assertEquals(a.getRow(i), b.getRow(seeds.length - 1 - i));
        }
        assertNotEquals(a, model.sample(new long[]{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100, 200}));
        assertThrows(IllegalArgumentException.class, () -> model.sample(seeds, null, 0.0));
        assertThrows(IllegalArgumentException.class, () -> model.sample(seeds, Nd4j.zeros(12, 1), 1.0));
    }

    /**
     * Near zero temperature the sampler is greedy: every drawn bit is the sign of its logit given the bits drawn before,
     * recomputed here with the full forward pass, in one of the mixture's orderings (the one the row picked).
     */
    @ParameterizedTest
    @MethodSource("samplingSpecs")
    void coldSamplesAreGreedyUnderTheFullForward(DeepNadeSpec spec) {
        DeepNade model = density(spec, 37);
        long[] seeds = new long[24];
        for (int i = 0; i < seeds.length; i++) {
            seeds[i] = 500 + i;
        }
        INDArray x = model.sample(seeds, null, 1e-7);
        java.util.Set<Integer> used = new java.util.HashSet<>();
        for (int r = 0; r < seeds.length; r++) {
            INDArray row = x.getRow(r, true);
            int consistent = -1;
            for (int k = 0; k < spec.orderings() && consistent < 0; k++) {
                int[] order = spec.ordering(k);
                boolean ok = true;
                for (int t = 0; t < D && ok; t++) {
                    double z = model.logits(row, prefixMask(order, t, 1)).getDouble(0, order[t]);
                    ok = Math.abs(z) < 1e-5 || (z > 0) == (row.getDouble(0, order[t]) > 0.5);
                }
                if (ok) {
                    consistent = k;
                }
            }
            assertTrue(consistent >= 0, "row " + r + " is not the greedy path of any ordering: " + row);
            used.add(consistent);
        }
        assertEquals(spec.orderings(), used.size(), "every ordering should be picked by some of 24 rows");
    }

    /** A low temperature concentrates samples on likely vectors. */
    @Test
    void lowTemperatureSharpens() {
        DeepNadeSpec spec = DeepNadeSpec.deepNade(new long[]{D}, new int[]{8}, 1, 1);
        DeepNade model = density(spec, 31);
        long[] seeds = new long[2000];
        for (int i = 0; i < seeds.length; i++) {
            seeds[i] = 1000 + i;
        }
        double warm = model.logProb(model.sample(seeds, null, 1.0)).meanNumber().doubleValue();
        double cold = model.logProb(model.sample(seeds, null, 0.3)).meanNumber().doubleValue();
        assertTrue(cold > warm + 0.1, "mean log p at T=0.3 " + cold + " vs T=1 " + warm);
    }

    @Test
    void specSurvivesJsonAndConfig() {
        for (DeepNadeSpec spec : List.of(DeepNadeSpec.deepNade(new long[]{28, 28}, new int[]{500, 500}, 8, 3),
                DeepNadeSpec.nadeK(new long[]{7}, new int[]{20}, 5, 1, -4).withIntermediateLoss(true))) {
            String json = ConfigFactory.parseMap(spec.toMap()).root().render(ConfigRenderOptions.concise());
            ModelSpec back = ModelSpec.fromConfig(ConfigFactory.parseString(json));
            assertEquals(spec, back);
            assertEquals(spec.hashCode(), back.hashCode());
            assertEquals("binary", back.valueType());
            assertEquals(2, back.levels());
            assertTrue(org.chainrule.models.ModelFamilies.types().contains(back.type()));
        }
        DeepNadeSpec base = DeepNadeSpec.nadeK(new long[]{D}, new int[]{8}, 2, 2, 1);
        assertNotEquals(base, DeepNadeSpec.nadeK(new long[]{D}, new int[]{9}, 2, 2, 1));
        assertNotEquals(base, DeepNadeSpec.nadeK(new long[]{D}, new int[]{8}, 3, 2, 1));
        assertNotEquals(base, DeepNadeSpec.nadeK(new long[]{D}, new int[]{8}, 2, 3, 1));
        assertNotEquals(base, DeepNadeSpec.nadeK(new long[]{D}, new int[]{8}, 2, 2, 2));
        assertNotEquals(base, base.withIntermediateLoss(true));
        assertNotEquals(base, DeepNadeSpec.nadeK(new long[]{1, D}, new int[]{8}, 2, 2, 1));
    }

    @Test
    void configurationSurvivesJson() {
        DeepNadeSpec spec = DeepNadeSpec.nadeK(new long[]{3, 3}, new int[]{20, 7}, 4, 5, 42).withIntermediateLoss(true);
        MultiLayerConfiguration conf = spec.trainingConfiguration(new TrainingRecipe(1e-3, 1));
        MultiLayerConfiguration back = MultiLayerConfiguration.fromJson(conf.toJson());
        assertEquals(conf.toJson(), back.toJson());
        DeepNadeLayer layer = (DeepNadeLayer) back.getConf(0).getLayer();
        assertEquals(9, layer.getDim());
        assertArrayEquals(new int[]{20, 7}, layer.getHidden());
        assertEquals(4, layer.getIterations());
        assertTrue(layer.isIntermediateLoss());
        // a network rebuilt from the JSON computes the same loss with the same parameters
        MultiLayerNetwork net = randomNetwork(spec, 3);
        MultiLayerNetwork rebuilt = new MultiLayerNetwork(back);
        rebuilt.init(net.params().dup(), false);
        INDArray f = spec.trainingFeatures(randomBinary(10, 9, 1), 5);
        assertTrue(net.output(f, false).equalsWithEps(rebuilt.output(f, false), 1e-6));
    }

    @ParameterizedTest
    @MethodSource("samplingSpecs")
    void savedAndLoadedNetworkScoresTheSame(DeepNadeSpec spec) throws Exception {
        MultiLayerNetwork net = randomNetwork(spec, 43);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ModelSerializer.writeModel(net, bytes, true);
        MultiLayerNetwork back = ModelSerializer.restoreMultiLayerNetwork(new ByteArrayInputStream(bytes.toByteArray()));
        INDArray all = allBinary(D);
        assertEquals(spec.densityOf(net).logProb(all), spec.densityOf(back).logProb(all));
        assertEquals(spec.densityOf(net).sample(50, 2L), spec.densityOf(back).sample(50, 2L));
    }

    /** The density is a snapshot; and Adam steps on correlated data lower the exact NLL (measured by the density). */
    @Test
    void trainingLowersExactNllAndDensityIsASnapshot() {
        int d = 10;
        DeepNadeSpec spec = DeepNadeSpec.nadeK(new long[]{d}, new int[]{32, 32}, 2, 2, 1);
        MultiLayerNetwork net = new MultiLayerNetwork(spec.trainingConfiguration(new TrainingRecipe(1e-2, 3)));
        net.init();
        INDArray x = markov(512, d, 5);
        INDArray test = markov(512, d, 6);
        DensityModel before = spec.densityOf(net);
        double nllBefore = -before.logProb(test).meanNumber().doubleValue();
        int step = 0;
        for (int epoch = 0; epoch < 25; epoch++) {
            for (int b = 0; b < 8; b++) {
                INDArray batch = x.get(NDArrayIndex.interval(b * 64, (b + 1) * 64), NDArrayIndex.all());
                net.fit(new DataSet(spec.trainingFeatures(batch, step++), spec.trainingLabels(batch)));
            }
        }
        double nllAfter = -spec.densityOf(net).logProb(test).meanNumber().doubleValue();
        assertEquals(nllBefore, -before.logProb(test).meanNumber().doubleValue(), 1e-12, "snapshot changed");
        // the chain's entropy: log 2 + (d - 1) H(0.1) = 3.62 nats; uniform: d log 2 = 6.93 nats
        assertTrue(nllAfter < nllBefore - 1.5, "NLL " + nllBefore + " -> " + nllAfter);
        assertTrue(nllAfter < 4.5, "should approach the chain's entropy 3.62 nats: " + nllAfter);
    }

    @Test
    void rejectsBadSpecsAndInputs() {
        assertThrows(IllegalArgumentException.class, () -> DeepNadeSpec.deepNade(new long[]{4}, new int[0], 1, 1));
        assertThrows(IllegalArgumentException.class, () -> DeepNadeSpec.deepNade(new long[]{4}, new int[]{0}, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> DeepNadeSpec.deepNade(new long[]{4}, new int[]{3}, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> DeepNadeSpec.nadeK(new long[]{4}, new int[]{3}, 0, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> DeepNadeSpec.deepNade(new long[]{0}, new int[]{3}, 1, 1));
        DeepNadeSpec spec = DeepNadeSpec.deepNade(new long[]{4}, new int[]{3}, 1, 1);
        assertThrows(IllegalArgumentException.class, () -> spec.trainingFeatures(Nd4j.zeros(2, 5), 0));
        assertThrows(IllegalArgumentException.class, () -> spec.trainingFeatures(Nd4j.zeros(2, 4), -1));
        DeepNade model = density(spec, 1);
        assertThrows(IllegalArgumentException.class, () -> model.logProb(Nd4j.zeros(2, 5)));
        assertThrows(IllegalArgumentException.class, () -> model.logProb(Nd4j.zeros(2, 4), Nd4j.zeros(2, 1)));
    }

    /** Binary Markov chains: x_0 ~ Bern(.5), x_d flips x_{d-1} with probability 0.1. */
    static INDArray markov(int n, int d, long seed) {
        Random r = new Random(seed);
        float[] v = new float[n * d];
        for (int i = 0; i < n; i++) {
            v[i * d] = r.nextBoolean() ? 1 : 0;
            for (int j = 1; j < d; j++) {
                float prev = v[i * d + j - 1];
                v[i * d + j] = r.nextDouble() < 0.1 ? 1 - prev : prev;
            }
        }
        return Nd4j.create(v, new long[]{n, d}, DataType.FLOAT);
    }
}
