package org.chainrule.models.pixelcnn;

import com.typesafe.config.ConfigFactory;
import org.chainrule.models.DensityModel;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.ModelTesting;
import org.chainrule.models.NllOutputLoss;
import org.chainrule.models.OneNativeThread;
import org.chainrule.models.conditionals.Bernoulli;
import org.chainrule.models.conditionals.Categorical;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.layers.LossLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
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
import static org.chainrule.models.pixelcnn.PixelTesting.seeds;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What every pixel network ({@link PixelSpec.Network}) must have, run once per network by a small subclass: exact
 * causality by gradients for every sub-pixel (grey, colour, K levels, conditional), exact normalisation over every
 * 2x2 image, samples and completions that pass a chi-squared test against the density, a temperature that divides
 * the logits, a sampler whose conditionals are the trained ones, Spark-free training that lowers the NLL, a layer that
 * survives its JSON and a spec that survives its saved map under the names saved models hold. A subclass names its
 * network, the literal names its saved models use, the small depth the shared cases are built at, the specs its
 * causality is checked on and what its receptive field is beyond causality; it keeps only the tests that are truly
 * its own.
 */
@ExtendWith(OneNativeThread.class)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
abstract class PixelNetworkContract {
    private final PixelSpec.Network network;
    private final String savedType;
    private final String savedDepthKey;
    private final int depth;

    /**
     * @param network       the network under test
     * @param savedType     its {@code type} in saved specs, literally (a saved model must keep loading)
     * @param savedDepthKey the key its depth is saved under, literally
     * @param depth         blocks or layers of the small networks of the shared cases
     */
    PixelNetworkContract(PixelSpec.Network network, String savedType, String savedDepthKey, int depth) {
        this.network = network;
        this.savedType = savedType;
        this.savedDepthKey = savedDepthKey;
        this.depth = depth;
    }

    /** An unconditional spec of this network whose output layer has 2 x filters maps. */
    PixelSpec spec(long[] shape, int levels, int filters, int blocksOrLayers) {
        return PixelSpec.of(network, shape, levels, filters, blocksOrLayers);
    }

    /**
     * The specs whose every logit's gradients {@link #everyLogitSeesOnlyThePast} checks: a binary image larger than
     * the first layer's reach, colour, K-level colour and a conditional one, at widths large enough that no ReLU of a
     * random network shuts a path it must have.
     */
    abstract List<PixelSpec> causalSpecs();

    /** What the network's dependencies, measured by gradients, must be beyond causality (its receptive field). */
    abstract void assertReceptiveField(PixelSpec spec, boolean[][] dependencies);

    /** The depth of a layer of this network as its JSON holds it (blocks or layers). */
    abstract int depthOf(PixelLayer layer);

    /**
     * Gradients of every output sub-pixel's logits (SameDiff's, of random networks at random inputs): exactly zero
     * for itself and every later input, non-zero for some earlier one and its nearest predecessors, and within the
     * network's receptive field. It runs first: the first backward pass through a network pays a one-time setup
     * (measured on the Diagonal BiLSTM: about 4 s more in all when training came first).
     */
    @Test
    @Order(1)
    void everyLogitSeesOnlyThePast() {
        for (PixelSpec s : causalSpecs()) {
            MultiLayerNetwork net = network(s, 21, 0.3);
            INDArray c = s.contextSize() == 0 ? null : label(s.contextSize(), s.dim(), 1);
            assertReceptiveField(s, assertCausal(s, net, c, 5));
        }
    }

    @Test
    void exactlyNormalized() {
        PixelSpec binary = spec(new long[]{2, 2}, 2, 4, depth);
        assertNormalized(binary, network(binary, 3, 0.5), 1e-4);
        PixelSpec colour = spec(new long[]{2, 2, 3}, 2, 3, depth);
        assertNormalized(colour, network(colour, 4, 0.5), 1e-4);
        PixelSpec levels = spec(new long[]{2, 2}, 3, 4, 2);
        assertNormalized(levels, network(levels, 5, 0.5), 1e-4);
        PixelSpec conditional = spec(new long[]{2, 2}, 2, 4, depth).withContext(3);
        assertNormalized(conditional, network(conditional, 6, 0.5), 1e-4);
    }

