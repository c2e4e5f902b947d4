package org.chainrule.models.flows;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AffineCouplingTest {

    @ParameterizedTest
    @CsvSource({
            "2, alternate, 0, tanh", "2, alternate, 1, sigmoid", "2, halves, 0, sigmoid", "2, halves, 1, tanh",
            "5, alternate, 0, tanh", "5, alternate, 1, sigmoid", "5, halves, 0, tanh", "5, halves, 1, sigmoid"})
    void vectorCouplingPassesTheFlowChecks(int d, String mask, int parity, String scaleType) {
        AffineCoupling t = AffineCoupling.vector(d, mask, parity, new int[]{6, 5}, scaleType);
        Map<String, INDArray> p = CouplingSupport.perturbed(t, 11 + d + parity, 0.4);
        INDArray x = CouplingSupport.normal(3, 3, d).muli(1.5);
        FlowChecks.assertRoundTrip(t, p, x, 1e-9);
        FlowChecks.assertLogDetMatchesJacobian(t, p, x, 1e-6);
        FlowChecks.assertFinite(t, p, Nd4j.create(new double[][]{filled(d, 1e3), filled(d, -1e3)}));
        assertCouplingStructure(t, p, x);
        CouplingSupport.assertRebuilds(t, p, x);
    }

    @ParameterizedTest
    @CsvSource({
            "1, checkerboard, 0, tanh", "1, checkerboard, 1, sigmoid",
            "2, checkerboard, 1, tanh", "2, channel, 0, tanh", "2, channel, 1, sigmoid"})
    void imageCouplingPassesTheFlowChecks(int c, String mask, int parity, String scaleType) {
        long[] chw = {c, 4, 4};
        AffineCoupling t = AffineCoupling.image(chw, mask, parity, 3, scaleType);
        Map<String, INDArray> p = CouplingSupport.perturbed(t, 5 + c + parity, 0.3);
        INDArray x = CouplingSupport.normal(9, 2, c, 4, 4);
        FlowChecks.assertRoundTrip(t, p, x, 1e-9);
        FlowChecks.assertLogDetMatchesJacobian(t, p, x, 1e-6);
        INDArray extreme = Nd4j.concat(0, Nd4j.valueArrayOf(new long[]{1, c, 4, 4}, 1e3, DataType.DOUBLE),
                Nd4j.valueArrayOf(new long[]{1, c, 4, 4}, -1e3, DataType.DOUBLE), CouplingSupport.normal(4, 1, c, 4, 4).muli(1e3));
        FlowChecks.assertFinite(t, p, extreme);
        assertCouplingStructure(t, p, x);
        CouplingSupport.assertRebuilds(t, p, x);
    }

    /** The entries in A pass unchanged; changing only the B entries moves neither y_A nor the log-determinant. */
    private static void assertCouplingStructure(AffineCoupling t, Map<String, INDArray> p, INDArray x) {
        INDArray a = t.conditioningMask(DataType.DOUBLE).reshape(FlowChecks.withBatch(1, t.inputShape()));
        INDArray b = a.rsub(1.0);
        assertTrue(a.sumNumber().doubleValue() > 0 && b.sumNumber().doubleValue() > 0, "both parts non-empty");
        Flows.Result f = Flows.forward(t, p, x);
        INDArray onA = f.value().mul(a.broadcast(x.shape()));
        assertEquals(0.0, onA.sub(x.mul(a.broadcast(x.shape()))).amaxNumber().doubleValue(), 0.0, "y_A = x_A");
        INDArray moved = x.add(CouplingSupport.normal(77, x.shape()).mul(b.broadcast(x.shape())));
        Flows.Result g = Flows.forward(t, p, moved);
        assertEquals(0.0, g.value().mul(a.broadcast(x.shape())).sub(onA).amaxNumber().doubleValue(), 0.0);
        assertEquals(0.0, g.logAbsDet().sub(f.logAbsDet()).amaxNumber().doubleValue(), 1e-12,
                "s depends on x_A only");
        // and B does change (the perturbed coupling is not the identity there)
        assertTrue(f.value().sub(x).mul(b.broadcast(x.shape())).amaxNumber().doubleValue() > 1e-3);
    }

    @Test
    void masksSelectTheDocumentedEntries() {
        assertArrayEquals(new double[]{1, 0, 1, 0, 1}, mask(AffineCoupling.vector(5, "alternate", 0, new int[]{}, "tanh")));
        assertArrayEquals(new double[]{0, 1, 0, 1, 0}, mask(AffineCoupling.vector(5, "alternate", 1, new int[]{}, "tanh")));
        assertArrayEquals(new double[]{1, 1, 0, 0, 0}, mask(AffineCoupling.vector(5, "halves", 0, new int[]{}, "tanh")));
        assertArrayEquals(new double[]{0, 0, 1, 1, 1}, mask(AffineCoupling.vector(5, "halves", 1, new int[]{}, "tanh")));
        // [C=2, H=2, W=3], flattened c-major then row-major
        assertArrayEquals(new double[]{1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0},
                mask(AffineCoupling.image(new long[]{2, 2, 3}, "checkerboard", 0, 2, "tanh")));
        assertArrayEquals(new double[]{0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1},
                mask(AffineCoupling.image(new long[]{2, 2, 3}, "checkerboard", 1, 2, "tanh")));
        assertArrayEquals(new double[]{1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0},
                mask(AffineCoupling.image(new long[]{2, 2, 3}, "channel", 0, 2, "tanh")));
        assertArrayEquals(new double[]{0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1},
                mask(AffineCoupling.image(new long[]{2, 2, 3}, "channel", 1, 2, "tanh")));
    }

    private static double[] mask(AffineCoupling t) {
        return t.conditioningMask(DataType.DOUBLE).reshape(-1).toDoubleVector();
    }

    @Test
    void linearConditionerMatchesTheFormulaWrittenOut() {
        double[][] x = {{0.7, -1.3}, {-2.0, 0.4}, {1e3, -1e3}};
        for (String scaleType : new String[]{"tanh", "sigmoid"}) {
            AffineCoupling t = AffineCoupling.vector(2, "alternate", 0, new int[]{}, scaleType);
            Map<String, INDArray> p = CouplingSupport.perturbed(t, 21, 0.8);
            Flows.Result f = Flows.forward(t, p, Nd4j.create(x));
            for (int r = 0; r < x.length; r++) {
                // A = {0}: the conditioner sees (x0, 0)
                double rawS = x[r][0] * p.get("ws").getDouble(0, 1) + p.get("bs").getDouble(0, 1);
                double rawT = x[r][0] * p.get("wt").getDouble(0, 1) + p.get("bt").getDouble(0, 1);
                double s = scaleType.equals("tanh") ? p.get("scale").getDouble(0, 1) * Math.tanh(rawS)
                        : Math.log(1e-4 + (1 - 1e-4) / (1 + Math.exp(-(rawS + 2))));
                assertEquals(x[r][0], f.value().getDouble(r, 0), 0.0);
                assertEquals(x[r][1] * Math.exp(s) + rawT, f.value().getDouble(r, 1), 1e-9 * (1 + Math.abs(rawT)));
                assertEquals(s, f.logAbsDet().getDouble(r), 1e-9 * (1 + Math.abs(s)));
            }
        }
    }

    @Test
    void startsAsTheIdentityOrGlowsContraction() {
        INDArray x = CouplingSupport.normal(1, 3, 2, 4, 4);
        AffineCoupling tanh = AffineCoupling.image(new long[]{2, 4, 4}, "checkerboard", 0, 4, "tanh");
        Flows.Result f = Flows.forward(tanh, Flows.newParameters(tanh, DataType.DOUBLE, 3), x);
        assertEquals(0.0, f.value().sub(x).amaxNumber().doubleValue(), 0.0);
        assertEquals(0.0, f.logAbsDet().amaxNumber().doubleValue(), 0.0);

        AffineCoupling sig = AffineCoupling.vector(5, "halves", 0, new int[]{4}, "sigmoid");
        INDArray v = CouplingSupport.normal(2, 3, 5);
        Flows.Result g = Flows.forward(sig, Flows.newParameters(sig, DataType.DOUBLE, 3), v);
        double shrink = 1e-4 + (1 - 1e-4) / (1 + Math.exp(-2));
        for (int r = 0; r < 3; r++) {
            for (int j = 0; j < 5; j++) {
                double expected = j < 2 ? v.getDouble(r, j) : v.getDouble(r, j) * shrink;
                assertEquals(expected, g.value().getDouble(r, j), 1e-12);
            }
            assertEquals(3 * Math.log(shrink), g.logAbsDet().getDouble(r), 1e-12);
        }
    }

    @Test
    void twoDimensionalDensityIntegratesToOne() {
        for (String scaleType : new String[]{"tanh", "sigmoid"}) {
            AffineCoupling t = AffineCoupling.vector(2, "alternate", 1, new int[]{8}, scaleType);
            Map<String, INDArray> p = CouplingSupport.perturbed(t, 8, 0.3);
            FlowChecks.assertIntegratesToOne(t, p, -9, 9, 300, 1e-3);
        }
    }

    @Test
    void everyParameterGetsAGradient() {
        for (String scaleType : new String[]{"tanh", "sigmoid"}) {
            AffineCoupling v = AffineCoupling.vector(5, "alternate", 1, new int[]{6, 4}, scaleType);
            CouplingSupport.assertGradientsFlow(v, CouplingSupport.perturbed(v, 2, 0.3), CouplingSupport.normal(1, 3, 5));
            CouplingSupport.assertGradientsFlow(v, CouplingSupport.perturbed(v, 2, 0.3), CouplingSupport.normal(1, 1, 5));
            AffineCoupling im = AffineCoupling.image(new long[]{2, 4, 4}, "channel", 0, 3, scaleType);
            CouplingSupport.assertGradientsFlow(im, CouplingSupport.perturbed(im, 2, 0.3),
                    CouplingSupport.normal(1, 2, 2, 4, 4));
        }
    }

    @Test
    void describesItselfFullyAndRejectsBadSettings() {
        AffineCoupling t = AffineCoupling.image(new long[]{2, 4, 4}, "channel", 1, 5, "sigmoid");
        Map<String, Object> m = t.toMap();
        assertEquals("affine-coupling", m.get("kind"));
        assertEquals(java.util.List.of(2L, 4L, 4L), m.get("shape"));
        assertEquals("channel", m.get("mask"));
        assertEquals(1, m.get("parity"));
        assertEquals(java.util.List.of(5, 5), m.get("hidden"));
        assertEquals("sigmoid", m.get("scaleType"));
        assertTrue(Transforms.KINDS.contains("affine-coupling"));
        assertNotEquals(t, AffineCoupling.image(new long[]{2, 4, 4}, "channel", 0, 5, "sigmoid"));
        assertNotEquals(t, AffineCoupling.image(new long[]{2, 4, 4}, "channel", 1, 5, "tanh"));
        assertNotEquals(t, AffineCoupling.image(new long[]{2, 4, 4}, "channel", 1, 4, "sigmoid"));
        assertEquals(java.util.List.of("w0", "b0", "w1", "b1", "ws", "bs", "wt", "bt"),
                java.util.List.copyOf(t.parameterShapes().keySet()));
        assertArrayEquals(new long[]{3, 3, 2, 5}, t.parameterShapes().get("w0"));
        assertArrayEquals(new long[]{1, 1, 5, 5}, t.parameterShapes().get("w1"));
        assertArrayEquals(new long[]{3, 3, 5, 2}, t.parameterShapes().get("ws"));
        for (String name : AffineCoupling.vector(3, "halves", 0, new int[]{4}, "tanh").parameterShapes().keySet()) {
            assertTrue(name.matches("[A-Za-z0-9]+"), name);
        }

        assertThrows(IllegalArgumentException.class, () -> AffineCoupling.vector(4, "checkerboard", 0, new int[]{2}, "tanh"));
        assertThrows(IllegalArgumentException.class, () -> AffineCoupling.image(new long[]{1, 4, 4}, "halves", 0, 2, "tanh"));
        assertThrows(IllegalArgumentException.class, () -> AffineCoupling.image(new long[]{1, 4, 4}, "channel", 0, 2, "tanh"));
        assertThrows(IllegalArgumentException.class, () -> AffineCoupling.vector(4, "alternate", 2, new int[]{2}, "tanh"));
        assertThrows(IllegalArgumentException.class, () -> AffineCoupling.vector(4, "alternate", 0, new int[]{2}, "exp"));
        assertThrows(IllegalArgumentException.class, () -> AffineCoupling.vector(1, "alternate", 0, new int[]{2}, "tanh"));
        assertThrows(IllegalArgumentException.class, () -> AffineCoupling.vector(4, "alternate", 0, new int[]{0}, "tanh"));
    }

    private static double[] filled(int d, double v) {
        double[] a = new double[d];
        java.util.Arrays.fill(a, v);
        return a;
    }
}
