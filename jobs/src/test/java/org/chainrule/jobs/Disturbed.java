package org.chainrule.jobs;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A job run through {@code scripts/submit.sh} on {@link ClusterIT}'s standalone cluster while the test kills an
 * executor JVM in the middle of a task: the driver carries {@link TaskRecorder} (so the test sees a task of the chosen
 * phase start, and SIGKILLs the JVM of the executor running it) and writes Spark's event log, from which the test then
 * proves what happened: the task was lost with its executor and its partition computed again elsewhere.
 *
 * <p>A kill can land after the task it aimed at has already finished (tasks of these small jobs take a fraction of a
 * second once an executor is warm); the recorder then reports that task's success, and the next task of the phase is
 * tried, at most {@link #MAX_KILLS} kills in all.
 */
final class Disturbed {
    static final int MAX_KILLS = 3;
    private final String name;
    private final String output;
    private final List<String> killed;
    private final TaskRecorder.Line caught;
    private final List<TaskRecorder.Line> tasks;
    private final List<JsonNode> events;
    private String rerun = "";

    private Disturbed(String name, String output, List<String> killed, TaskRecorder.Line caught,
                      List<TaskRecorder.Line> tasks, List<JsonNode> events) {
        this.name = name;
        this.output = output;
        this.killed = killed;
        this.caught = caught;
        this.tasks = tasks;
        this.events = events;
    }

    /**
     * Runs {@code job} (the application's arguments) on the cluster, killing the executor of a task matching
     * {@code phase} while it runs; fails unless the job then exits 0 and a kill caught a running task.
     */
    static Disturbed run(String name, Predicate<TaskRecorder.Line> phase, String... job) throws Exception {
        Path dir = Files.createDirectories(ClusterIT.tmp.resolve(name));
        Path events = dir.resolve("events");
        Path taskLog = dir.resolve("tasks.tsv");
        Path log = dir.resolve("job.log");
        Process p = submit(dir, job);
        List<String> killed = new ArrayList<>();
        TaskRecorder.Line pending = null;
        TaskRecorder.Line caught = null;
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
        while (p.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(10);
            if (caught != null || killed.size() >= MAX_KILLS && pending == null) {
                continue;
            }
            List<TaskRecorder.Line> lines = TaskRecorder.Line.read(taskLog);
            Map<Long, TaskRecorder.Line> ended = new HashMap<>();
            lines.stream().filter(l -> l.kind().equals("end")).forEach(l -> ended.put(l.taskId(), l));
            if (pending != null) {
                TaskRecorder.Line end = ended.get(pending.taskId());
                if (end != null) {
                    caught = end.text().startsWith("ExecutorLostFailure") ? pending : null;
                    pending = null;
                }
                continue;
            }
            Optional<TaskRecorder.Line> running = lines.stream().filter(l -> l.kind().equals("start") && phase.test(l)
                    && !ended.containsKey(l.taskId()) && !killed.contains(l.executor())).findFirst();
            if (running.isPresent()) {
                Optional<ProcessHandle> jvm = executor(events, running.get().executor());
                if (jvm.isPresent()) {
                    jvm.get().destroyForcibly();
                    killed.add(running.get().executor());
                    pending = running.get();
                }
            }
        }
        boolean finished = p.waitFor(Math.max(1, TimeUnit.NANOSECONDS.toSeconds(deadline - System.nanoTime())),
                TimeUnit.SECONDS);
        if (!finished) {
            p.destroyForcibly();
        }
        String out = Files.readString(log);
        assertTrue(finished, name + " did not finish:\n" + new JobsTesting.Result(-1, out).tail());
        assertEquals(0, p.exitValue(), name + " failed after executors " + killed + " were killed:\n"
                + new JobsTesting.Result(p.exitValue(), out).tail());
        List<TaskRecorder.Line> tasks = TaskRecorder.Line.read(taskLog);
        if (caught == null) {
            fail(name + ": no kill caught a running task of the phase (executors killed: " + killed + "); tasks:\n"
                    + String.join("\n", tasks.stream().map(TaskRecorder.Line::toString).toList()));
        }
        return new Disturbed(name, out, killed, caught, tasks, EventLogIT.readEventLog(events));
    }

    /**
     * Starts {@code job} (the application's arguments) through {@code scripts/submit.sh} on the cluster, its driver
     * (the returned process: the script execs the driver JVM) carrying the {@link TaskRecorder} that writes
     * {@code dir/tasks.tsv} and writing its event log into {@code dir/events}; its output goes to {@code dir/job.log}.
     */
    static Process submit(Path dir, String... job) throws Exception {
        Path events = Files.createDirectories(dir.resolve("events"));
        List<String> command = new ArrayList<>(List.of("scripts/submit.sh", "--master", ClusterIT.master,
                "--executor-memory", "2g",
                "--conf", "spark.extraListeners=" + TaskRecorder.class.getName(),
                "--conf", "spark.driver.extraClassPath=" + listenerClasses(dir.resolve("listener")),
                "--conf", TaskRecorder.FILE + "=" + dir.resolve("tasks.tsv"),
                "--conf", "spark.eventLog.enabled=true",
                "--conf", "spark.eventLog.dir=" + events.toUri(), "--"));
        command.addAll(List.of(job));
        return JobsTesting.start(dir.resolve("job.log"), ClusterIT.environment(), command);
    }

    /**
     * From Spark's event log: a task of {@code phase} ended with {@code ExecutorLostFailure} on the executor the test
     * killed, and the same partition of the same stage then succeeded on another executor in a later attempt.
     */
    void assertATaskWasLostAndRerun(Predicate<TaskRecorder.Line> phase) {
        Map<Integer, String> description = new HashMap<>();
        Map<Integer, String> stageName = new HashMap<>();
        for (JsonNode e : events) {
            if (e.path("Event").asText().equals("SparkListenerJobStart")) {
                String d = e.path("Properties").path("spark.job.description").asText("").replaceAll("\\s+", " ");
                for (JsonNode stage : e.path("Stage Infos")) {
                    description.put(stage.path("Stage ID").asInt(), d);
                    stageName.put(stage.path("Stage ID").asInt(), stage.path("Stage Name").asText());
                }
            }
        }
        List<JsonNode> ends = events.stream().filter(e -> e.path("Event").asText().equals("SparkListenerTaskEnd"))
                .toList();
        for (JsonNode lost : ends) {
            JsonNode info = lost.path("Task Info");
            int stage = lost.path("Stage ID").asInt();
            TaskRecorder.Line line = new TaskRecorder.Line("end", stage, lost.path("Stage Attempt ID").asInt(),
                    info.path("Index").asInt(), info.path("Task ID").asLong(), info.path("Attempt").asInt(),
                    info.path("Executor ID").asText(), stageName.getOrDefault(stage, ""),
                    description.getOrDefault(stage, ""));
            if (!lost.path("Task End Reason").path("Reason").asText().equals("ExecutorLostFailure")
                    || !killed.contains(line.executor()) || !phase.test(line)) {
                continue;
            }
            int partition = partition(info);
            for (JsonNode again : ends) {
                JsonNode i = again.path("Task Info");
                boolean later = again.path("Stage Attempt ID").asInt() > line.stageAttempt()
                        || i.path("Attempt").asInt() > line.attempt();
                if (again.path("Stage ID").asInt() == stage && partition(i) == partition && later
                        && again.path("Task End Reason").path("Reason").asText().equals("Success")
                        && !i.path("Executor ID").asText().equals(line.executor())) {
                    rerun = String.format("task %d (stage %d, partition %d, '%s', %s) lost with executor %s; rerun as"
                                    + " task %d on executor %s", line.taskId(), stage, partition, line.text(),
                            line.stageName(), line.executor(), i.path("Task ID").asLong(),
                            i.path("Executor ID").asText());
                    System.out.println(name + ": " + rerun);
                    return;
                }
            }
        }
        fail(name + ": the event log shows no task of the phase lost with a killed executor (" + killed
                + ") and then computed again; the driver saw:\n"
                + String.join("\n", tasks.stream().map(TaskRecorder.Line::toString).toList()));
    }

    /** What was killed and what Spark did about it, for messages. */
    String describe() {
        return "executors " + killed + " killed; " + (rerun.isEmpty() ? "caught " + caught : rerun);
    }

    /** The job's output (standard output and error). */
    String output() {
        return output;
    }

    /** The task's partition: its own field where the event log has one (Spark 3.3+), else its index. */
    private static int partition(JsonNode taskInfo) {
        return taskInfo.has("Partition ID") ? taskInfo.path("Partition ID").asInt() : taskInfo.path("Index").asInt();
    }

    /** The live JVM of executor {@code id} of the application whose event log is being written in {@code events}. */
    private static Optional<ProcessHandle> executor(Path events, String id) throws IOException {
        String app;
        try (Stream<Path> logs = Files.list(events)) {
            app = logs.map(f -> f.getFileName().toString().replace(".inprogress", "")).findFirst().orElse(null);
        }
        if (app == null) {
            return Optional.empty();
        }
        // the worker starts it as "... CoarseGrainedExecutorBackend --driver-url .. --executor-id ID .. --app-id APP .."
        Pattern mine = Pattern.compile(" --executor-id " + Pattern.quote(id) + " .* --app-id " + Pattern.quote(app)
                + "( |$)");
        return ClusterIT.executors().stream().filter(p -> mine.matcher(p.info().commandLine().orElse("")).find())
                .findFirst();
    }

    /** A directory holding only the recorder's classes, for the driver's class path. */
    private static String listenerClasses(Path dir) throws Exception {
        Path from = Path.of(TaskRecorder.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        Path pkg = Files.createDirectories(dir.resolve("org/chainrule/jobs"));
        try (Stream<Path> classes = Files.list(from.resolve("org/chainrule/jobs"))) {
            for (Path c : classes.filter(f -> f.getFileName().toString().startsWith("TaskRecorder")).toList()) {
                Files.copy(c, pkg.resolve(c.getFileName()));
            }
        }
        return dir.toString();
    }
}
