package org.chainrule.models.pixelcnn;

import org.chainrule.models.OneNativeThread;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.chainrule.models.pixelcnn.PixelTesting.events;
import static org.chainrule.models.pixelcnn.PixelTesting.network;
import static org.chainrule.models.pixelcnn.PixelTesting.seeds;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The cached sampler against the naive one: the same logits as the graph for every sub-pixel of random images, and
 * the same samples for many seeds, for PixelCNN and Gated PixelCNN, binary, 3- and 4-level, colour and conditional.
 */
@ExtendWith(OneNativeThread.class)
class CachedSamplerTest {
    /** Images larger than the 7x7 first kernel's reach, so that padding, the blind spot and stacking all show. */
    private static final List<PixelSpec> SPECS = List.of(
            PixelSpec.pixelCnn(new long[]{6, 5}, 2, 4, 2),
            PixelSpec.pixelCnn(new long[]{4, 5}, 3, 4, 1),
            PixelSpec.pixelCnn(new long[]{4, 4, 3}, 2, 6, 2).withOutputFilters(9),
            PixelSpec.pixelCnn(new long[]{3, 4, 3}, 4, 3, 1).withContext(3),
            PixelSpec.pixelCnn(new long[]{5, 4}, 2, 4, 0).withContext(2),
            PixelSpec.gated(new long[]{6, 5}, 2, 4, 3),
            PixelSpec.gated(new long[]{4, 5}, 3, 4, 1),
            PixelSpec.gated(new long[]{4, 4, 3}, 2, 6, 2).withOutputFilters(9),
            PixelSpec.gated(new long[]{3, 4, 3}, 4, 3, 2).withContext(3));

    private static PixelCnnDensity density(PixelSpec spec, MultiLayerNetwork net) {
        return assertInstanceOf(PixelCnnDensity.class, spec.densityOf(net));
    }

    /** A different one-hot label per row (cycling through the classes), or null. */
    private static INDArray labels(PixelSpec spec, int n) {
        if (spec.contextSize() == 0) {
            return null;
        }
        float[][] c = new float[n][spec.contextSize()];
        for (int i = 0; i < n; i++) {
            c[i][i % spec.contextSize()] = 1f;
        }
        return org.nd4j.linalg.factory.Nd4j.createFromArray(c);
    }

    /**
     * At random images (every sub-pixel a random level, so no activation is zero by luck), the cached walk's logits of
     * every sub-pixel, computed from the walk's own maps as during sampling, are the graph's to float rounding. A
     * wrongly wired layer, a stale activation or a read of a sub-pixel not yet drawn would be off by far more.
     */
    @Test
    void cachedLogitsAreTheGraphs() {
        for (PixelSpec spec : SPECS) {
            MultiLayerNetwork net = network(spec, 51, 0.5);
            PixelCnnDensity density = density(spec, net);
            INDArray x = events(spec, 6, new Random(52));
            INDArray c = labels(spec, 6);
            float[] graph = PixelCnnDensity.flat(density.logits(x, c));
            float[] xs = PixelCnnDensity.flat(x);
            float[] cs = c == null ? null : PixelCnnDensity.flat(c);
            int width = spec.dim() * spec.family().paramsPerDim();
            double worst = 0;
            double scale = 0;
            for (int i = 0; i < 6; i++) {
                float[] row = Arrays.copyOfRange(xs, i * spec.dim(), (i + 1) * spec.dim());
                float[] label = cs == null ? null
                        : Arrays.copyOfRange(cs, i * spec.contextSize(), (i + 1) * spec.contextSize());
                float[] cached = density.cachedLogits(row, label);
                assertEquals(width, cached.length);
                for (int k = 0; k < width; k++) {
                    float g = graph[i * width + k];
                    worst = Math.max(worst, Math.abs(cached[k] - g) / (1 + Math.abs(g)));
                    scale = Math.max(scale, Math.abs(g));
                }
            }
            System.out.printf("%s: largest logit %.3f, worst relative difference cached - graph %.2e%n", spec, scale,
                    worst);
            assertTrue(scale > 0.5, spec + ": logits too small to test anything: " + scale);
            assertTrue(worst < 1e-5, spec + ": cached logits differ from the graph's by " + worst);
        }
    }

