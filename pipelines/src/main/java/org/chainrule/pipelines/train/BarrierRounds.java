package org.chainrule.pipelines.train;

import org.apache.spark.BarrierTaskContext;
import org.apache.spark.HashPartitioner;
import org.apache.spark.api.java.JavaFutureAction;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.Partitioner;
import org.apache.spark.rdd.RDD;
import org.chainrule.models.Seeds;
import org.chainrule.pipelines.Progress;
import org.chainrule.pipelines.data.Example;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import scala.Tuple2;
import scala.collection.Iterator;
import scala.collection.JavaConverters;
import scala.reflect.ClassTag;
import scala.reflect.ClassTag$;
import scala.runtime.AbstractFunction1;

import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutionException;

/**
 * One epoch of averaging rounds run as a single Spark job in barrier mode: one long-lived task per worker streams its
 * rows of the epoch (shuffled once into one partition per worker, sorted by position, spilled by Spark's sorter when
 * large), fits each round's minibatches, sends its state to the driver over a {@link StateExchange} socket and
 * continues from the mean the driver sends back. The driver averages exactly as in a job-per-round epoch (the same
 * states, summed in worker order, the same counters, the same block momentum), so the two transports give the same
 * parameters bit for bit; what this one saves is a job launch, a broadcast and a shuffle read per round.
 *
 * <p>Failures: Spark reruns a barrier map stage as a whole when any of its tasks fails (an executor lost). The new
 * attempt's tasks connect with a higher stage attempt number; the driver then throws {@link AveragingRounds.Restarted} from
 * {@link #round}, its caller puts the driver's network (and its weight average) back to the epoch's start, and the
 * rounds run again from 0 from the same start state, so the epoch ends as the undisturbed one would.
 */
final class BarrierRounds implements AutoCloseable {
    private final EpochOrder order;
    private final int epoch;
    private final RoundTimes times;
    private final StateExchange exchange = new StateExchange();
    private final Broadcast<byte[]> start;
    private final byte[] startState;
    private final JavaFutureAction<List<WorkerTotals>> job;
    private final List<Object> backlog = new ArrayList<>();
    private final long submitted;
    private int attempt = -1;
    private boolean lostReported;
    private byte[] current;
    private long roundStart;

    /**
     * Starts the epoch's job from {@code net}'s state (its epoch counter set to {@code epoch}).
     *
     * @param ranked training rows keyed by rank
     */
    BarrierRounds(JavaSparkContext jsc, JavaPairRDD<Long, Example> ranked, Broadcast<AveragingRounds.Setup> setup,
                  EpochOrder order, int epoch, MultiLayerNetwork net, RoundTimes times) {
        this.order = order;
        this.epoch = epoch;
        this.times = times;
        long t0 = System.nanoTime();
        net.getLayerWiseConfigurations().setEpochCount(epoch);
        this.current = NetworkState.capture(net);
        times.serialize += (System.nanoTime() - t0) / 1e9;
        this.startState = current;
        this.start = jsc.broadcast(current);
        EpochOrder o = order;
        RDD<Tuple2<Long, Example>> byWorker = ranked.mapToPair(t -> new Tuple2<>(o.position(t._1()), t._2()))
                .repartitionAndSortWithinPartitions(new WorkerPartitioner(order.workers())).rdd();
        String host = jsc.getConf().get("spark.driver.host", "localhost");
        WorkerTask task = new WorkerTask(setup, start, order, host, exchange.port(), exchange.token());
        this.submitted = System.nanoTime();
        this.roundStart = submitted;
        // the barrier stage writes its tasks' totals to a shuffle: Spark reruns a failed barrier stage only when it is
        // a map stage (a failed barrier result stage aborts the job)
        this.job = JavaPairRDD.fromRDD(byWorker.barrier().mapPartitions(task, false, KEYED), INT, TOTALS)
                .partitionBy(new HashPartitioner(1)).values().collectAsync();
    }

    int attempt() {
        return attempt;
    }

