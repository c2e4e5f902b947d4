package org.chainrule.pipelines.spark;

import org.apache.spark.SparkContext;
import org.apache.spark.scheduler.AccumulableInfo;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerExecutorMetricsUpdate;
import org.apache.spark.scheduler.SparkListenerStageSubmitted;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.chainrule.pipelines.Progress;
import scala.Tuple4;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Progress of a phase that reads input files through Spark: rows read, rows/s and, from the bytes read of the known
 * input size, the percentage done and an ETA, printed every {@code interval} while the phase runs and once at its end,
 * as training prints its steps.
 *
 * <p>The figures are Spark's own task input metrics ({@code recordsRead}, {@code bytesRead}) of the stages submitted
 * while the phase is open: finished tasks from their end events, running tasks from the executors' heartbeats
 * ({@code spark.executor.heartbeatInterval}, 10 s by default), so a long task shows progress before it ends. For a
 * text source a row is a line.
 */
public final class ReadProgress extends SparkListener implements AutoCloseable {
    private static final String RECORDS = "internal.metrics.input.recordsRead";
    private static final String BYTES = "internal.metrics.input.bytesRead";

    private final SparkContext sc;
    private final String pipeline;
    private final String phase;
    private final long totalBytes;
    private final Consumer<String> sink;
    private final long startNanos = System.nanoTime();
    private final Set<Integer> stages = ConcurrentHashMap.newKeySet();
    private final AtomicLong doneRows = new AtomicLong();
    private final AtomicLong doneBytes = new AtomicLong();
    /** Running tasks: task id -> {rows, bytes} from its last heartbeat. */
    private final Map<Long, long[]> running = new ConcurrentHashMap<>();
    /** Ended tasks, so that a heartbeat queued before a task's end does not bring it back. */
    private final Set<Long> ended = ConcurrentHashMap.newKeySet();
    private final ScheduledExecutorService timer;

    private ReadProgress(SparkContext sc, String pipeline, String phase, long totalBytes, Consumer<String> sink,
                         long intervalMillis) {
        this.sc = sc;
        this.pipeline = pipeline;
        this.phase = phase;
        this.totalBytes = totalBytes;
        this.sink = sink;
        timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "chainrule-read-progress");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleAtFixedRate(() -> sink.accept(line()), intervalMillis, intervalMillis, TimeUnit.MILLISECONDS);
    }

    /** Starts watching the stages this application submits from now on; prints to {@link Progress#say}. */
    public static ReadProgress start(SparkContext sc, String pipeline, String phase, long totalBytes) {
        return start(sc, pipeline, phase, totalBytes, m -> Progress.say(pipeline, m), 10_000);
    }

    /** As {@link #start(SparkContext, String, String, long)}, printing to {@code sink} every {@code intervalMillis}. */
    public static ReadProgress start(SparkContext sc, String pipeline, String phase, long totalBytes,
                                     Consumer<String> sink, long intervalMillis) {
        ReadProgress p = new ReadProgress(sc, pipeline, phase, totalBytes, sink, intervalMillis);
        sc.addSparkListener(p);
        return p;
    }

    /** Rows read so far (finished tasks, and running tasks as of their last heartbeat). */
    public long rows() {
        return doneRows.get() + running.values().stream().mapToLong(v -> v[0]).sum();
    }

    private long bytes() {
        return doneBytes.get() + running.values().stream().mapToLong(v -> v[1]).sum();
    }

    private double seconds() {
        return (System.nanoTime() - startNanos) / 1e9;
    }

    /** "reading sources: 1234567 rows (45% of 847 MB) | 20123 rows/s | ETA 30s". */
    String line() {
        long rows = rows();
        long bytes = bytes();
        double s = seconds();
        StringBuilder b = new StringBuilder(phase).append(": ").append(rows).append(" rows");
        if (totalBytes > 0) {
            b.append(String.format(" (%.0f%% of %s)", 100.0 * Math.min(bytes, totalBytes) / totalBytes,
                    megabytes(totalBytes)));
        }
        b.append(String.format(" | %.0f rows/s", rows / Math.max(s, 1e-3)));
        if (totalBytes > 0 && bytes > 0) {
            b.append(" | ETA ").append(Progress.duration(s * Math.max(0, totalBytes - bytes) / bytes));
        }
        return b.toString();
    }

    private static String megabytes(long bytes) {
        return String.format("%.0f MB", bytes / 1e6);
    }

    /**
     * Ends the phase: stops watching and prints {@code rows} (the phase's own exact count; the listener's may lag
     * behind Spark's event queue) with the phase's time and rate.
     */
    public void close(long rows) {
        close();
        double s = seconds();
        sink.accept(String.format("%s: %d rows in %s (%.0f rows/s)", phase, rows, Progress.duration(s),
                rows / Math.max(s, 1e-3)));
    }

    /** Stops watching, printing nothing more. */
    @Override
    public void close() {
        timer.shutdownNow();
        try {
            // a line being printed finishes before the phase's last one
            timer.awaitTermination(1, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        sc.removeSparkListener(this);
    }

    @Override
    public void onStageSubmitted(SparkListenerStageSubmitted e) {
        stages.add(e.stageInfo().stageId());
    }

    @Override
    public void onTaskEnd(SparkListenerTaskEnd e) {
        if (!stages.contains(e.stageId()) || e.taskMetrics() == null) {
            return;
        }
        ended.add(e.taskInfo().taskId());
        running.remove(e.taskInfo().taskId());
        if (e.taskInfo().successful()) {
            doneRows.addAndGet(e.taskMetrics().inputMetrics().recordsRead());
            doneBytes.addAndGet(e.taskMetrics().inputMetrics().bytesRead());
        }
    }

    @Override
    public void onExecutorMetricsUpdate(SparkListenerExecutorMetricsUpdate e) {
        for (Tuple4<Object, Object, Object, scala.collection.Seq<AccumulableInfo>> u
                : scala.collection.JavaConverters.seqAsJavaList(e.accumUpdates())) {
            if (!stages.contains((Integer) u._2()) || ended.contains((Long) u._1())) {
                continue;
            }
            long[] v = new long[2];
            for (AccumulableInfo a : scala.collection.JavaConverters.seqAsJavaList(u._4())) {
                String name = a.name().isDefined() ? a.name().get() : "";
                if (a.update().isDefined() && a.update().get() instanceof Long n) {
                    v[0] = name.equals(RECORDS) ? n : v[0];
                    v[1] = name.equals(BYTES) ? n : v[1];
                }
            }
            running.put((Long) u._1(), v);
        }
    }
}
