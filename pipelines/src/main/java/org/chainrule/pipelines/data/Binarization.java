package org.chainrule.pipelines.data;

import java.io.Serializable;

/**
 * How prepare turned raw integer values (0..maxValue) into the stored ones, as {@link Encoding} applied it: kept
 * ({@code none}), thresholded at {@code maxValue / 2} ({@code threshold}), or drawn as Bernoulli(v / maxValue) bits
 * ({@code stochastic}). Recorded in the dataset manifest and in every model trained on it, so that scoring raw values
 * later can apply the deterministic part again (the threshold) and refuse what it cannot repeat (the draws).
 *
 * @param mode     {@code stochastic}, {@code threshold} or {@code none}
 * @param maxValue the largest legal raw value
 */
public record Binarization(String mode, double maxValue) implements Serializable {
    public Binarization {
        if (!Encoding.MODES.contains(mode)) {
            throw new IllegalArgumentException("binarize must be one of " + Encoding.MODES + ", got " + mode);
        }
        if (!(maxValue > 0)) {
            throw new IllegalArgumentException("max-value must be positive, got " + maxValue);
        }
    }

    /** The stored bit of a raw value under the threshold rule: exactly prepare's {@code v / maxValue >= 0.5}. */
    public float threshold(double v) {
        return v / maxValue >= 0.5 ? 1f : 0f;
    }
}
