package org.chainrule.models.pixelcnn;

import org.chainrule.models.TrainingRecipe;
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
import org.nd4j.linalg.api.ndarray.INDArray;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

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
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Row LSTM: causality and the shape of its receptive field, exact normalisation, sampler, training, serialisation. */
class RowLstmTest {
    @BeforeAll
    static void oneThread() {
        PixelTesting.oneThread();
    }

    @AfterAll
    static void restoreThreads() {
        PixelTesting.restoreThreads();
    }

    static PixelSpec spec(long[] shape, int levels, int filters, int layers) {
        return PixelSpec.rowLstm(shape, levels, filters, layers);
    }

    /**
     * The receptive field worked out by hand from the kernels (see {@link RowLstmLayer}): output sub-pixel (i, j, c)
     * sees its own pixel's channels before c; row i at columns j - 3 - L .. j - 1; row i - r (r &gt;= 1) at columns
     * j - 3 - L - r .. j + 2 + r; every channel of each pixel it sees.
     */
    static boolean[][] trapezoid(PixelSpec s) {
        int w = s.width();
        int colours = s.channels();
        int l = s.depth();
        boolean[][] field = new boolean[s.dim()][s.dim()];
        for (int r = 0; r < s.dim(); r++) {
            int i = r / colours / w;
            int j = r / colours % w;
            for (int q = 0; q < s.dim(); q++) {
                int y = q / colours / w;
                int z = q / colours % w;
                int up = i - y;
                if (y == i && z == j) {
                    field[r][q] = q % colours < r % colours;
                } else if (up == 0) {
                    field[r][q] = z >= j - 3 - l && z < j;
                } else if (up > 0) {
                    field[r][q] = z >= j - 3 - l - up && z <= j + 2 + up;
                }
            }
        }
        return field;
    }

    /**
     * Gradients of every output sub-pixel's logits (SameDiff's, of random networks at random inputs): exactly zero
     * for itself and every later input, non-zero for some earlier one and its nearest predecessors, and non-zero
     * exactly on the receptive field worked out by hand. (Colour specs have 12 state features, 4 per colour: with
     * fewer, the ReLUs of the output layers sometimes shut every path from a pixel's R to its G on the first row.)
     */
    @Test
    void everyLogitSeesOnlyThePast() {
        List<PixelSpec> specs = List.of(
                spec(new long[]{5, 5}, 2, 4, 2),
                spec(new long[]{4, 4, 3}, 2, 12, 1),
                spec(new long[]{3, 4, 3}, 4, 12, 1),
                spec(new long[]{4, 4}, 2, 4, 1).withContext(3));
        for (PixelSpec s : specs) {
            MultiLayerNetwork net = network(s, 21, 0.3);
            INDArray c = s.contextSize() == 0 ? null : label(s.contextSize(), s.dim(), 1);
            boolean[][] dep = assertCausal(s, net, c, 5);
            assertField(s, dep);
        }
    }

    /**
     * What the Row LSTM misses, on a wide image where the trapezoid is narrower than the rows: for a 5x12 image and
     * one layer, pixel (4, 11) (bottom right) sees its own row only from column 7 (the first layer's 3 plus one per
     * layer to the left), row 3 from column 6, row 0 from column 3; pixel (4, 0) sees row 3 up to column 3, row 2 up
     * to column 4, row 0 up to column 6, never further right. A second layer reaches one column further left on every
     * row and no further right. The gradients agree with the hand-made field exactly, so each named pixel that
     * precedes the target yet lies outside it has gradient exactly 0.
     */
    @Test
    void receptiveFieldIsATrapezoid() {
        PixelSpec one = spec(new long[]{5, 12}, 2, 4, 1);
        boolean[][] dep = dependencies(one, network(one, 22, 0.3), null, 6, 8);
        assertField(one, dep);
        int right = 4 * 12 + 11;
        int left = 4 * 12;
        assertTrue(dep[right][4 * 12 + 7] && !dep[right][4 * 12 + 6], "current row: columns 7.. only");
        assertTrue(dep[right][3 * 12 + 6] && !dep[right][3 * 12 + 5], "row above: columns 6.. only");
        assertTrue(dep[right][3] && !dep[right][2], "top row: columns 3.. only");
        assertTrue(dep[left][3 * 12 + 3] && !dep[left][3 * 12 + 4], "row above: columns ..3 only");
        assertTrue(dep[left][2 * 12 + 4] && !dep[left][2 * 12 + 5], "two rows up: columns ..4 only");
        assertTrue(dep[left][6] && !dep[left][7], "top row: columns ..6 only");
        int missed = 0;
        for (int q = 0; q < right; q++) {
            missed += dep[right][q] ? 0 : 1;
        }
        assertEquals(7 + 6 + 5 + 4 + 3, missed, "earlier pixels that (4, 11) never sees");

        PixelSpec two = spec(new long[]{5, 12}, 2, 4, 2);
        boolean[][] dep2 = dependencies(two, network(two, 23, 0.3), null, 6, 9);
        assertField(two, dep2);
        assertTrue(dep2[right][4 * 12 + 6] && !dep2[right][4 * 12 + 5], "two layers: current row from column 6");
        assertTrue(dep2[right][2] && !dep2[right][1], "two layers: top row from column 2");
        assertTrue(!dep2[left][3 * 12 + 4] && !dep2[left][7], "two layers: no further right");
    }

