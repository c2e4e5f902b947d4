package org.chainrule.models.vae;

import org.chainrule.models.TrainingRecipe;
import com.typesafe.config.ConfigFactory;
import org.chainrule.models.DensityModel;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.ModelTesting;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The VAE's training graph against a plain-Java derivation, its noise, gradients and persistence. */
class VaeLayerTest {

    static INDArray randomBinary(int rows, int d, long seed) {
        Random r = new Random(seed);
        float[] v = new float[rows * d];
        for (int i = 0; i < v.length; i++) {
            v[i] = r.nextBoolean() ? 1f : 0f;
        }
        return Nd4j.create(v, new long[]{rows, d}, 'c');
    }

    private static void assertElboMatchesReference(VaeSpec spec, long seed) {
        MultiLayerNetwork net = ModelTesting.randomNetwork(spec, seed);
        INDArray x = randomBinary(16, spec.dim(), seed + 1);
        INDArray features = spec.trainingFeatures(x, 123);
        double[] layer = net.output(features, false).reshape(-1).castTo(DataType.DOUBLE).neg().toDoubleVector();
        double[] scale = new double[16];
        double[] expected = new VaeReference(spec, net).logWeights(features, scale);
        for (int i = 0; i < expected.length; i++) {
            // the layer runs in float32: rounding of 6e-8 relative in each term and intermediate, over a few dozen ops
            assertEquals(expected[i], layer[i], 1e-4 + 2e-6 * scale[i], spec + " row " + i + ", scale " + scale[i]);
        }
        if (spec.flowSteps() > 0) {
            // the flow is not silently skipped: without its steps the same weights give other values
            VaeSpec plain = new VaeSpec(spec.eventShape(), spec.encoderHidden(), spec.decoderHidden(), spec.latent(), 0,
                    1, spec.activation());
            double[] noFlow = new VaeReference(plain, net).logWeights(features);
            double diff = 0;
            for (int i = 0; i < noFlow.length; i++) {
                diff += Math.abs(noFlow[i] - layer[i]);
            }
            assertTrue(diff > 0.1, "flow contribution " + diff);
        }
        // the density's weights are the same quantity on its own noise
        VaeDensity m = (VaeDensity) spec.densityOf(net);
        INDArray w = m.logWeights(x, 3);
        for (int s = 0; s < 3; s++) {
            double[] sc = new double[16];
            double[] ref = new VaeReference(spec, net).logWeights(spec.evalFeatures(x, s), sc);
            double[] got = w.getColumn(s).toDoubleVector();
            for (int i = 0; i < ref.length; i++) {
                assertEquals(ref[i], got[i], 1e-4 + 2e-6 * sc[i], "draw " + s + " row " + i);
            }
        }
    }

    @Test
    void singleSampleElboEqualsAnIndependentDerivation() {
        assertElboMatchesReference(VaeSpec.of(new long[]{7}, new int[]{5, 4}, new int[]{6}, 3, 3, 1), 1);
        assertElboMatchesReference(VaeSpec.of(new long[]{2, 4}, new int[]{6}, new int[]{5, 3}, 2, 0, 1)
                .withActivation("relu"), 2);
        // L = 1 and no hidden layers: the length-1 reductions and the bare linear encoder/decoder
        assertElboMatchesReference(VaeSpec.of(new long[]{6}, new int[0], new int[0], 1, 2, 1), 3);
    }

    @Test
    void trainingNoiseIsSeededByTheVariantAndScoringNoiseByTheRow() {
        VaeSpec spec = VaeSpec.of(new long[]{5}, new int[]{4}, new int[]{4}, 3, 1, 2);
        assertEquals(1 << 30, spec.variantCount());
        INDArray x = randomBinary(40, 5, 4);
        INDArray a = spec.trainingFeatures(x, 7);
        assertEquals(a, spec.trainingFeatures(x, 7));
        assertArrayEquals(new long[]{40, 8}, a.shape());
        assertEquals(x, a.get(NDArrayIndex.all(), NDArrayIndex.interval(0, 5)));
        INDArray eps = a.get(NDArrayIndex.all(), NDArrayIndex.interval(5, 8));
        INDArray other = spec.trainingFeatures(x, 8).get(NDArrayIndex.all(), NDArrayIndex.interval(5, 8));
        assertNotEquals(eps, other);
        // roughly standard normal: 120 draws, mean within 4 standard errors of 0, variance within (0.6, 1.5)
        assertEquals(0, eps.meanNumber().doubleValue(), 4 / Math.sqrt(120));
        double var = eps.varNumber().doubleValue();
        assertTrue(var > 0.6 && var < 1.5, "variance " + var);
        // scoring noise: a row's draws do not depend on its batch
        INDArray e0 = spec.evalFeatures(x, 0);
        INDArray alone = spec.evalFeatures(x.get(NDArrayIndex.interval(3, 5), NDArrayIndex.all()), 0);
        assertEquals(e0.get(NDArrayIndex.interval(3, 5), NDArrayIndex.all()), alone);
        assertNotEquals(e0, spec.evalFeatures(x, 1));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> spec.trainingFeatures(Nd4j.create(new float[]{0, 1, 1, 0, 1, 0, 0, 2, 0, 0}, new long[]{2, 5}), 0));
        assertTrue(e.getMessage().contains("row 1, column 2"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> spec.trainingFeatures(x, -1));
        assertThrows(IllegalArgumentException.class, () -> spec.trainingFeatures(randomBinary(2, 4, 1), 0));
    }