    /**
     * The promise of the cache: for many seeds, the cached sampler gives exactly the naive sampler's samples (same
     * seeds, labels and temperature). The networks are mild enough that many draws were genuinely uncertain (the drawn
     * value had probability below 0.9 under its conditional), so agreement is not that of near-certain draws.
     */
    @Test
    void cachedSamplesAreTheNaiveOnes() {
        for (PixelSpec spec : SPECS) {
            MultiLayerNetwork net = network(spec, 61, 0.15);
            PixelCnnDensity density = density(spec, net);
            int n = 300;
            int p = spec.family().paramsPerDim();
            for (double temperature : new double[]{1.0, 0.7}) {
                long[] s = seeds(n, 1000);
                INDArray c = labels(spec, n);
                INDArray naive = density.sampleNaive(s, c, temperature);
                INDArray cached = density.sample(s, c, temperature);
                assertArrayEquals(new long[]{n, spec.dim()}, cached.shape());
                float[] a = PixelCnnDensity.flat(naive);
                float[] b = PixelCnnDensity.flat(cached);
                float[] logits = PixelCnnDensity.flat(density.logits(cached, c));
                int uncertain = 0;
                for (int i = 0; i < n; i++) {
                    float[] rowA = Arrays.copyOfRange(a, i * spec.dim(), (i + 1) * spec.dim());
                    float[] rowB = Arrays.copyOfRange(b, i * spec.dim(), (i + 1) * spec.dim());
                    assertArrayEquals(rowA, rowB, spec + ", T = " + temperature + ", seed " + s[i]);
                    for (int d = 0; d < spec.dim(); d++) {
                        float[] scaled = new float[p];
                        for (int q = 0; q < p; q++) {
                            scaled[q] = (float) (logits[(i * spec.dim() + d) * p + q] / temperature);
                        }
                        uncertain += spec.family().logProb(scaled, 0, rowB[d]) < Math.log(0.9) ? 1 : 0;
                    }
                }
                double share = uncertain / (double) (n * spec.dim());
                System.out.printf("%s, T = %.1f: %d samples identical, %.0f%% of draws uncertain%n", spec,
                        temperature, n, 100 * share);
                assertTrue(share > 0.2, spec + ": only " + uncertain + " uncertain draws");
            }
        }
    }

    /** The cached sampler's own contract: a row depends only on its seed and label, whatever the batch. */
    @Test
    void cachedRowsDependOnlyOnTheirSeedAndLabel() {
        PixelSpec spec = PixelSpec.gated(new long[]{4, 4, 3}, 3, 6, 2).withContext(2);
        PixelCnnDensity density = density(spec, network(spec, 71, 0.5));
        long[] s = seeds(10, 5);
        INDArray c = labels(spec, 10);
        INDArray batch = density.sample(s, c, 1.0);
        for (int i : new int[]{0, 3, 9}) {
            INDArray one = density.sample(new long[]{s[i]}, c.getRow(i, true), 1.0);
            assertEquals(batch.getRow(i), one.getRow(0));
        }
        INDArray other = density.sample(s, labels(spec, 10).getColumns(1, 0), 1.0);
        assertTrue(!other.equals(batch), "the label changes the samples");
        assertThrows(IllegalArgumentException.class, () -> density.cachedLogits(new float[spec.dim()], null));
        assertThrows(IllegalArgumentException.class, () -> density.sample(s, null, 1.0));
        assertThrows(IllegalArgumentException.class, () -> density.sampleNaive(s, c, -1.0));
    }
}