    /** The measured dependencies are the hand-made receptive field, exactly. */
    private static void assertField(PixelSpec s, boolean[][] dep) {
        boolean[][] field = trapezoid(s);
        for (int r = 0; r < s.dim(); r++) {
            for (int q = 0; q < s.dim(); q++) {
                assertEquals(field[r][q], dep[r][q], s + ": does " + r + " depend on " + q + "?");
                assertTrue(!field[r][q] || q < r, "the hand-made field itself lets " + r + " see " + q);
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
        // colour: the sampler must draw R, G, B of a pixel in that order
        PixelSpec colour = spec(new long[]{1, 2, 3}, 2, 3, 1);
        assertSamplesFollowDensity(colour, network(colour, 9, 0.5), 6_000);
        PixelSpec conditional = spec(new long[]{2, 2}, 2, 4, 1).withContext(2);
        assertSamplesFollowDensity(conditional, network(conditional, 10, 0.5), 4_000);
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

    /** Vertical stripes: the pixel above, which the recurrence carries, predicts each pixel. */
    @Test
    void trainingLowersNll() {
        assertTrainingLowersNll(spec(new long[]{4, 4}, 2, 4, 1), 80);
    }

    /** The forget gates start open (bias 1), the other gates' biases at 0. */
    @Test
    void forgetGatesStartAtOne() {
        PixelSpec spec = spec(new long[]{3, 3}, 2, 4, 2);
        MultiLayerNetwork net = new MultiLayerNetwork(spec.trainingConfiguration(new TrainingRecipe(1e-2, 1)));
        net.init();
        for (int l = 1; l <= 2; l++) {
            double[] b = net.getLayer(0).getParam("bi" + l).reshape(-1).toDoubleVector();
            assertEquals(16, b.length);
            for (int k = 0; k < 16; k++) {
                assertEquals(k >= 4 && k < 8 ? 1.0 : 0.0, b[k], "layer " + l + " gate bias " + k);
            }
        }
    }

    @Test
    void savedNetworkGivesTheSameDensity(@TempDir Path dir) throws Exception {
        PixelSpec spec = new PixelSpec(PixelSpec.Network.ROW_LSTM, new long[]{3, 3, 3}, 3, 3, 2, 6, 2);
        MultiLayerNetwork net = network(spec, 16, 0.3);
        assertSavedNetworkGivesSameDensity(spec, net, dir);
        MultiLayerConfiguration conf = MultiLayerConfiguration.fromJson(net.getLayerWiseConfigurations().toJson());
        RowLstmLayer layer = assertInstanceOf(RowLstmLayer.class, conf.getConf(0).getLayer());
        assertEquals(3, layer.getHeight());
        assertEquals(3, layer.getWidth());
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
        PixelSpec spec = new PixelSpec(PixelSpec.Network.ROW_LSTM, new long[]{28, 28}, 256, 16, 3, 32, 10);
        assertSpecSurvivesItsMap(spec);
        assertSpecSurvivesItsMap(spec(new long[]{4, 4, 3}, 2, 6, 2));
        Map<String, Object> m = spec.toMap();
        assertEquals(List.of("type", "eventShape", "levels", "filters", "layers", "outputFilters", "contextSize"),
                new ArrayList<>(m.keySet()));
        assertEquals("row-lstm", m.get("type"));
        assertEquals(List.of(28L, 28L), m.get("eventShape"));
        assertEquals("uint8", spec.valueType());
        assertEquals(new Categorical(256), spec.family());
        assertEquals(new Bernoulli(), spec(new long[]{2, 2}, 2, 2, 1).family());
        assertEquals(1, spec.variantCount());
        assertEquals(6, spec(new long[]{2, 2, 3}, 2, 3, 1).outputFilters());

        Map<String, Object> bare = new HashMap<>(spec(new long[]{2, 2}, 2, 2, 1).toMap());
        bare.remove("outputFilters");
        bare.remove("contextSize");
        assertEquals(spec(new long[]{2, 2}, 2, 2, 1),
                ModelSpec.fromConfig(com.typesafe.config.ConfigFactory.parseMap(bare)));
    }

    @Test
    void badUse() {
        assertThrows(IllegalArgumentException.class, () -> spec(new long[]{4, 4}, 2, 4, 0));
        assertThrows(IllegalArgumentException.class, () -> spec(new long[]{4}, 2, 4, 1));
        assertThrows(IllegalArgumentException.class, () -> spec(new long[]{4, 4, 3}, 2, 4, 1));
        assertThrows(IllegalArgumentException.class, () -> spec(new long[]{4, 4}, 1, 4, 1));
        assertThrows(IllegalArgumentException.class, () -> spec(new long[]{4, 4}, 2, 4, 1).withContext(-1));
        PixelSpec conditional = spec(new long[]{2, 2}, 2, 4, 1).withContext(2);
        DensityModel d = conditional.densityOf(network(conditional, 1, 0.1));
        INDArray x = PixelTesting.events(conditional, 2, new java.util.Random(1));
        assertThrows(IllegalArgumentException.class, () -> d.logProb(x));
        assertThrows(IllegalArgumentException.class, () -> d.sample(seeds(2, 0)));
        assertFalse(conditional.equals(spec(new long[]{2, 2}, 2, 4, 1)));
    }
}
