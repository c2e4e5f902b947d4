package org.chainrule.models.pixelcnn;

import org.chainrule.models.DensityModel;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.NllOutputLoss;
import org.chainrule.models.conditionals.Bernoulli;
import org.chainrule.models.conditionals.Categorical;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.layers.LossLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.chainrule.models.pixelcnn.PixelTesting.allEvents;
import static org.chainrule.models.pixelcnn.PixelTesting.assertCausal;
import static org.chainrule.models.pixelcnn.PixelTesting.assertFollows;
import static org.chainrule.models.pixelcnn.PixelTesting.assertLogitsGiveLikelihood;
import static org.chainrule.models.pixelcnn.PixelTesting.assertNormalized;
import static org.chainrule.models.pixelcnn.PixelTesting.assertSamplesFollowDensity;
import static org.chainrule.models.pixelcnn.PixelTesting.assertSavedNetworkGivesSameDensity;
import static org.chainrule.models.pixelcnn.PixelTesting.assertSeeded;
import static org.chainrule.models.pixelcnn.PixelTesting.assertSpecSurvivesItsMap;
import static org.chainrule.models.pixelcnn.PixelTesting.assertTrainingLowersNll;
import static org.chainrule.models.pixelcnn.PixelTesting.label;
import static org.chainrule.models.pixelcnn.PixelTesting.network;
import static org.chainrule.models.pixelcnn.PixelTesting.pixelCnnCone;
import static org.chainrule.models.pixelcnn.PixelTesting.seeds;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** PixelCNN: causality of the masks, exact normalisation, the sampler, training and serialisation. */
class PixelCnnTest {
    @BeforeAll
    static void oneThread() {
        PixelTesting.oneThread();
    }

    @AfterAll
    static void restoreThreads() {
        PixelTesting.restoreThreads();
    }


    static PixelSpec spec(long[] shape, int levels, int filters, int blocks) {
        return PixelSpec.pixelCnn(shape, levels, filters, blocks);
    }

    /**
     * Gradients of every output sub-pixel's logits: exactly zero for itself and every later input, non-zero for its
     * nearest predecessors, and never outside the receptive field that the masks' geometry allows.
     */
    @Test
    void everyLogitSeesOnlyThePast() {
        List<PixelSpec> specs = List.of(
                spec(new long[]{5, 5}, 2, 4, 2),
                spec(new long[]{4, 4, 3}, 2, 6, 1),
                spec(new long[]{3, 4, 3}, 4, 6, 1).withOutputFilters(24),
                spec(new long[]{4, 4}, 2, 4, 1).withContext(3));
        for (PixelSpec s : specs) {
            MultiLayerNetwork net = network(s, 21, 0.3);
            INDArray c = s.contextSize() == 0 ? null : label(s.contextSize(), s.dim(), 1);
            boolean[][] dep = assertCausal(s, net, c, 5);
            boolean[][] cone = pixelCnnCone(s.height(), s.width(), s.channels(), s.depth());
            for (int r = 0; r < s.dim(); r++) {
                for (int q = 0; q < s.dim(); q++) {
                    assertTrue(!dep[r][q] || cone[r][q], s + ": " + r + " depends on " + q + " outside its cone");
                    assertTrue(!cone[r][q] || q < r, "the cone analysis itself lets " + r + " see " + q);
                }
            }
        }
    }

    /**
     * The blind spot, from the masks' geometry: a mask-B 3x3 tap goes up-right only by moving up a row, so row i - r is
     * never seen more than r + 2 columns to the right of the target, however deep the stack.
     */
    @Test
    void coneHasTheBlindSpot() {
        boolean[][] deep = pixelCnnCone(6, 7, 1, 6);
        boolean[][] shallow = pixelCnnCone(6, 7, 1, 0);
        int target = 2 * 7 + 1; // (2, 1)
        assertTrue(deep[target][7 + 4], "(1, 4) is within the 7x7 first layer");
        assertTrue(!deep[target][7 + 5] && !deep[target][7 + 6], "(1, 5) and (1, 6) are blind for (2, 1)");
        assertTrue(deep[target][5] && !shallow[target][5], "(0, 5) is reached by stacking, not by the first layer");
        assertTrue(!deep[target][6], "(0, 6) is blind for (2, 1)");
        assertTrue(deep[target][2 * 7], "(2, 0), to the left");
    }

