package org.chainrule.pipelines.train;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Where the wall-clock time of an epoch's averaging rounds went, in seconds summed over its rounds. Task-side figures
 * are those of each round's slowest task (the one the round waited for).
 *
 * <ul>
 *   <li>{@code shuffle}: the epoch's shuffle of rows into (round, worker) partitions, once per epoch</li>
 *   <li>{@code broadcast}: creating the round's state broadcast on the driver, plus the task fetching it</li>
 *   <li>{@code launch}: the rest of the job's wall time: scheduling, task launch, closure and result transfer</li>
 *   <li>{@code rebuild}: executors building a training network (once per executor JVM while it stays resident)</li>
 *   <li>{@code serialize}: encoding parameters + updater state on the driver, decoding them into the task's network,
 *       encoding the task's result</li>
 *   <li>{@code batches}: reading the task's rows from the shuffle and building its minibatches</li>
 *   <li>{@code fit}: the task's optimizer steps</li>
 *   <li>{@code aggregate}: averaging the workers' states and loading the mean into the driver's network</li>
 *   <li>{@code destroy}: releasing the round's broadcast</li>
 * </ul>
 */
public final class RoundTimes {
    double shuffle;
    double broadcast;
    double launch;
    double rebuild;
    double serialize;
    double batches;
    double fit;
    double aggregate;
    double destroy;
    /** Mean over all tasks (not only the slowest) of the fitting time: shows imbalance against {@link #fit}. */
    double fitMeanTask;
    double wall;
    int rounds;
    int rebuilds;

    /** The figures by name, seconds (and counts of rounds and network builds). */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("rounds", rounds);
        m.put("wallSeconds", wall);
        m.put("shuffleSeconds", shuffle);
        m.put("broadcastSeconds", broadcast);
        m.put("launchSeconds", launch);
        m.put("rebuildSeconds", rebuild);
        m.put("networkBuilds", rebuilds);
        m.put("serializeSeconds", serialize);
        m.put("batchesSeconds", batches);
        m.put("fitSeconds", fit);
        m.put("fitMeanTaskSeconds", fitMeanTask);
        m.put("aggregateSeconds", aggregate);
        m.put("destroySeconds", destroy);
        m.put("otherSeconds", wall - (shuffle + broadcast + launch + rebuild + serialize + batches + fit + aggregate
                + destroy));
        return m;
    }

    /** One line for the progress log: per-round milliseconds of each part. */
    public String describe() {
        double perRound = 1000.0 / Math.max(1, rounds);
        return String.format("%d rounds, ms per round: fit %.0f (mean task %.0f), batches %.0f, serialize %.0f,"
                        + " broadcast %.0f, launch %.0f, aggregate %.0f, rebuild %.0f (%d builds), destroy %.0f;"
                        + " shuffle %.1f s per epoch", rounds, fit * perRound, fitMeanTask * perRound,
                batches * perRound, serialize * perRound, broadcast * perRound, launch * perRound,
                aggregate * perRound, rebuild * perRound, rebuilds, destroy * perRound, shuffle);
    }
}
