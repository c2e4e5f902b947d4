package org.chainrule.models;

import org.nd4j.linalg.schedule.ISchedule;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * Half a cosine from a step size down to a floor over a run of steps (Loshchilov &amp; Hutter 2017, "SGDR", without
 * restarts): {@code floor + (initial - floor) (1 + cos(pi min(step, span) / span)) / 2}. Saved inside the network's
 * configuration JSON like DL4J's own schedules, so a resumed run continues on the same curve.
 */
public final class CosineSchedule implements ISchedule {
    private final double initial;
    private final double floor;
    private final long span;

    public CosineSchedule(@JsonProperty("initial") double initial, @JsonProperty("floor") double floor,
                          @JsonProperty("span") long span) {
        if (span < 1) {
            throw new IllegalArgumentException("a cosine schedule spans at least one step, got " + span);
        }
        this.initial = initial;
        this.floor = floor;
        this.span = span;
    }

    @Override
    public double valueAt(int iteration, int epoch) {
        double t = Math.min(iteration, span) / (double) span;
        return floor + (initial - floor) * (1 + Math.cos(Math.PI * t)) / 2;
    }

    @Override
    public ISchedule clone() {
        return new CosineSchedule(initial, floor, span);
    }

    public double getInitial() {
        return initial;
    }

    public double getFloor() {
        return floor;
    }

    public long getSpan() {
        return span;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CosineSchedule c && c.initial == initial && c.floor == floor && c.span == span;
    }

    @Override
    public int hashCode() {
        return Double.hashCode(initial) * 31 + Double.hashCode(floor) * 7 + Long.hashCode(span);
    }
}