    /**
     * Waits for every worker's state after round {@code round}, sets {@code net} to their mean (then block momentum,
     * when on) and, unless it was the last round, sends the result back to the workers.
     */
    void round(int round, MultiLayerNetwork net, BlockMomentum momentum) {
        INDArray startParams = momentum == null ? null : net.params().dup();
        StateExchange.Frame[] frames = gather(round);
        long gathered = System.nanoTime();
        StateExchange.Frame slowest = frames[0];
        int steps = 0;
        for (StateExchange.Frame f : frames) {
            if (f.workNanos() > slowest.workNanos()) {
                slowest = f;
            }
            steps = Math.max(steps, f.steps());
            times.fitMeanTask += f.fitNanos() / 1e9 / frames.length;
        }
        List<byte[]> states = StateExchange.statesInOrder(frames);
        if (!states.isEmpty()) {
            NetworkState.restoreMean(states, net, NetworkState.iteration(current) + steps, epoch);
            if (momentum != null) {
                momentum.apply(startParams, net.params());
            }
        }
        long averaged = System.nanoTime();
        long sent = averaged;
        double encode = 0;
        if (round + 1 < order.rounds()) {
            net.getLayerWiseConfigurations().setEpochCount(epoch);
            current = NetworkState.capture(net);
            long encoded = System.nanoTime();
            encode = (encoded - averaged) / 1e9;
            exchange.send(attempt, order.workers(), round, current);
            sent = System.nanoTime();
        }
        double waited = (gathered - roundStart - slowest.workNanos()) / 1e9;
        if (round == 0) {
            times.launch += waited; // the job's start: the shuffle, task launch, network builds, connections
        } else {
            times.exchange += waited;
        }
        times.exchange += (sent - averaged) / 1e9 - encode;
        times.rounds++;
        times.serialize += encode + (slowest.encodeNanos() + slowest.restoreNanos()) / 1e9;
        times.batches += slowest.batchNanos() / 1e9;
        times.fit += slowest.fitNanos() / 1e9;
        times.aggregate += (averaged - gathered) / 1e9;
        times.wall += (sent - roundStart) / 1e9;
        roundStart = sent;
    }

    /** Every worker's frame of round {@code round} from the current stage attempt, in worker order. */
    private StateExchange.Frame[] gather(int round) {
        StateExchange.Frame[] frames = new StateExchange.Frame[order.workers()];
        int have = 0;
        while (have < frames.length) {
            Object event = nextEvent(round);
            int from = event instanceof StateExchange.Hello h ? h.attempt()
                    : event instanceof StateExchange.Frame f ? f.attempt() : ((StateExchange.Lost) event).attempt();
            if (from < attempt) {
                continue; // a worker of a failed attempt
            }
            if (from > attempt) {
                boolean first = attempt < 0;
                attempt = from;
                exchange.dropAttemptsBefore(from);
                lostReported = false;
                if (!first && (round > 0 || have > 0)) {
                    backlog.add(0, event);
                    current = startState;
                    roundStart = System.nanoTime();
                    throw new AveragingRounds.Restarted("Spark reran the epoch's tasks (stage attempt " + from + ") in round "
                            + (round + 1));
                }
                have = 0;
                Arrays.fill(frames, null);
            }
            if (event instanceof StateExchange.Lost lost) {
                if (round + 1 == order.rounds() && lost.worker() >= 0 && frames[lost.worker()] != null) {
                    continue; // it sent its last round and closed its connection: the normal end of its task
                }
                times.lostWorkers++;
                if (!lostReported) {
                    lostReported = true;
                    Progress.say("train", String.format("epoch %d: worker %d lost in round %d"
                            + " (%s); waiting for Spark to rerun the epoch's tasks", epoch + 1, lost.worker(), round + 1,
                            lost.why()));
                }
            } else if (event instanceof StateExchange.Frame f) {
                if (f.round() != round || frames[f.worker()] != null) {
                    throw new IllegalStateException("worker " + f.worker() + " sent round " + f.round()
                            + " while round " + round + " was due");
                }
                frames[f.worker()] = f;
                have++;
            }
        }
        return frames;
    }

