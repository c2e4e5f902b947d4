package org.chainrule.models.flows;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SqueezeTest {

    @Test
    void oneBlockBecomesFourChannelsInRowMajorOrder() {
        Squeeze s = new Squeeze(new long[]{1, 2, 2});
        assertArrayEquals(new long[]{4, 1, 1}, s.outputShape());
        // [[a, b], [c, d]] -> channels (a, b, c, d)
        INDArray x = Nd4j.create(new double[]{1, 2, 3, 4}, new long[]{1, 1, 2, 2}, DataType.DOUBLE);
        INDArray y = Flows.forward(s, Map.of(), x).value();
        assertArrayEquals(new long[]{1, 4, 1, 1}, y.shape());
        assertArrayEquals(new double[]{1, 2, 3, 4}, y.reshape(-1).toDoubleVector(), 0.0);
    }

    @Test
    void everyEntryLandsWhereDocumented() {
        long c = 3, h = 4, w = 6;
        Squeeze s = new Squeeze(new long[]{c, h, w});
        INDArray x = Nd4j.create(DataType.DOUBLE, 2, c, h, w);
        for (int b = 0; b < 2; b++) {
            for (int ci = 0; ci < c; ci++) {
                for (int hi = 0; hi < h; hi++) {
                    for (int wi = 0; wi < w; wi++) {
                        x.putScalar(new long[]{b, ci, hi, wi}, 1000 * b + 100 * ci + 10 * hi + wi);
                    }
                }
            }
        }
        Flows.Result f = Flows.forward(s, Map.of(), x);
        assertArrayEquals(new long[]{2, 4 * c, h / 2, w / 2}, f.value().shape());
        for (int b = 0; b < 2; b++) {
            for (int ci = 0; ci < c; ci++) {
                for (int i = 0; i < 2; i++) {
                    for (int j = 0; j < 2; j++) {
                        for (int hh = 0; hh < h / 2; hh++) {
                            for (int ww = 0; ww < w / 2; ww++) {
                                assertEquals(x.getDouble(b, ci, 2 * hh + i, 2 * ww + j),
                                        f.value().getDouble(b, 4 * ci + 2 * i + j, hh, ww), 0.0);
                            }
                        }
                    }
                }
            }
        }
        assertEquals(0.0, f.logAbsDet().amaxNumber().doubleValue(), 0.0);
        assertArrayEquals(new long[]{2}, f.logAbsDet().shape());
        INDArray back = Flows.inverse(s, Map.of(), f.value()).value();
        assertEquals(x, back);
    }

    @Test
    void passesTheFlowChecks() {
        Squeeze s = new Squeeze(new long[]{2, 4, 2});
        INDArray x = CouplingSupport.normal(5, 3, 2, 4, 2);
        FlowChecks.assertRoundTrip(s, Map.of(), x, 0.0);
        FlowChecks.assertLogDetMatchesJacobian(s, Map.of(), x, 1e-8);
        INDArray extreme = Nd4j.concat(0, Nd4j.valueArrayOf(new long[]{1, 2, 4, 2}, 1e3, DataType.DOUBLE),
                Nd4j.valueArrayOf(new long[]{1, 2, 4, 2}, -1e3, DataType.DOUBLE));
        FlowChecks.assertFinite(s, Map.of(), extreme);
        CouplingSupport.assertRebuilds(s, Map.of(), x);
        assertEquals(Map.of("kind", "squeeze", "shape", List.of(2L, 4L, 2L), "unsqueeze", false), s.toMap());
        assertTrue(Transforms.KINDS.contains("squeeze"));
        assertNotEquals(s, new Squeeze(new long[]{2, 2, 4}));
        assertTrue(s.parameterShapes().isEmpty());
    }

    @Test
    void unsqueezeIsTheInverseMap() {
        long[] chw = {2, 4, 2};
        Squeeze s = new Squeeze(chw);
        Squeeze u = Squeeze.unsqueeze(chw);
        assertArrayEquals(s.outputShape(), u.inputShape());
        assertArrayEquals(chw, u.outputShape());
        INDArray z = CouplingSupport.normal(7, 3, 8, 2, 1);
        assertEquals(Flows.inverse(s, Map.of(), z).value(), Flows.forward(u, Map.of(), z).value());
        FlowChecks.assertRoundTrip(u, Map.of(), z, 0.0);
        FlowChecks.assertLogDetMatchesJacobian(u, Map.of(), z, 1e-8);
        CouplingSupport.assertRebuilds(u, Map.of(), z);
        assertEquals(true, u.toMap().get("unsqueeze"));
        assertNotEquals(s, u);
    }

    @Test
    void refusesOddSizes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Squeeze(new long[]{1, 7, 8}));
        assertTrue(e.getMessage().contains("even"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new Squeeze(new long[]{1, 8, 3}));
        assertThrows(IllegalArgumentException.class, () -> new Squeeze(new long[]{16}));
    }
}
