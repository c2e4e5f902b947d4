package org.chainrule.models.flows;

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
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Variational dequantization (Flow++): the bound, its gradients, training, persistence and the unchanged decoders. */
class VariationalDequantizationTest {

    private static FlowSpec maf(int d, int levels, double alpha, int evalSamples, Dequantization dq) {
        return new FlowSpec("maf", new long[]{d}, Maf.chain(d, 2, new int[]{8}, false, 3), levels, alpha, evalSamples,
                dq, BaseDistribution.NORMAL);
    }

    private static Map<String, INDArray> doubleParams(MultiLayerNetwork net) {
        Map<String, INDArray> p = new LinkedHashMap<>();
        FlowLayer.parameters(net).forEach((k, v) -> p.put(k, v.castTo(DataType.DOUBLE)));
        return p;
    }

    private static double softplus(double a) {
        return Math.max(a, 0) + Math.log1p(Math.exp(-Math.abs(a)));
    }

    @Test
    void boundWithManyDrawsSumsToAtMostOneOverAllValues() {
        // exp(log mean_k p(x + u_k) / q(u_k|x)) is an unbiased estimate of P(x): summed over all 5 values it is 1 up
        // to Monte Carlo error, and never much more; a q whose log-density were off (a missing Jacobian term) would
        // move the total far from 1
        FlowSpec spec = maf(1, 5, 1e-6, 3000, Dequantization.variational(6));
        DensityModel m = spec.densityOf(ModelTesting.randomNetwork(spec, 11));
        INDArray values = Nd4j.create(new float[]{0, 1, 2, 3, 4}, new long[]{5, 1});
        double total = 0;
        for (double lp : m.logProb(values).toDoubleVector()) {
            total += Math.exp(lp);
        }
        assertTrue(total <= 1.02, "sum over all values of exp(variational bound) " + total);
        assertTrue(total > 0.9, "sum over all values of exp(variational bound) " + total);
    }

    @Test
    void layerNllIsTheVariationalBoundComputedIndependently() {
        int d = 2;
        int levels = 6;
        double alpha = 0.05;
        FlowSpec spec = maf(d, levels, alpha, 1, Dequantization.variational(5));
        MultiLayerNetwork net = ModelTesting.randomNetwork(spec, 17);
        Map<String, INDArray> p = doubleParams(net);
        INDArray features = spec.evalFeatures(Nd4j.create(new float[]{1, 5, 0, 3}, new long[]{2, 2}), 0);
        INDArray nll = net.output(features, false).castTo(DataType.DOUBLE);
        assertEquals(4, features.columns(), "values and noise");
        for (int row = 0; row < 2; row++) {
            INDArray f = features.getRow(row).castTo(DataType.DOUBLE).reshape(1, 2 * d);
            INDArray x = f.get(org.nd4j.linalg.indexing.NDArrayIndex.all(),
                    org.nd4j.linalg.indexing.NDArrayIndex.interval(0, d)).dup();
            INDArray eps = f.get(org.nd4j.linalg.indexing.NDArrayIndex.all(),
                    org.nd4j.linalg.indexing.NDArrayIndex.interval(d, 2 * d)).dup();
            // q's conditioner, by the formulas of Dequantization's documentation
            INDArray h = Transforms.tanh(x.div(levels).sub(0.5).mmul(p.get("dqW0")).add(p.get("dqb0")));
            INDArray mu = Transforms.tanh(h.mmul(p.get("dqWm")).add(p.get("dqbm")).div(6.0)).mul(6.0);
            INDArray logS = Transforms.tanh(h.mmul(p.get("dqWs")).add(p.get("dqbs")).div(4.0)).mul(4.0);
            double logQ = 0;
            double logPre = -d * Math.log(levels) + d * Math.log(1 - 2 * alpha);
            double[] logit = new double[d];
            for (int j = 0; j < d; j++) {
                double e = eps.getDouble(0, j);
                double a = mu.getDouble(0, j) + Math.exp(logS.getDouble(0, j)) * e;
                double u = 1 / (1 + Math.exp(-a));
                assertTrue(u > 0 && u < 1);
                logQ += -0.5 * e * e - 0.5 * Math.log(2 * Math.PI) - logS.getDouble(0, j) + softplus(a) + softplus(-a);
                double s = alpha + (1 - 2 * alpha) * (x.getDouble(0, j) + u) / levels;
                logPre -= Math.log(s) + Math.log(1 - s);
                logit[j] = Math.log(s / (1 - s));
            }
            Flows.Result z = Flows.forward(spec.transform(), p, Nd4j.create(logit, new long[]{1, d}));
            double logBase = -0.5 * z.value().mul(z.value()).sumNumber().doubleValue() - d * 0.5 * Math.log(2 * Math.PI);
            double expected = -(logBase + z.logAbsDet().getDouble(0) + logPre - logQ);
            assertEquals(expected, nll.getDouble(row, 0), 2e-4 * Math.max(1, Math.abs(expected)), "row " + row);
        }
    }