    @Test
    void exactlyNormalized() {
        assertNormalized(spec(new long[]{2, 2}, 2, 4, 1), network(spec(new long[]{2, 2}, 2, 4, 1), 3, 0.5), 1e-4);
        PixelSpec colour = spec(new long[]{2, 2, 3}, 2, 3, 1);
        assertNormalized(colour, network(colour, 4, 0.5), 1e-4);
        PixelSpec levels = spec(new long[]{2, 2}, 3, 4, 2);
        assertNormalized(levels, network(levels, 5, 0.5), 1e-4);
        PixelSpec conditional = spec(new long[]{2, 2}, 2, 4, 1).withContext(3);
        assertNormalized(conditional, network(conditional, 6, 0.5), 1e-4);
    }

    @Test
    void samplesFollowTheDensity() {
        PixelSpec binary = spec(new long[]{2, 2}, 2, 4, 1);
        assertSamplesFollowDensity(binary, network(binary, 8, 0.5), 6_000);
        // colour: the sampler must draw R, G, B of a pixel in that order
        PixelSpec colour = spec(new long[]{1, 2, 3}, 2, 3, 1);
        assertSamplesFollowDensity(colour, network(colour, 9, 0.5), 6_000);
        PixelSpec conditional = spec(new long[]{2, 2}, 2, 4, 1).withContext(2);
        assertSamplesFollowDensity(conditional, network(conditional, 10, 0.5), 4_000);
    }

    /**
     * At temperature T a sub-pixel with no predecessors is drawn from softmax(logits / T), i.e. with probabilities
     * proportional to p^(1/T); a single-pixel image is one such conditional.
     */
    @Test
    void temperatureDividesTheLogits() {
        PixelSpec spec = spec(new long[]{1, 1}, 4, 4, 1);
        MultiLayerNetwork net = network(spec, 12, 0.5);
        DensityModel density = spec.densityOf(net);
        double[] lp = density.logProb(allEvents(4, 1)).toDoubleVector();
        double t = 0.5;
        double[] sharp = new double[4];
        double z = 0;
        for (int k = 0; k < 4; k++) {
            sharp[k] = Math.exp(lp[k] / t);
            z += sharp[k];
        }
        for (int k = 0; k < 4; k++) {
            sharp[k] /= z;
        }
        assertFollows(sharp, density.sample(seeds(10_000, 3), null, t), 4, "T = 0.5");
        assertThrows(IllegalArgumentException.class, () -> density.sample(seeds(2, 0), null, 0.0));
    }

    @Test
    void samplerUsesTheTrainedConditionalsAndItsSeeds() {
        PixelSpec colour = spec(new long[]{3, 3, 3}, 4, 3, 1);
        MultiLayerNetwork net = network(colour, 14, 0.3);
        assertLogitsGiveLikelihood(colour, net);
        assertSeeded(colour, net);
        PixelSpec conditional = spec(new long[]{3, 3}, 2, 4, 1).withContext(2);
        MultiLayerNetwork cnet = network(conditional, 15, 0.3);
        assertLogitsGiveLikelihood(conditional, cnet);
        assertSeeded(conditional, cnet);
    }

    @Test
    void trainingLowersNll() {
        assertTrainingLowersNll(spec(new long[]{4, 4}, 2, 4, 1), 80);
    }

    @Test
    void savedNetworkGivesTheSameDensity(@TempDir Path dir) throws Exception {
        PixelSpec spec = spec(new long[]{3, 3, 3}, 3, 3, 1).withContext(2);
        MultiLayerNetwork net = network(spec, 16, 0.3);
        assertSavedNetworkGivesSameDensity(spec, net, dir);
        MultiLayerConfiguration conf = MultiLayerConfiguration.fromJson(net.getLayerWiseConfigurations().toJson());
        PixelCnnLayer layer = assertInstanceOf(PixelCnnLayer.class, conf.getConf(0).getLayer());
        assertEquals(3, layer.getHeight());
        assertEquals(3, layer.getWidth());
        assertEquals(3, layer.getChannels());
        assertEquals(3, layer.getLevels());
        assertEquals(3, layer.getFilters());
        assertEquals(6, layer.getOutputFilters());
        assertEquals(1, layer.getBlocks());
        assertEquals(2, layer.getContextSize());
        assertInstanceOf(NllOutputLoss.class, ((LossLayer) conf.getConf(1).getLayer()).getLossFn());
    }

