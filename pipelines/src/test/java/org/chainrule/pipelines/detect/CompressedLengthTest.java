package org.chainrule.pipelines.detect;

import org.chainrule.pipelines.data.Perturbation;
import org.chainrule.pipelines.data.SourceRecord;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The compressor lengths of the complexity score, and the perturbation of the background model's data. */
class CompressedLengthTest {
    private static float[] noise(int n, int levels, long seed) {
        Random random = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = random.nextInt(levels);
        }
        return x;
    }

    @Test
    void aConstantImageIsShortAndNoiseIsLong() {
        long[] shape = {28, 28};
        for (int levels : new int[]{2, 256}) {
            long constant = CompressedLength.bits(new float[784], shape, levels);
            long random = CompressedLength.bits(noise(784, levels, 1), shape, levels);
            // noise cannot be compressed below its entropy: 784 log2(levels) bits
            assertTrue(random >= 784 * Math.log(levels) / Math.log(2), levels + " levels: " + random);
            // a constant image costs PNG's fixed chunks (about 60 bytes) and almost nothing more
            assertTrue(constant < 640, levels + " levels: " + constant);
            assertTrue(constant * 2 < random, levels + " levels: " + constant + " vs " + random);
        }
        // not image-shaped: Deflate over the values
        long flat = CompressedLength.bits(new float[1000], new long[]{1000}, 17);
        long flatNoise = CompressedLength.bits(noise(1000, 17, 2), new long[]{1000}, 17);
        assertTrue(flat * 10 < flatNoise, flat + " vs " + flatNoise);
        // real values: float32 bytes
        assertTrue(CompressedLength.bits(new float[100], new long[]{100}, 0) * 10
                < CompressedLength.bits(noise(100, 1_000_000, 3), new long[]{100}, 0));
    }

    @Test
    void thePerturbationChangesTheFractionAskedForDeterministically() {
        byte[] x = new byte[10_000];
        SourceRecord r = new SourceRecord("train", "f", 0, 3, -1, x, -1, null);
        SourceRecord flipped = new Perturbation(1, 5).apply(r, 2);
        for (byte b : flipped.x()) {
            assertEquals(1, b); // binary: a perturbed bit is flipped
        }
        assertSame(r, Perturbation.none().apply(r, 2));
        SourceRecord some = new Perturbation(0.3, 5).apply(r, 5);
        assertArrayEquals(some.x(), new Perturbation(0.3, 5).apply(r, 5).x());
        assertNotEquals(java.util.Arrays.toString(some.x()),
                java.util.Arrays.toString(new Perturbation(0.3, 6).apply(r, 5).x()));
        int[] counts = new int[5];
        for (byte b : some.x()) {
            counts[b]++;
        }
        assertEquals(0.7, counts[0] / 10_000.0, 0.015);
        for (int v = 1; v < 5; v++) {
            assertEquals(0.3 / 4, counts[v] / 10_000.0, 0.01, "level " + v); // uniform among the other levels
        }
        assertThrows(IllegalArgumentException.class, () -> new Perturbation(0.1, 1).apply(r, 0));
        assertThrows(IllegalArgumentException.class, () -> new Perturbation(1.5, 1));
    }
}
