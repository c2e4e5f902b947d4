package org.chainrule.models.flows;

import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ActNormTest {

    private static final List<long[]> SHAPES = List.of(new long[]{2, 2, 2}, new long[]{3, 2, 2}, new long[]{3});

    /** Parameters away from the identity, so the checks see a real scale and shift. */
    static Map<String, INDArray> randomParameters(Transform t, long seed) {
        Nd4j.getRandom().setSeed(seed);
        Map<String, INDArray> p = Flows.newParameters(t, DataType.DOUBLE, seed);
        p.get("bias").assign(Nd4j.randn(DataType.DOUBLE, p.get("bias").shape()));
        p.get("logScale").assign(Nd4j.randn(DataType.DOUBLE, p.get("logScale").shape()).muli(0.5));
        return p;
    }

    @Test
    void startsAsTheIdentity() {
        for (long[] shape : SHAPES) {
            ActNorm t = new ActNorm(shape);
            Map<String, INDArray> p = Flows.newParameters(t, DataType.DOUBLE, 3);
            INDArray x = Nd4j.randn(DataType.DOUBLE, FlowChecks.withBatch(4, shape));
            Flows.Result f = Flows.forward(t, p, x);
            assertEquals(0.0, f.value().sub(x).amaxNumber().doubleValue(), 0.0);
            assertEquals(0.0, f.logAbsDet().amaxNumber().doubleValue(), 0.0);
        }
    }

    @Test
    void invertsAndMatchesTheJacobianWithRandomParameters() {
        for (long[] shape : SHAPES) {
            ActNorm t = new ActNorm(shape);
            Map<String, INDArray> p = randomParameters(t, 11);
            INDArray x = Nd4j.randn(DataType.DOUBLE, FlowChecks.withBatch(3, shape)).muli(2);
            FlowChecks.assertRoundTrip(t, p, x, 1e-10);
            FlowChecks.assertLogDetMatchesJacobian(t, p, x, 1e-6);
            // the closed form, from the parameter values: H * W * sum(logScale)
            double spatial = Flows.size(shape) / (double) shape[0];
            double expected = spatial * p.get("logScale").sumNumber().doubleValue();
            INDArray logDet = Flows.forward(t, p, x).logAbsDet();
            assertArrayEquals(new long[]{3}, logDet.shape());
            for (int r = 0; r < 3; r++) {
                assertEquals(expected, logDet.getDouble(r), 1e-12);
            }
        }
    }

    /** Entries of +-1e3 with random signs. */
    static INDArray extremes(long... shape) {
        return org.nd4j.linalg.ops.transforms.Transforms.sign(Nd4j.rand(DataType.DOUBLE, shape).subi(0.5)).muli(1e3);
    }

    @Test
    void finiteOnExtremeInputs() {
        for (long[] shape : SHAPES) {
            ActNorm t = new ActNorm(shape);
            Map<String, INDArray> p = randomParameters(t, 5);
            INDArray x = extremes(FlowChecks.withBatch(4, shape));
            FlowChecks.assertFinite(t, p, x);
        }
    }

    @Test
    void vectorDensityIntegratesToOne() {
        ActNorm one = new ActNorm(new long[]{1});
        Map<String, INDArray> p1 = Flows.newParameters(one, DataType.DOUBLE, 1);
        p1.get("bias").assign(0.8);
        p1.get("logScale").assign(-0.6);
        FlowChecks.assertIntegratesToOne(one, p1, -20, 20, 4000, 1e-6);

        ActNorm two = new ActNorm(new long[]{2});
        Map<String, INDArray> p2 = Flows.newParameters(two, DataType.DOUBLE, 1);
        p2.get("bias").assign(Nd4j.createFromArray(new double[][]{{0.7, -1.2}}));
        p2.get("logScale").assign(Nd4j.createFromArray(new double[][]{{0.4, -0.5}}));
        FlowChecks.assertIntegratesToOne(two, p2, -12, 12, 400, 1e-3);
    }

    /** Batch statistics per channel of the transform's output: {mean, population variance}. */
    private static double[][] channelMoments(INDArray y) {
        int c = (int) y.size(1);
        INDArray columns = y.rank() == 2 ? y.transpose().dup() : y.permute(1, 0, 2, 3).dup('c').reshape(c, -1);
        double[][] moments = new double[c][2];
        for (int k = 0; k < c; k++) {
            double[] v = columns.getRow(k).toDoubleVector();
            double mean = 0;
            for (double a : v) {
                mean += a;
            }
            mean /= v.length;
            double var = 0;
            for (double a : v) {
                var += (a - mean) * (a - mean);
            }
            moments[k] = new double[]{mean, var / v.length};
        }
        return moments;
    }

    @Test
    void dataInitialisationNormalisesEachChannel() {
        Nd4j.getRandom().setSeed(21);
        // channels with very different offsets and spreads (spreads >= 3, so the 1e-6 added to the standard
        // deviation moves the variance by under 1e-6)
        double[] offsets = {5, -40, 0.3};
        double[] spreads = {3, 30, 7};
        for (long[] shape : List.of(new long[]{3, 2, 2}, new long[]{3})) {
            ActNorm t = new ActNorm(shape);
            long[] perChannel = t.parameterShapes().get("bias");
            INDArray x = Nd4j.randn(DataType.DOUBLE, FlowChecks.withBatch(16, shape))
                    .muli(Nd4j.createFromArray(spreads).reshape(perChannel))
                    .addi(Nd4j.createFromArray(offsets).reshape(perChannel));
            Map<String, INDArray> p = Flows.newParameters(t, DataType.DOUBLE, 0);
            t.initializeFromData(p, x);
            double[][] moments = channelMoments(Flows.forward(t, p, x).value());
            for (int k = 0; k < 3; k++) {
                assertEquals(0.0, moments[k][0], 1e-6, "mean of channel " + k);
                assertEquals(1.0, moments[k][1], 1e-6, "variance of channel " + k);
            }
            // the same in single precision parameters (what the trainer holds), to float accuracy
            Map<String, INDArray> pf = Flows.newParameters(t, DataType.FLOAT, 0);
            t.initializeFromData(pf, x.castTo(DataType.FLOAT));
            assertEquals(DataType.FLOAT, pf.get("logScale").dataType());
            double[][] mf = channelMoments(Flows.forward(t, pf, x).value());
            for (int k = 0; k < 3; k++) {
                assertEquals(0.0, mf[k][0], 1e-4);
                assertEquals(1.0, mf[k][1], 1e-4);
            }
        }
    }

    @Test
    void dataInitialisationInsideAChainSeesTheEarlierStepsOutput() {
        Nd4j.getRandom().setSeed(4);
        Chain chain = new Chain(List.of(new ActNorm(new long[]{2}), new ActNorm(new long[]{2})));
        Map<String, INDArray> p = Flows.newParameters(chain, DataType.DOUBLE, 0);
        INDArray x = Nd4j.randn(DataType.DOUBLE, 32, 2).muli(5).addi(3);
        chain.initializeFromData(p, x);
        // the second actnorm receives already normalised data, so it stays (almost) the identity
        assertEquals(0.0, p.get("t1bias").amaxNumber().doubleValue(), 1e-9);
        assertEquals(0.0, p.get("t1logScale").amaxNumber().doubleValue(), 1e-5);
        assertTrue(p.get("t0logScale").amaxNumber().doubleValue() > 1, "the first actnorm should shrink by ~5");
    }

    /** Loss 0.5 z^2 - log|det| through the forward graph in FLOAT: every parameter gets a finite, non-zero gradient. */
    static void assertGradientsFlow(Transform t, Map<String, INDArray> values, INDArray x) {
        SameDiff sd = SameDiff.create();
        SDVariable in = sd.placeHolder("x", DataType.FLOAT, FlowChecks.withBatch(-1, t.inputShape()));
        Map<String, SDVariable> params = new LinkedHashMap<>();
        values.forEach((name, v) -> params.put(name, sd.var(name, v.castTo(DataType.FLOAT))));
        Transform.Flowed f = t.forward(sd, in, params);
        SDVariable energy = Flows.sumPerExample(f.value().mul(f.value()).mul(0.5), t.outputShape());
        SDVariable loss = energy.sub(f.logAbsDet()).mean();
        sd.setLossVariables(loss);
        Map<String, INDArray> grads = sd.calculateGradients(Map.of("x", x.castTo(DataType.FLOAT)),
                params.keySet().toArray(new String[0]));
        for (String name : params.keySet()) {
            INDArray g = grads.get(name);
            assertTrue(g != null, "no gradient for " + name);
            for (double v : g.dup().reshape(-1).toDoubleVector()) {
                assertTrue(Double.isFinite(v), "non-finite gradient for " + name);
            }
            assertTrue(g.amaxNumber().doubleValue() > 0, "all-zero gradient for " + name);
        }
    }

    @Test
    void forwardGraphIsDifferentiable() {
        for (long[] shape : SHAPES) {
            ActNorm t = new ActNorm(shape);
            assertGradientsFlow(t, randomParameters(t, 8), Nd4j.randn(DataType.DOUBLE, FlowChecks.withBatch(5, shape)));
        }
    }

    @Test
    void rebuildsFromItsMap() throws Exception {
        for (long[] shape : SHAPES) {
            ActNorm t = new ActNorm(shape);
            Transform back = Transforms.fromMap(t.toMap());
            assertEquals(t, back);
            assertEquals(t.hashCode(), back.hashCode());
            assertEquals("actnorm", t.toMap().get("kind"));
            Map<String, INDArray> p = randomParameters(t, 2);
            assertEquals(t.parameterShapes().keySet(), back.parameterShapes().keySet());
            INDArray x = Nd4j.randn(DataType.DOUBLE, FlowChecks.withBatch(3, shape));
            Flows.Result a = Flows.forward(t, p, x);
            Flows.Result b = Flows.forward(back, p, x);
            assertEquals(a.value(), b.value());
            assertEquals(a.logAbsDet(), b.logAbsDet());

            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
                out.writeObject(t);
            }
            try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
                assertEquals(t, in.readObject());
            }
        }
        assertNotEquals(new ActNorm(new long[]{3, 2, 2}), new ActNorm(new long[]{3, 2, 1}));
        assertTrue(Transforms.KINDS.contains("actnorm"));
    }

    @Test
    void parametersBroadcastPerChannel() {
        assertArrayEquals(new long[]{1, 3, 1, 1}, new ActNorm(new long[]{3, 4, 5}).parameterShapes().get("bias"));
        assertArrayEquals(new long[]{1, 3}, new ActNorm(new long[]{3}).parameterShapes().get("logScale"));
        assertThrows(IllegalArgumentException.class, () -> new ActNorm(new long[0]));
        assertThrows(IllegalArgumentException.class, () -> new ActNorm(new long[]{3, 0, 2}));
    }
}
