package org.chainrule.models.pixelpp;

import org.chainrule.models.TrainingRecipe;
import com.typesafe.config.ConfigFactory;
import org.chainrule.models.DensityModel;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.ModelTesting;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.chainrule.models.ModelTesting.chiSquaredCritical999;
import static org.chainrule.models.ModelTesting.randomNetwork;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The PixelCNN++ network: causal over whole pixels, exactly normalized, sampled correctly, trainable and reloadable.
 */
class PixelCnnPpTest {

    @BeforeAll
    static void singleThreaded() {
        SmallTensors.begin();
    }

    @AfterAll
    static void restoreThreads() {
        SmallTensors.end();
    }

    static PixelCnnPpDensity density(PixelCnnPpSpec spec, MultiLayerNetwork net) {
        return assertInstanceOf(PixelCnnPpDensity.class, spec.densityOf(net));
    }

    /** Random events with values 0..L-1, {@code [n, D]}. */
    static INDArray events(PixelCnnPpSpec spec, int n, Random r) {
        float[][] x = new float[n][spec.dim()];
        for (float[] row : x) {
            for (int j = 0; j < row.length; j++) {
                row[j] = r.nextInt(spec.levels());
            }
        }
        return Nd4j.create(x);
    }

    /** Every event of a tiny spec, {@code [L^D, D]}. */
    static INDArray allEvents(PixelCnnPpSpec spec) {
        int d = spec.dim();
        int n = (int) Math.pow(spec.levels(), d);
        float[][] x = new float[n][d];
        for (int i = 0; i < n; i++) {
            int rest = i;
            for (int j = 0; j < d; j++) {
                x[i][j] = rest % spec.levels();
                rest /= spec.levels();
            }
        }
        return Nd4j.create(x);
    }

    static int index(PixelCnnPpSpec spec, float[] row) {
        int idx = 0;
        for (int j = row.length - 1; j >= 0; j--) {
            idx = idx * spec.levels() + (int) row[j];
        }
        return idx;
    }

    /**
     * The gradient of each pixel's parameters with respect to every input sub-pixel, from the layer's own SameDiff
     * graph: exactly zero for the pixel itself (all its channels) and every later pixel, non-zero for some earlier
     * pixel (every pixel but the first), for a grey and a colour image. Rows never interact, so one backward pass
     * serves every pixel: row b (two rows per pixel, different images) asks about pixel b mod H W through a random
     * projection of that pixel's parameters alone (random so that no two dependencies can cancel).
     */
    @Test
    void parametersDependOnlyOnEarlierPixels() {
        for (PixelCnnPpSpec spec : new PixelCnnPpSpec[]{
                new PixelCnnPpSpec(new long[]{4, 4}, 16, 4, 2, 2),
                new PixelCnnPpSpec(new long[]{3, 3, 3}, 16, 4, 1, 2),
                new PixelCnnPpSpec(new long[]{4, 4}, 16, 4, 2, 2, 0.5)}) {
            MultiLayerNetwork net = randomNetwork(spec, 7);
            int pixels = spec.pixels();
            int c = spec.channels();
            int perPixel = spec.mixture().paramsPerPixel();
            int rows = 2 * pixels;
            SameDiff sd = SameDiff.create();
            Map<String, SDVariable> table = new HashMap<>();
            for (Map.Entry<String, INDArray> e : net.getLayer(0).paramTable().entrySet()) {
                table.put(e.getKey(), sd.var(e.getKey(), e.getValue().dup()));
            }
            SDVariable input = sd.var("x", events(spec, rows, new Random(8)));
            // with dropout, under a training step's key (masks on: they must not open a path from later pixels)
            SDVariable key = spec.dropout() > 0 ? sd.constant(Nd4j.scalar(DataType.FLOAT, 99f).reshape(1, 1)) : null;
            SDVariable params = new PixelCnnPpLayer(spec, true).parameters(sd, input, key, table);
            INDArray projection = Nd4j.zeros(DataType.FLOAT, rows, (long) pixels * perPixel);
            Random weights = new Random(9);
            for (int b = 0; b < rows; b++) {
                int n = b % pixels;
                for (int j = 0; j < perPixel; j++) {
                    projection.putScalar(b, n * perPixel + j, weights.nextGaussian());
                }
            }
            sd.setLossVariables(params.mul(sd.constant(projection)).sum());
            INDArray grad = sd.calculateGradients(Map.of(), "x").get("x");
            for (int n = 0; n < pixels; n++) {
                double earlier = 0;
                for (int b = n; b < rows; b += pixels) {
                    for (int q = 0; q < pixels; q++) {
                        for (int ch = 0; ch < c; ch++) {
                            double g = grad.getDouble(b, q * c + ch);
                            if (q >= n) {
                                assertEquals(0.0, g, 0.0, spec + ": pixel " + n + " sees pixel " + q + " channel " + ch);
                            } else {
                                earlier += Math.abs(g);
                            }
                        }
                    }
                }
                if (n > 0) {
                    assertTrue(earlier > 1e-6, spec + ": pixel " + n + " ignores every earlier pixel");
                }
            }
        }
    }

