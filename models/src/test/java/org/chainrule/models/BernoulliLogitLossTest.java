package org.chainrule.models;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationSigmoid;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BernoulliLogitLossTest {
    private final BernoulliLogitLoss loss = new BernoulliLogitLoss();

    @Test
    void scoreIsTheExactNegativeLogLikelihood() {
        Nd4j.getRandom().setSeed(3);
        INDArray z = Nd4j.randn(DataType.DOUBLE, 6, 5).muli(30); // far into saturation, where clipping would bite
        INDArray y = Nd4j.rand(DataType.DOUBLE, 6, 5).gt(0.5).castTo(DataType.DOUBLE);
        INDArray nll = LogMath.bernoulliLogProb(y, z).neg();
        INDArray perRow = loss.computeScoreArray(y, z, new ActivationIdentity(), null);
        assertTrue(perRow.reshape(-1).equalsWithEps(nll, 1e-9));
        assertEquals(nll.meanNumber().doubleValue(), loss.computeScore(y, z, new ActivationIdentity(), null, true), 1e-9);
    }

    @Test
    void gradientIsSigmoidMinusLabelAndMatchesFiniteDifferences() {
        INDArray z = Nd4j.create(new double[][]{{-40, -2, 0.3, 5, 40}});
        INDArray y = Nd4j.create(new double[][]{{1, 0, 1, 0, 0}});
        INDArray g = loss.computeGradient(y, z, new ActivationIdentity(), null);
        assertEquals(-1.0, g.getDouble(0, 0), 1e-12, "a confidently wrong output keeps its full gradient");
        double h = 1e-6;
        for (int d = 0; d < 5; d++) {
            INDArray up = z.dup();
            up.putScalar(0, d, z.getDouble(0, d) + h);
            INDArray down = z.dup();
            down.putScalar(0, d, z.getDouble(0, d) - h);
            double fd = (loss.computeScore(y, up, new ActivationIdentity(), null, false)
                    - loss.computeScore(y, down, new ActivationIdentity(), null, false)) / (2 * h);
            assertEquals(fd, g.getDouble(0, d), 1e-5, "dimension " + d);
        }
        assertThrows(IllegalStateException.class, () -> loss.computeGradient(y, z, new ActivationSigmoid(), null));
    }
}
