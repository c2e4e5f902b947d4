package org.chainrule.models.flows;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RealNvpTest {

    /** "kind(mask parity)" of each step, recursing into factor-outs as "[...]". */
    private static String layout(Transform t) {
        if (t instanceof Chain c) {
            List<String> parts = new ArrayList<>();
            c.steps().forEach(s -> parts.add(layout(s)));
            return String.join(" ", parts);
        }
        if (t instanceof AffineCoupling a) {
            return a.mask().charAt(0) + "" + a.parity();
        }
        if (t instanceof FactorOut f) {
            return "F" + f.keep() + "[" + layout(f.inner()) + "]";
        }
        return ((Squeeze) t).isUnsqueeze() ? "U" : "S";
    }

    @Test
    void imageFlowHasThePapersMultiScaleLayout() {
        Chain mnist = RealNvp.image(new long[]{1, 28, 28}, 2, 3, 8, "tanh");
        assertEquals("c0 c1 c0 S c0 c1 c0 F2[c0 c1 c0 c1]", layout(mnist));
        assertArrayEquals(new long[]{4, 14, 14}, mnist.outputShape());
        // a third scale squeezes 14x14 to 7x7; 7 is odd, so asking for more scales builds no more
        String three = "c0 c1 c0 S c0 c1 c0 F2[c0 c1 c0 S c0 c1 c0 F4[c0 c1 c0 c1] U]";
        assertEquals(three, layout(RealNvp.image(new long[]{1, 28, 28}, 3, 3, 8, "tanh")));
        assertEquals(three, layout(RealNvp.image(new long[]{1, 28, 28}, 6, 3, 8, "tanh")));
        assertEquals("c0 c1", layout(RealNvp.image(new long[]{3, 5, 5}, 2, 1, 4, "tanh")));
        FactorOut inner = (FactorOut) RealNvp.image(new long[]{1, 28, 28}, 3, 3, 8, "tanh").steps().get(7);
        assertArrayEquals(new long[]{2, 14, 14}, inner.inner().inputShape());
        assertEquals(RealNvp.image(new long[]{1, 28, 28}, 2, 3, 8, "tanh"), mnist);
        assertEquals("a0 a1 a0", layout(RealNvp.vector(4, 3, new int[]{3}, "tanh")));
    }

    @Test
    void tinyImageFlowInvertsAndItsLogDetMatchesTheJacobian() {
        for (String scaleType : new String[]{"tanh", "sigmoid"}) {
            Chain t = RealNvp.image(new long[]{1, 4, 4}, 2, 2, 3, scaleType);
            assertEquals("c0 c1 S c0 c1 F2[c0 c1 c0]", layout(t));
            Map<String, INDArray> p = CouplingSupport.perturbed(t, 17, 0.3);
            INDArray x = CouplingSupport.normal(8, 2, 1, 4, 4);
            FlowChecks.assertRoundTrip(t, p, x, 1e-9);
            FlowChecks.assertLogDetMatchesJacobian(t, p, x, 1e-6);
            INDArray extreme = Nd4j.concat(0, Nd4j.valueArrayOf(new long[]{1, 1, 4, 4}, -1e3, DataType.DOUBLE),
                    CouplingSupport.normal(1, 1, 1, 4, 4).muli(1e3));
            FlowChecks.assertFinite(t, p, extreme);
            CouplingSupport.assertRebuilds(t, p, x);
        }
    }

    @Test
    void nestedScalesUnsqueezeBackAndStillMatchTheJacobian() {
        Chain t = RealNvp.image(new long[]{1, 8, 8}, 3, 1, 2, "tanh");
        assertEquals("c0 S c0 F2[c0 S c0 F4[c0 c1] U]", layout(t));
        Map<String, INDArray> p = CouplingSupport.perturbed(t, 23, 0.3);
        INDArray x = CouplingSupport.normal(5, 2, 1, 8, 8);
        FlowChecks.assertRoundTrip(t, p, x, 1e-9);
        FlowChecks.assertLogDetMatchesJacobian(t, p, x, 1e-6);
        CouplingSupport.assertRebuilds(t, p, x);
    }

    @Test
    void survivesJavaSerialization() throws Exception {
        Chain t = RealNvp.image(new long[]{1, 8, 8}, 3, 1, 2, "sigmoid");
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        try (java.io.ObjectOutputStream out = new java.io.ObjectOutputStream(bytes)) {
            out.writeObject(t);
        }
        try (java.io.ObjectInputStream in = new java.io.ObjectInputStream(
                new java.io.ByteArrayInputStream(bytes.toByteArray()))) {
            assertEquals(t, in.readObject());
        }
    }

    @Test
    void startsAsTheIdentity() {
        Chain t = RealNvp.image(new long[]{1, 4, 4}, 2, 2, 3, "tanh");
        INDArray x = CouplingSupport.normal(8, 2, 1, 4, 4);
        Flows.Result f = Flows.forward(t, Flows.newParameters(t, DataType.DOUBLE, 1), x);
        // the identity up to the squeeze's permutation
        INDArray squeezed = Flows.forward(new Squeeze(new long[]{1, 4, 4}), Map.of(), x).value();
        assertEquals(squeezed, f.value());
        assertEquals(0.0, f.logAbsDet().amaxNumber().doubleValue(), 0.0);
    }

    @Test
    void mnistSizedFlowRunsBothWays() {
        Chain t = RealNvp.image(new long[]{1, 28, 28}, 3, 1, 2, "sigmoid");
        Map<String, INDArray> p = CouplingSupport.perturbed(t, 2, 0.1);
        INDArray x = CouplingSupport.normal(4, 2, 1, 28, 28);
        Flows.Result f = Flows.forward(t, p, x);
        assertArrayEquals(new long[]{2, 4, 14, 14}, f.value().shape());
        FlowChecks.assertRoundTrip(t, p, x, 1e-9);
    }

    @Test
    void vectorFlowPassesTheFlowChecks() {
        Chain t = RealNvp.vector(5, 4, new int[]{6}, "tanh");
        Map<String, INDArray> p = CouplingSupport.perturbed(t, 6, 0.4);
        INDArray x = CouplingSupport.normal(3, 3, 5);
        FlowChecks.assertRoundTrip(t, p, x, 1e-9);
        FlowChecks.assertLogDetMatchesJacobian(t, p, x, 1e-6);
        FlowChecks.assertFinite(t, p, CouplingSupport.normal(4, 2, 5).muli(1e3));
        CouplingSupport.assertRebuilds(t, p, x);

        // (tanh: the perturbed sigmoid chain has tails too heavy for a small box)
        Chain two = RealNvp.vector(2, 3, new int[]{8}, "tanh");
        FlowChecks.assertIntegratesToOne(two, CouplingSupport.perturbed(two, 12, 0.25), -14, 14, 420, 1e-3);
    }

    @Test
    void everyParameterOfTheImageFlowGetsAGradient() {
        Chain t = RealNvp.image(new long[]{1, 4, 4}, 2, 2, 3, "tanh");
        CouplingSupport.assertGradientsFlow(t, CouplingSupport.perturbed(t, 5, 0.3), CouplingSupport.normal(2, 2, 1, 4, 4));
        assertTrue(t.parameterShapes().keySet().stream().anyMatch(k -> k.startsWith("t5int0")));
    }
}