    /** The same property through the density: changing pixels at or after n leaves pixel n's parameters bit-equal. */
    @Test
    void changingLaterPixelsLeavesParametersUnchanged() {
        PixelCnnPpSpec spec = new PixelCnnPpSpec(new long[]{3, 4, 3}, 8, 4, 2, 2);
        PixelCnnPpDensity density = density(spec, randomNetwork(spec, 3));
        Random r = new Random(4);
        INDArray x = events(spec, 4, r);
        INDArray base = density.params(x);
        int c = spec.channels();
        int perPixel = spec.mixture().paramsPerPixel();
        for (int n = 0; n < spec.pixels(); n++) {
            INDArray later = x.dup();
            for (int j = n * c; j < spec.dim(); j++) {
                for (int i = 0; i < 4; i++) {
                    later.putScalar(i, j, (later.getDouble(i, j) + 1 + r.nextInt(spec.levels() - 1)) % spec.levels());
                }
            }
            INDArray changed = density.params(later);
            for (int i = 0; i < 4; i++) {
                for (int j = n * perPixel; j < (n + 1) * perPixel; j++) {
                    assertEquals(base.getFloat(i, j), changed.getFloat(i, j), 0f, "pixel " + n + " param " + j);
                }
            }
        }
    }

    /**
     * Dropout inside the gated resnet layers, keyed by the step: the step's key masks the training network's output
     * and its gradient is that of the masked loss ({@link ModelTesting#assertDropoutKeyed}); the density, which scores
     * with a copy of the network without the dropout ops, gives the training network's NLL at key 0 (no dropout);
     * the parameters and JSON are those of the model without dropout plus the rate; a rate needs resnet layers.
     */
    @Test
    void dropoutMasksTrainingSteps() {
        for (PixelCnnPpSpec spec : List.of(new PixelCnnPpSpec(new long[]{3, 3}, 16, 4, 2, 2, 0.3),
                new PixelCnnPpSpec(new long[]{2, 3, 3}, 8, 4, 1, 2, 0.5))) {
            // Xavier's initialization: the inflated random weights of randomNetwork make the loss too curved for the
            // central difference (it fails without dropout too)
            MultiLayerNetwork net = new MultiLayerNetwork(spec.trainingConfiguration(new TrainingRecipe(1e-2, 21)));
            net.init();
            INDArray x = events(spec, 6, new Random(22));
            ModelTesting.assertDropoutKeyed(spec, net, x, null);
            INDArray nll = ModelTesting.layerOutput(net, spec.trainingFeatures(x, 0));
            double[] logProb = spec.densityOf(net).logProb(x).toDoubleVector();
            for (int i = 0; i < logProb.length; i++) {
                assertEquals(-nll.getDouble(i, 0), logProb[i], 1e-4 * Math.abs(logProb[i]), spec + " row " + i);
            }
            PixelCnnPpSpec plain = spec.withDropout(0);
            assertEquals(new MultiLayerNetwork(plain.trainingConfiguration(new TrainingRecipe(1e-3, 1))).numParams(),
                    net.numParams(), "dropout adds no parameters");
            assertEquals(spec.dim() + 1, spec.trainingFeatures(x, 0).columns(), "the key column");
            assertEquals(spec.dim(), plain.trainingFeatures(x, 0).columns());
            assertEquals(spec, ModelSpec.fromConfig(ConfigFactory.parseMap(spec.toMap())));
            assertTrue(!plain.toMap().containsKey("dropout"), "a model without dropout keeps its saved description");
            MultiLayerConfiguration conf = MultiLayerConfiguration.fromJson(net.getLayerWiseConfigurations().toJson());
            assertEquals(spec.dropout(), ((PixelCnnPpLayer) conf.getConf(0).getLayer()).getDropout());
        }
        assertThrows(IllegalArgumentException.class, () -> new PixelCnnPpSpec(new long[]{3, 3}, 16, 4, 0, 2, 0.5));
        assertThrows(IllegalArgumentException.class, () -> new PixelCnnPpSpec(new long[]{3, 3}, 16, 4, 1, 2, 1.0));
    }