    @Test
    void specAndItsMap() {
        PixelSpec spec = new PixelSpec(PixelSpec.Network.PIXELCNN, new long[]{28, 28}, 256, 16, 5, 32, 10);
        assertSpecSurvivesItsMap(spec);
        assertSpecSurvivesItsMap(spec(new long[]{4, 4, 3}, 2, 6, 2));
        Map<String, Object> m = spec.toMap();
        assertEquals(List.of("type", "eventShape", "levels", "filters", "blocks", "outputFilters", "contextSize"),
                new ArrayList<>(m.keySet()));
        assertEquals("pixelcnn", m.get("type"));
        assertEquals(List.of(28L, 28L), m.get("eventShape"));
        assertEquals("uint8", spec.valueType());
        assertEquals(256, spec.levels());
        assertEquals(new Categorical(256), spec.family());
        assertEquals(new Bernoulli(), spec(new long[]{2, 2}, 2, 2, 0).family());
        assertEquals("binary", spec(new long[]{2, 2}, 2, 2, 0).valueType());
        assertEquals(28 * 28, spec.dim());
        assertEquals(1, spec.variantCount());
        assertEquals(12, spec(new long[]{2, 2, 3}, 2, 3, 0).dim());
        assertEquals(6, spec(new long[]{2, 2, 3}, 2, 3, 0).outputFilters());
    }

    @Test
    void trainingViewAndBadUse() {
        PixelSpec spec = spec(new long[]{2, 3}, 2, 4, 1).withContext(2);
        INDArray x = Nd4j.createFromArray(new float[][]{{0, 1, 0, 1, 1, 0}, {1, 1, 1, 0, 0, 0}});
        INDArray c = label(2, 2, 1);
        INDArray f = spec.trainingFeatures(x, c, 0);
        assertArrayEquals(new long[]{2, 8}, f.shape());
        assertEquals(x, f.get(org.nd4j.linalg.indexing.NDArrayIndex.all(),
                org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 6)));
        assertEquals(1.0, f.getDouble(1, 7));
        assertEquals(0.0, f.getDouble(1, 6));
        assertEquals(Nd4j.zeros(DataType.FLOAT, 2, 1), spec.trainingLabels(x));
        assertThrows(IllegalArgumentException.class, () -> spec.trainingFeatures(x, 0));
        assertThrows(IllegalArgumentException.class, () -> spec.trainingFeatures(x, c, 1));
        assertThrows(IllegalArgumentException.class, () -> spec.trainingFeatures(Nd4j.zeros(2, 5), c, 0));
        assertThrows(IllegalArgumentException.class,
                () -> spec(new long[]{2, 3}, 2, 4, 1).trainingFeatures(x, c, 0));
        assertThrows(IllegalArgumentException.class, () -> spec(new long[]{4}, 2, 4, 1));
        assertThrows(IllegalArgumentException.class, () -> spec(new long[]{4, 4, 3}, 2, 4, 1));
        assertThrows(IllegalArgumentException.class, () -> spec(new long[]{4, 4}, 1, 4, 1));
        assertThrows(IllegalArgumentException.class, () -> spec(new long[]{4, 4}, 257, 4, 1));
        assertThrows(IllegalArgumentException.class, () -> spec(new long[]{4, 4}, 2, 4, -1));
        assertThrows(IllegalArgumentException.class, () -> spec(new long[]{4, 4}, 2, 4, 1).withContext(-1));
        assertThrows(IllegalArgumentException.class, () -> spec(new long[]{4, 4, 3}, 2, 3, 1).withOutputFilters(4));
        DensityModel d = spec.densityOf(network(spec, 1, 0.1));
        assertThrows(IllegalArgumentException.class, () -> d.logProb(x));
        assertThrows(IllegalArgumentException.class, () -> d.sample(seeds(2, 0)));
        assertEquals(2, d.contextSize());
        assertArrayEquals(new long[]{2, 3}, d.eventShape());
        assertArrayEquals(new long[]{0, 6}, d.sample(new long[0], Nd4j.zeros(DataType.FLOAT, 0, 2), 1.0).shape());
    }

    @Test
    void mapsWithoutOptionalKeysLoad() {
        Map<String, Object> m = new java.util.HashMap<>(spec(new long[]{2, 2}, 2, 2, 1).toMap());
        m.remove("outputFilters");
        m.remove("contextSize");
        ModelSpec back = ModelSpec.fromConfig(com.typesafe.config.ConfigFactory.parseMap(m));
        assertEquals(spec(new long[]{2, 2}, 2, 2, 1), back);
    }
}
