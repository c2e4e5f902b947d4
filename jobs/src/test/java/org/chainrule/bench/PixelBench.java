package org.chainrule.bench;

import org.chainrule.models.TrainingRecipe;
import org.chainrule.models.pixelcnn.PixelSpec;
import org.chainrule.models.pixelcnn.PixelCnnDensity;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.Random;

/**
 * Samples per second of the naive and the cached PixelCNN samplers on the same 28x28 binary model and the same seeds,
 * for scripts/bench.sh (not a test, not in the application jar). Usage:
 * {@code PixelBench [type filters depth naiveSeeds cachedSeeds]}, defaults
 * {@code pixelcnn 32 3 8 64} (depth = residual blocks, or gated layers for {@code gated-pixelcnn}). The network is
 * freshly initialised with N(0, 0.05^2) noise on every parameter (untrained: a trained network's sparser activations
 * may change the cached rate). Prints {@code BENCH} lines; the shared seeds must give identical samples.
 */
public final class PixelBench {
    private PixelBench() {
    }

    public static void main(String[] args) {
        String type = args.length > 0 ? args[0] : "pixelcnn";
        int filters = args.length > 1 ? Integer.parseInt(args[1]) : 32;
        int depth = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        int naiveSeeds = args.length > 3 ? Integer.parseInt(args[3]) : 8;
        int cachedSeeds = args.length > 4 ? Integer.parseInt(args[4]) : 64;
        long[] shape = {28, 28};
        PixelSpec spec = PixelSpec.of(PixelSpec.Network.of(type), shape, 2, filters, depth);
        MultiLayerNetwork net = new MultiLayerNetwork(spec.trainingConfiguration(new TrainingRecipe(1e-3, 1)));
        net.init();
        Random r = new Random(1);
        INDArray p = net.params();
        for (long i = 0; i < p.length(); i++) {
            p.putScalar(i, p.getDouble(i) + 0.05 * r.nextGaussian());
        }
        PixelCnnDensity density = (PixelCnnDensity) spec.densityOf(net);
        density.sample(new long[]{-1, -2}, null, 1.0); // warm-up
        density.sampleNaive(new long[]{-1}, null, 1.0);
        long[] seeds = new long[Math.max(naiveSeeds, cachedSeeds)];
        for (int i = 0; i < seeds.length; i++) {
            seeds[i] = i;
        }
        long t0 = System.nanoTime();
        INDArray cached = density.sample(seeds, null, 1.0);
        double cachedSeconds = (System.nanoTime() - t0) * 1e-9;
        t0 = System.nanoTime();
        INDArray naive = density.sampleNaive(java.util.Arrays.copyOf(seeds, naiveSeeds), null, 1.0);
        double naiveSeconds = (System.nanoTime() - t0) * 1e-9;
        boolean identical = naive.equals(cached.get(NDArrayIndex.interval(0, naiveSeeds), NDArrayIndex.all()));
        System.out.printf("bench: %s%n", spec);
        System.out.printf("BENCH pixel_sample_naive %.4f samples/s (%d in %.1f s)%n", naiveSeeds / naiveSeconds,
                naiveSeeds, naiveSeconds);
        System.out.printf("BENCH pixel_sample_cached %.2f samples/s (%d in %.1f s)%n", seeds.length / cachedSeconds,
                seeds.length, cachedSeconds);
        System.out.printf("BENCH pixel_sample_identical %s%n", identical);
        if (!identical) {
            throw new IllegalStateException("cached and naive samplers drew different samples");
        }
    }
}
