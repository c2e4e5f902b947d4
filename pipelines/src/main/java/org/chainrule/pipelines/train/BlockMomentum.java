package org.chainrule.pipelines.train;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Block momentum on the averaged update (block-wise model-update filtering, Chen &amp; Huo 2016): after a round, the
 * workers' mean {@code mean} moved the parameters by {@code g = mean - start}; instead of taking that step the
 * driver takes {@code v = momentum * v + g} and sets the parameters to {@code start + v}.
 *
 * <p>Why: with W workers each fitting its own share of an epoch's minibatches, plain averaging moves the parameters
 * by about one worker's k steps per round, where one process fitting the same W x k minibatches would move about W
 * times as far; after an epoch the averaged model is behind (measured for MADE on MNIST with 2 workers: 6.35 nats of
 * validation NLL after 3 epochs, docs/throughput.md). A momentum of {@code 1 - 1/W} gives a steady-state step of
 * {@code g / (1 - momentum) = W g}, the distance the single process would cover. Momentum 0 is plain averaging, so
 * one worker with averaging frequency 1 stays plain minibatch training.
 *
 * <p>Only the parameters get momentum; the optimizer state is averaged as before. The velocity is part of the run's
 * state: the checkpoint keeps it ({@link #FILE}), so a resumed run repeats the uninterrupted one.
 */
final class BlockMomentum {
    /** File of the velocity in a checkpoint directory. */
    static final String FILE = "block-momentum.bin";

    private final double momentum;
    private final INDArray velocity;

    private BlockMomentum(double momentum, INDArray velocity) {
        if (!(momentum > 0 && momentum < 1)) {
            throw new IllegalArgumentException("block momentum must be in (0, 1), got " + momentum);
        }
        this.momentum = momentum;
        this.velocity = velocity;
    }

    /** A new run's block momentum: zero velocity over {@code params} parameters. */
    static BlockMomentum starting(double momentum, long params) {
        return new BlockMomentum(momentum, Nd4j.zeros(DataType.FLOAT, 1, params));
    }

    double momentum() {
        return momentum;
    }

    /** The velocity (the momentum's own array). */
    INDArray velocity() {
        return velocity;
    }

    /**
     * Replaces the averaged parameters {@code params} (in place) by {@code start + v}, where {@code v} is the updated
     * velocity; {@code start} is the parameters the round began from.
     */
    void apply(INDArray start, INDArray params) {
        if (params.length() != velocity.length() || start.length() != velocity.length()) {
            throw new IllegalArgumentException("the network has " + params.length() + " parameters, the velocity "
                    + velocity.length());
        }
        INDArray step = params.reshape(velocity.shape()).sub(start.reshape(velocity.shape()));
        velocity.muli(momentum).addi(step);
        params.assign(start.reshape(params.shape()).add(velocity.reshape(params.shape())));
    }

    /** The velocity as bytes: the momentum, then the array ({@link StoredVector}). */
    byte[] toBytes() {
        return StoredVector.toBytes(momentum, velocity);
    }

    /** A velocity read back from {@link #toBytes}; refuses one of another momentum or size ({@code origin} names it). */
    static BlockMomentum fromBytes(byte[] bytes, double momentum, long params, String origin) {
        return new BlockMomentum(momentum, StoredVector.fromBytes(bytes, "block momentum", "momentum", momentum,
                params, origin).reshape(1, params).castTo(DataType.FLOAT));
    }
}