    @Test
    void badSpecsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> VaeSpec.of(new long[]{4}, new int[0], new int[0], 0, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> VaeSpec.of(new long[]{4}, new int[0], new int[0], 2, -1, 1));
        assertThrows(IllegalArgumentException.class, () -> VaeSpec.of(new long[]{4}, new int[0], new int[0], 2, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> VaeSpec.of(new long[]{4}, new int[]{0}, new int[0], 2, 1, 1));
        assertThrows(IllegalArgumentException.class,
                () -> VaeSpec.of(new long[]{4}, new int[0], new int[0], 2, 1, 1).withActivation("sigmoid"));
    }

    @Test
    void everyParameterGetsAFiniteGradientAndMovesInAFitStep() {
        VaeSpec spec = VaeSpec.of(new long[]{6}, new int[]{5}, new int[]{4}, 2, 2, 1);
        MultiLayerNetwork net = new MultiLayerNetwork(spec.trainingConfiguration(new TrainingRecipe(1e-2, 3)));
        net.init();
        INDArray x = randomBinary(32, 6, 5);
        spec.initializeFromData(net, x);
        INDArray features = spec.trainingFeatures(x, 11);
        net.setInput(features);
        net.setLabels(spec.trainingLabels(x));
        net.computeGradientAndScore();
        Gradient g = net.gradient();
        Map<String, INDArray> params = net.paramTable();
        int expected = 2 * (1 + 2 + 3 * 2 + 2); // encoder layer, mu/logVar heads, 3 heads per step, 2 decoder layers
        assertEquals(expected, params.size(), "parameters " + params.keySet());
        for (String name : params.keySet()) {
            INDArray grad = g.gradientForVariable().get(name);
            assertTrue(grad != null, "no gradient for " + name);
            assertFalse(grad.isNaN().any() || grad.isInfinite().any(), "non-finite gradient for " + name);
            assertTrue(grad.amaxNumber().doubleValue() > 0, "zero gradient for " + name);
        }
        Map<String, INDArray> before = new LinkedHashMap<>();
        params.forEach((k, v) -> before.put(k, v.dup()));
        net.fit(new DataSet(features, spec.trainingLabels(x)));
        net.paramTable().forEach((k, v) -> {
            assertFalse(v.isNaN().any(), k);
            assertTrue(v.sub(before.get(k)).amaxNumber().doubleValue() > 0, "parameter " + k + " did not move");
        });
    }

    @Test
    void decoderInitialisationFromDataSetsTheMarginals() {
        VaeSpec spec = VaeSpec.of(new long[]{3}, new int[]{4}, new int[]{4}, 2, 0, 1);
        MultiLayerNetwork net = new MultiLayerNetwork(spec.trainingConfiguration(new TrainingRecipe(1e-2, 3)));
        net.init();
        INDArray x = Nd4j.create(new float[]{1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 1, 0}, new long[]{4, 3});
        spec.initializeFromData(net, x);
        INDArray bias = net.getLayer(0).getParam(VaeLayer.decoderBias(1));
        assertEquals(Math.log(1.0 / 1e-3 - 1), bias.getDouble(0, 0), 1e-3, "p = 1 clamped to 1 - 1e-3");
        assertEquals(Math.log(0.25 / 0.75), bias.getDouble(0, 1), 1e-5);
        assertEquals(Math.log(1e-3 / (1 - 1e-3)), bias.getDouble(0, 2), 1e-3, "p = 0 clamped to 1e-3");
    }

    @Test
    void specAndNetworkSurviveJsonRoundTrips() {
        VaeSpec spec = VaeSpec.of(new long[]{2, 3}, new int[]{5}, new int[]{4, 3}, 2, 3, 4).withActivation("relu");
        ModelSpec back = ModelSpec.fromConfig(ConfigFactory.parseMap(spec.toMap()));
        assertEquals(spec, back);
        assertEquals("vae", back.type());
        assertTrue(org.chainrule.models.ModelFamilies.types().contains("vae"));
        VaeSpec bare = VaeSpec.of(new long[]{4}, new int[0], new int[0], 1, 0, 1);
        assertEquals(bare, ModelSpec.fromConfig(ConfigFactory.parseMap(bare.toMap())));
        MultiLayerNetwork net = ModelTesting.randomNetwork(spec, 6);
        String json = net.getLayerWiseConfigurations().toJson();
        MultiLayerNetwork copy = new MultiLayerNetwork(MultiLayerConfiguration.fromJson(json));
        copy.init(net.params().dup(), false);
        VaeLayer layer = (VaeLayer) copy.getLayer(0).conf().getLayer();
        assertEquals(6, layer.getDim());
        assertEquals(2, layer.getLatent());
        assertEquals(3, layer.getFlowSteps());
        assertArrayEquals(new int[]{5}, layer.getEncoderHidden());
        assertArrayEquals(new int[]{4, 3}, layer.getDecoderHidden());
        assertEquals("relu", layer.getActivation());
        INDArray x = randomBinary(5, 6, 7);
        DensityModel a = spec.densityOf(net);
        DensityModel b = back.densityOf(copy);
        assertArrayEquals(a.logProb(x).toDoubleVector(), b.logProb(x).toDoubleVector(), 0.0);
        assertEquals(a.sample(10, 3), b.sample(10, 3));
        // a network saved with one spec and scored as another would differ: the round trip is not vacuous
        MultiLayerNetwork other = ModelTesting.randomNetwork(spec, 7);
        assertFalse(java.util.Arrays.equals(a.logProb(x).toDoubleVector(),
                spec.densityOf(other).logProb(x).toDoubleVector()));
    }

    @Test
    void theCaveatSaysTheLikelihoodIsAnEstimateAndABound() {
        String caveat = VaeSpec.of(new long[]{4}, new int[0], new int[0], 2, 1, 50).likelihoodCaveat();
        assertTrue(caveat.contains("estimate") && caveat.contains("lower bound") && caveat.contains("50 draw"), caveat);
    }
}
