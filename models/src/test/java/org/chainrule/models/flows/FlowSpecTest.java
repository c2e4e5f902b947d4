package org.chainrule.models.flows;

import org.chainrule.models.TrainingRecipe;
import com.typesafe.config.ConfigFactory;
import org.chainrule.models.DensityModel;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.ModelTesting;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A flow as a model: its training graph, the dequantization bound, sampling, encode/decode and persistence. */
class FlowSpecTest {

    private static FlowSpec maf(long[] shape, int levels, double alpha, int evalSamples) {
        int d = (int) Flows.size(shape);
        return new FlowSpec("maf", shape, Maf.chain(d, 2, new int[]{8}, false, 3), levels, alpha, evalSamples);
    }

    private static Map<String, INDArray> doubleParams(MultiLayerNetwork net) {
        Map<String, INDArray> p = new LinkedHashMap<>();
        FlowLayer.parameters(net).forEach((k, v) -> p.put(k, v.castTo(DataType.DOUBLE)));
        return p;
    }

    @Test
    void realDataNllIsTheBaseDensityPlusLogDeterminant() {
        FlowSpec spec = maf(new long[]{3}, 0, 0, 1);
        MultiLayerNetwork net = ModelTesting.randomNetwork(spec, 5);
        INDArray x = Nd4j.randn(DataType.DOUBLE, 7, 3);
        INDArray lp = spec.densityOf(net).logProb(x);
        Flows.Result f = Flows.forward(spec.transform(), doubleParams(net), x);
        for (int i = 0; i < 7; i++) {
            double z2 = f.value().getRow(i).mul(f.value().getRow(i)).sumNumber().doubleValue();
            double expected = -0.5 * z2 - 1.5 * Math.log(2 * Math.PI) + f.logAbsDet().getDouble(i);
            assertEquals(expected, lp.getDouble(i), 1e-4 * Math.max(1, Math.abs(expected)), "row " + i);
        }
    }

    @Test
    void dequantizedBoundWithManyDrawsSumsToOneOverAllValues() {
        // P(x) = E_u p(x + u): the log-mean-exp over many draws estimates it, so the masses of all L values sum to 1
        // only if the 1/L scaling and the logit Jacobians are counted exactly (a tiny logit alpha maps [0, 1) onto
        // all but a negligible part of the line; alpha = 0.05 keeps only logit(0.05)..logit(0.95) and so a bound)
        FlowSpec spec = maf(new long[]{1}, 5, 1e-6, 3000);
        DensityModel m = spec.densityOf(ModelTesting.randomNetwork(spec, 11));
        INDArray values = Nd4j.create(new float[]{0, 1, 2, 3, 4}, new long[]{5, 1});
        double total = 0;
        for (double lp : m.logProb(values).toDoubleVector()) {
            total += Math.exp(lp);
        }
        assertEquals(1.0, total, 0.01, "sum over all values of the dequantized likelihood");
        // without the logit, or with a wide alpha, the mass outside the covered range is lost: the total is below 1
        FlowSpec plain = maf(new long[]{1}, 5, 0.05, 3000);
        double lost = 0;
        for (double lp : plain.densityOf(ModelTesting.randomNetwork(plain, 11)).logProb(values).toDoubleVector()) {
            lost += Math.exp(lp);
        }
        assertTrue(lost < 1.0, "mass on [0, 1) " + lost);
    }

    @Test
    void samplesFollowTheDiscreteLikelihood() {
        FlowSpec spec = maf(new long[]{1}, 4, 0.05, 2000);
        DensityModel m = spec.densityOf(ModelTesting.randomNetwork(spec, 21));
        double[] p = m.logProb(Nd4j.create(new float[]{0, 1, 2, 3}, new long[]{4, 1})).toDoubleVector();
        int n = 4000;
        INDArray s = m.sample(n, 99);
        long[] counts = new long[4];
        for (int i = 0; i < n; i++) {
            double v = s.getDouble(i, 0);
            assertEquals(Math.rint(v), v, 0.0, "samples are values of the data");
            counts[(int) v]++;
        }
        double chi = 0;
        for (int k = 0; k < 4; k++) {
            double e = n * Math.exp(p[k]);
            chi += (counts[k] - e) * (counts[k] - e) / e;
        }
        assertTrue(chi < 16.27, "chi-squared with 3 degrees of freedom (0.1% level): " + chi);
    }

