package org.chainrule.pipelines.train;

import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.storage.StorageLevel;
import org.apache.spark.util.StatCounter;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.Seeds;
import org.chainrule.pipelines.data.Domain;
import org.chainrule.pipelines.data.Example;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import scala.Tuple2;
import scala.collection.Iterator;
import scala.collection.JavaConverters;
import scala.reflect.ClassTag;
import scala.reflect.ClassTag$;
import scala.runtime.AbstractFunction2;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Synchronous parameter averaging on plain Spark: each round broadcasts the parameters and the optimizer state, every
 * worker fits its next {@code k} minibatches from exactly that state, and the driver sets its network to the mean of
 * the workers' parameters and optimizer states (Adam's moments included), the way MLlib's own iterative algorithms
 * run: broadcast, one task per worker, collect, update on the driver, destroy the broadcast.
 *
 * <p>This replaces dl4j-spark's {@code ParameterAveragingTrainingMaster}, which chainrule used before. Measured on
 * MNIST MADE 784-500-784 with 2 executors x 1 core, that master spent 1.0-2.4 s per round on 0.4-0.7 s of fitting per
 * worker (docs/throughput.md): a count job before every fit call, a Java-serialized network (configuration, parameters
 * and updater state as ND4J objects) fetched and deserialized by every task, results serialized the same way and
 * combined by a tree aggregation, and each call's minibatches held in memory as DataSets for the whole epoch. Here a
 * round costs one small job: the state travels as one float array each way, each executor keeps its network resident
 * between rounds ({@link ResidentNetworks}), and rows stream from the epoch's shuffle into minibatches inside the
 * task, so no epoch of minibatches is ever held in memory.
 *
 * <p>What it guarantees, as the master it replaces did:
 * <ul>
 *   <li>Determinism: the schedule is {@link EpochOrder} (a pure function of seed, epoch and row id); every task starts
 *       from the broadcast state (never from what its resident network last held) with its random generator seeded
 *       from (epoch, round, worker); the mean is summed in worker order. A task that Spark retries after an executor
 *       is lost recomputes the same result, and a resumed run repeats the uninterrupted one.</li>
 *   <li>With one worker and averaging frequency 1 it is plain minibatch training: every round is one step from the
 *       previous state.</li>
 *   <li>The iteration counter advances by the most steps any worker took in the round, so Adam's bias correction
 *       matches that of a single optimizer taking k steps.</li>
 * </ul>
 *
 * <p>Timing of every part of a round is kept per epoch ({@link RoundTimes}) for the log and the benchmark.
 */
public final class AveragingRounds implements AutoCloseable {
    private final JavaSparkContext jsc;
    private final JavaPairRDD<Long, Example> ranked;
    private final boolean ownsRanked;
    private final long rows;
    private final int workers;
    private final int batchSize;
    private final int frequency;
    private final long seed;
    private final BlockMomentum momentum;
    private final boolean oneJobPerEpoch;
    private Broadcast<Setup> setup;
    private final RoundTaskListener listener = new RoundTaskListener(java.util.UUID.randomUUID().toString());

    /**
     * What every task needs besides its rows and the round's state: the network configuration (with zeroed counters,
     * so it is the same string in every round and keys the resident networks) and the minibatch builder.
     */
    record Setup(String configurationJson, Minibatches minibatches) implements Serializable {
    }

    /**
     * @param train     the training rows (persisted by the caller: every epoch reads them)
     * @param network   the driver's network; its configuration is what executors build
     * @param workers   tasks per round
     * @param batchSize rows per minibatch
     * @param frequency minibatches each worker fits per round
     * @param seed      root seed of the schedule
     * @param momentum  block momentum on the averaged update, or null for plain averaging
     * @param exchange  {@code rounds}: one Spark job per round; {@code barrier}: one job per epoch whose tasks exchange
     *                  states with the driver over sockets ({@link BarrierRounds}); {@code auto}: barrier where Spark
     *                  allows it (see {@link #oneJobPerEpoch})
     */
    AveragingRounds(JavaSparkContext jsc, JavaRDD<Example> train, MultiLayerNetwork network, ModelSpec spec,
                    Domain domain, int dims, int workers, int batchSize, int frequency, long seed,
                    BlockMomentum momentum, String exchange) {
        this.jsc = jsc;
        this.oneJobPerEpoch = oneJobPerEpoch(jsc, workers, exchange);
        this.workers = workers;
        this.batchSize = batchSize;
        this.frequency = frequency;
        this.seed = seed;
        this.momentum = momentum;
        StatCounter ids = train.mapToDouble(e -> (double) e.rowId()).stats();
        this.rows = ids.count();
        if (rows == 0) {
            throw new IllegalArgumentException("no training rows");
        }
        if (ids.min() == 0 && ids.max() == rows - 1) {
            // dense row ids (what prepare writes): a row's rank is its id
            this.ranked = train.mapToPair(e -> new Tuple2<>(e.rowId(), e));
            this.ownsRanked = false;
        } else {
            this.ranked = train.sortBy(Example::rowId, true, train.getNumPartitions()).zipWithIndex()
                    .mapToPair(t -> new Tuple2<>(t._2(), t._1())).persist(StorageLevel.MEMORY_AND_DISK_SER());
            this.ownsRanked = true;
        }
        this.setup = jsc.broadcast(new Setup(configurationJson(network), new Minibatches(spec, domain, dims)));
        jsc.sc().addSparkListener(listener);
    }

