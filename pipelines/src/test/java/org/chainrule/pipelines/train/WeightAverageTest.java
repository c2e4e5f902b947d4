package org.chainrule.pipelines.train;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The weight average's arithmetic by hand, its file round trip, and the plateau factor and cosine span rules. */
class WeightAverageTest {
    private static INDArray vec(double... v) {
        return Nd4j.createFromArray(v).castTo(DataType.FLOAT);
    }

    private static double[] values(INDArray a) {
        return a.castTo(DataType.DOUBLE).toDoubleVector();
    }

    @Test
    void averageFollowsTheFormulaStepByStepAndPerRound() {
        INDArray p0 = vec(1, -2);
        WeightAverage a = WeightAverage.startingAt(0.9, p0);
        p0.assign(100); // the average copied its start
        a.update(vec(3, 0), 1);
        assertArrayEquals(new double[]{0.9 * 1 + 0.1 * 3, 0.9 * -2 + 0.1 * 0}, values(a.average()), 1e-6);
        a.update(vec(5, 5), 3); // one round of 3 steps: decay 0.9^3
        double keep = 0.729;
        assertArrayEquals(new double[]{keep * 1.2 + (1 - keep) * 5, keep * -1.8 + (1 - keep) * 5},
                values(a.average()), 1e-6);
        a.update(vec(7, 7), 0); // no steps, no change
        assertArrayEquals(new double[]{keep * 1.2 + (1 - keep) * 5, keep * -1.8 + (1 - keep) * 5},
                values(a.average()), 1e-6);

        // three single steps at the same parameters equal one round of three steps
        WeightAverage perStep = WeightAverage.startingAt(0.9, vec(1, -2));
        WeightAverage perRound = WeightAverage.startingAt(0.9, vec(1, -2));
        for (int i = 0; i < 3; i++) {
            perStep.update(vec(4, 4), 1);
        }
        perRound.update(vec(4, 4), 3);
        assertArrayEquals(values(perStep.average()), values(perRound.average()), 1e-6);
        assertThrows(IllegalArgumentException.class, () -> perStep.update(vec(1, 2, 3), 1));
    }

    @Test
    void averageRoundTripsThroughItsFileAndRefusesAnotherRun() {
        WeightAverage a = WeightAverage.startingAt(0.9995, vec(0.25, -1, 3));
        a.update(vec(1, 1, 1), 2);
        WeightAverage back = WeightAverage.fromBytes(a.toBytes(), 0.9995, 3, "ckpt");
        assertArrayEquals(values(a.average()), values(back.average()), 0);
        IllegalArgumentException decay = assertThrows(IllegalArgumentException.class,
                () -> WeightAverage.fromBytes(a.toBytes(), 0.999, 3, "ckpt"));
        assertTrue(decay.getMessage().contains("decay 0.9995"), decay.getMessage());
        assertThrows(IllegalArgumentException.class, () -> WeightAverage.fromBytes(a.toBytes(), 0.9995, 4, "ckpt"));
        IllegalArgumentException corrupt = assertThrows(IllegalArgumentException.class,
                () -> WeightAverage.fromBytes(new byte[]{1, 2, 3}, 0.9995, 3, "ckpt/weight-average.bin"));
        assertTrue(corrupt.getMessage().startsWith("ckpt/weight-average.bin: corrupt"), corrupt.getMessage());
    }

    @Test
    void aRunTooShortForItsAverageIsWarnedWithTheShareOfTheInitialWeights() {
        // PixelCNN++'s 0.9995 over 4 epochs of 782 steps per worker: 0.9995^3128 = 0.209 of the start remains
        String warning = WeightAverage.shortRunWarning(0.9995, 3128);
        assertTrue(warning != null && warning.contains("about 2000 steps") && warning.contains("3128")
                && warning.contains("21% of the final average") && warning.contains("0.9984"), warning);
        // 0.9984^3128 = 0.0066: no warning
        assertEquals(null, WeightAverage.shortRunWarning(0.9984, 3128));
        assertEquals(null, WeightAverage.shortRunWarning(0.9995, 1_000_000));
    }

    @Test
    void plateauReducesAfterPatienceEpochsWithoutABetterNll() {
        assertEquals(1, StepSizes.plateauFactor(List.of(), 2, 0.5));
        assertEquals(1, StepSizes.plateauFactor(List.of(5.0, 4.0, 4.5), 2, 0.5));
        assertEquals(0.5, StepSizes.plateauFactor(List.of(5.0, 4.0, 4.5, 4.2), 2, 0.5));
        assertEquals(0.25, StepSizes.plateauFactor(List.of(5.0, 4.0, 4.5, 4.2, 3.0, 3.1, 3.2), 2, 0.5));
        // equal is not better
        assertEquals(0.1, StepSizes.plateauFactor(List.of(5.0, 5.0), 1, 0.1), 1e-15);
    }

    @Test
    void cosineSpansTheStepsAveragingCounts() {
        var r = new org.chainrule.models.TrainingRecipe(new org.chainrule.models.TrainingRecipe.Optimizer("adam", 0.9,
                0.999, 1e-8, 0.9), 1e-3, new org.chainrule.models.TrainingRecipe.Schedule("cosine", 0, 0.1, 1, 0, 1,
                0), 0, 0, 0, 0, 1);
        // 1000 rows / 100 = 10 minibatches; rounds of 2 workers x 2 steps: 3 rounds of 2 steps per epoch
        assertEquals(30, StepSizes.forRun(r, 5, 1000, 100, 2, 2).schedule().span());
        assertEquals(10, StepSizes.forRun(r, 1, 1000, 100, 1, 1).schedule().span());
        assertEquals(7, StepSizes.forRun(r.spanning(7), 5, 1000, 100, 2, 2).schedule().span());
        var step = r.spanning(0);
        var stepRecipe = new org.chainrule.models.TrainingRecipe(step.optimizer(), 1e-3,
                new org.chainrule.models.TrainingRecipe.Schedule("step", 0, 0.1, 1, 0, 1, 0), 0, 0, 0, 0, 1);
        assertEquals(0, StepSizes.forRun(stepRecipe, 5, 1000, 100, 2, 2).schedule().span());
    }
}
