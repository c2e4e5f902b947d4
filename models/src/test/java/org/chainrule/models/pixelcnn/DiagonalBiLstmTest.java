package org.chainrule.models.pixelcnn;

import org.chainrule.models.TrainingRecipe;
import org.chainrule.models.DensityModel;
import org.chainrule.models.NllOutputLoss;
import org.chainrule.models.conditionals.Categorical;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.layers.LossLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

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
import static org.chainrule.models.pixelcnn.PixelTesting.seeds;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Diagonal BiLSTM: causality and the whole context, exact normalisation, sampler, training, serialisation. */
class DiagonalBiLstmTest {
    @BeforeAll
    static void oneThread() {
        PixelTesting.oneThread();
    }

    @AfterAll
    static void restoreThreads() {
        PixelTesting.restoreThreads();
    }

    static PixelSpec spec(long[] shape, int levels, int filters, int layers) {
        return PixelSpec.diagonalBiLstm(shape, levels, filters, layers);
    }

    /**
     * Gradients of every output sub-pixel's logits (SameDiff's, of random networks at random inputs): exactly zero
     * for itself and every later input, and non-zero for <em>every</em> earlier one, with a single layer: the left
     * stream brings the upper-left quadrant, the down-shifted right stream the rows above to the right.
     */
    @Test
    void everyLogitSeesThePastAndAllOfIt() {
        List<PixelSpec> specs = List.of(
                spec(new long[]{5, 5}, 2, 4, 1),
                spec(new long[]{3, 6}, 2, 4, 2),
                spec(new long[]{6, 2}, 2, 4, 1),
                spec(new long[]{4, 4, 3}, 2, 12, 1),
                spec(new long[]{3, 4, 3}, 4, 12, 1),
                spec(new long[]{4, 4}, 2, 4, 1).withContext(3));
        for (PixelSpec s : specs) {
            MultiLayerNetwork net = network(s, 41, 0.3);
            INDArray c = s.contextSize() == 0 ? null : label(s.contextSize(), s.dim(), 1);
            boolean[][] dep = assertCausal(s, net, c, 5);
            assertWholeContext(s, dep);
        }
    }

    /**
     * On the wide image where a Row LSTM of one layer misses 25 earlier pixels of the bottom-right one (see
     * {@code RowLstmTest#receptiveFieldIsATrapezoid}), the Diagonal BiLSTM misses none, for any pixel.
     */
    @Test
    void wideImageHasNoBlindPixels() {
        PixelSpec wide = spec(new long[]{5, 12}, 2, 4, 1);
        assertWholeContext(wide, dependencies(wide, network(wide, 42, 0.3), null, 4, 8));
    }

    /**
     * Why the right direction also reads the image (see {@link DiagonalBiLstmLayer}): with its weights from the image
     * set to zero, i.e. the paper's right stream, which reads only the stream, pixel (i, j) no longer sees the last
     * pixel of row i - 1 when that is beyond the first layer's reach (j &lt; W - 4), with one layer or two, and sees
     * every other earlier pixel still.
     */
    @Test
    void streamAloneMissesTheEndOfTheRowAbove() {
        for (int layers = 1; layers <= 2; layers++) {
            PixelSpec s = spec(new long[]{2, 6}, 2, 4, layers);
            MultiLayerNetwork net = network(s, 43, 0.3);
            for (int l = 1; l <= layers; l++) {
                net.getLayer(0).getParam("wri" + l).get(NDArrayIndex.all(), NDArrayIndex.all(),
                        NDArrayIndex.interval(8, 9), NDArrayIndex.all()).assign(0);
            }
            boolean[][] dep = dependencies(s, net, null, 4, 10);
            for (int r = 0; r < s.dim(); r++) {
                int i = r / 6;
                int j = r % 6;
                for (int q = 0; q < r; q++) {
                    boolean blind = q == (i - 1) * 6 + 5 && j < 6 - 4;
                    assertEquals(!blind, dep[r][q], layers + " layers: does " + r + " depend on " + q + "?");
                }
            }
        }
    }

    private static void assertWholeContext(PixelSpec s, boolean[][] dep) {
        for (int r = 0; r < s.dim(); r++) {
            for (int q = 0; q < s.dim(); q++) {
                assertEquals(q < r, dep[r][q], s + ": does " + r + " depend on " + q + "?");
            }
        }
    }