    @Test
    void gradientsReachTheNoiseDistributionEvenForOneRow() {
        FlowSpec spec = maf(2, 4, 0.05, 1, Dequantization.variational(4, 3));
        MultiLayerNetwork net = ModelTesting.randomNetwork(spec, 5);
        for (int rows : new int[]{1, 6}) {
            // not the middle value 2, which the conditioner sees as 0 (it reads x / L - 1/2)
            INDArray x = Nd4j.create(DataType.FLOAT, rows, 2).assign(3);
            net.setInput(spec.trainingFeatures(x, 7));
            net.setLabels(spec.trainingLabels(x));
            net.computeGradientAndScore();
            Gradient g = net.gradient();
            int seen = 0;
            for (String name : spec.parameterShapes().keySet()) {
                INDArray grad = g.getGradientFor("0_" + name);
                assertTrue(grad != null, "no gradient for " + name);
                for (double v : grad.castTo(DataType.DOUBLE).reshape(-1).toDoubleVector()) {
                    assertTrue(Double.isFinite(v), name + " gradient " + v);
                }
                if (name.startsWith("dq")) {
                    seen++;
                    assertTrue(grad.amaxNumber().doubleValue() > 0, "zero gradient for " + name + " with " + rows
                            + " row(s)");
                }
            }
            assertEquals(8, seen, "q's parameters: 2 hidden layers and the two output layers, weights and biases");
        }
    }

    /** 200 draws of the values 1 (probability 0.7) and 2 (0.3) out of 0..3. */
    private static INDArray twoValues(long seed) {
        java.util.Random r = new java.util.Random(seed);
        float[] v = new float[200];
        for (int i = 0; i < v.length; i++) {
            v[i] = r.nextDouble() < 0.7 ? 1 : 2;
        }
        return Nd4j.create(v, new long[]{v.length, 1});
    }

    private static double trainedBound(FlowSpec spec, INDArray x) {
        MultiLayerNetwork net = new MultiLayerNetwork(spec.trainingConfiguration(new TrainingRecipe(0.03, 1)));
        net.init();
        for (int step = 0; step < 100; step++) {
            net.fit(new DataSet(spec.trainingFeatures(x, step), spec.trainingLabels(x)));
        }
        return spec.densityOf(net).logProb(x).meanNumber().doubleValue();
    }

    @Test
    void trainedVariationalBoundIsTighterThanTheUniformOne() {
        // the same 1-D flow (affine in logit space: a logit-normal density) trained the same way on two adjacent
        // values: under uniform noise it must spread its density over both whole bins, while q can put the noise
        // near the shared edge, where a narrow density covers both values (about 0.15 nats better here)
        INDArray x = twoValues(1);
        double uniform = trainedBound(maf(1, 4, 0.05, 64, Dequantization.UNIFORM), x);
        double variational = trainedBound(maf(1, 4, 0.05, 64, Dequantization.variational(8)), x);
        double p = x.sumNumber().doubleValue() / 200 - 1; // frequency of the value 2
        double entropy = -(p * Math.log(p) + (1 - p) * Math.log(1 - p));
        assertTrue(variational > uniform + 0.05, "mean bound: uniform " + uniform + ", variational " + variational);
        // no model's mean log-likelihood on the sample exceeds -entropy; the 64-draw estimate only by noise
        assertTrue(variational < -entropy + 0.05, "bound " + variational + " vs -entropy " + -entropy);
    }

