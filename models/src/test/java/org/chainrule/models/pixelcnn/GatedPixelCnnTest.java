package org.chainrule.models.pixelcnn;

import org.chainrule.models.ModelSpec;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.chainrule.models.pixelcnn.PixelTesting.assertCausal;
import static org.chainrule.models.pixelcnn.PixelTesting.assertLogitsGiveLikelihood;
import static org.chainrule.models.pixelcnn.PixelTesting.assertNormalized;
import static org.chainrule.models.pixelcnn.PixelTesting.assertSamplesFollowDensity;
import static org.chainrule.models.pixelcnn.PixelTesting.assertSavedNetworkGivesSameDensity;
import static org.chainrule.models.pixelcnn.PixelTesting.assertSeeded;
import static org.chainrule.models.pixelcnn.PixelTesting.assertSpecSurvivesItsMap;
import static org.chainrule.models.pixelcnn.PixelTesting.assertTrainingLowersNll;
import static org.chainrule.models.pixelcnn.PixelTesting.dependencies;
import static org.chainrule.models.pixelcnn.PixelTesting.label;
import static org.chainrule.models.pixelcnn.PixelTesting.network;
import static org.chainrule.models.pixelcnn.PixelTesting.pixelCnnCone;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Gated PixelCNN: causality of both stacks, no blind spot, exact normalisation, sampler, training, serialisation. */
class GatedPixelCnnTest {
    @BeforeAll
    static void oneThread() {
        PixelTesting.oneThread();
    }

    @AfterAll
    static void restoreThreads() {
        PixelTesting.restoreThreads();
    }


    static PixelSpec spec(long[] shape, int levels, int filters, int layers) {
        return PixelSpec.gated(shape, levels, filters, layers);
    }

    /**
     * Gradients of every output sub-pixel's logits: exactly zero for itself and every later input (the down-shift of
     * the vertical stack and mask A of the first horizontal layer at work), non-zero for its nearest predecessors.
     */
    @Test
    void everyLogitSeesOnlyThePast() {
        List<PixelSpec> specs = List.of(
                spec(new long[]{5, 5}, 2, 8, 3),
                spec(new long[]{4, 4, 3}, 2, 12, 2),
                spec(new long[]{3, 4, 3}, 4, 12, 2).withOutputFilters(24),
                spec(new long[]{4, 4}, 2, 8, 2).withContext(3));
        for (PixelSpec s : specs) {
            MultiLayerNetwork net = network(s, 31, 0.3);
            INDArray c = s.contextSize() == 0 ? null : label(s.contextSize(), s.dim(), 2);
            assertCausal(s, net, c, 7);
        }
    }

    /**
     * The blind spot: for a 5x5 image, the pixels that a PixelCNN (7x7 mask A, then two 3x3 mask-B blocks) cannot
     * see although they precede the target, found from its masks' geometry, have gradient exactly 0 in a PixelCNN
     * and non-zero in a Gated PixelCNN of the same depth (7-wide first layer, then two 3-wide layers), which sees
     * every earlier pixel. The gradients are SameDiff's, of random networks, at four random inputs.
     */
    @Test
    void gatedStacksRemoveTheBlindSpot() {
        long[] shape = {5, 5};
        PixelSpec plain = PixelSpec.pixelCnn(shape, 2, 4, 2);
        PixelSpec gated = spec(shape, 2, 8, 3);
        boolean[][] cone = pixelCnnCone(5, 5, 1, 2);
        boolean[][] plainDep = dependencies(plain, network(plain, 41, 0.3), null, 4, 3);
        boolean[][] gatedDep = dependencies(gated, network(gated, 42, 0.3), null, 4, 3);
        List<String> blind = new ArrayList<>();
        for (int target = 0; target < 25; target++) {
            for (int s = 0; s < target; s++) {
                assertTrue(gatedDep[target][s], "gated: " + target + " does not see " + s);
                if (!cone[target][s]) {
                    blind.add(s + "->" + target);
                    assertFalse(plainDep[target][s], "PixelCNN: " + target + " sees " + s + " in its blind spot");
                }
            }
        }
        // in a 5x5 image: (i - 1, 4) for target (i, 0), four columns right one row up, beyond PixelCNN at any depth
        assertEquals(List.of("4->5", "9->10", "14->15", "19->20"), blind);
    }

