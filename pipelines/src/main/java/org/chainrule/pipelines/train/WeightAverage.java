package org.chainrule.pipelines.train;

import org.nd4j.linalg.api.ndarray.INDArray;


/**
 * The exponential moving average of a network's parameters (Polyak averaging; Polyak &amp; Juditsky 1992, as PixelCNN++
 * used it with decay 0.9995): after each optimizer step, {@code average = decay * average + (1 - decay) * params},
 * starting from the parameters before the first step. Validation, early stopping and the saved model use the
 * average when the recipe's {@code ema} is on; the live parameters keep training, and the checkpoint keeps both.
 *
 * <p>Under parameter averaging the driver sees the parameters only once per averaging round, after {@code steps}
 * minibatches per worker; it then applies the update with decay {@code decay^steps}, which is exactly the per-step
 * average when one worker averages after every step, and otherwise an average over rounds with the same horizon in
 * steps.
 */
final class WeightAverage {
    /** File of the average in a checkpoint directory. */
    static final String FILE = "weight-average.bin";

    private final double decay;
    private final INDArray average;

    private WeightAverage(double decay, INDArray average) {
        if (!(decay > 0 && decay < 1)) {
            throw new IllegalArgumentException("an average's decay must be in (0, 1), got " + decay);
        }
        this.decay = decay;
        this.average = average;
    }

    /** A new average starting at the given parameters (copied). */
    static WeightAverage startingAt(double decay, INDArray params) {
        return new WeightAverage(decay, params.dup());
    }

    /**
     * A warning when a run is too short for its average: after {@code steps} steps per worker the initial (untrained)
     * parameters still weigh {@code decay^steps} in it, and over 1% of them spoil what validation and the saved model
     * see. PixelCNN++'s 0.9995 averages over ~2,000 steps, for runs of hundreds of thousands. Null when the run is
     * long enough.
     */
    static String shortRunWarning(double decay, long steps) {
        double initial = Math.pow(decay, steps);
        if (initial <= 0.01) {
            return null;
        }
        return String.format("train.ema = %s averages over about %.0f steps, but each worker takes %d in this run: "
                        + "%.0f%% of the final average would still be the initial weights (a decay of %.4f or less suits"
                        + " a run this long)", decay, 1 / (1 - decay), steps, 100 * initial,
                Math.floor((1 - 5.0 / steps) * 1e4) / 1e4);
    }

    /** Folds in the parameters after {@code steps} more optimizer steps (none: no change). */
    void update(INDArray params, long steps) {
        if (params.length() != average.length()) {
            throw new IllegalArgumentException("the network has " + params.length() + " parameters, the average "
                    + average.length());
        }
        if (steps < 1) {
            return;
        }
        double keep = Math.pow(decay, steps);
        average.muli(keep).addi(params.mul(1 - keep));
    }

    /** Sets the average back to {@code earlier} (an earlier {@link #average}'s copy). */
    void restore(INDArray earlier) {
        average.assign(earlier);
    }

    /** The averaged parameters (the average's own array: read, do not modify). */
    INDArray average() {
        return average;
    }

    /** The average as bytes: the decay, then the array ({@link StoredVector}). */
    byte[] toBytes() {
        return StoredVector.toBytes(decay, average);
    }

    /**
     * An average read back from {@link #toBytes}; {@code origin} names the file in messages. Refuses one whose decay or
     * size is not the run's.
     */
    static WeightAverage fromBytes(byte[] bytes, double decay, long params, String origin) {
        return new WeightAverage(decay, StoredVector.fromBytes(bytes, "weight average", "decay", decay, params,
                origin));
    }
}
