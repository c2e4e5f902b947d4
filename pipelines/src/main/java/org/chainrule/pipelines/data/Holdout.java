package org.chainrule.pipelines.data;

import org.chainrule.models.Seeds;

/**
 * A seeded bijection of [0, n): which records a shuffled holdout sets aside (and, in training, each row's place in an
 * epoch), decided per record with no state and no driver-side table, so it scales to any row count and gives the same
 * order on every run. A four-round Feistel network
 * over the smallest even-bit power of two >= n, cycle-walked back into range (fewer than four steps on average).
 */
public final class Holdout {
    private Holdout() {
    }

    /** The image of {@code i} under the bijection of [0, n) that {@code seed} picks. */
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