    /** exp(logProb) sums to 1 over every image of tiny grey and colour models. */
    @Test
    void exactlyNormalized() {
        for (PixelCnnPpSpec spec : new PixelCnnPpSpec[]{
                new PixelCnnPpSpec(new long[]{2, 2}, 4, 4, 2, 2),        // 256 images
                new PixelCnnPpSpec(new long[]{2, 2, 3}, 2, 4, 1, 2),     // 4096
                new PixelCnnPpSpec(new long[]{1, 2, 3}, 4, 4, 1, 3),     // 4096
                new PixelCnnPpSpec(new long[]{2, 2}, 4, 4, 2, 2, 0.5)}) { // with dropout (off when scoring)
            DensityModel density = spec.densityOf(randomNetwork(spec, 5));
            double total = 0;
            for (double lp : density.logProb(allEvents(spec)).toDoubleVector()) {
                total += Math.exp(lp);
            }
            // float32 per-image log-likelihoods: ~1e-6 relative each
            assertEquals(1.0, total, 1e-5, spec.toString());
        }
    }

    /**
     * The training graph's likelihood equals the sum over pixels of the plain-Java mixture (the sampler's) on the
     * parameter network's output.
     */
    @Test
    void graphLikelihoodIsTheSamplersLikelihood() {
        for (PixelCnnPpSpec spec : new PixelCnnPpSpec[]{
                new PixelCnnPpSpec(new long[]{3, 3}, 256, 4, 2, 3),
                new PixelCnnPpSpec(new long[]{3, 3, 3}, 256, 4, 1, 2)}) {
            PixelCnnPpDensity density = density(spec, randomNetwork(spec, 6));
            INDArray x = events(spec, 5, new Random(7));
            double[] graph = density.logProb(x).toDoubleVector();
            double[] java = density.pixelLogProbs(x).sum(1).toDoubleVector();
            for (int i = 0; i < graph.length; i++) {
                assertTrue(Double.isFinite(graph[i]));
                assertEquals(java[i], graph[i], 1e-4 * Math.abs(java[i]), spec + " row " + i);
            }
            double[] bits = density.bitsPerDim(x).toDoubleVector();
            assertEquals(-graph[0] / (spec.dim() * Math.log(2)), bits[0], 1e-9);
        }
    }

