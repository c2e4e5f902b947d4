package org.chainrule.models;

/**
 * Seed derivation: one root seed is split into independent streams (per worker, epoch, mask, sample) by a
 * SplitMix64 finaliser, so a stream depends only on its root and its path, never on scheduling.
 */
public final class Seeds {
    private Seeds() {
    }

    /** A well-mixed seed for child {@code index} of {@code root}. */
    public static long derive(long root, long index) {
        return mix(mix(root) + 0x9E3779B97F4A7C15L * (index + 1));
    }

    /** A seed for the path {@code root / a / b}. */
    public static long derive(long root, long a, long b) {
        return derive(derive(root, a), b);
    }

    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** A uniform double in [0, 1) that is a pure function of the seed. */
    public static double uniform(long seed) {
        return (mix(seed) >>> 11) * 0x1.0p-53;
    }
}
