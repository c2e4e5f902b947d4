package org.chainrule.models.flows;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FactorOutTest {

    private static final long[] IMAGE = {4, 2, 2};

    private static FactorOut image() {
        Chain inner = new Chain(List.of(
                AffineCoupling.image(new long[]{2, 2, 2}, "channel", 0, 3, "tanh"),
                AffineCoupling.image(new long[]{2, 2, 2}, "checkerboard", 1, 3, "sigmoid")));
        return new FactorOut(inner, IMAGE, 2);
    }

    private static FactorOut vector() {
        return new FactorOut(AffineCoupling.vector(3, "halves", 1, new int[]{5}, "tanh"), new long[]{5}, 2);
    }

    @Test
    void passedPartIsUntouchedAndTheRestIsInnersOutput() {
        for (FactorOut t : List.of(image(), vector())) {
            Map<String, INDArray> p = CouplingSupport.perturbed(t, 4, 0.4);
            INDArray x = CouplingSupport.normal(6, FlowChecks.withBatch(3, t.inputShape()));
            Flows.Result f = Flows.forward(t, p, x);
            long c = t.inputShape()[0];
            INDArray passedIn = x.get(NDArrayIndex.all(), NDArrayIndex.interval(0, 2));
            INDArray restIn = x.get(NDArrayIndex.all(), NDArrayIndex.interval(2, c)).dup();
            assertEquals(passedIn, f.value().get(NDArrayIndex.all(), NDArrayIndex.interval(0, 2)));
            Map<String, INDArray> own = new LinkedHashMap<>();
            t.inner().parameterShapes().keySet().forEach(k -> own.put(k, p.get("in" + k)));
            Flows.Result g = Flows.forward(t.inner(), own, restIn);
            assertEquals(g.value(), f.value().get(NDArrayIndex.all(), NDArrayIndex.interval(2, c)));
            assertEquals(g.logAbsDet(), f.logAbsDet());
            assertTrue(g.logAbsDet().amaxNumber().doubleValue() > 1e-3, "inner is not volume-preserving here");
        }
    }

    @Test
    void passesTheFlowChecks() {
        for (FactorOut t : List.of(image(), vector())) {
            Map<String, INDArray> p = CouplingSupport.perturbed(t, 9, 0.4);
            INDArray x = CouplingSupport.normal(2, FlowChecks.withBatch(3, t.inputShape()));
            FlowChecks.assertRoundTrip(t, p, x, 1e-9);
            FlowChecks.assertLogDetMatchesJacobian(t, p, x, 1e-6);
            long[] two = FlowChecks.withBatch(2, t.inputShape());
            INDArray extreme = Nd4j.concat(0, Nd4j.valueArrayOf(two, 1e3, DataType.DOUBLE),
                    CouplingSupport.normal(3, two).muli(-1e3));
            FlowChecks.assertFinite(t, p, extreme);
            CouplingSupport.assertRebuilds(t, p, x);
        }
    }

    @Test
    void twoDimensionalDensityIntegratesToOne() {
        // one coordinate passes, the other is scaled and shifted
        FactorOut t = new FactorOut(new ChainTest.Scale(1), new long[]{2}, 1);
        Map<String, INDArray> p = Flows.newParameters(t, DataType.DOUBLE, 5);
        p.get("ins").assign(0.6);
        p.get("inb").assign(-0.8);
        FlowChecks.assertIntegratesToOne(t, p, -10, 10, 300, 1e-3);
        FlowChecks.assertLogDetMatchesJacobian(t, p, CouplingSupport.normal(1, 3, 2), 1e-7);
    }

    @Test
    void everyParameterGetsAGradientIncludingOneRowBatches() {
        FactorOut t = image();
        Map<String, INDArray> p = CouplingSupport.perturbed(t, 3, 0.3);
        CouplingSupport.assertGradientsFlow(t, p, CouplingSupport.normal(1, 2, 4, 2, 2));
        CouplingSupport.assertGradientsFlow(t, p, CouplingSupport.normal(1, 1, 4, 2, 2));
        FactorOut v = vector();
        CouplingSupport.assertGradientsFlow(v, CouplingSupport.perturbed(v, 3, 0.3), CouplingSupport.normal(1, 3, 5));
    }

    @Test
    void prefixesInnerParametersAndDescribesInner() {
        FactorOut t = image();
        for (String name : t.parameterShapes().keySet()) {
            assertTrue(name.startsWith("int0") || name.startsWith("int1"), name);
        }
        assertEquals(t.inner().parameterShapes().size(), t.parameterShapes().size());
        Map<String, Object> m = t.toMap();
        assertEquals("factor-out", m.get("kind"));
        assertEquals(List.of(4L, 2L, 2L), m.get("shape"));
        assertEquals(2, m.get("keep"));
        assertEquals(t.inner().toMap(), m.get("inner"));
        assertTrue(Transforms.KINDS.contains("factor-out"));
        assertNotEquals(t, new FactorOut(AffineCoupling.image(new long[]{2, 2, 2}, "channel", 0, 3, "tanh"), IMAGE, 2));
    }

    @Test
    void rejectsInnersOfTheWrongShape() {
        // inner must take the remainder
        assertThrows(IllegalArgumentException.class, () -> new FactorOut(
                AffineCoupling.image(new long[]{3, 2, 2}, "channel", 0, 3, "tanh"), IMAGE, 2));
        // and keep its shape
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new FactorOut(new Squeeze(new long[]{2, 2, 2}), IMAGE, 2));
        assertTrue(e.getMessage().contains("keep its shape"), e.getMessage());
        // keep must leave something on both sides
        assertThrows(IllegalArgumentException.class, () -> new FactorOut(
                AffineCoupling.vector(5, "halves", 0, new int[]{2}, "tanh"), new long[]{5}, 0));
        assertThrows(IllegalArgumentException.class, () -> new FactorOut(
                AffineCoupling.vector(2, "halves", 0, new int[]{2}, "tanh"), new long[]{2}, 2));
    }
}