    @Test
    void samplesFollowTheDensity() {
        PixelSpec binary = spec(new long[]{2, 2}, 2, 4, depth);
        assertSamplesFollowDensity(binary, network(binary, 8, 0.5), 6_000);
        PixelSpec levels = spec(new long[]{2, 2}, 3, 4, depth);
        assertSamplesFollowDensity(levels, network(levels, 7, 0.5), 8_000);
        // colour: the sampler must draw R, G, B of a pixel in that order
        PixelSpec colour = spec(new long[]{1, 2, 3}, 2, 3, depth);
        assertSamplesFollowDensity(colour, network(colour, 9, 0.5), 6_000);
        PixelSpec conditional = spec(new long[]{2, 2}, 2, 4, depth).withContext(2);
        assertSamplesFollowDensity(conditional, network(conditional, 10, 0.5), 4_000);
    }

    /**
     * At temperature T a sub-pixel with no predecessors is drawn from softmax(logits / T), i.e. with probabilities
     * proportional to p^(1/T); a single-pixel image is one such conditional.
     */
    @Test
    void temperatureDividesTheLogits() {
        PixelSpec spec = spec(new long[]{1, 1}, 4, 4, depth);
        DensityModel density = spec.densityOf(network(spec, 12, 0.5));
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

    /** Colour at two blocks or layers, so that the conditionals pass through a stack; conditional at the small depth. */
    @Test
    void samplerUsesTheTrainedConditionalsAndItsSeeds() {
        PixelSpec colour = spec(new long[]{3, 3, 3}, 4, 3, 2);
        MultiLayerNetwork net = network(colour, 14, 0.3);
        assertLogitsGiveLikelihood(colour, net);
        assertSeeded(colour, net);
        PixelSpec conditional = spec(new long[]{3, 3}, 2, 4, depth).withContext(2);
        MultiLayerNetwork cnet = network(conditional, 15, 0.3);
        assertLogitsGiveLikelihood(conditional, cnet);
        assertSeeded(conditional, cnet);
    }

    /** Image completion: the top row is kept and the bottom row follows p(bottom | top). */
    @Test
    void completionsFollowTheConditionalOfTheBottomRow() {
        PixelSpec spec = spec(new long[]{2, 2}, 2, 4, depth);
        DensityModel m = spec.densityOf(network(spec, 17, 0.8));
        int n = 4000;
        INDArray partial = Nd4j.zeros(DataType.FLOAT, n, 4);
        partial.getColumn(0).assign(1);
        partial.getColumn(2).assign(1); // ignored: only the top row (2 values) is known
        INDArray done = m.complete(partial, 2, seeds(n, 77), null, 1.0);
        long[] counts = new long[4];
        for (int i = 0; i < n; i++) {
            assertEquals(1f, done.getFloat(i, 0));
            assertEquals(0f, done.getFloat(i, 1));
            counts[(int) (done.getFloat(i, 2) + 2 * done.getFloat(i, 3))]++;
        }
        INDArray rest = Nd4j.create(new float[]{1, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 1, 1}, new long[]{4, 4});
        double[] joint = m.logProb(rest).toDoubleVector();
        double chi = ModelTesting.pearson(counts, joint);
        assertTrue(chi < ModelTesting.chiSquaredCritical999(3) * 1.02 + 1, spec.type() + " chi-squared: " + chi);

        long[] few = {3, 4};
        assertEquals(m.sample(few, null, 1.0), m.complete(Nd4j.zeros(DataType.FLOAT, 2, 4), 0, few, null, 1.0));
        INDArray whole = Nd4j.create(new float[]{1, 0, 1, 1, 0, 1, 0, 0}, new long[]{2, 4});
        assertEquals(whole, m.complete(whole, 4, few, null, 1.0));
        assertThrows(IllegalArgumentException.class, () -> m.complete(whole, 5, few, null, 1.0));
    }

    /** Vertical stripes: the pixel above predicts each pixel. */
    @Test
    void trainingLowersNll() {
        assertTrainingLowersNll(spec(new long[]{4, 4}, 2, 4, depth), 80);
    }

    /**
     * Saved, restored and rebuilt from JSON, the network gives the same density; the layer's JSON keeps every field
     * (a non-square colour image, a hidden output width other than the default, two blocks or layers, a label).
     */
    @Test
    void savedNetworkGivesTheSameDensity(@TempDir Path dir) throws Exception {
        PixelSpec spec = new PixelSpec(network, new long[]{3, 4, 3}, 3, 3, 2, 9, 2);
        MultiLayerNetwork net = network(spec, 16, 0.3);
        assertSavedNetworkGivesSameDensity(spec, net, dir);
        MultiLayerConfiguration conf = MultiLayerConfiguration.fromJson(net.getLayerWiseConfigurations().toJson());
        PixelLayer layer = assertInstanceOf(spec.layer().getClass(), conf.getConf(0).getLayer());
        assertEquals(3, layer.getHeight());
        assertEquals(4, layer.getWidth());
        assertEquals(3, layer.getChannels());
        assertEquals(3, layer.getLevels());
        assertEquals(3, layer.getFilters());
        assertEquals(9, layer.getOutputFilters());
        assertEquals(2, depthOf(layer));
        assertEquals(2, layer.getContextSize());
        assertInstanceOf(NllOutputLoss.class, ((LossLayer) conf.getConf(1).getLayer()).getLossFn());
    }

    /** The saved map, key by key as saved models hold it, and what the spec derives from its fields. */
    @Test
    void specAndItsMap() {
        PixelSpec spec = new PixelSpec(network, new long[]{28, 28}, 256, 16, 5, 32, 10);
        Map<String, Object> saved = new LinkedHashMap<>();
        saved.put("type", savedType);
        saved.put("eventShape", List.of(28L, 28L));
        saved.put("levels", 256);
        saved.put("filters", 16);
        saved.put(savedDepthKey, 5);
        saved.put("outputFilters", 32);
        saved.put("contextSize", 10);
        assertEquals(new ArrayList<>(saved.entrySet()), new ArrayList<>(spec.toMap().entrySet()));
        assertEquals(savedType, spec.type());
        assertSpecSurvivesItsMap(spec);
        PixelSpec colour = new PixelSpec(network, new long[]{32, 32, 3}, 256, 48, 6, 96, 10);
        assertSpecSurvivesItsMap(colour);
        assertSpecSurvivesItsMap(spec(new long[]{4, 4, 3}, 2, 6, 2));
        assertSpecSurvivesItsMap(spec(new long[]{28, 28}, 2, 16, 5));

        assertEquals("uint8", spec.valueType());
        assertEquals(256, spec.levels());
        assertEquals(new Categorical(256), spec.family());
        assertEquals(28 * 28, spec.dim());
        assertEquals(1, spec.variantCount());
        assertEquals(32 * 32 * 3, colour.dim());
        assertEquals(3, colour.channels());
        assertEquals("uint8", colour.valueType());
        PixelSpec binary = spec(new long[]{2, 2}, 2, 2, network.minDepth());
        assertEquals(new Bernoulli(), binary.family());
        assertEquals("binary", binary.valueType());
        assertEquals(12, spec(new long[]{2, 2, 3}, 2, 3, 1).dim());
        assertEquals(6, spec(new long[]{2, 2, 3}, 2, 3, 1).outputFilters());

        // maps saved before outputFilters and contextSize existed load with their defaults
        Map<String, Object> bare = new HashMap<>(spec(new long[]{2, 2}, 2, 2, 1).toMap());
        bare.remove("outputFilters");
        bare.remove("contextSize");
        assertEquals(spec(new long[]{2, 2}, 2, 2, 1), ModelSpec.fromConfig(ConfigFactory.parseMap(bare)));

        assertNotEquals(spec(new long[]{2, 2}, 2, 4, 1).withContext(2), spec(new long[]{2, 2}, 2, 4, 1));
        for (PixelSpec.Network other : PixelSpec.Network.values()) {
            if (other != network) {
                assertNotEquals(new PixelSpec(other, new long[]{28, 28}, 256, 16, 5, 32, 10), spec,
                        "the network is part of the spec");
            }
        }
    }

    /** The training view {@code [x | one-hot label]}, and bad specs and bad calls rejected. */
    @Test
    void trainingViewAndBadUse() {
        PixelSpec spec = spec(new long[]{2, 3}, 2, 4, depth).withContext(2);
        INDArray x = Nd4j.createFromArray(new float[][]{{0, 1, 0, 1, 1, 0}, {1, 1, 1, 0, 0, 0}});
        INDArray c = label(2, 2, 1);
        INDArray f = spec.trainingFeatures(x, c, 0);
        assertArrayEquals(new long[]{2, 8}, f.shape());
        assertEquals(x, f.get(NDArrayIndex.all(), NDArrayIndex.interval(0, 6)));
        assertEquals(1.0, f.getDouble(1, 7));
        assertEquals(0.0, f.getDouble(1, 6));
        assertEquals(Nd4j.zeros(DataType.FLOAT, 2, 1), spec.trainingLabels(x));
        assertThrows(IllegalArgumentException.class, () -> spec.trainingFeatures(x, 0));
        assertThrows(IllegalArgumentException.class, () -> spec.trainingFeatures(x, c, 1));
        assertThrows(IllegalArgumentException.class, () -> spec.trainingFeatures(Nd4j.zeros(2, 5), c, 0));
        assertThrows(IllegalArgumentException.class,
                () -> spec(new long[]{2, 3}, 2, 4, depth).trainingFeatures(x, c, 0));

        assertThrows(IllegalArgumentException.class, () -> spec(new long[]{4, 4}, 2, 4, network.minDepth() - 1));
        assertThrows(IllegalArgumentException.class, () -> spec(new long[]{4}, 2, 4, 1));
        assertThrows(IllegalArgumentException.class, () -> spec(new long[]{4, 4, 3}, 2, 4, 1));
        assertThrows(IllegalArgumentException.class, () -> spec(new long[]{4, 4}, 1, 4, 1));
        assertThrows(IllegalArgumentException.class, () -> spec(new long[]{4, 4}, 257, 4, 1));
        assertThrows(IllegalArgumentException.class, () -> spec(new long[]{4, 4}, 2, 4, 1).withContext(-1));
        assertThrows(IllegalArgumentException.class, () -> spec(new long[]{4, 4, 3}, 2, 3, 1).withOutputFilters(4));
        assertThrows(IllegalArgumentException.class, () -> spec(new long[]{4, 4, 2}, 2, 4, 2).withOutputFilters(3));
        assertThrows(IllegalArgumentException.class, () -> ModelSpec.fromConfig(ConfigFactory.parseMap(Map.of(
                "type", savedType, "eventShape", List.of(4), "levels", 2, "filters", 4, savedDepthKey, 2))));

        DensityModel d = spec.densityOf(network(spec, 1, 0.1));
        assertThrows(IllegalArgumentException.class, () -> d.logProb(x));
        assertThrows(IllegalArgumentException.class, () -> d.sample(seeds(2, 0)));
        assertEquals(2, d.contextSize());
        assertArrayEquals(new long[]{2, 3}, d.eventShape());
        assertArrayEquals(new long[]{0, 6}, d.sample(new long[0], Nd4j.zeros(DataType.FLOAT, 0, 2), 1.0).shape());
    }
}