    @Test
    void decodeOfEncodeGivesTheImageBack() {
        FlowSpec spec = maf(new long[]{2, 3}, 256, 1e-6, 1);
        FlowDensity m = (FlowDensity) spec.densityOf(ModelTesting.randomNetwork(spec, 8));
        INDArray x = Nd4j.create(new float[]{0, 255, 17, 128, 3, 254, 9, 9, 200, 1, 0, 77}, new long[]{2, 6});
        assertEquals(x.castTo(DataType.DOUBLE), m.decode(m.encode(x)));
        FlowSpec real = maf(new long[]{4}, 0, 0, 1);
        FlowDensity r = (FlowDensity) real.densityOf(ModelTesting.randomNetwork(real, 8));
        INDArray y = Nd4j.randn(DataType.DOUBLE, 5, 4);
        assertTrue(r.decode(r.encode(y)).sub(y).amaxNumber().doubleValue() < 1e-4);
    }

    @Test
    void samplingIsSeededAndTemperatureShrinksTowardTheLatentOrigin() {
        FlowSpec spec = maf(new long[]{3}, 0, 0, 1);
        FlowDensity m = (FlowDensity) spec.densityOf(ModelTesting.randomNetwork(spec, 4));
        long[] seeds = {1, 2, 3, 4};
        assertEquals(m.sample(seeds), m.sample(seeds));
        INDArray cold = m.sample(seeds, null, 1e-4);
        INDArray origin = m.decode(Nd4j.zeros(DataType.FLOAT, 4, 3));
        assertTrue(cold.sub(origin).amaxNumber().doubleValue() < 1e-3);
        assertThrows(UnsupportedOperationException.class, () -> m.sample(seeds, Nd4j.zeros(4, 2), 1.0));
    }

    @Test
    void specAndNetworkSurviveJsonRoundTrips() {
        FlowSpec spec = maf(new long[]{2, 2}, 256, 0.05, 2);
        assertEquals(spec, ModelSpec.fromConfig(ConfigFactory.parseMap(spec.toMap())));
        MultiLayerNetwork net = ModelTesting.randomNetwork(spec, 6);
        MultiLayerNetwork back = new MultiLayerNetwork(MultiLayerConfiguration.fromJson(
                net.getLayerWiseConfigurations().toJson()));
        back.init(net.params().dup(), false);
        INDArray x = Nd4j.create(new float[]{0, 3, 255, 100, 7, 7, 7, 7}, new long[]{2, 4});
        assertArrayEquals(spec.densityOf(net).logProb(x).toDoubleVector(),
                spec.densityOf(back).logProb(x).toDoubleVector(), 1e-9);
    }

    @Test
    void trainingLowersTheNll() {
        FlowSpec spec = maf(new long[]{2}, 0, 0, 1);
        MultiLayerNetwork net = new MultiLayerNetwork(spec.trainingConfiguration(new TrainingRecipe(0.01, 1)));
        net.init();
        java.util.Random r = new java.util.Random(2);
        float[] v = new float[400];
        for (int i = 0; i < 200; i++) {
            double a = r.nextGaussian();
            v[2 * i] = (float) a;
            v[2 * i + 1] = (float) (0.9 * a * a - 1 + 0.2 * r.nextGaussian());
        }
        INDArray x = Nd4j.create(v, new long[]{200, 2});
        double before = spec.densityOf(net).logProb(x).meanNumber().doubleValue();
        for (int step = 0; step < 150; step++) {
            net.fit(new DataSet(spec.trainingFeatures(x, 0), spec.trainingLabels(x)));
        }
        double after = spec.densityOf(net).logProb(x).meanNumber().doubleValue();
        assertTrue(after > before + 0.3, "mean log-likelihood " + before + " -> " + after);
    }

    @Test
    void badDiscreteValuesAndBadSpecsAreRejectedClearly() {
        FlowSpec spec = maf(new long[]{2}, 4, 0.05, 1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> spec.trainingFeatures(Nd4j.create(new float[]{1, 2, 3, 4.5f}, new long[]{2, 2}), 0));
        assertTrue(e.getMessage().contains("row 1, column 1"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> maf(new long[]{2}, 0, 0.05, 1));
        assertThrows(IllegalArgumentException.class,
                () -> new FlowSpec("maf", new long[]{3}, Maf.chain(2, 1, new int[]{4}, false, 1), 0, 0, 1));
    }
}
