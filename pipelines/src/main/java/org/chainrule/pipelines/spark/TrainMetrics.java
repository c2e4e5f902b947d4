package org.chainrule.pipelines.spark;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.util.AccumulatorV2;
import org.apache.spark.util.DoubleAccumulator;
import org.apache.spark.util.LongAccumulator;

import java.io.Serializable;
import java.util.List;

/**
 * Training metrics where Spark's own tools see them: named accumulators {@code chainrule.train.epoch},
 * {@code .step} (minibatches fitted so far, all epochs), {@code .examples_per_second}, {@code .train_nll_nats} and
 * {@code .valid_nll_nats}.
 *
 * <p>A named accumulator only appears in the UI and the event log on a stage whose tasks updated it, and the metrics
 * are known on the driver. So each publication resets the accumulators on the driver and runs one tiny job (one task,
 * described "train metrics: epoch 3/20") whose task adds the new values: its stage page lists them, its
 * {@code SparkListenerStageCompleted} and {@code SparkListenerTaskEnd} events carry them into the event log and the
 * history server, and a user's {@code SparkListener} reads them from {@code StageInfo.accumulables()}. Each value is
 * the latest reading, not a sum over epochs. One publication per epoch costs one task, a few milliseconds.
 */
public final class TrainMetrics {
    /** The accumulator names' common prefix. */
    public static final String PREFIX = "chainrule.train.";

    private final JavaSparkContext jsc;
    private final LongAccumulator epoch;
    private final LongAccumulator step;
    private final DoubleAccumulator examplesPerSecond;
    private final DoubleAccumulator trainNll;
    private final DoubleAccumulator validNll;

    private TrainMetrics(JavaSparkContext jsc) {
        this.jsc = jsc;
        epoch = jsc.sc().longAccumulator(PREFIX + "epoch");
        step = jsc.sc().longAccumulator(PREFIX + "step");
        examplesPerSecond = jsc.sc().doubleAccumulator(PREFIX + "examples_per_second");
        trainNll = jsc.sc().doubleAccumulator(PREFIX + "train_nll_nats");
        validNll = jsc.sc().doubleAccumulator(PREFIX + "valid_nll_nats");
    }

    /** Registers the accumulators of one training run with Spark. */
    public static TrainMetrics register(JavaSparkContext jsc) {
        return new TrainMetrics(jsc);
    }

    /**
     * Publishes a finished epoch.
     *
     * @param epochs            the run's maximum epochs (for the job's description)
     * @param steps             minibatches fitted so far in the whole run
     * @param examplesPerSecond the epoch's training throughput
     */
    public void epochDone(int epoch, int epochs, long steps, double examplesPerSecond, double trainNllNats,
                          double validNllNats) {
        publish(String.format("train metrics: epoch %d/%d", epoch, epochs), List.of(
                new Reading(this.epoch, epoch), new Reading(step, steps),
                new Reading(this.examplesPerSecond, examplesPerSecond), new Reading(trainNll, trainNllNats),
                new Reading(validNll, validNllNats)));
    }

    private void publish(String description, List<Reading> readings) {
        readings.forEach(r -> r.accumulator().reset());
        String previous = JobLabels.current(jsc);
        JobLabels.describe(jsc, description);
        jsc.parallelize(List.of(0), 1).foreach(ignored -> readings.forEach(Reading::add));
        jsc.setJobDescription(previous);
    }

    /** One value for one accumulator, added by the publishing task. */
    private record Reading(AccumulatorV2<?, ?> accumulator, Number value) implements Serializable {
        void add() {
            if (accumulator instanceof LongAccumulator l) {
                l.add(value.longValue());
            } else {
                ((DoubleAccumulator) accumulator).add(value.doubleValue());
            }
        }
    }
}
