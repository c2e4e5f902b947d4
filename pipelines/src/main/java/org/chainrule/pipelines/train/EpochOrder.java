package org.chainrule.pipelines.train;

import org.apache.spark.Partitioner;
import org.chainrule.models.Seeds;
import org.chainrule.pipelines.data.Holdout;

import java.io.Serializable;

/**
 * Where each training row goes in one epoch of parameter averaging: a pure function of the row's rank (its place among
 * the split's row ids in ascending order), so any task, retried or resumed, recomputes the same schedule.
 *
 * <p>Epoch e puts the row of rank i at position {@code pos = permute(i)}, a seeded bijection of [0, rows) (the
 * {@link Holdout} Feistel permutation, seeded by {@code Seeds.derive(seed, e)}). Position pos belongs to worker
 * {@code pos % workers}, as that worker's row number {@code pos / workers}; each worker cuts its rows, in position
 * order, into minibatches of {@code batchSize} rows (only its last one may be short), and fits minibatches
 * {@code r * k .. r * k + k - 1} in averaging round r (k = averaging frequency). Minibatch b of worker w is global step
 * {@code b * workers + w}, which seeds its connectivity variant and its dropout masks, so the steps of any range of rounds draw evenly from
 * every worker.
 *
 * @param rows      rows in the split
 * @param workers   workers (parallel tasks per round)
 * @param batchSize rows per minibatch
 * @param frequency minibatches each worker fits per averaging round
 * @param epochSeed {@code Seeds.derive(seed, epoch)}
 */
public record EpochOrder(long rows, int workers, int batchSize, int frequency, long epochSeed) implements Serializable {
    public EpochOrder {
        if (rows < 1 || workers < 1 || batchSize < 1 || frequency < 1) {
            throw new IllegalArgumentException("rows, workers, batch size and averaging frequency must be positive,"
                    + " got "
                    + rows + ", " + workers + ", " + batchSize + ", " + frequency);
        }
    }

    /** The order of epoch {@code epoch} under root seed {@code seed}. */
    public static EpochOrder of(long rows, int workers, int batchSize, int frequency, long seed, int epoch) {
        return new EpochOrder(rows, workers, batchSize, frequency, Seeds.derive(seed, epoch));
    }

    /** Position in the epoch of the row of rank {@code rank}. */
    public long position(long rank) {
        return Holdout.permute(rank, rows, epochSeed);
    }

    public int worker(long position) {
        return (int) (position % workers);
    }

    /** The worker's minibatch that holds {@code position}, counted from 0 within the epoch. */
    public long batch(long position) {
        return position / workers / batchSize;
    }

    public long round(long position) {
        return batch(position) / frequency;
    }

    /** The global step of a worker's minibatch: steps interleave workers. */
    public long step(long batch, int worker) {
        return batch * workers + worker;
    }

    /** Connectivity variant (mask set / ordering) of the minibatch at {@code step}, of {@code variants}. */
    public int variant(long step, int variants) {
        return variants == 1 ? 0 : (int) (Seeds.uniform(Seeds.derive(epochSeed, step)) * variants);
    }

    /**
     * The seed of the minibatch at {@code step}'s own randomness (its dropout masks), independent of its variant's
     * draw: a function of the run's seed, the epoch and the step only.
     */
    public long stepSeed(long step) {
        return Seeds.derive(epochSeed, -1, step);
    }

    /** Rows of worker {@code w}: the positions congruent to w. */
    public long rowsOf(int worker) {
        return worker >= rows ? 0 : (rows - 1 - worker) / workers + 1;
    }

    /** Minibatches of worker {@code w} in the epoch. */
    public long batchesOf(int worker) {
        return (rowsOf(worker) + batchSize - 1) / batchSize;
    }

    /** Minibatches of all workers: the epoch's steps. */
    public long steps() {
        long total = 0;
        for (int w = 0; w < workers; w++) {
            total += batchesOf(w);
        }
        return total;
    }

    /** Averaging rounds in the epoch (worker 0 has the most minibatches). */
    public int rounds() {
        return Math.toIntExact((batchesOf(0) + frequency - 1) / frequency);
    }

    /** Partition of a position in the epoch's shuffle: one per (round, worker), round-major. */
    public int partition(long position) {
        return Math.toIntExact(round(position) * workers + worker(position));
    }

    /** Spark partitioner of positions into {@link #partition} order: one partition per (round, worker). */
    public Partitioner partitioner() {
        return new RoundPartitioner(this);
    }

    /** Partitions positions (Long keys) by {@link EpochOrder#partition}. */
    private static final class RoundPartitioner extends Partitioner {
        private final EpochOrder order;

        RoundPartitioner(EpochOrder order) {
            this.order = order;
        }

        @Override
        public int numPartitions() {
            return order.rounds() * order.workers();
        }

        @Override
        public int getPartition(Object key) {
            return order.partition((Long) key);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof RoundPartitioner p && p.order.equals(order);
        }

        @Override
        public int hashCode() {
            return order.hashCode();
        }
    }
}