    /** The ways workers exchange states: {@code auto}, {@code barrier}, {@code rounds}. */
    public static final List<String> EXCHANGES = List.of("auto", "barrier", "rounds");

    /**
     * Whether an epoch runs as one barrier-mode job: always for {@code barrier}, never for {@code rounds}; for
     * {@code auto} when Spark can run all workers at once as a barrier stage: no dynamic allocation, no speculation,
     * and no more workers than task slots (the default parallelism, i.e. the cluster's cores, over
     * {@code spark.task.cpus}).
     */
    static boolean oneJobPerEpoch(JavaSparkContext jsc, int workers, String exchange) {
        return switch (exchange) {
            case "barrier" -> true;
            case "rounds" -> false;
            case "auto" -> !jsc.getConf().getBoolean("spark.dynamicAllocation.enabled", false)
                    && !jsc.getConf().getBoolean("spark.speculation", false)
                    && workers <= jsc.defaultParallelism() / Math.max(1, jsc.getConf().getInt("spark.task.cpus", 1));
            default -> throw new IllegalArgumentException("exchange must be one of " + EXCHANGES + ", got "
                    + exchange);
        };
    }

    /** Whether each epoch is one Spark job ({@link BarrierRounds}) rather than one job per round. */
    public boolean oneJobPerEpoch() {
        return oneJobPerEpoch;
    }

    /** The network's configuration as workers build it (counters zero: each round's state carries them). */
    private static String configurationJson(MultiLayerNetwork network) {
        MultiLayerConfiguration conf = network.getLayerWiseConfigurations().clone();
        conf.setIterationCount(0);
        conf.setEpochCount(0);
        return conf.toJson();
    }

    /**
     * Sends the driver network's configuration to the workers again after it changed between rounds (a step size
     * scaled on a plateau): later rounds build, or find resident, networks of the new configuration.
     */
    public void reconfigure(MultiLayerNetwork network) {
        Broadcast<Setup> old = setup;
        setup = jsc.broadcast(new Setup(configurationJson(network), old.value().minibatches()));
        old.destroy();
    }

    /** Training rows. */
    public long rows() {
        return rows;
    }

    /** The rounds of epoch {@code epoch} (counted from 0). */
    public Epoch epoch(int epoch) {
        return new Epoch(epoch, EpochOrder.of(rows, workers, batchSize, frequency, seed, epoch));
    }

    @Override
    public void close() {
        jsc.sc().removeSparkListener(listener);
        setup.destroy();
        if (ownsRanked) {
            ranked.unpersist();
        }
    }

    /**
     * One epoch: its shuffle, then its rounds in order; {@link #finish} after the last round, {@link #close} always.
     */
    public final class Epoch implements AutoCloseable {
        private final int epoch;
        private final EpochOrder order;
        private final JavaPairRDD<Long, Example> shuffled;
        private final RoundTimes times = new RoundTimes();
        private boolean shuffledYet;
        private BarrierRounds job;

        private Epoch(int epoch, EpochOrder order) {
            this.epoch = epoch;
            this.order = order;
            EpochOrder o = order;
            // no sort in the shuffle: a task sorts its own round-sized partition, so its read is timed as its own
            listener.track(epoch, times);
            this.shuffled = ranked.mapToPair(t -> new Tuple2<>(o.position(t._1()), t._2()))
                    .partitionBy(order.partitioner());
        }

        public EpochOrder order() {
            return order;
        }

        public int rounds() {
            return order.rounds();
        }

        /** Minibatches fitted in the epoch, over all workers. */
        public long steps() {
            return order.steps();
        }