    @Test
    void exactlyNormalized() {
        PixelSpec binary = spec(new long[]{2, 2}, 2, 4, 1);
        assertNormalized(binary, network(binary, 3, 0.5), 1e-4);
        PixelSpec levels = spec(new long[]{2, 2}, 3, 4, 2);
        assertNormalized(levels, network(levels, 5, 0.5), 1e-4);
        PixelSpec colour = spec(new long[]{2, 2, 3}, 2, 3, 1);
        assertNormalized(colour, network(colour, 4, 0.5), 1e-4);
        PixelSpec conditional = spec(new long[]{2, 2}, 2, 4, 1).withContext(3);
        assertNormalized(conditional, network(conditional, 6, 0.5), 1e-4);
    }

    @Test
    void samplesFollowTheDensity() {
        PixelSpec binary = spec(new long[]{2, 2}, 2, 4, 1);
        assertSamplesFollowDensity(binary, network(binary, 8, 0.5), 6_000);
        PixelSpec levels = spec(new long[]{2, 2}, 3, 4, 1);
        assertSamplesFollowDensity(levels, network(levels, 7, 0.5), 8_000);
        PixelSpec colour = spec(new long[]{1, 2, 3}, 2, 3, 1);
        assertSamplesFollowDensity(colour, network(colour, 9, 0.5), 6_000);
    }

    @Test
    void samplerUsesTheTrainedConditionalsAndItsSeeds() {
        PixelSpec colour = spec(new long[]{3, 3, 3}, 4, 3, 2);
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

    /** The forget gates of both directions start open (bias 1), the other gates' biases at 0. */
    @Test
    void forgetGatesStartAtOne() {
        PixelSpec spec = spec(new long[]{3, 3}, 2, 4, 1);
        MultiLayerNetwork net = new MultiLayerNetwork(spec.trainingConfiguration(new TrainingRecipe(1e-2, 1)));
        net.init();
        for (String name : List.of("bli1", "bri1")) {
            double[] b = net.getLayer(0).getParam(name).reshape(-1).toDoubleVector();
            assertEquals(16, b.length);
            for (int k = 0; k < 16; k++) {
                assertEquals(k >= 4 && k < 8 ? 1.0 : 0.0, b[k], name + "[" + k + "]");
            }
        }
    }

    @Test
    void savedNetworkGivesTheSameDensity(@TempDir Path dir) throws Exception {
        PixelSpec spec = new PixelSpec(PixelSpec.Network.DIAGONAL_BILSTM, new long[]{3, 4, 3}, 3, 3, 2, 6, 2);
        MultiLayerNetwork net = network(spec, 16, 0.3);
        assertSavedNetworkGivesSameDensity(spec, net, dir);
        MultiLayerConfiguration conf = MultiLayerConfiguration.fromJson(net.getLayerWiseConfigurations().toJson());
        DiagonalBiLstmLayer layer = assertInstanceOf(DiagonalBiLstmLayer.class, conf.getConf(0).getLayer());
        assertEquals(3, layer.getHeight());
        assertEquals(4, layer.getWidth());
        assertEquals(3, layer.getChannels());
        assertEquals(3, layer.getLevels());
        assertEquals(3, layer.getFilters());
        assertEquals(6, layer.getOutputFilters());
        assertEquals(2, layer.getLayers());
        assertEquals(2, layer.getContextSize());
        assertInstanceOf(NllOutputLoss.class, ((LossLayer) conf.getConf(1).getLayer()).getLossFn());
    }

    @Test
    void specAndItsMap() {
        PixelSpec spec = new PixelSpec(PixelSpec.Network.DIAGONAL_BILSTM, new long[]{28, 28}, 256, 16, 2, 32, 10);
        assertSpecSurvivesItsMap(spec);
        assertSpecSurvivesItsMap(spec(new long[]{4, 4, 3}, 2, 6, 2));
        Map<String, Object> m = spec.toMap();
        assertEquals(List.of("type", "eventShape", "levels", "filters", "layers", "outputFilters", "contextSize"),
                new ArrayList<>(m.keySet()));
        assertEquals("diagonal-bilstm", m.get("type"));
        assertEquals(new Categorical(256), spec.family());
        assertTrue(!spec.equals(new PixelSpec(PixelSpec.Network.ROW_LSTM, new long[]{28, 28}, 256, 16, 2, 32, 10)));
    }

    @Test
    void badUse() {
        assertThrows(IllegalArgumentException.class, () -> spec(new long[]{4, 4}, 2, 4, 0));
        assertThrows(IllegalArgumentException.class, () -> spec(new long[]{4, 4, 3}, 2, 4, 1));
        PixelSpec conditional = spec(new long[]{2, 2}, 2, 4, 1).withContext(2);
        DensityModel d = conditional.densityOf(network(conditional, 1, 0.1));
        INDArray x = PixelTesting.events(conditional, 2, new Random(1));
        assertThrows(IllegalArgumentException.class, () -> d.logProb(x));
        assertThrows(IllegalArgumentException.class, () -> d.sample(seeds(2, 0)));
    }
}
