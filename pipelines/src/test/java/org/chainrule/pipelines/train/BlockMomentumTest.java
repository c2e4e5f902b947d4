package org.chainrule.pipelines.train;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Block momentum's arithmetic by hand over rounds, its steady-state gain, and its checkpoint file. */
class BlockMomentumTest {
    private static INDArray row(double... v) {
        return Nd4j.createFromArray(v).castTo(DataType.FLOAT).reshape(1, v.length);
    }

    private static double[] values(INDArray a) {
        return a.castTo(DataType.DOUBLE).reshape(-1).toDoubleVector();
    }

    @Test
    void eachRoundStepsByTheVelocityOfTheAveragedUpdates() {
        BlockMomentum m = BlockMomentum.starting(0.5, 2);
        INDArray start = row(1, 1);
        INDArray mean = row(3, 0); // the workers' mean moved by g1 = (2, -1)
        m.apply(start, mean);
        assertArrayEquals(new double[]{3, 0}, values(mean), 1e-6); // v1 = g1: the first round is plain averaging
        INDArray start2 = mean.dup();
        INDArray mean2 = row(4, 0); // g2 = (1, 0); v2 = 0.5 (2, -1) + (1, 0) = (2, -0.5)
        m.apply(start2, mean2);
        assertArrayEquals(new double[]{5, -0.5}, values(mean2), 1e-6);
    }

    @Test
    void aSteadyUpdateIsAmplifiedByOneOverOneMinusTheMomentum() {
        BlockMomentum m = BlockMomentum.starting(0.5, 1);
        INDArray p = row(0);
        double before = 0;
        for (int round = 0; round < 40; round++) {
            before = values(p)[0];
            INDArray start = p.dup();
            p.addi(1); // every round the workers' mean moves by 1
            m.apply(start, p);
        }
        assertArrayEquals(new double[]{2}, new double[]{values(p)[0] - before}, 1e-5); // 1 / (1 - 0.5)
    }

    @Test
    void velocityRoundTripsThroughItsFileAndRefusesAnotherRun() {
        BlockMomentum m = BlockMomentum.starting(0.25, 3);
        m.apply(row(0, 0, 0), row(1, -2, 0.5));
        BlockMomentum back = BlockMomentum.fromBytes(m.toBytes(), 0.25, 3, "ckpt");
        INDArray a = row(0, 0, 0);
        INDArray b = row(0, 0, 0);
        m.apply(row(0, 0, 0), a);
        back.apply(row(0, 0, 0), b);
        assertArrayEquals(values(a), values(b), 0);
        IllegalArgumentException other = assertThrows(IllegalArgumentException.class,
                () -> BlockMomentum.fromBytes(m.toBytes(), 0.5, 3, "ckpt/block-momentum.bin"));
        assertTrue(other.getMessage().contains("ckpt/block-momentum.bin") && other.getMessage().contains("0.25"),
                other.getMessage());
        assertThrows(IllegalArgumentException.class, () -> BlockMomentum.fromBytes(m.toBytes(), 0.25, 4, "ckpt"));
        assertThrows(IllegalArgumentException.class, () -> BlockMomentum.starting(0, 3));
        assertThrows(IllegalArgumentException.class, () -> m.apply(row(0, 0), row(1, 1)));
    }
}
