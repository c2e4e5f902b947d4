package org.chainrule.models.flows;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MafTest {
    private static final int[] HIDDEN = {8};

    @Test
    void chainAlternatesLayersAndReversals() {
        Chain c = Maf.chain(4, 3, HIDDEN, false, 1);
        List<Transform> steps = c.steps();
        assertEquals(5, steps.size());
        for (int i = 0; i < steps.size(); i++) {
            if (i % 2 == 0) {
                MaskedAutoregressive m = assertInstanceOf(MaskedAutoregressive.class, steps.get(i));
                assertTrue(!m.inverseAutoregressive());
            } else {
                assertArrayEquals(new int[]{3, 2, 1, 0}, assertInstanceOf(Permutation.class, steps.get(i)).order());
            }
        }
        // each layer draws its own hidden degrees
        assertNotEquals(((MaskedAutoregressive) steps.get(0)).maskSeed(), ((MaskedAutoregressive) steps.get(2)).maskSeed());
        assertTrue(((MaskedAutoregressive) Maf.chain(4, 2, HIDDEN, true, 1).steps().get(2)).inverseAutoregressive());
    }

    @Test
    void chainsPassTheFlowChecks() {
        for (boolean iaf : new boolean[]{false, true}) {
            Chain c = Maf.chain(3, 3, HIDDEN, iaf, 2);
            Map<String, INDArray> p = MaskedAutoregressiveTest.randomParams(c, 0.5, 4);
            INDArray x = MaskedAutoregressiveTest.randn(5, 3, 6).muli(2);
            FlowChecks.assertRoundTrip(c, p, x, 1e-9);
            FlowChecks.assertLogDetMatchesJacobian(c, p, x, 1e-6);
            FlowChecks.assertFinite(c, p, Nd4j.create(new double[][]{{1e3, -1e3, 1e3}, {-1e3, -1e3, -1e3}}));
            // with the reversal, the first output depends on the last input (it could not in one layer)
            INDArray shifted = x.dup();
            shifted.getColumn(2).addi(0.5);
            assertTrue(Math.abs(Flows.forward(c, p, shifted).value().getDouble(0, 0)
                    - Flows.forward(c, p, x).value().getDouble(0, 0)) > 1e-6);
            MaskedAutoregressiveTest.assertGradientsFlow(c, p, x);

            Chain two = Maf.chain(2, 3, HIDDEN, iaf, 3);
            FlowChecks.assertIntegratesToOne(two, MaskedAutoregressiveTest.randomParams(two, 0.4, 5), -14, 14, 280,
                    1e-3);
        }
    }

    @Test
    void toMapRoundTrip() {
        Chain c = Maf.chain(3, 2, HIDDEN, true, 9);
        Transform back = Transforms.fromMap(c.toMap());
        assertEquals(c, back);
        Map<String, INDArray> p = MaskedAutoregressiveTest.randomParams(c, 0.5, 1);
        INDArray x = MaskedAutoregressiveTest.randn(3, 3, 7);
        assertEquals(Flows.forward(c, p, x).value(), Flows.forward(back, p, x).value());
        assertEquals(Flows.inverse(c, p, x).value(), Flows.inverse(back, p, x).value());
    }
}