    /** Samples of whole images follow exp(logProb) (chi-squared over every image) for a grey and a colour model. */
    @Test
    void samplerMatchesLikelihood() {
        for (PixelCnnPpSpec spec : new PixelCnnPpSpec[]{
                new PixelCnnPpSpec(new long[]{2, 2}, 4, 4, 1, 2),        // 256 images
                new PixelCnnPpSpec(new long[]{1, 2, 3}, 2, 4, 1, 2)}) {  // 64 images
            DensityModel density = spec.densityOf(randomNetwork(spec, 9));
            double[] p = density.logProb(allEvents(spec)).toDoubleVector();
            int n = 6000;
            INDArray samples = density.sample(n, 10);
            long[] counts = new long[p.length];
            for (float[] row : samples.toFloatMatrix()) {
                counts[index(spec, row)]++;
            }
            double stat = 0;
            int cells = 0;
            double smallExpected = 0;
            long smallObserved = 0;
            for (int i = 0; i < p.length; i++) {
                double e = n * Math.exp(p[i]);
                if (e < 5) {
                    smallExpected += e;
                    smallObserved += counts[i];
                } else {
                    stat += (counts[i] - e) * (counts[i] - e) / e;
                    cells++;
                }
            }
            stat += (smallObserved - smallExpected) * (smallObserved - smallExpected) / Math.max(smallExpected, 1e-9);
            cells++;
            assertTrue(cells > 10, spec + ": too few cells " + cells);
            assertTrue(stat < chiSquaredCritical999(cells - 1), spec + ": chi2 " + stat + " over " + cells);
        }
    }

    /** Row i depends only on seeds[i]; values are levels; a lower temperature is allowed, a bad one refused. */
    @Test
    void samplesAreSeededPerRow() {
        PixelCnnPpSpec spec = new PixelCnnPpSpec(new long[]{2, 2, 3}, 256, 4, 1, 2);
        DensityModel density = spec.densityOf(randomNetwork(spec, 11));
        long[] seeds = {5, 17, 99, 1234};
        INDArray all = density.sample(seeds);
        assertArrayEquals(new long[]{4, spec.dim()}, all.shape());
        INDArray other = density.sample(new long[]{3, 99});
        INDArray alone = density.sample(new long[]{99});
        assertEquals(all.getRow(2), other.getRow(1));
        assertEquals(all.getRow(2), alone.getRow(0));
        assertTrue(all.getRow(0).neq(all.getRow(1)).any(), "different seeds gave the same image");
        for (double v : all.reshape(-1).toDoubleVector()) {
            assertTrue(v == Math.rint(v) && v >= 0 && v <= 255, "value " + v);
        }
        INDArray cold = density.sample(seeds, null, 0.5);
        assertArrayEquals(all.shape(), cold.shape());
        assertThrows(IllegalArgumentException.class, () -> density.sample(seeds, null, 0));
        assertThrows(IllegalArgumentException.class, () -> density.sample(seeds, null, Double.NaN));
        assertEquals(0, density.sample(new long[0]).rows());
    }

    /** A few Adam steps on structured 3x3 colour images lower the exact NLL by a clear margin. */
    @Test
    void trainingLowersNll() {
        PixelCnnPpSpec spec = new PixelCnnPpSpec(new long[]{3, 3, 3}, 16, 4, 1, 2);
        Random r = new Random(12);
        int n = 32;
        float[][] x = new float[n][spec.dim()];
        for (float[] row : x) {
            // one of two base levels per image, green mirroring red, blue half of it, darker at the bottom, and one
            // level of noise: values concentrated on few levels (learnable from the output biases alone), and
            // strong pixel and channel correlations
            int base = r.nextBoolean() ? 3 : 12;
            for (int i = 0; i < 3; i++) {
                for (int j = 0; j < 3; j++) {
                    int shade = i == 2 ? 2 : 0;
                    for (int c = 0; c < 3; c++) {
                        int v = (c == 0 ? base : c == 1 ? 15 - base : base / 2) - shade + r.nextInt(2);
                        row[(i * 3 + j) * 3 + c] = Math.max(0, Math.min(15, v));
                    }
                }
            }
        }
        INDArray data = Nd4j.create(x);
        MultiLayerNetwork net = new MultiLayerNetwork(spec.trainingConfiguration(new TrainingRecipe(3e-2, 1)));
        net.init();
        double before = -spec.densityOf(net).logProb(data).meanNumber().doubleValue();
        DataSet batch = new DataSet(spec.trainingFeatures(data, 0), spec.trainingLabels(data));
        for (int step = 0; step < 25; step++) {
            net.fit(batch);
        }
        double after = -spec.densityOf(net).logProb(data).meanNumber().doubleValue();
        // 27 sub-pixels of 16 levels: uniform is 75 nats; each sub-pixel takes about 4 levels over the data set, so
        // the marginals alone are worth about 27 ln 4 = 37 nats
        assertTrue(after < before - 10, "NLL " + before + " -> " + after);
        assertTrue(after < 27 * Math.log(16), "no better than uniform: " + after);
    }

