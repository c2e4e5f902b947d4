package org.chainrule.pipelines.data;

import org.chainrule.models.Seeds;

import java.util.List;

/**
 * How validation (and, without test files, test) records are held out of the training files.
 *
 * <p>The shuffled holdout decides per record with a seeded bijection of [0, n) ({@link #permute}), with no state and no
 * driver-side table, so it scales to any row count and gives the same split on every run: a four-round Feistel network
 * over the smallest even-bit power of two >= n, cycle-walked back into range (fewer than four steps on average).
 *
 * @param validationRows records of train that become the validation split
 * @param testRows       records of train held out as the test split when no test files are given
 * @param mode           {@code tail}: the last records of train in file order (test last of all);
 *                       {@code shuffled}: a seeded random subset of the same size (for files sorted by class)
 * @param seed           seed of the shuffled holdout
 */
public record Holdout(long validationRows, long testRows, String mode, long seed) {
    public static final List<String> MODES = List.of("tail", "shuffled");

    public Holdout {
        if (!MODES.contains(mode)) {
            throw new IllegalArgumentException("holdout must be one of " + MODES + ", got " + mode);
        }
        if (validationRows < 0 || testRows < 0) {
            throw new IllegalArgumentException("held-out row counts must be >= 0, got " + validationRows + ", "
                    + testRows);
        }
    }

    /** The last {@code validationRows} records of train, test from its own files. */
    public static Holdout tail(long validationRows) {
        return new Holdout(validationRows, 0, "tail", 0);
    }

    /** A seeded random choice of {@code validationRows} (and {@code testRows}) records of train. */
    public static Holdout shuffled(long validationRows, long testRows, long seed) {
        return new Holdout(validationRows, testRows, "shuffled", seed);
    }

    /**
     * The image of {@code i} under the bijection of [0, n) that {@code seed} picks (also each row's place in a training
     * epoch's order).
     */
    public static long permute(long i, long n, long seed) {
        if (i < 0 || i >= n) {
            throw new IllegalArgumentException(i + " outside [0, " + n + ")");
        }
        int bits = Math.max(2, 64 - Long.numberOfLeadingZeros(Math.max(1, n - 1)));
        int half = (bits + 1) / 2;
        long mask = (1L << half) - 1;
        long x = i;
        do {
            long left = x >>> half;
            long right = x & mask;
            for (int round = 0; round < 4; round++) {
                long next = left ^ (Seeds.derive(seed, round, right) & mask);
                left = right;
                right = next;
            }
            x = left << half | right;
        } while (x >= n);
        return x;
    }
}
