package org.chainrule.pipelines.train;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Where the wall-clock time of an epoch's averaging rounds went, in seconds summed over its rounds. Task-side figures
 * are those of each round's slowest task (the one the round waited for).
 *
 * <ul>
 *   <li>{@code shuffle}: the epoch's shuffle of rows into (round, worker) partitions, once per epoch</li>
 *   <li>{@code broadcastCreate}: creating the round's state broadcast on the driver</li>
 *   <li>{@code broadcastFetch}: the task fetching it</li>
 *   <li>{@code launch}: the rest of the round job's wall time: scheduling, task launch, closure and result transfer.
 *       Spark's own per-task figures split it: scheduler delay, closure deserialization, result serialization and the
 *       driver's fetch of the result ({@code task*} entries, means per task)</li>
 *   <li>{@code rebuild}: executors building a training network (once per executor JVM while it stays resident; its
 *       SameDiff graph is built lazily, inside the first fit)</li>
 *   <li>{@code serialize}: encoding parameters + updater state on the driver, decoding them into the task's network,
 *       encoding the task's result</li>
 *   <li>{@code batches}: reading the task's rows from the shuffle and building its minibatches</li>
 *   <li>{@code fit}: the task's optimizer steps</li>
 *   <li>{@code aggregate}: averaging the workers' states into the driver's network</li>
 *   <li>{@code destroy}: releasing the round's broadcast</li>
 *   <li>{@code exchange}: with one job per epoch ({@link BarrierRounds}), sending the mean to the workers and waiting
 *       for their states beyond their own work: the network transfer. That job's start (its shuffle, task launch,
 *       network builds) is then the first round's {@code launch}</li>
 * </ul>
 */
public final class RoundTimes {
    double shuffle;
    double broadcastCreate;
    double broadcastFetch;
    double launch;
    double rebuild;
    double serialize;
    double batches;
    double fit;
    double aggregate;
    double destroy;
    double exchange;
    /** Mean over all tasks (not only the slowest) of the fitting time: shows imbalance against {@link #fit}. */
    double fitMeanTask;
    double wall;
    int rounds;
    int rebuilds;
    /** Workers whose connection ended before they had sent their last round (one job per epoch only). */
    int lostWorkers;
    private int tasksSeen;
    private double taskSchedulerDelay;
    private double taskDeserialize;
    private double taskResultSerialize;
    private double taskResultFetch;

    /** Spark's figures for one finished round task, seconds. */
    synchronized void addTask(double schedulerDelay, double deserialize, double resultSerialize, double resultFetch) {
        tasksSeen++;
        taskSchedulerDelay += schedulerDelay;
        taskDeserialize += deserialize;
        taskResultSerialize += resultSerialize;
        taskResultFetch += resultFetch;
    }

    private double perTask(double total) {
        return tasksSeen == 0 ? 0 : total / tasksSeen;
    }

    /** The figures by name, seconds (and counts of rounds and network builds). */
    public synchronized Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("rounds", rounds);
        m.put("wallSeconds", wall);
        m.put("shuffleSeconds", shuffle);
        m.put("broadcastCreateSeconds", broadcastCreate);
        m.put("broadcastFetchSeconds", broadcastFetch);
        m.put("launchSeconds", launch);
        m.put("taskSchedulerDelaySecondsPerTask", perTask(taskSchedulerDelay));
        m.put("taskDeserializeSecondsPerTask", perTask(taskDeserialize));
        m.put("taskResultSerializeSecondsPerTask", perTask(taskResultSerialize));
        m.put("taskResultFetchSecondsPerTask", perTask(taskResultFetch));
        m.put("rebuildSeconds", rebuild);
        m.put("networkBuilds", rebuilds);
        m.put("lostWorkers", lostWorkers);
        m.put("serializeSeconds", serialize);
        m.put("batchesSeconds", batches);
        m.put("fitSeconds", fit);
        m.put("fitMeanTaskSeconds", fitMeanTask);
        m.put("aggregateSeconds", aggregate);
        m.put("destroySeconds", destroy);
        m.put("exchangeSeconds", exchange);
        m.put("otherSeconds", wall - (shuffle + broadcastCreate + broadcastFetch + launch + rebuild + serialize
                + batches + fit + aggregate + destroy + exchange));
        return m;
    }

    /** Workers lost in the middle of the epoch's rounds (each a rerun of the epoch's tasks by Spark). */
    public synchronized int lostWorkers() {
        return lostWorkers;
    }

    /** One line for the progress log: per-round milliseconds of each part. */
    public synchronized String describe() {
        double perRound = 1000.0 / Math.max(1, rounds);
        return String.format("%d rounds, ms per round: fit %.0f (mean task %.0f), batches %.0f, serialize %.0f,"
                        + " broadcast %.0f + fetch %.0f, launch %.0f (per task: scheduler %.0f, deserialize %.0f,"
                        + " result %.0f + fetch %.0f), aggregate %.0f, rebuild %.0f (%d builds), destroy %.0f,"
                        + " exchange %.0f; shuffle %.1f s per epoch", rounds, fit * perRound, fitMeanTask * perRound,
                batches * perRound, serialize * perRound, broadcastCreate * perRound, broadcastFetch * perRound, launch * perRound,
                1000 * perTask(taskSchedulerDelay), 1000 * perTask(taskDeserialize),
                1000 * perTask(taskResultSerialize), 1000 * perTask(taskResultFetch), aggregate * perRound,
                rebuild * perRound, rebuilds, destroy * perRound, exchange * perRound, shuffle);
    }
}
