package org.chainrule.models.pixelcnn;

import org.chainrule.models.DensityModel;
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

/** Image completion with the cached sampler: the top row is kept and the bottom row follows p(bottom | top). */
class PixelCompletionTest {

    @BeforeAll
    static void oneThread() {
        PixelTesting.oneThread();
    }

    @AfterAll
    static void restoreThreads() {
        PixelTesting.restoreThreads();
    }

    @Test
    void completionsFollowTheConditionalOfTheBottomRow() {
        for (PixelSpec spec : new PixelSpec[]{PixelSpec.pixelCnn(new long[]{2, 2}, 2, 4, 1),
                PixelSpec.gated(new long[]{2, 2}, 2, 4, 2), PixelSpec.rowLstm(new long[]{2, 2}, 2, 4, 1)}) {
            DensityModel m = spec.densityOf(PixelTesting.network(spec, 17, 0.8));
            int n = 4000;
            long[] seeds = new long[n];
            for (int i = 0; i < n; i++) {
                seeds[i] = 77 + i;
            }
            INDArray partial = Nd4j.zeros(DataType.FLOAT, n, 4);
            partial.getColumn(0).assign(1);
            partial.getColumn(2).assign(1); // ignored: only the top row (2 values) is known
            INDArray done = m.complete(partial, 2, seeds, null, 1.0);
            long[] counts = new long[4];
            for (int i = 0; i < n; i++) {
                assertEquals(1f, done.getFloat(i, 0));
                assertEquals(0f, done.getFloat(i, 1));
                counts[(int) (done.getFloat(i, 2) + 2 * done.getFloat(i, 3))]++;
            }
            INDArray rest = Nd4j.create(new float[]{1, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 1, 1}, new long[]{4, 4});
            double[] joint = m.logProb(rest).toDoubleVector();
            double chi = ModelTesting.pearson(counts, joint);
            assertTrue(chi < ModelTesting.chiSquaredCritical999(3) * 1.02 + 1, spec.type() + " chi-squared: " + chi);

            long[] few = {3, 4};
            assertEquals(m.sample(few, null, 1.0), m.complete(Nd4j.zeros(DataType.FLOAT, 2, 4), 0, few, null, 1.0));
            INDArray whole = Nd4j.create(new float[]{1, 0, 1, 1, 0, 1, 0, 0}, new long[]{2, 4});
            assertEquals(whole, m.complete(whole, 4, few, null, 1.0));
            assertThrows(IllegalArgumentException.class, () -> m.complete(whole, 5, few, null, 1.0));
        }
    }
}
