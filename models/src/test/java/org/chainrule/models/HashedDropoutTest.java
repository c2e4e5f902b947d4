package org.chainrule.models;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HashedDropoutTest {

    /** The graph's mask for {@code batch} rows under {@code key}. */
    private static INDArray mask(long key, int batch, long offset, int width, double rate) {
        SameDiff sd = SameDiff.create();
        SDVariable in = sd.placeHolder("in", DataType.FLOAT, -1, 3);
        SDVariable k = sd.placeHolder("key", DataType.FLOAT, 1, 1);
        SDVariable m = HashedDropout.mask(sd, "d", k, in, offset, width, rate);
        Map<String, INDArray> out = sd.output(Map.of("in", Nd4j.rand(DataType.FLOAT, batch, 3),
                "key", Nd4j.scalar(DataType.FLOAT, (float) key).reshape(1, 1)), m.name());
        return out.get(m.name());
    }

    @Test
    void graphMaskIsTheJavaHashScaled() {
        double rate = 0.3;
        INDArray m = mask(12345, 7, 40, 50, rate);
        assertEquals(7, m.rows());
        assertEquals(50, m.columns());
        for (int i = 0; i < 7; i++) {
            for (int j = 0; j < 50; j++) {
                double want = HashedDropout.kept(12345, i, 40 + j, rate) ? 1 / (1 - rate) : 0;
                assertEquals(want, m.getDouble(i, j), 1e-6, "row " + i + " unit " + j);
            }
        }
    }

    @Test
    void keyZeroKeepsEverything() {
        INDArray m = mask(0, 5, 0, 20, 0.5);
        assertEquals(100.0, m.sumNumber().doubleValue(), 0);
        assertEquals(1.0, m.minNumber().doubleValue(), 0);
    }

    /** About a fraction {@code rate} of units dropped, independently of row, unit and key. */
    @Test
    void dropsTheRateAndDecorrelates() {
        double rate = 0.25;
        int n = 200_000;
        int dropped = 0;
        int bothDropped = 0;
        int sameAcrossKeys = 0;
        for (int t = 0; t < n; t++) {
            long key = HashedDropout.key(t * 7919L);
            long row = t % 100;
            long unit = (t / 100) % 500;
            boolean a = !HashedDropout.kept(key, row, unit, rate);
            boolean b = !HashedDropout.kept(key, row, unit + 1, rate);   // the neighbouring unit
            dropped += a ? 1 : 0;
            bothDropped += a && b ? 1 : 0;
            sameAcrossKeys += a == !HashedDropout.kept(key + 1, row, unit, rate) ? 1 : 0;
        }
        double p = dropped / (double) n;
        double sd = Math.sqrt(rate * (1 - rate) / n);
        assertEquals(rate, p, 5 * sd, "dropped fraction");
        assertEquals(rate * rate, bothDropped / (double) n, 0.01, "neighbouring units drop independently");
        assertEquals(rate * rate + (1 - rate) * (1 - rate), sameAcrossKeys / (double) n, 0.01,
                "the next key gives an independent mask");
    }

    @Test
    void keysAreInRangeAndRatesChecked() {
        for (long s : new long[]{0, -1, Long.MIN_VALUE, Long.MAX_VALUE, 42}) {
            long k = HashedDropout.key(s);
            assertTrue(k >= 1 && k <= HashedDropout.MAX_KEY, "key " + k);
            assertEquals(k, (long) (float) k, "a key is exact in a float column");
        }
        assertThrows(IllegalArgumentException.class, () -> HashedDropout.checkRate(1.0));
        assertThrows(IllegalArgumentException.class, () -> HashedDropout.checkRate(-0.1));
    }
}
