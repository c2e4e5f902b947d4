package org.chainrule.jobs;

import org.apache.spark.SparkConf;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerStageSubmitted;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.SparkListenerTaskStart;
import org.apache.spark.scheduler.TaskInfo;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A listener the cluster tests put into a job's driver (a spark-submit child process): {@code --conf
 * spark.extraListeners=org.chainrule.jobs.TaskRecorder}, this class on {@code spark.driver.extraClassPath}, and
 * {@code spark.chainrule.test.taskLog} naming a file. It appends one tab-separated line per task start and end, as the
 * driver's scheduler sees them, so a test can act while a task of a given phase is running (kill its executor) and
 * then see what became of that task:
 * <pre>
 * start  stageId  stageAttempt  index  taskId  attempt  executorId  stageName  description
 * end    stageId  stageAttempt  index  taskId  attempt  executorId  stageName  reason
 * </pre>
 * The stage name is Spark's (the call site that made the stage); the description is the job description of the
 * task's stage (the phase the jobs label, e.g. "train epoch 1/2: averaging round 1 of 8"); the reason is Spark's end
 * reason ("Success", "ExecutorLostFailure(...)", ...).
 */
public final class TaskRecorder extends SparkListener {
    /** The Spark setting naming the file the lines go to. */
    public static final String FILE = "spark.chainrule.test.taskLog";
    private final Path file;
    private final Map<Integer, String> descriptions = new ConcurrentHashMap<>();
    private final Map<Integer, String> names = new ConcurrentHashMap<>();

    public TaskRecorder(SparkConf conf) {
        this.file = Path.of(conf.get(FILE));
    }

    @Override
    public void onStageSubmitted(SparkListenerStageSubmitted event) {
        String d = event.properties() == null ? null : event.properties().getProperty("spark.job.description");
        descriptions.put(event.stageInfo().stageId(), d == null ? "" : d.replaceAll("\\s+", " "));
        names.put(event.stageInfo().stageId(), event.stageInfo().name().replaceAll("\\s+", " "));
    }

    @Override
    public void onTaskStart(SparkListenerTaskStart event) {
        write("start", event.stageId(), event.stageAttemptId(), event.taskInfo(),
                descriptions.getOrDefault(event.stageId(), ""));
    }

    @Override
    public void onTaskEnd(SparkListenerTaskEnd event) {
        write("end", event.stageId(), event.stageAttemptId(), event.taskInfo(),
                event.reason().toString().replaceAll("\\s+", " "));
    }

    private synchronized void write(String kind, int stage, int stageAttempt, TaskInfo task, String text) {
        StringBuilder line = new StringBuilder(kind);
        for (Object f : List.of(stage, stageAttempt, task.index(), task.taskId(), task.attemptNumber(),
                task.executorId(), names.getOrDefault(stage, ""), text)) {
            line.append('\t').append(f);
        }
        try {
            Files.writeString(file, line.append('\n'), StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** One line of the file, read back. */
    record Line(String kind, int stage, int stageAttempt, int partition, long taskId, int attempt, String executor,
                String stageName, String text) {
        static List<Line> read(Path file) throws IOException {
            if (!Files.exists(file)) {
                return List.of();
            }
            // the driver may be writing the last line: take whole lines only
            String text = Files.readString(file, StandardCharsets.UTF_8);
            return text.substring(0, text.lastIndexOf('\n') + 1).lines().map(l -> l.split("\t", 9))
                    .map(f -> new Line(f[0], Integer.parseInt(f[1]), Integer.parseInt(f[2]), Integer.parseInt(f[3]),
                            Long.parseLong(f[4]), Integer.parseInt(f[5]), f[6], f[7], f[8])).toList();
        }
    }
}