    /** The next exchange event; fails when the job ended (failed, or finished without this round). */
    private Object nextEvent(int round) {
        if (!backlog.isEmpty()) {
            return backlog.remove(0);
        }
        try {
            while (true) {
                Object event = exchange.next(1000);
                if (event != null) {
                    return event;
                }
                if (job.isDone()) {
                    try {
                        job.get();
                    } catch (ExecutionException e) {
                        Throwable cause = e.getCause() == null ? e : e.getCause();
                        throw new IllegalStateException("epoch " + (epoch + 1) + ": the averaging job failed in round "
                                + (round + 1) + ": " + cause.getMessage(), cause);
                    }
                    throw new IllegalStateException("epoch " + (epoch + 1) + ": the averaging job ended before round "
                            + (round + 1));
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for round " + (round + 1), e);
        }
    }

    /** Waits for the job's end after the last round and adds its network builds to the times. */
    void finish() {
        try {
            for (WorkerTotals t : job.get()) {
                times.rebuild += t.buildNanos() / 1e9 / order.workers();
                times.rebuilds += t.built() ? 1 : 0;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while the averaging job ended", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("epoch " + (epoch + 1) + ": the averaging job failed after its last round: "
                    + e.getCause().getMessage(), e.getCause());
        }
    }

    @Override
    public void close() {
        if (!job.isDone()) {
            job.cancel(true);
        }
        exchange.close();
        start.destroy();
    }

    private static final ClassTag<WorkerTotals> TOTALS = ClassTag$.MODULE$.apply(WorkerTotals.class);
    private static final ClassTag<Integer> INT = ClassTag$.MODULE$.apply(Integer.class);
    @SuppressWarnings({"unchecked", "rawtypes"})
    private static final ClassTag<Tuple2<Integer, WorkerTotals>> KEYED = (ClassTag) ClassTag$.MODULE$.apply(Tuple2.class);

    /** What a worker's task reports at its end: whether it built its network and how long that took. */
    record WorkerTotals(int worker, boolean built, long buildNanos) implements Serializable {
    }

    /** Positions to worker partitions: position p belongs to worker {@code p % workers}. */
    static final class WorkerPartitioner extends Partitioner {
        private final int workers;

        WorkerPartitioner(int workers) {
            this.workers = workers;
        }

        @Override
        public int numPartitions() {
            return workers;
        }

        @Override
        public int getPartition(Object key) {
            return (int) ((Long) key % workers);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof WorkerPartitioner p && p.workers == workers;
        }

        @Override
        public int hashCode() {
            return workers;
        }
    }

    /**
     * One worker's epoch: its rows arrive sorted by position; for each round it fits the round's minibatches from the
     * round's start state (the broadcast for round 0, then the driver's mean), exactly as a job-per-round task would
     * (same state, same random seed per (epoch, round, worker), same minibatches and variants), then exchanges.
     */
    private static final class WorkerTask extends AbstractFunction1<Iterator<Tuple2<Long, Example>>,
            Iterator<Tuple2<Integer, WorkerTotals>>> implements Serializable {
        private final Broadcast<AveragingRounds.Setup> setup;
        private final Broadcast<byte[]> start;
        private final EpochOrder order;
        private final String host;
        private final int port;
        private final long token;

        WorkerTask(Broadcast<AveragingRounds.Setup> setup, Broadcast<byte[]> start, EpochOrder order, String host,
                   int port, long token) {
            this.setup = setup;
            this.start = start;
            this.order = order;
            this.host = host;
            this.port = port;
            this.token = token;
        }

        @Override
        public Iterator<Tuple2<Integer, WorkerTotals>> apply(Iterator<Tuple2<Long, Example>> rows) {
            BarrierTaskContext context = BarrierTaskContext.get();
            int worker = context.partitionId();
            AveragingRounds.Setup s = setup.value();
            long t0 = System.nanoTime();
            ResidentNetworks.Borrowed borrowed = ResidentNetworks.borrow(s.configurationJson());
            MultiLayerNetwork net = borrowed.network();
            long buildNanos = System.nanoTime() - t0;
            byte[] state = start.value();
            Tuple2<Long, Example> next = rows.hasNext() ? rows.next() : null;
            try (StateExchange.Client client = new StateExchange.Client(host, port, token,
                    context.stageAttemptNumber(), worker, context)) {
                for (int round = 0; round < order.rounds(); round++) {
                    long batchNanos = 0;
                    long fitNanos = 0;
                    long restoreNanos = 0;
                    int steps = 0;
                    while (next != null && order.round(next._1()) == round) {
                        long b0 = System.nanoTime();
                        long batch = order.batch(next._1());
                        List<Example> batchRows = new ArrayList<>(order.batchSize());
                        while (next != null && order.batch(next._1()) == batch) {
                            batchRows.add(next._2());
                            next = rows.hasNext() ? rows.next() : null;
                        }
                        long b1 = System.nanoTime();
                        if (steps == 0) {
                            NetworkState.restore(state, net);
                            Nd4j.getRandom().setSeed(Seeds.derive(order.epochSeed(), round, worker));
                        }
                        long r1 = System.nanoTime();
                        var data = s.minibatches().of(batchRows, order, order.step(batch, worker));
                        long b2 = System.nanoTime();
                        net.fit(data);
                        fitNanos += System.nanoTime() - b2;
                        batchNanos += (b1 - b0) + (b2 - r1);
                        restoreNanos += r1 - b1;
                        steps++;
                    }
                    if (next != null && order.round(next._1()) < round) {
                        throw new IllegalStateException("rows out of position order at position " + next._1());
                    }
                    long e0 = System.nanoTime();
                    byte[] result = steps > 0 ? NetworkState.capture(net) : new byte[0];
                    long encodeNanos = System.nanoTime() - e0;
                    client.send(round, steps, batchNanos, fitNanos, encodeNanos, restoreNanos, result);
                    if (round + 1 < order.rounds()) {
                        state = client.receive(round);
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException("worker " + worker + ": averaging exchange with the driver at " + host
                        + ":" + port + " failed", e);
            }
            ResidentNetworks.giveBack(s.configurationJson(), net);
            return JavaConverters.asScalaIterator(List.of(new Tuple2<>(worker, new WorkerTotals(worker, borrowed.built(),
                    buildNanos))).iterator());
        }
    }
}
