package org.chainrule.models.flows;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Arrays;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PermutationTest {

    @Test
    void forwardPicksTheOrderedDimensionsAndInverseUndoesIt() {
        Permutation t = new Permutation(4, new int[]{2, 0, 3, 1});
        INDArray x = Nd4j.create(new double[][]{{10, 11, 12, 13}, {-1.5, 2.5, -3.5, 4.5}});
        Flows.Result f = Flows.forward(t, Map.of(), x);
        assertEquals(Nd4j.create(new double[][]{{12, 10, 13, 11}, {-3.5, -1.5, 4.5, 2.5}}), f.value());
        assertEquals(0.0, f.logAbsDet().amaxNumber().doubleValue(), 0.0);
        assertArrayEquals(new long[]{2}, f.logAbsDet().shape());
        Flows.Result b = Flows.inverse(t, Map.of(), f.value());
        assertEquals(x, b.value());
        assertEquals(0.0, b.logAbsDet().amaxNumber().doubleValue(), 0.0);
    }

    @Test
    void passesTheFlowChecks() {
        for (Permutation t : new Permutation[]{Permutation.reverse(1), Permutation.reverse(2), Permutation.reverse(5),
                Permutation.random(7, 3)}) {
            int d = t.order().length;
            INDArray x = Nd4j.randn(DataType.DOUBLE, 5, d);
            FlowChecks.assertRoundTrip(t, Map.of(), x, 0.0);
            FlowChecks.assertLogDetMatchesJacobian(t, Map.of(), x, 1e-8);
            INDArray extreme = Nd4j.create(DataType.DOUBLE, 2, d);
            for (int j = 0; j < d; j++) {
                extreme.putScalar(0, j, 1e3);
                extreme.putScalar(1, j, j % 2 == 0 ? -1e3 : 1e3);
            }
            FlowChecks.assertFinite(t, Map.of(), extreme);
            if (d <= 2) {
                FlowChecks.assertIntegratesToOne(t, Map.of(), -8, 8, 200, 1e-3);
            }
        }
    }

    @Test
    void factoriesGivePermutations() {
        assertArrayEquals(new int[]{4, 3, 2, 1, 0}, Permutation.reverse(5).order());
        int[] r = Permutation.random(30, 5).order();
        assertArrayEquals(r, Permutation.random(30, 5).order(), "a pure function of the seed");
        assertFalse(Arrays.equals(r, Permutation.random(30, 6).order()));
        int[] sorted = r.clone();
        Arrays.sort(sorted);
        for (int i = 0; i < 30; i++) {
            assertEquals(i, sorted[i]);
        }
        assertFalse(Arrays.equals(r, Permutation.reverse(30).order()));
    }

    @Test
    void rejectsNonPermutations() {
        assertThrows(IllegalArgumentException.class, () -> new Permutation(3, new int[]{0, 1}));
        assertThrows(IllegalArgumentException.class, () -> new Permutation(3, new int[]{0, 1, 1}));
        assertThrows(IllegalArgumentException.class, () -> new Permutation(3, new int[]{0, 1, 3}));
    }

    @Test
    void toMapRoundTrip() {
        Permutation t = Permutation.random(6, 1);
        Transform back = Transforms.fromMap(t.toMap());
        assertEquals(t, back);
        assertEquals(t.hashCode(), back.hashCode());
        assertNotEquals(t, Permutation.reverse(6));
        INDArray x = Nd4j.randn(DataType.DOUBLE, 3, 6);
        assertEquals(Flows.forward(t, Map.of(), x).value(), Flows.forward(back, Map.of(), x).value());
        assertTrue(Transforms.KINDS.contains("permutation"));
    }
}
