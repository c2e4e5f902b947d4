package org.chainrule.models.autoregressive;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MadeMasksTest {

    @Test
    void fvsbnMaskIsStrictlyTriangularInTheOrdering() {
        INDArray m = MadeMasks.of(6, new int[0], false, 1, 0).mask(0, DataType.FLOAT);
        for (int i = 0; i < 6; i++) {
            for (int j = 0; j < 6; j++) {
                assertEquals(j > i ? 1.0 : 0.0, m.getDouble(i, j), "mask[" + i + "," + j + "]");
            }
        }
    }

    @Test
    void orderingsArePermutationsAndDeterministic() {
        MadeMasks a = MadeMasks.of(50, new int[]{30}, true, 9, 3);
        MadeMasks b = MadeMasks.of(50, new int[]{30}, true, 9, 3);
        assertArrayEquals(a.ordering(), b.ordering());
        int[] sorted = a.ordering().clone();
        Arrays.sort(sorted);
        for (int i = 0; i < 50; i++) {
            assertEquals(i, sorted[i]);
        }
        assertNotEquals(Arrays.toString(a.ordering()), Arrays.toString(MadeMasks.of(50, new int[]{30}, true, 9, 4).ordering()));
        int[] natural = MadeMasks.of(50, new int[]{30}, true, 9, 0).ordering();
        for (int i = 0; i < 50; i++) {
            assertEquals(i, natural[i]);
        }
    }

    @Test
    void hiddenDegreesStayInRange() {
        MadeMasks m = MadeMasks.of(20, new int[]{40, 40}, true, 2, 1);
        for (int l = 1; l < m.degrees().length; l++) {
            int prevMin = Arrays.stream(m.degrees()[l - 1]).min().orElseThrow();
            for (int deg : m.degrees()[l]) {
                assertTrue(deg >= prevMin && deg <= 19, "degree " + deg + " in layer " + l);
            }
        }
    }
}
