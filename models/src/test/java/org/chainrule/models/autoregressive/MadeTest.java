package org.chainrule.models.autoregressive;

import org.chainrule.models.TrainingRecipe;
import org.chainrule.models.DensityModel;
import org.chainrule.models.LogMath;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

import java.util.stream.Stream;

import static org.chainrule.models.ModelTesting.allBinary;
import static org.chainrule.models.ModelTesting.assertDropoutKeyed;
import static org.chainrule.models.ModelTesting.layerOutput;
import static org.chainrule.models.ModelTesting.assertNormalized;
import static org.chainrule.models.ModelTesting.chiSquared;
import static org.chainrule.models.ModelTesting.chiSquaredCritical999;
import static org.chainrule.models.ModelTesting.randomNetwork;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MadeTest {

    static Stream<MadeSpec> specs() {
        return Stream.of(
                MadeSpec.fvsbn(new long[]{8}),
                MadeSpec.made(new long[]{8}, new int[]{16}, 1, false, 3),
                MadeSpec.made(new long[]{2, 4}, new int[]{12, 10}, 4, true, 5),
                MadeSpec.made(new long[]{8}, new int[]{24}, 3, false, 7),
                MadeSpec.made(new long[]{8}, new int[]{16}, 3, true, 8).withDirect(true),
                MadeSpec.fvsbn(new long[]{8}).withOrdering("5"),
                MadeSpec.made(new long[]{8}, new int[]{16}, 2, false, 3).withOrdering("random").withDirect(true),
                MadeSpec.made(new long[]{8}, new int[]{16}, 3, true, 8).withOrdering("11"),
                MadeSpec.made(new long[]{8}, new int[]{16, 12}, 2, false, 3).withDropout(0.5));
    }

    /** Output d never changes when inputs at or after d in the ordering change; it does depend on some earlier ones. */
    @ParameterizedTest
    @MethodSource("specs")
    void autoregressivePropertyForEveryMask(MadeSpec spec) {
        MadeDensity made = (MadeDensity) spec.densityOf(randomNetwork(spec, 11));
        int dim = spec.dim();
        INDArray x = Nd4j.rand(DataType.FLOAT, 32, dim).gt(0.5).castTo(DataType.FLOAT);
        for (int k = 0; k < spec.variantCount(); k++) {
            int[] order = spec.masks(k).ordering();
            INDArray base = made.params(x, null, k);
            int dependsOnPast = 0;
            for (int t = 0; t < dim; t++) {
                int d = order[t];
                INDArray future = x.dup();
                for (int s = t; s < dim; s++) {
                    future.getColumn(order[s]).rsubi(1.0);
                }
                double diff = made.params(future, null, k).getColumn(d).sub(base.getColumn(d)).amaxNumber()
                        .doubleValue();
                assertEquals(0.0, diff, 0.0, "mask " + k + ": output " + d + " depends on inputs at or after it");
                if (t > 0) {
                    INDArray past = x.dup();
                    for (int s = 0; s < t; s++) {
                        past.getColumn(order[s]).rsubi(1.0);
                    }
                    INDArray changed = made.params(past, null, k).getColumn(d);
                    if (changed.sub(base.getColumn(d)).amaxNumber().doubleValue() > 1e-5) {
                        dependsOnPast++;
                    }
                }
            }
            assertTrue(dependsOnPast >= (dim - 1) / 2, "mask " + k + ": too few outputs use the past: " + dependsOnPast);
        }
    }

    /** The same property checked on the DL4J training graph, by the gradient of each output w.r.t. the inputs. */
    @ParameterizedTest
    @MethodSource("specs")
    void trainingGraphMatchesDensityAndIsAutoregressive(MadeSpec spec) {
        MultiLayerNetwork net = randomNetwork(spec, 13);
        MadeDensity made = (MadeDensity) spec.densityOf(net);
        INDArray x = Nd4j.rand(DataType.FLOAT, 16, spec.dim()).gt(0.5).castTo(DataType.FLOAT);
        for (int k = 0; k < spec.variantCount(); k++) {
            INDArray graphLogits = net.feedForwardToLayer(0, spec.trainingFeatures(x, k), false).get(1);
            INDArray ours = made.params(x, null, k);
            assertTrue(graphLogits.equalsWithEps(ours, 1e-4), "graph and density disagree for mask " + k);
        }
    }

    @ParameterizedTest
    @MethodSource("specs")
    void exactlyNormalized(MadeSpec spec) {
        MadeDensity made = (MadeDensity) spec.densityOf(randomNetwork(spec, 17));
        assertNormalized(made, 1e-4);
        for (int k = 0; k < spec.variantCount(); k++) {
            final int kk = k;
            DensityModel single = new DensityModel() {
                public long[] eventShape() {
                    return spec.eventShape();
                }

                public INDArray logProb(INDArray x) {
                    return made.logProb(x, null, kk);
                }

                public INDArray sample(long[] seeds) {
                    throw new UnsupportedOperationException();
                }
            };
            assertNormalized(single, 1e-4);
        }
    }

    /** Scoring in slices on reused buffers gives the plain formula's numbers, for any batch size and input layout. */
    @Test
    void slicedScoringMatchesThePlainFormula() {
        MadeSpec spec = MadeSpec.made(new long[]{20}, new int[]{30}, 2, false, 4).withDirect(true);
        MultiLayerNetwork net = randomNetwork(spec, 23);
        net.getLayer(0).getParam(MadeLayer.DIRECT).assign(Nd4j.randn(DataType.FLOAT, 20, 20).muli(0.3));
        MadeDensity made = (MadeDensity) spec.densityOf(net);
        INDArray x = Nd4j.rand(DataType.FLOAT, MadeDensity.SCORING_ROWS * 2 + 37, 20).gt(0.5).castTo(DataType.FLOAT);
        for (int k = 0; k < 2; k++) {
            double[] plain = LogMath.bernoulliLogProb(x, made.params(x, null, k)).toDoubleVector();
            assertArrayEquals(plain, made.logProb(x, null, k).toDoubleVector(), 1e-4);
            assertArrayEquals(plain, made.logProb(x.castTo(DataType.DOUBLE).dup('f'), null, k).toDoubleVector(), 1e-4);
            assertEquals(plain[5], made.logProb(x.getRow(5, true), null, k).getDouble(0), 1e-4);
        }
    }

    @Test
    void ensembleIsLogMeanExpOfMasks() {
        MadeSpec spec = MadeSpec.made(new long[]{6}, new int[]{10}, 3, true, 1);
        MadeDensity made = (MadeDensity) spec.densityOf(randomNetwork(spec, 19));
        INDArray x = allBinary(6);
        double[] ens = made.logProb(x).toDoubleVector();
        for (int i = 0; i < x.rows(); i++) {
            double mean = 0;
            for (int k = 0; k < 3; k++) {
                mean += Math.exp(made.logProb(x.getRow(i, true), null, k).getDouble(0)) / 3;
            }
            // float32 network: a one-row pass may take another BLAS kernel than the batch (CPU-dependent rounding)
            assertEquals(Math.log(mean), ens[i], 1e-5);
        }
    }

    @ParameterizedTest
    @MethodSource("smallSpecs")
    void samplesFollowTheDensity(MadeSpec spec) {
        MadeDensity made = (MadeDensity) spec.densityOf(randomNetwork(spec, 23));
        INDArray samples = made.sample(20_000, 99L);
        double[] chi = chiSquared(made, samples);
        assertTrue(chi[0] < chiSquaredCritical999(chi[1]),
                "chi-squared " + chi[0] + " with " + chi[1] + " dof exceeds the 0.1% critical value");
    }

    static Stream<MadeSpec> smallSpecs() {
        return Stream.of(
                MadeSpec.fvsbn(new long[]{5}),
                MadeSpec.made(new long[]{5}, new int[]{12}, 1, false, 3),
                MadeSpec.made(new long[]{5}, new int[]{12, 8}, 3, true, 4),
                MadeSpec.made(new long[]{5}, new int[]{6}, 2, true, 5).withDirect(true),
                MadeSpec.made(new long[]{5}, new int[]{12}, 2, false, 3).withOrdering("random"));
    }

    @ParameterizedTest
    @MethodSource("specs")
    void cachedAndNaiveSamplingAgreeAndAreSeeded(MadeSpec spec) {
        MadeDensity made = (MadeDensity) spec.densityOf(randomNetwork(spec, 29));
        long[] seeds = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        INDArray cached = made.sample(seeds, null, 1.0, true);
        assertEquals(cached, made.sample(seeds, null, 1.0, false));
        assertEquals(cached, made.sample(seeds, null, 1.0, true));
        // a row depends only on its own seed, not on its batch
        assertEquals(cached.getRow(3), made.sample(new long[]{4}, null, 1.0, true).getRow(0));
    }

    /**
     * Dropout while training masks the steps ({@link org.chainrule.models.ModelTesting#assertDropoutKeyed}), and
     * under a step's mask every output still ignores the inputs at or after its own position.
     */
    @Test
    void dropoutMasksTrainingStepsAndKeepsTheAutoregressiveProperty() {
        MadeSpec spec = MadeSpec.made(new long[]{10}, new int[]{24, 16}, 1, false, 3).withOrdering("7")
                .withDropout(0.4);
        MultiLayerNetwork net = randomNetwork(spec, 19);
        INDArray x = Nd4j.rand(DataType.FLOAT, 12, spec.dim()).gt(0.5).castTo(DataType.FLOAT);
        assertTrue(layerOutput(net, spec.trainingFeatures(x, 0)).equalsWithEps(
                ((MadeDensity) spec.densityOf(net)).params(x, null, 0), 1e-4), "evaluation input drops nothing");
        assertDropoutKeyed(spec, net, x, null);
        INDArray keyed = layerOutput(net, spec.trainingFeatures(x, null, 0, 99L));
        int[] order = spec.masks(0).ordering();
        for (int t = 0; t < spec.dim(); t++) {
            INDArray future = x.dup();
            for (int u = t; u < spec.dim(); u++) {
                future.getColumn(order[u]).rsubi(1.0);
            }
            INDArray moved = layerOutput(net, spec.trainingFeatures(future, null, 0, 99L));
            assertEquals(0.0, moved.getColumn(order[t]).sub(keyed.getColumn(order[t])).amaxNumber().doubleValue(),
                    0.0, "under dropout output " + order[t] + " depends on inputs at or after it");
        }
    }

    @Test
    void trainingLowersNll() {
        MadeSpec spec = MadeSpec.made(new long[]{12}, new int[]{32}, 2, true, 1);
        MultiLayerNetwork net = new MultiLayerNetwork(spec.trainingConfiguration(new TrainingRecipe(1e-2, 3)));
        net.init();
        INDArray x = markov(512, 12, 5);
        double before = -spec.densityOf(net).logProb(x).meanNumber().doubleValue();
        for (int epoch = 0; epoch < 30; epoch++) {
            for (int b = 0; b < 8; b++) {
                INDArray batch = x.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(b * 64, (b + 1) * 64));
                net.fit(new DataSet(spec.trainingFeatures(batch, b % 2), spec.trainingLabels(batch)));
            }
        }
        double after = -spec.densityOf(net).logProb(x).meanNumber().doubleValue();
        assertTrue(after < before - 2.0, "NLL " + before + " -> " + after);
        assertTrue(after < 12 * Math.log(2), "should beat the uniform model: " + after);
    }

    @Test
    void configurationSurvivesJson() {
        MadeSpec spec = MadeSpec.made(new long[]{3, 3}, new int[]{20, 7}, 5, true, 42).withDirect(true);
        MultiLayerConfiguration conf = spec.trainingConfiguration(new TrainingRecipe(1e-3, 1));
        MultiLayerConfiguration back = MultiLayerConfiguration.fromJson(conf.toJson());
        assertEquals(conf.toJson(), back.toJson());
        MadeLayer layer = (MadeLayer) back.getConf(0).getLayer();
        assertEquals(9, layer.getDim());
        assertArrayEquals(new int[]{20, 7}, layer.getHidden());
        assertEquals(5, layer.getVariants());
        assertTrue(layer.isOrderAgnostic());
        assertEquals(42L, layer.getMaskSeed());
        assertTrue(layer.isDirect());
    }

    @Test
    void rejectsBadSpecs() {
        assertThrows(IllegalArgumentException.class, () -> MadeSpec.made(new long[]{4}, new int[]{0}, 1, false, 1));
        assertThrows(IllegalArgumentException.class, () -> MadeSpec.made(new long[]{4}, new int[]{3}, 0, false, 1));
        assertThrows(IllegalArgumentException.class, () -> new MadeSpec("fvsbn", new long[]{4}, new int[]{3}, 1, false, 1, false));
        MadeSpec fvsbn = MadeSpec.fvsbn(new long[]{4});
        MadeDensity made = (MadeDensity) fvsbn.densityOf(randomNetwork(fvsbn, 1));
        assertThrows(IllegalArgumentException.class, () -> made.logProb(Nd4j.zeros(2, 5)));
    }

    /** Binary Markov chains: x_0 ~ Bern(.5), x_d flips x_{d-1} with probability 0.1. */
    static INDArray markov(int n, int d, long seed) {
        java.util.Random r = new java.util.Random(seed);
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
