package org.chainrule.models;

import org.nd4j.linalg.schedule.ISchedule;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * Linear warm-up in front of another step-size schedule: step {@code i} (from 0) gets {@code (i + 1) / steps} of the
 * inner schedule's value until {@code steps} steps have passed (Goyal et al. 2017). DL4J's own ramp schedule does the
 * same but cannot be read back from a saved network's JSON in 1.0.0-M2.1 (it has no JSON creator), which would break
 * resuming.
 */
public final class WarmupSchedule implements ISchedule {
    private final ISchedule inner;
    private final int steps;

    public WarmupSchedule(@JsonProperty("inner") ISchedule inner, @JsonProperty("steps") int steps) {
        if (steps < 1) {
            throw new IllegalArgumentException("a warm-up lasts at least one step, got " + steps);
        }
        this.inner = inner;
        this.steps = steps;
    }

    @Override
    public double valueAt(int iteration, int epoch) {
        double v = inner.valueAt(iteration, epoch);
        return iteration >= steps ? v : v * (iteration + 1) / steps;
    }

    @Override
    public ISchedule clone() {
        return new WarmupSchedule(inner.clone(), steps);
    }

    public ISchedule getInner() {
        return inner;
    }

    public int getSteps() {
        return steps;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof WarmupSchedule w && w.steps == steps && w.inner.equals(inner);
    }

    @Override
    public int hashCode() {
        return inner.hashCode() * 31 + steps;
    }
}