    @Test
    void encodeDecodeAndSamplingIgnoreQ() {
        FlowSpec spec = maf(3, 16, 1e-6, 2, Dequantization.variational(4));
        FlowDensity m = (FlowDensity) spec.densityOf(ModelTesting.randomNetwork(spec, 8));
        INDArray x = Nd4j.create(new float[]{0, 15, 7, 3, 3, 14}, new long[]{2, 3});
        assertEquals(x.castTo(DataType.DOUBLE), m.decode(m.encode(x)));
        INDArray s = m.sample(50, 4);
        for (double v : s.reshape(-1).toDoubleVector()) {
            assertTrue(v == Math.rint(v) && v >= 0 && v <= 15, "sample value " + v);
        }
        assertEquals(s, m.sample(50, 4));
    }

    @Test
    void imageFlowsDequantizeThroughAnMlpOnTheFlattenedPixels() {
        FlowSpec spec = FlowArchitectures.build("glow", new long[]{4, 4}, 256, new FlowArchitectures.Options(1,
                new int[0], 1, 4, "auto", 1e-6, 2, 3, "variational", new int[]{8}, "normal", new int[0], 1));
        assertEquals(32, spec.featureWidth());
        MultiLayerNetwork net = ModelTesting.randomNetwork(spec, 3);
        Random r = new Random(1);
        float[] v = new float[3 * 16];
        for (int i = 0; i < v.length; i++) {
            v[i] = r.nextInt(256);
        }
        INDArray x = Nd4j.create(v, new long[]{3, 16});
        spec.initializeFromData(net, x); // actnorm sees the q-dequantized, pre-processed pixels
        FlowDensity m = (FlowDensity) spec.densityOf(net);
        for (double lp : m.logProb(x).toDoubleVector()) {
            assertTrue(Double.isFinite(lp) && lp < 0, "bound " + lp);
        }
        assertEquals(x.castTo(DataType.DOUBLE), m.decode(m.encode(x)));
    }

    @Test
    void specsRoundTripAndOldSpecsReadAsUniform() {
        FlowSpec spec = maf(2, 256, 0.05, 2, Dequantization.variational(5, 4));
        assertEquals(spec, ModelSpec.fromConfig(ConfigFactory.parseMap(spec.toMap())));
        assertTrue(spec.likelihoodCaveat().contains("variational dequantization bound"), spec.likelihoodCaveat());
        Map<String, Object> old = new LinkedHashMap<>(maf(2, 256, 0.05, 2, Dequantization.UNIFORM).toMap());
        old.remove("dequantization");
        old.remove("dequantizationHidden");
        old.remove("base");
        old.remove("baseHidden");
        old.remove("baseComponents");
        old.remove("baseMaskSeed");
        FlowSpec back = FlowSpec.fromConfig(ConfigFactory.parseMap(old));
        assertEquals(Dequantization.UNIFORM, back.dequantization());
        assertEquals(BaseDistribution.NORMAL, back.base());
        assertEquals(2, back.featureWidth());

        MultiLayerNetwork net = ModelTesting.randomNetwork(spec, 6);
        MultiLayerNetwork copy = new MultiLayerNetwork(MultiLayerConfiguration.fromJson(
                net.getLayerWiseConfigurations().toJson()));
        copy.init(net.params().dup(), false);
        INDArray x = Nd4j.create(new float[]{0, 3, 255, 100}, new long[]{2, 2});
        assertArrayEquals(spec.densityOf(net).logProb(x).toDoubleVector(),
                spec.densityOf(copy).logProb(x).toDoubleVector(), 1e-9);
    }

    @Test
    void badSettingsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> maf(2, 0, 0, 1, Dequantization.variational(4)));
        assertThrows(IllegalArgumentException.class, () -> new Dequantization("gaussian", new int[0]));
        assertThrows(IllegalArgumentException.class, () -> new Dequantization("uniform", new int[]{3}));
        FlowSpec built = FlowArchitectures.build("realnvp", new long[]{4}, 4, new FlowArchitectures.Options(2,
                new int[]{8}, 1, 1, "auto", 0.05, 1, 3, "variational", new int[]{6}, "normal", new int[0], 1));
        assertEquals(Dequantization.variational(6), built.dequantization());
        assertEquals(8, built.featureWidth());
        FlowSpec real = FlowArchitectures.build("realnvp", new long[]{4}, 0, new FlowArchitectures.Options(2,
                new int[]{8}, 1, 1, "auto", 0.05, 1, 3, "variational", new int[]{6}, "normal", new int[0], 1));
        assertEquals(Dequantization.UNIFORM, real.dequantization(), "real data is not dequantized");
    }
}
