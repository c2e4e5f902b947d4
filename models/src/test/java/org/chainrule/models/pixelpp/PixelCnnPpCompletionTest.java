package org.chainrule.models.pixelpp;

import org.chainrule.models.ModelTesting;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Image completion with a PixelCNN++: the given prefix is kept and the rest follows p(rest | prefix). */
class PixelCnnPpCompletionTest {

    @BeforeAll
    static void singleThreaded() {
        SmallTensors.begin();
    }

    @AfterAll
    static void restoreThreads() {
        SmallTensors.end();
    }

    @Test
    void completionKeepsThePrefixAndDrawsTheRestFromTheConditional() {
        // a 1x2 grey image with 4 levels: given the first pixel, the second follows p(x2 | x1)
        PixelCnnPpSpec spec = PixelCnnPpSpec.of(new long[]{1, 2}, 4, 1, 2).withLevels(4);
        PixelCnnPpDensity m = (PixelCnnPpDensity) spec.densityOf(ModelTesting.randomNetwork(spec, 13));
        int n = 3000;
        long[] seeds = new long[n];
        for (int i = 0; i < n; i++) {
            seeds[i] = 1000 + i;
        }
        INDArray partial = Nd4j.zeros(DataType.FLOAT, n, 2);
        partial.getColumn(0).assign(2);
        partial.getColumn(1).assign(3); // ignored: only the first value is known
        INDArray done = m.complete(partial, 1, seeds, null, 1.0);
        long[] counts = new long[4];
        for (int i = 0; i < n; i++) {
            assertEquals(2f, done.getFloat(i, 0), "the given pixel is kept");
            counts[(int) done.getFloat(i, 1)]++;
        }
        INDArray pairs = Nd4j.create(new float[]{2, 0, 2, 1, 2, 2, 2, 3}, new long[]{4, 2});
        double[] joint = m.logProb(pairs).toDoubleVector();
        double chi = ModelTesting.pearson(counts, joint);
        assertTrue(chi < ModelTesting.chiSquaredCritical999(3) * 1.02 + 1, "chi-squared, 3 df: " + chi);

        // nothing known is plain sampling with the same seeds; everything known is the input itself
        long[] few = {5, 6, 7};
        assertEquals(m.sample(few, null, 1.0), m.complete(Nd4j.zeros(DataType.FLOAT, 3, 2), 0, few, null, 1.0));
        INDArray given = Nd4j.create(new float[]{1, 3, 0, 0, 2, 1}, new long[]{3, 2});
        assertEquals(given, m.complete(given, 2, few, null, 1.0));
        assertThrows(IllegalArgumentException.class, () -> m.complete(given, 3, few, null, 1.0));
    }
}
