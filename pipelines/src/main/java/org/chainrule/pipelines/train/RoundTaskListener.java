package org.chainrule.pipelines.train;

import org.apache.spark.executor.TaskMetrics;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.TaskInfo;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Spark's own account of the round tasks' overheads, which a task cannot time itself: how long each waited to be
 * launched (scheduler delay), deserialized its closure, serialized its result, and how long the driver took to fetch
 * that result. Round jobs are recognised by a local property naming the training run and epoch; figures go into the
 * epoch's {@link RoundTimes}. Listener events arrive asynchronously, so the last round's tasks may be missing when an
 * epoch's figures are read: {@link RoundTimes} keeps per-task means.
 */
final class RoundTaskListener extends SparkListener {
    /** Local property set on the driver thread around each round job: {@code <run id>/<epoch>}. */
    static final String PROPERTY = "chainrule.averaging.round";

    private final String runId;
    private final Map<Integer, RoundTimes> epochs = new ConcurrentHashMap<>();
    private final Map<Integer, RoundTimes> stages = new ConcurrentHashMap<>();

    RoundTaskListener(String runId) {
        this.runId = runId;
    }

    /** The property value that marks a round job of {@code epoch}. */
    String mark(int epoch) {
        return runId + "/" + epoch;
    }

    /** Where tasks of {@code epoch}'s round jobs are counted. */
    void track(int epoch, RoundTimes times) {
        epochs.put(epoch, times);
    }

    @Override
    public void onJobStart(SparkListenerJobStart job) {
        String mark = job.properties() == null ? null : job.properties().getProperty(PROPERTY);
        if (mark == null || !mark.startsWith(runId + "/")) {
            return;
        }
        RoundTimes times = epochs.get(Integer.parseInt(mark.substring(runId.length() + 1)));
        if (times != null) {
            scala.collection.Iterator<Object> ids = job.stageIds().iterator();
            while (ids.hasNext()) {
                stages.put((Integer) ids.next(), times);
            }
        }
    }

    @Override
    public void onTaskEnd(SparkListenerTaskEnd task) {
        RoundTimes times = stages.get(task.stageId());
        TaskMetrics m = task.taskMetrics();
        if (times == null || m == null) {
            return;
        }
        TaskInfo info = task.taskInfo();
        long fetchMs = info.gettingResultTime() > 0 ? info.finishTime() - info.gettingResultTime() : 0;
        long delayMs = Math.max(0, info.duration() - m.executorRunTime() - m.executorDeserializeTime()
                - m.resultSerializationTime() - fetchMs);
        times.addTask(delayMs / 1e3, m.executorDeserializeTime() / 1e3, m.resultSerializationTime() / 1e3,
                fetchMs / 1e3);
    }
}