    /** The configuration survives JSON (every layer field), as does the spec through its map. */
    @Test
    void jsonRoundTrip() throws java.io.IOException {
        PixelCnnPpSpec spec = new PixelCnnPpSpec(new long[]{3, 3, 3}, 32, 5, 2, 3);
        MultiLayerNetwork net = randomNetwork(spec, 13);
        MultiLayerConfiguration conf = MultiLayerConfiguration.fromJson(net.getLayerWiseConfigurations().toJson());
        PixelCnnPpLayer layer = assertInstanceOf(PixelCnnPpLayer.class, conf.getConf(0).getLayer());
        assertEquals(List.of(3, 3, 3, 32, 5, 2, 3), List.of(layer.getHeight(), layer.getWidth(),
                layer.getChannels(), layer.getLevels(), layer.getFilters(), layer.getResnetLayers(),
                layer.getComponents()));
        MultiLayerNetwork copy = new MultiLayerNetwork(conf);
        copy.init();
        copy.setParams(net.params().dup());
        INDArray x = events(spec, 4, new Random(14));
        INDArray expected = spec.densityOf(net).logProb(x);
        assertEquals(expected, spec.densityOf(copy).logProb(x));

        // the zip the pipeline saves, with the updater state
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        ModelSerializer.writeModel(net, bytes, true);
        MultiLayerNetwork restored = ModelSerializer.restoreMultiLayerNetwork(
                new java.io.ByteArrayInputStream(bytes.toByteArray()), true);
        assertEquals(expected, spec.densityOf(restored).logProb(x));
        assertEquals(expected.getDouble(1), spec.densityOf(restored).logProb(x.getRow(1, true)).getDouble(0), 1e-4);
        // scored in slices of rows, as large batches are, the numbers do not change
        INDArray sliced = ((PixelCnnPpDensity) spec.densityOf(net)).logProbInSlices(x, null, 3);
        org.junit.jupiter.api.Assertions.assertArrayEquals(expected.toDoubleVector(), sliced.toDoubleVector(), 1e-4);
        assertEquals(4L * 5 * 9, spec.activationElementsPerRow());

        ModelSpec back = ModelSpec.fromConfig(ConfigFactory.parseMap(spec.toMap()));
        assertEquals(spec, back);
        assertEquals("pixelcnn++", back.type());
        assertTrue(org.chainrule.models.ModelFamilies.types().contains("pixelcnn++"));
        assertEquals(10 * 3, spec.mixture().paramsPerPixel());
        assertEquals("uint8", spec.valueType());
        assertEquals("binary", spec.withLevels(2).valueType());
        assertEquals(256, PixelCnnPpSpec.of(new long[]{28, 28}, 16, 2, 5).levels());
        assertThrows(IllegalArgumentException.class, () -> PixelCnnPpSpec.of(new long[]{28}, 16, 2, 5));
        assertThrows(IllegalArgumentException.class, () -> spec.trainingFeatures(Nd4j.zeros(2, 5), 0));
    }
}