        /** Time spent so far in this epoch's rounds. */
        public RoundTimes times() {
            return times;
        }

        /**
         * Runs round {@code round}: broadcast {@code net}'s state, fit on the workers, set {@code net} to their mean.
         * Rounds must run in order from 0 (each starts from the state the previous one left).
         */
        public void round(int round, MultiLayerNetwork net) {
            if (oneJobPerEpoch) {
                if (job == null) {
                    job = new BarrierRounds(jsc, ranked, setup, order, epoch, net, times);
                }
                job.round(round, net, momentum);
                return;
            }
            if (!shuffledYet) {
                shuffle();
            }
            long start = System.nanoTime();
            net.getLayerWiseConfigurations().setEpochCount(epoch);
            byte[] state = NetworkState.capture(net);
            INDArray roundStart = momentum == null ? null : net.params().dup();
            long encoded = System.nanoTime();
            Broadcast<byte[]> broadcast = jsc.broadcast(state);
            long broadcasted = System.nanoTime();
            List<Object> partitions = new ArrayList<>();
            for (int w = 0; w < workers; w++) {
                partitions.add(round * workers + w);
            }
            jsc.setLocalProperty(RoundTaskListener.PROPERTY, listener.mark(epoch));
            WorkerReport[] reports;
            try {
                reports = (WorkerReport[]) jsc.sc().runJob(shuffled.rdd(),
                        new RoundTask(setup, broadcast, order, round),
                        JavaConverters.asScalaBuffer(partitions).toSeq(), REPORT);
            } finally {
                jsc.setLocalProperty(RoundTaskListener.PROPERTY, null);
            }
            long ran = System.nanoTime();
            List<byte[]> states = new ArrayList<>();
            int steps = 0;
            WorkerReport slowest = null;
            for (WorkerReport r : reports) {
                if (r.steps() > 0) {
                    states.add(r.state());
                    steps = Math.max(steps, r.steps());
                }
                if (slowest == null || r.taskNanos() > slowest.taskNanos()) {
                    slowest = r;
                }
                times.fitMeanTask += r.fitNanos() / 1e9 / reports.length;
                times.rebuilds += r.built() ? 1 : 0;
            }
            if (!states.isEmpty()) {
                NetworkState.restoreMean(states, net, NetworkState.iteration(state) + steps, epoch);
                if (momentum != null) {
                    momentum.apply(roundStart, net.params());
                }
            }
            long averaged = System.nanoTime();
            broadcast.destroy();
            long end = System.nanoTime();

            times.rounds++;
            times.serialize += (encoded - start) / 1e9 + (slowest.resetNanos() + slowest.encodeNanos()) / 1e9;
            times.broadcastCreate += (broadcasted - encoded) / 1e9;
            times.broadcastFetch += slowest.fetchNanos() / 1e9;
            times.launch += (ran - broadcasted - slowest.taskNanos()) / 1e9;
            times.rebuild += slowest.buildNanos() / 1e9;
            times.batches += slowest.batchNanos() / 1e9;
            times.fit += slowest.fitNanos() / 1e9;
            times.aggregate += (averaged - ran) / 1e9;
            times.destroy += (end - averaged) / 1e9;
            times.wall += (end - start) / 1e9;
        }

        /**
         * Runs the epoch's shuffle (the map side, for every round at once) as its own small job, so that its time is
         * seen apart from the first round's.
         */
        public void shuffle() {
            if (oneJobPerEpoch) {
                return; // the epoch's job shuffles as its first stage
            }
            long start = System.nanoTime();
            List<Object> first = List.of(0);
            jsc.sc().runJob(shuffled.rdd(), new Drain(), JavaConverters.asScalaBuffer(first).toSeq(), LONG);
            double seconds = (System.nanoTime() - start) / 1e9;
            times.shuffle += seconds;
            times.wall += seconds;
            shuffledYet = true;
        }

        /** After the last round: waits for the epoch's job to end (one job per epoch) and counts its builds. */
        public void finish() {
            if (job != null) {
                job.finish();
            }
        }

        /** The driver-side state that a rerun of the epoch's rounds starts from: the network's and the velocity. */
        public Start start(MultiLayerNetwork net) {
            return new Start(NetworkState.capture(net), momentum == null ? null : momentum.velocity().dup());
        }

        /** Puts the network (and the block momentum) back to {@code start} for a rerun of the rounds. */
        public void restore(Start start, MultiLayerNetwork net) {
            NetworkState.restore(start.state(), net);
            if (momentum != null) {
                momentum.velocity().assign(start.velocity());
            }
        }