    @Test
    void exactlyNormalized() {
        PixelSpec binary = spec(new long[]{2, 2}, 2, 4, 2);
        assertNormalized(binary, network(binary, 3, 0.5), 1e-4);
        PixelSpec colour = spec(new long[]{2, 2, 3}, 2, 3, 2);
        assertNormalized(colour, network(colour, 4, 0.5), 1e-4);
        PixelSpec levels = spec(new long[]{2, 2}, 3, 4, 2);
        assertNormalized(levels, network(levels, 5, 0.5), 1e-4);
        PixelSpec conditional = spec(new long[]{2, 2}, 2, 4, 2).withContext(3);
        assertNormalized(conditional, network(conditional, 6, 0.5), 1e-4);
    }

    @Test
    void samplesFollowTheDensity() {
        PixelSpec binary = spec(new long[]{2, 2}, 2, 4, 2);
        assertSamplesFollowDensity(binary, network(binary, 8, 0.5), 6_000);
        PixelSpec colour = spec(new long[]{1, 2, 3}, 2, 3, 2);
        assertSamplesFollowDensity(colour, network(colour, 9, 0.5), 6_000);
        PixelSpec conditional = spec(new long[]{2, 2}, 2, 4, 2).withContext(2);
        assertSamplesFollowDensity(conditional, network(conditional, 10, 0.5), 4_000);
    }

    @Test
    void samplerUsesTheTrainedConditionalsAndItsSeeds() {
        PixelSpec colour = spec(new long[]{3, 3, 3}, 4, 3, 2);
        MultiLayerNetwork net = network(colour, 14, 0.3);
        assertLogitsGiveLikelihood(colour, net);
        assertSeeded(colour, net);
        PixelSpec conditional = spec(new long[]{3, 3}, 2, 4, 2).withContext(2);
        MultiLayerNetwork cnet = network(conditional, 15, 0.3);
        assertLogitsGiveLikelihood(conditional, cnet);
        assertSeeded(conditional, cnet);
    }

    @Test
    void trainingLowersNll() {
        assertTrainingLowersNll(spec(new long[]{4, 4}, 2, 4, 2), 80);
    }

    @Test
    void savedNetworkGivesTheSameDensity(@TempDir Path dir) throws Exception {
        PixelSpec spec = spec(new long[]{3, 3, 3}, 3, 3, 2).withContext(2).withOutputFilters(9);
        MultiLayerNetwork net = network(spec, 16, 0.3);
        assertSavedNetworkGivesSameDensity(spec, net, dir);
        MultiLayerConfiguration conf = MultiLayerConfiguration.fromJson(net.getLayerWiseConfigurations().toJson());
        GatedPixelCnnLayer layer = assertInstanceOf(GatedPixelCnnLayer.class, conf.getConf(0).getLayer());
        assertEquals(3, layer.getHeight());
        assertEquals(3, layer.getWidth());
        assertEquals(3, layer.getChannels());
        assertEquals(3, layer.getLevels());
        assertEquals(3, layer.getFilters());
        assertEquals(9, layer.getOutputFilters());
        assertEquals(2, layer.getLayers());
        assertEquals(2, layer.getContextSize());
    }

    @Test
    void specAndItsMap() {
        PixelSpec spec = new PixelSpec(PixelSpec.Network.GATED_PIXELCNN, new long[]{32, 32, 3}, 256, 48, 6, 96, 10);
        assertSpecSurvivesItsMap(spec);
        assertSpecSurvivesItsMap(spec(new long[]{28, 28}, 2, 16, 5));
        assertEquals(List.of("type", "eventShape", "levels", "filters", "layers", "outputFilters", "contextSize"),
                new ArrayList<>(spec.toMap().keySet()));
        assertEquals("gated-pixelcnn", spec.toMap().get("type"));
        assertEquals(32 * 32 * 3, spec.dim());
        assertEquals(3, spec.channels());
        assertEquals(1, spec.variantCount());
        assertEquals("uint8", spec.valueType());
        assertThrows(IllegalArgumentException.class, () -> spec(new long[]{4, 4}, 2, 4, 0));
        assertThrows(IllegalArgumentException.class, () -> spec(new long[]{4, 4, 3}, 2, 4, 2));
        assertThrows(IllegalArgumentException.class, () -> spec(new long[]{4, 4, 2}, 2, 4, 2).withOutputFilters(3));
        assertThrows(IllegalArgumentException.class,
                () -> ModelSpec.fromConfig(com.typesafe.config.ConfigFactory.parseMap(
                        java.util.Map.of("type", "gated-pixelcnn", "eventShape", List.of(4), "levels", 2,
                                "filters", 4, "layers", 2))));
    }
}
