package org.chainrule.models.pixelcnn;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Samples per second of the naive and the cached PixelCNN samplers on the same model and seeds, on one thread (ND4J's
 * native threads set to 1 as the tests do; the cached sampler is single-threaded Java). A tool to run by hand, not a
 * test:
 * <pre>
 *   java -cp ... org.chainrule.models.pixelcnn.SamplerTiming [type filters depth naiveSeeds cachedSeeds]
 * </pre>
 * defaults: {@code pixelcnn 32 3 8 64}, an MNIST-size 28x28 binary model (depth = residual blocks for
 * {@code pixelcnn}, gated layers for {@code gated-pixelcnn}). The network is freshly initialised with every
 * parameter perturbed by N(0, 0.05^2) noise. The naive sampler draws the first {@code naiveSeeds} seeds in one batch;
 * the cached one draws {@code cachedSeeds} seeds, after a warm-up; the seeds they share must give identical samples.
 */
public final class SamplerTiming {
    private SamplerTiming() {
    }

    public static void main(String[] args) {
        String type = args.length > 0 ? args[0] : PixelCnnSpec.TYPE;
        int filters = args.length > 1 ? Integer.parseInt(args[1]) : 32;
        int depth = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        int naiveSeeds = args.length > 3 ? Integer.parseInt(args[3]) : 8;
        int cachedSeeds = args.length > 4 ? Integer.parseInt(args[4]) : 64;
        long[] shape = {28, 28};
        PixelSpec spec = type.equals(PixelCnnSpec.TYPE) ? PixelCnnSpec.of(shape, 2, filters, depth)
                : GatedPixelCnnSpec.of(shape, 2, filters, depth);
        PixelTesting.oneThread();
        try {
            MultiLayerNetwork net = PixelTesting.network(spec, 1, 0.05);
            PixelCnnDensity density = (PixelCnnDensity) spec.densityOf(net);
            long[] warm = PixelTesting.seeds(4, 1_000_000);
            density.sample(warm, null, 1.0);
            density.sampleNaive(new long[]{warm[0]}, null, 1.0);

            long[] seeds = PixelTesting.seeds(Math.max(naiveSeeds, cachedSeeds), 0);
            long t0 = System.nanoTime();
            INDArray cached = density.sample(seeds, null, 1.0);
            double cachedSeconds = (System.nanoTime() - t0) * 1e-9;
            long[] first = java.util.Arrays.copyOf(seeds, naiveSeeds);
            t0 = System.nanoTime();
            INDArray naive = density.sampleNaive(first, null, 1.0);
            double naiveSeconds = (System.nanoTime() - t0) * 1e-9;

            boolean identical = naive.equals(cached.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, naiveSeeds),
                    org.nd4j.linalg.indexing.NDArrayIndex.all()));
            double naiveRate = naiveSeeds / naiveSeconds;
            double cachedRate = seeds.length / cachedSeconds;
            System.out.printf("%s%n", spec);
            System.out.printf("naive : %d samples in %.2f s = %.4f samples/s%n", naiveSeeds, naiveSeconds, naiveRate);
            System.out.printf("cached: %d samples in %.2f s = %.2f samples/s%n", seeds.length, cachedSeconds,
                    cachedRate);
            System.out.printf("speed-up %.0fx; the %d shared seeds give identical samples: %s; mean pixel %.3f%n",
                    cachedRate / naiveRate, naiveSeeds, identical, cached.meanNumber().doubleValue());
        } finally {
            PixelTesting.restoreThreads();
        }
    }
}