        /** Ends the epoch's job if it still runs (a failure on the driver) and frees its resources. */
        @Override
        public void close() {
            if (job != null) {
                job.close();
                job = null;
            }
        }
    }

    /** What the driver holds at the start of an epoch's rounds (see {@link Epoch#start}). */
    public record Start(byte[] state, INDArray velocity) {
    }

    /**
     * Thrown by {@link Epoch#round} when Spark reran the epoch's one job after losing a task (an executor): the caller
     * restores what it holds at the epoch's start ({@link Epoch#restore}, its weight average) and runs the rounds again
     * from round 0.
     */
    public static final class Restarted extends RuntimeException {
        Restarted(String message) {
            super(message);
        }
    }

    private static final ClassTag<WorkerReport> REPORT = ClassTag$.MODULE$.apply(WorkerReport.class);
    private static final ClassTag<Long> LONG = ClassTag$.MODULE$.apply(Long.class);

    /**
     * What a worker sends back from a round: its state after its steps (null when it had no rows this round) and how
     * long each part of the task took.
     */
    record WorkerReport(int worker, int steps, byte[] state, boolean built, long taskNanos, long fetchNanos,
                        long buildNanos, long resetNanos, long batchNanos, long fitNanos, long encodeNanos)
            implements Serializable {
    }

    /** Counts a partition's rows (the job that runs the epoch's shuffle). */
    private static final class Drain extends AbstractFunction2<TaskContext, Iterator<Tuple2<Long, Example>>, Long>
            implements Serializable {
        @Override
        public Long apply(TaskContext context, Iterator<Tuple2<Long, Example>> rows) {
            long n = 0;
            while (rows.hasNext()) {
                rows.next();
                n++;
            }
            return n;
        }
    }

    /** One worker's part of a round: reset a resident network to the broadcast state, fit k minibatches, encode. */
    private static final class RoundTask
            extends AbstractFunction2<TaskContext, Iterator<Tuple2<Long, Example>>, WorkerReport>
            implements Serializable {
        private final Broadcast<Setup> setup;
        private final Broadcast<byte[]> state;
        private final EpochOrder order;
        private final int round;

        RoundTask(Broadcast<Setup> setup, Broadcast<byte[]> state, EpochOrder order, int round) {
            this.setup = setup;
            this.state = state;
            this.order = order;
            this.round = round;
        }

        @Override
        public WorkerReport apply(TaskContext context, Iterator<Tuple2<Long, Example>> rows) {
            long start = System.nanoTime();
            int worker = context.partitionId() % order.workers();
            List<Tuple2<Long, Example>> mine = new ArrayList<>();
            rows.foreach(mine::add); // this round's rows only: k minibatches
            mine.sort(Comparator.comparingLong(Tuple2::_1));
            long read = System.nanoTime();
            if (mine.isEmpty()) {
                return new WorkerReport(worker, 0, null, false, read - start, 0, 0, 0, read - start, 0, 0);
            }
            Setup s = setup.value();
            byte[] initial = state.value();
            long fetched = System.nanoTime();
            ResidentNetworks.Borrowed borrowed = ResidentNetworks.borrow(s.configurationJson());
            MultiLayerNetwork net = borrowed.network();
            long built = System.nanoTime();
            NetworkState.restore(initial, net);
            Nd4j.getRandom().setSeed(Seeds.derive(order.epochSeed(), round, worker));
            long reset = System.nanoTime();

            long batchNanos = read - start;
            long fitNanos = 0;
            int steps = 0;
            for (int from = 0; from < mine.size(); ) {
                long t0 = System.nanoTime();
                long batch = order.batch(mine.get(from)._1());
                List<Example> batchRows = new ArrayList<>(order.batchSize());
                int to = from;
                while (to < mine.size() && order.batch(mine.get(to)._1()) == batch) {
                    batchRows.add(mine.get(to++)._2());
                }
                var data = s.minibatches().of(batchRows, order, order.step(batch, worker));
                long t1 = System.nanoTime();
                net.fit(data);
                fitNanos += System.nanoTime() - t1;
                batchNanos += t1 - t0;
                steps++;
                from = to;
            }
            long fitted = System.nanoTime();
            byte[] result = NetworkState.capture(net);
            long encoded = System.nanoTime();
            ResidentNetworks.giveBack(s.configurationJson(), net);
            return new WorkerReport(worker, steps, result, borrowed.built(), encoded - start, fetched - read,
                    built - fetched, reset - built, batchNanos, fitNanos, encoded - fitted);
        }
    }
}
