package org.chainrule.models.autoregressive;

import org.chainrule.models.TrainingRecipe;
import com.typesafe.config.ConfigFactory;
import org.chainrule.models.BernoulliLogitLoss;
import org.chainrule.models.DensityModel;
import org.chainrule.models.LogMath;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.NllOutputLoss;
import org.chainrule.models.conditionals.Bernoulli;
import org.chainrule.models.conditionals.Categorical;
import org.chainrule.models.conditionals.GaussianMixture;
import org.chainrule.models.conditionals.OutputFamily;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.layers.LossLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.shade.jackson.databind.JsonNode;
import org.nd4j.shade.jackson.databind.ObjectMapper;
import org.nd4j.shade.jackson.databind.node.ObjectNode;

import java.io.File;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static org.chainrule.models.ModelTesting.chiSquaredCritical999;
import static org.chainrule.models.ModelTesting.randomNetwork;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** MADE with categorical, Gaussian and Gaussian-mixture conditionals, with and without a context. */
class MadeFamiliesTest {
    static final Categorical CAT3 = new Categorical(3);
    static final GaussianMixture GAUSSIAN = new GaussianMixture(1);
    static final GaussianMixture MIX2 = new GaussianMixture(2);

    static MadeSpec made(int dim, int[] hidden, int masks, OutputFamily family, int context) {
        return MadeSpec.made(new long[]{dim}, hidden, masks, masks > 1, 17).withFamily(family).withContext(context);
    }

    /** D = 3 discrete models, small enough to enumerate. */
    static Stream<MadeSpec> discrete() {
        return Stream.of(
                made(3, new int[]{10}, 1, CAT3, 0),
                made(3, new int[]{10, 8}, 3, CAT3, 0).withDirect(true),
                made(3, new int[]{10}, 1, CAT3, 2),
                made(3, new int[]{10}, 3, CAT3, 2).withDirect(true),
                MadeSpec.fvsbn(new long[]{3}).withFamily(CAT3).withContext(2),
                made(3, new int[]{8}, 2, new Bernoulli(), 2),
                made(3, new int[]{10}, 2, CAT3, 2).withOrdering("4").withDirect(true));
    }

    /** D = 2 real-valued models. */
    static Stream<MadeSpec> real() {
        return Stream.of(
                made(2, new int[]{8}, 1, GAUSSIAN, 0),
                made(2, new int[]{8}, 3, GAUSSIAN, 2),
                made(2, new int[]{8, 6}, 1, MIX2, 2).withDirect(true),
                made(2, new int[]{8}, 3, MIX2, 0),
                made(2, new int[]{8}, 1, MIX2, 2).withOrdering("random"));
    }

    static Stream<MadeSpec> all() {
        return Stream.concat(discrete(), real());
    }

    /** Random parameters; real-valued models get milder ones so their densities stay on an integrable scale. */
    static MultiLayerNetwork network(MadeSpec spec, long seed) {
        if (spec.levels() > 0) {
            return randomNetwork(spec, seed);
        }
        MultiLayerNetwork net = new MultiLayerNetwork(spec.trainingConfiguration(new TrainingRecipe(1e-2, seed)));
        net.init();
        Random r = new Random(seed);
        INDArray p = net.params();
        for (long i = 0; i < p.length(); i++) {
            p.putScalar(i, p.getDouble(i) + 0.3 * r.nextGaussian());
        }
        net.setParams(p);
        return net;
    }

    static MadeDensity density(MadeSpec spec, MultiLayerNetwork net) {
        return assertInstanceOf(MadeDensity.class, spec.densityOf(net));
    }

    /** Random events of the spec's value type. */
    static INDArray events(MadeSpec spec, int n, Random r) {
        float[] v = new float[n * spec.dim()];
        for (int i = 0; i < v.length; i++) {
            v[i] = spec.levels() > 0 ? r.nextInt(spec.levels()) : (float) r.nextGaussian();
        }
        return Nd4j.create(v, new long[]{n, spec.dim()}, DataType.FLOAT);
    }

    /** One-hot contexts (alternating rows), or null for an unconditional spec. */
    static INDArray contexts(MadeSpec spec, int n, int offset) {
        if (spec.contextSize() == 0) {
            return null;
        }
        INDArray c = Nd4j.zeros(DataType.FLOAT, n, spec.contextSize());
        for (int i = 0; i < n; i++) {
            c.putScalar(i, (i + offset) % spec.contextSize(), 1.0);
        }
        return c;
    }

    /** The same one-hot context on every row. */
    static INDArray context(MadeSpec spec, int n, int which) {
        if (spec.contextSize() == 0) {
            return null;
        }
        INDArray c = Nd4j.zeros(DataType.FLOAT, n, spec.contextSize());
        c.getColumn(which).assign(1.0);
        return c;
    }

    /** Changes a value so that any conditional using it must notice. */
    static void perturb(MadeSpec spec, INDArray x, int column, Random r) {
        for (int i = 0; i < x.rows(); i++) {
            double v = x.getDouble(i, column);
            double w = spec.levels() > 0 ? (v + 1 + r.nextInt(spec.levels() - 1)) % spec.levels()
                    : v + 1 + r.nextGaussian();
            x.putScalar(i, column, w);
        }
    }

    static double maxDiff(INDArray a, INDArray b, int d, int perDim) {
        INDArrayIndex cols = NDArrayIndex.interval((long) d * perDim, (long) (d + 1) * perDim);
        return a.get(NDArrayIndex.all(), cols).sub(b.get(NDArrayIndex.all(), cols)).amaxNumber().doubleValue();
    }

    /**
     * The parameters of dimension d never change when inputs at or after d in the ordering change, and do depend on
     * earlier ones; with a context, every dimension's parameters depend on it.
     */
    @ParameterizedTest
    @MethodSource("all")
    void autoregressivePropertyForEveryMask(MadeSpec spec) {
        MadeDensity density = density(spec, network(spec, 11));
        Random r = new Random(3);
        int dim = spec.dim();
        int perDim = spec.family().paramsPerDim();
        INDArray x = events(spec, 16, r);
        INDArray c = contexts(spec, 16, 0);
        for (int k = 0; k < spec.variantCount(); k++) {
            int[] order = spec.masks(k).ordering();
            INDArray base = density.params(x, c, k);
            assertEquals(dim * perDim, base.columns());
            int dependsOnPast = 0;
            for (int t = 0; t < dim; t++) {
                int d = order[t];
                INDArray future = x.dup();
                for (int s = t; s < dim; s++) {
                    perturb(spec, future, order[s], r);
                }
                assertEquals(0.0, maxDiff(density.params(future, c, k), base, d, perDim), 0.0,
                        "mask " + k + ": dimension " + d + " depends on inputs at or after it");
                if (t > 0) {
                    INDArray past = x.dup();
                    for (int s = 0; s < t; s++) {
                        perturb(spec, past, order[s], r);
                    }
                    if (maxDiff(density.params(past, c, k), base, d, perDim) > 1e-5) {
                        dependsOnPast++;
                    }
                }
                if (c != null) {
                    INDArray other = contexts(spec, 16, 1);
                    assertTrue(maxDiff(density.params(x, other, k), base, d, perDim) > 1e-5,
                            "mask " + k + ": dimension " + d + " ignores the context");
                }
            }
            assertTrue(dependsOnPast >= (dim - 1) / 2, "mask " + k + ": too few dimensions use the past");
        }
    }

    /**
     * The Java walk (the sampler's forward), the Java full pass and the DL4J training graph give one likelihood per
     * mask set; the density's ensemble is their log-mean-exp.
     */
    @ParameterizedTest
    @MethodSource("all")
    void javaLikelihoodMatchesTrainingGraph(MadeSpec spec) {
        MultiLayerNetwork net = network(spec, 13);
        MadeDensity density = density(spec, net);
        Random r = new Random(5);
        INDArray x = events(spec, 32, r);
        INDArray c = contexts(spec, 32, 0);
        int perDim = spec.family().paramsPerDim();
        INDArray perMask = Nd4j.create(DataType.DOUBLE, 32, spec.variantCount());
        for (int k = 0; k < spec.variantCount(); k++) {
            double[] graph = net.output(spec.trainingFeatures(x, c, k), false).reshape(-1).neg().toDoubleVector();
            double[] walk = density.logProb(x, c, k).toDoubleVector();
            float[][] params = density.params(x, c, k).toFloatMatrix();
            for (int i = 0; i < 32; i++) {
                double full = 0;
                for (int d = 0; d < spec.dim(); d++) {
                    full += spec.family().logProb(params[i], d * perDim, x.getDouble(i, d));
                }
                double tol = 1e-4 * Math.max(1.0, Math.abs(graph[i]));
                assertEquals(graph[i], walk[i], tol, "mask " + k + " row " + i + ": walk vs graph");
                assertEquals(full, walk[i], tol, "mask " + k + " row " + i + ": walk vs full pass");
            }
            perMask.putColumn(k, Nd4j.createFromArray(walk));
        }
        INDArray ensemble = spec.variantCount() == 1 ? perMask.getColumn(0) : LogMath.logMeanExp(perMask);
        double[] expected = ensemble.toDoubleVector();
        double[] actual = density.logProb(x, c).toDoubleVector();
        for (int i = 0; i < 32; i++) {
            assertEquals(expected[i], actual[i], 1e-4 * Math.max(1.0, Math.abs(expected[i])));
        }
    }

    /** All K^D vectors, {@code [K^D, D]}, the first dimension varying fastest. */
    static INDArray allVectors(int levels, int dim) {
        int n = (int) Math.pow(levels, dim);
        float[] v = new float[n * dim];
        for (int i = 0; i < n; i++) {
            int rest = i;
            for (int d = 0; d < dim; d++) {
                v[i * dim + d] = rest % levels;
                rest /= levels;
            }
        }
        return Nd4j.create(v, new long[]{n, dim}, DataType.FLOAT);
    }

    static int index(float[] row, int levels) {
        int idx = 0;
        for (int d = row.length - 1; d >= 0; d--) {
            idx = idx * levels + (int) row[d];
        }
        return idx;
    }

    static double sumExp(INDArray logProb) {
        double total = 0;
        for (double v : logProb.toDoubleVector()) {
            total += Math.exp(v);
        }
        return total;
    }

    /** Every mask set and the ensemble sum to one over all K^D vectors, for every context value. */
    @ParameterizedTest
    @MethodSource("discrete")
    void discreteModelsAreExactlyNormalized(MadeSpec spec) {
        MadeDensity density = density(spec, network(spec, 17));
        INDArray all = allVectors(spec.levels(), spec.dim());
        int n = (int) all.rows();
        for (int which = 0; which < Math.max(1, spec.contextSize()); which++) {
            INDArray c = context(spec, n, which);
            assertEquals(1.0, sumExp(density.logProb(all, c)), 1e-4, "ensemble, context " + which);
            for (int k = 0; k < spec.variantCount(); k++) {
                assertEquals(1.0, sumExp(density.logProb(all, c, k)), 1e-4, "mask " + k + ", context " + which);
            }
        }
    }

    /** Grid points of [-R, R] with step h, and trapezoid weights. */
    static final double R = 25;
    static final double H = 0.1;

    static double[] grid() {
        int n = (int) Math.round(2 * R / H) + 1;
        double[] g = new double[n];
        for (int i = 0; i < n; i++) {
            g[i] = -R + i * H;
        }
        return g;
    }

    static double weight(int i, int n) {
        return i == 0 || i == n - 1 ? H / 2 : H;
    }

    static Stream<MadeSpec> realForIntegration() {
        return Stream.concat(real(), Stream.of(
                made(1, new int[]{8}, 1, GAUSSIAN, 0),
                made(1, new int[]{8}, 3, MIX2, 2)));
    }

    /** Real-valued densities integrate to one (D = 1 and D = 2, trapezoid rule), per context value. */
    @ParameterizedTest
    @MethodSource("realForIntegration")
    void realModelsIntegrateToOne(MadeSpec spec) {
        MadeDensity density = density(spec, network(spec, 19));
        double[] g = grid();
        int n = g.length;
        int rows = spec.dim() == 1 ? n : n * n;
        float[] v = new float[rows * spec.dim()];
        double[] w = new double[rows];
        for (int i = 0; i < rows; i++) {
            if (spec.dim() == 1) {
                v[i] = (float) g[i];
                w[i] = weight(i, n);
            } else {
                v[2 * i] = (float) g[i / n];
                v[2 * i + 1] = (float) g[i % n];
                w[i] = weight(i / n, n) * weight(i % n, n);
            }
        }
        INDArray x = Nd4j.create(v, new long[]{rows, spec.dim()}, DataType.FLOAT);
        for (int which = 0; which < Math.max(1, spec.contextSize()); which++) {
            double[] lp = density.logProb(x, context(spec, rows, which)).toDoubleVector();
            double total = 0;
            for (int i = 0; i < rows; i++) {
                total += w[i] * Math.exp(lp[i]);
            }
            assertEquals(1.0, total, 1e-3, "integral over the grid, context " + which);
        }
    }

    /** Sample frequencies of every (context, vector) cell match exp(logProb): chi-squared at the 0.1% level. */
    @ParameterizedTest
    @MethodSource("samplingSpecs")
    void discreteSamplesFollowTheDensity(MadeSpec spec) {
        MadeDensity density = density(spec, network(spec, 23));
        int n = 12_000;
        int contexts = Math.max(1, spec.contextSize());
        int levels = spec.levels();
        INDArray all = allVectors(levels, spec.dim());
        int cells = (int) all.rows();
        long[] seeds = new long[n];
        for (int i = 0; i < n; i++) {
            seeds[i] = 1000 + i;
        }
        INDArray c = contexts(spec, n, 0);
        float[][] samples = density.sample(seeds, c, 1.0).toFloatMatrix();
        long[] counts = new long[contexts * cells];
        for (int i = 0; i < n; i++) {
            counts[(i % contexts) * cells + index(samples[i], levels)]++;
        }
        // Pearson's statistic; cells expecting fewer than 5 samples are pooled into one
        double stat = 0;
        int used = 0;
        double smallExpected = 0;
        long smallObserved = 0;
        for (int which = 0; which < contexts; which++) {
            double[] p = density.logProb(all, context(spec, cells, which)).toDoubleVector();
            double rowsWithContext = (double) n / contexts;
            for (int j = 0; j < cells; j++) {
                double e = rowsWithContext * Math.exp(p[j]);
                long o = counts[which * cells + j];
                if (e < 5) {
                    smallExpected += e;
                    smallObserved += o;
                } else {
                    stat += (o - e) * (o - e) / e;
                    used++;
                }
            }
        }
        if (smallExpected > 0) {
            stat += (smallObserved - smallExpected) * (smallObserved - smallExpected) / Math.max(smallExpected, 1e-9);
            used++;
        }
        assertTrue(used >= 10, "too few cells: " + used);
        // one constraint per context: its counts sum to its rows
        int dof = used - contexts;
        assertTrue(stat < chiSquaredCritical999(dof), "chi-squared " + stat + " with " + dof + " dof");
    }

    static Stream<MadeSpec> samplingSpecs() {
        return Stream.of(
                made(3, new int[]{10}, 1, CAT3, 0),
                made(3, new int[]{10}, 3, CAT3, 2).withDirect(true),
                made(3, new int[]{8}, 2, new Bernoulli(), 2));
    }

    /** 1-D real models: sample mean and variance agree with those of the density (by quadrature), per context. */
    @ParameterizedTest
    @MethodSource("oneDimensional")
    void realSamplesHaveTheDensitysMoments(MadeSpec spec) {
        MadeDensity density = density(spec, network(spec, 29));
        double[] g = grid();
        INDArray x = Nd4j.create(g).castTo(DataType.FLOAT).reshape(-1, 1);
        int n = 20_000;
        for (int which = 0; which < Math.max(1, spec.contextSize()); which++) {
            double[] lp = density.logProb(x, context(spec, g.length, which)).toDoubleVector();
            double[] m = new double[5];
            for (int i = 0; i < g.length; i++) {
                double p = weight(i, g.length) * Math.exp(lp[i]);
                for (int j = 0; j < 5; j++) {
                    m[j] += p * Math.pow(g[i], j);
                }
            }
            double mean = m[1] / m[0];
            double var = m[2] / m[0] - mean * mean;
            double central4 = m[4] / m[0] - 4 * mean * m[3] / m[0] + 6 * mean * mean * m[2] / m[0]
                    - 3 * Math.pow(mean, 4);
            long[] seeds = new long[n];
            for (int i = 0; i < n; i++) {
                seeds[i] = 77L * which + i * 1_000_003L;
            }
            double[] s = density.sample(seeds, context(spec, n, which), 1.0).reshape(-1).toDoubleVector();
            double sm = java.util.Arrays.stream(s).average().orElseThrow();
            double sv = java.util.Arrays.stream(s).map(v -> (v - sm) * (v - sm)).sum() / (n - 1);
            assertEquals(mean, sm, 4.5 * Math.sqrt(var / n), "sample mean, context " + which);
            assertEquals(var, sv, 4.5 * Math.sqrt((central4 - var * var) / n), "sample variance, context " + which);
        }
    }

    static Stream<MadeSpec> oneDimensional() {
        return Stream.of(made(1, new int[]{8}, 1, GAUSSIAN, 2), made(1, new int[]{8}, 3, MIX2, 0));
    }

    /** A Gaussian conditional at temperature T keeps its mean and scales its standard deviation by T. */
    @Test
    void temperatureScalesGaussianSpread() {
        MadeSpec spec = made(1, new int[]{8}, 1, GAUSSIAN, 0);
        MadeDensity density = density(spec, network(spec, 31));
        long[] seeds = new long[20_000];
        for (int i = 0; i < seeds.length; i++) {
            seeds[i] = i;
        }
        double[] one = density.sample(seeds, null, 1.0).reshape(-1).toDoubleVector();
        double[] half = density.sample(seeds, null, 0.5).reshape(-1).toDoubleVector();
        // a 1-D MADE's conditional has no inputs: parameters (logit, mean, log std) are the same for any x
        double mean = density.params(Nd4j.zeros(DataType.FLOAT, 1, 1), null, 0).getDouble(0, 1);
        double spread = 0;
        for (int i = 0; i < seeds.length; i++) {
            // same seed, same normal draw: the tempered sample is halfway to the mean
            assertEquals(mean + 0.5 * (one[i] - mean), half[i], 1e-5 * (1 + Math.abs(one[i])));
            spread = Math.max(spread, Math.abs(one[i] - mean));
        }
        assertTrue(spread > 0.1, "samples should spread: " + spread);
    }

    @ParameterizedTest
    @MethodSource("all")
    void cachedAndNaiveSamplingAgreeAndAreSeeded(MadeSpec spec) {
        MadeDensity density = density(spec, network(spec, 37));
        long[] seeds = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        INDArray c = contexts(spec, 10, 0);
        INDArray cached = density.sample(seeds, c, 1.0, true);
        assertTrue(cached.equalsWithEps(density.sample(seeds, c, 1.0, false), 1e-4), "cached vs naive");
        assertEquals(cached, density.sample(seeds, c, 1.0));
        // a row depends only on its own seed and context, not on its batch
        INDArray one = density.sample(new long[]{4}, c == null ? null : c.getRow(3, true), 1.0);
        assertEquals(cached.getRow(3), one.getRow(0));
        if (spec.levels() > 0) {
            for (double v : cached.reshape(-1).toDoubleVector()) {
                assertTrue(v == Math.rint(v) && v >= 0 && v < spec.levels(), "not a level: " + v);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("all")
    void specSurvivesItsMap(MadeSpec spec) {
        ModelSpec back = ModelSpec.fromConfig(ConfigFactory.parseMap(spec.toMap()));
        assertEquals(spec, back);
        assertEquals(spec.hashCode(), back.hashCode());
        assertEquals(spec.family(), ((MadeSpec) back).family());
        assertEquals(spec.contextSize(), back.contextSize());
        assertEquals(spec.family().valueType(), back.valueType());
        assertEquals(spec.family().levels(), back.levels());
    }

    @Test
    void mapKeysAndOldMaps() {
        MadeSpec spec = made(3, new int[]{5}, 2, MIX2, 4);
        Map<String, Object> m = spec.toMap();
        assertEquals(List.of("type", "eventShape", "hidden", "variants", "orderAgnostic", "maskSeed", "direct",
                "family", "levels", "components", "contextSize"), new ArrayList<>(m.keySet()));
        assertEquals("mixture", m.get("family"));
        assertEquals(2, m.get("components"));
        assertEquals(4, m.get("contextSize"));
        assertEquals("real", spec.valueType());
        assertEquals(0, spec.levels());
        assertEquals("uint8", made(3, new int[]{5}, 1, CAT3, 0).valueType());
        assertEquals(3, made(3, new int[]{5}, 1, CAT3, 0).levels());
        assertEquals(GAUSSIAN, ((MadeSpec) ModelSpec.fromConfig(ConfigFactory.parseMap(
                made(3, new int[]{5}, 1, GAUSSIAN, 0).toMap()))).family());
        // a model.json written before families and contexts existed is the binary unconditional model
        MadeSpec binary = MadeSpec.made(new long[]{2, 2}, new int[]{6}, 3, true, 9).withDirect(true);
        Map<String, Object> old = new HashMap<>(binary.toMap());
        old.keySet().removeAll(List.of("family", "levels", "components", "contextSize"));
        MadeSpec back = (MadeSpec) ModelSpec.fromConfig(ConfigFactory.parseMap(old));
        assertEquals(binary, back);
        assertEquals(new Bernoulli(), back.family());
        assertEquals(0, back.contextSize());
        assertFalse(back.nllOutput());
        Map<String, Object> oldFvsbn = new HashMap<>(MadeSpec.fvsbn(new long[]{5}).toMap());
        oldFvsbn.keySet().removeAll(List.of("direct", "family", "levels", "components", "contextSize"));
        assertEquals(MadeSpec.fvsbn(new long[]{5}), ModelSpec.fromConfig(ConfigFactory.parseMap(oldFvsbn)));
    }

    @Test
    void configurationSurvivesJson() {
        MadeSpec spec = made(3, new int[]{7, 5}, 3, MIX2, 2).withDirect(true);
        MultiLayerConfiguration conf = spec.trainingConfiguration(new TrainingRecipe(1e-3, 1));
        MultiLayerConfiguration back = MultiLayerConfiguration.fromJson(conf.toJson());
        assertEquals(conf.toJson(), back.toJson());
        MadeLayer layer = (MadeLayer) back.getConf(0).getLayer();
        assertEquals("mixture", layer.getFamily());
        assertEquals(2, layer.getComponents());
        assertEquals(2, layer.getContextSize());
        assertArrayEquals(new int[]{7, 5}, layer.getHidden());
        assertTrue(layer.isDirect());
        assertInstanceOf(NllOutputLoss.class, ((LossLayer) back.getConf(1).getLayer()).getLossFn());
        MadeLayer cat = (MadeLayer) MultiLayerConfiguration.fromJson(made(3, new int[]{4}, 1, CAT3, 0)
                .trainingConfiguration(new TrainingRecipe(1e-3, 1)).toJson()).getConf(0).getLayer();
        assertEquals("categorical", cat.getFamily());
        assertEquals(3, cat.getLevels());
        assertEquals(0, cat.getContextSize());
    }

    @ParameterizedTest
    @MethodSource("serializationSpecs")
    void savedNetworkGivesTheSameDensity(MadeSpec spec, @TempDir Path dir) throws Exception {
        MultiLayerNetwork net = network(spec, 41);
        File file = dir.resolve("net.zip").toFile();
        ModelSerializer.writeModel(net, file, true);
        MultiLayerNetwork loaded = ModelSerializer.restoreMultiLayerNetwork(file);
        INDArray x = events(spec, 20, new Random(7));
        INDArray c = contexts(spec, 20, 0);
        assertEquals(spec.densityOf(net).logProb(x, c), spec.densityOf(loaded).logProb(x, c));
        long[] seeds = {5, 6, 7};
        assertEquals(spec.densityOf(net).sample(seeds, contexts(spec, 3, 0), 1.0),
                spec.densityOf(loaded).sample(seeds, contexts(spec, 3, 0), 1.0));
    }

    static Stream<MadeSpec> serializationSpecs() {
        return Stream.of(made(3, new int[]{6}, 3, CAT3, 2).withDirect(true), made(2, new int[]{6}, 2, MIX2, 0));
    }

    /**
     * The binary unconditional spec builds what it always built: its configuration is the old one plus the four new
     * layer fields at their defaults, a network from the old JSON computes the same function, and its density scores
     * it on logits, as before.
     */
    @Test
    void oldBinaryJsonStillLoadsAsBefore() throws Exception {
        MadeSpec spec = MadeSpec.made(new long[]{4}, new int[]{6}, 2, true, 7).withDirect(true);
        MultiLayerConfiguration fresh = spec.trainingConfiguration(new TrainingRecipe(1e-2, 5));
        ObjectMapper json = new ObjectMapper();
        JsonNode now = json.readTree(fresh.toJson());
        ObjectNode layer = (ObjectNode) now.get("confs").get(0).get("layer");
        assertEquals("bernoulli", layer.get("family").asText());
        assertEquals(0, layer.get("contextSize").asInt());
        layer.remove(List.of("family", "levels", "components", "contextSize"));
        assertEquals(json.readTree(OldMadeJson.CONFIGURATION), now);

        MultiLayerConfiguration old = MultiLayerConfiguration.fromJson(OldMadeJson.CONFIGURATION);
        MadeLayer oldLayer = (MadeLayer) old.getConf(0).getLayer();
        assertEquals("bernoulli", oldLayer.getFamily());
        assertEquals(0, oldLayer.getContextSize());
        assertEquals(fresh.toJson(), old.toJson());
        assertInstanceOf(BernoulliLogitLoss.class, ((LossLayer) old.getConf(1).getLayer()).getLossFn());

        MultiLayerNetwork reference = randomNetwork(spec, 43);
        MultiLayerNetwork oldNet = new MultiLayerNetwork(old);
        oldNet.init();
        assertEquals(reference.numParams(), oldNet.numParams());
        oldNet.setParams(reference.params());
        INDArray x = Nd4j.rand(DataType.FLOAT, 16, 4).gt(0.5).castTo(DataType.FLOAT);
        for (int k = 0; k < 2; k++) {
            INDArray logits = oldNet.output(spec.trainingFeatures(x, k), false);
            assertEquals(16 * 4, logits.length(), "the old network outputs logits");
            assertEquals(reference.output(spec.trainingFeatures(x, k), false), logits);
        }
        INDArray perMask = Nd4j.create(DataType.DOUBLE, 16, 2);
        for (int k = 0; k < 2; k++) {
            perMask.putColumn(k, LogMath.bernoulliLogProb(x, oldNet.output(spec.trainingFeatures(x, k), false)));
        }
        INDArray scored = spec.densityOf(oldNet).logProb(x);
        assertTrue(LogMath.logMeanExp(perMask).equalsWithEps(scored, 1e-5), "the density scores the old logits");
        assertEquals(spec.densityOf(reference).logProb(x), scored);
        assertEquals(x, spec.trainingLabels(x));
    }

    @Test
    void rejectsBadUse() {
        assertThrows(IllegalArgumentException.class, () -> made(3, new int[]{4}, 1, CAT3, -1));
        assertThrows(IllegalArgumentException.class, () -> made(3, new int[]{4}, 1, null, 0));
        MadeSpec conditional = made(3, new int[]{4}, 1, CAT3, 2);
        MadeSpec unconditional = made(3, new int[]{4}, 1, CAT3, 0);
        INDArray x = Nd4j.zeros(DataType.FLOAT, 2, 3);
        assertThrows(IllegalArgumentException.class, () -> conditional.trainingFeatures(x, 0));
        assertThrows(IllegalArgumentException.class, () -> conditional.trainingFeatures(x, Nd4j.zeros(2, 3), 0));
        assertThrows(IllegalArgumentException.class, () -> unconditional.trainingFeatures(x, Nd4j.zeros(2, 2), 0));
        DensityModel d = conditional.densityOf(network(conditional, 1));
        assertThrows(IllegalArgumentException.class, () -> d.logProb(x));
        assertThrows(IllegalArgumentException.class, () -> d.sample(new long[]{1, 2}));
        assertThrows(IllegalArgumentException.class, () -> d.sample(new long[]{1}, Nd4j.zeros(1, 2), 0.0));
        assertArrayEquals(new long[]{2, 1}, conditional.trainingLabels(x).shape());
    }

    /** Categorical data whose chain depends on a binary context: x_0 = c, x_d = x_{d-1} + 1 mod 3 w.p. 0.8. */
    @Test
    void trainingLowersCategoricalNll() {
        MadeSpec spec = made(4, new int[]{24}, 2, CAT3, 2);
        Random r = new Random(3);
        int n = 512;
        INDArray x = Nd4j.create(DataType.FLOAT, n, 4);
        INDArray c = contexts(spec, n, 0);
        for (int i = 0; i < n; i++) {
            int v = i % 2 == 0 ? 0 : (r.nextDouble() < 0.5 ? 1 : 2);
            x.putScalar(i, 0, v);
            for (int d = 1; d < 4; d++) {
                v = r.nextDouble() < 0.8 ? (v + 1) % 3 : r.nextInt(3);
                x.putScalar(i, d, v);
            }
        }
        double after = train(spec, x, c, 3e-2, 120, 1.0);
        assertTrue(after < 4 * Math.log(3) - 1.2, "should beat the uniform model clearly: " + after);
    }

    /** Correlated Gaussian pairs: x_1 ~ N(0, 1), x_2 = 0.9 x_1 + 0.3 N(0, 1); an independent fit scores 2.785 nats. */
    @Test
    void trainingLowersRealNll() {
        MadeSpec spec = made(2, new int[]{16}, 1, MIX2, 0);
        Random r = new Random(4);
        int n = 512;
        INDArray x = Nd4j.create(DataType.FLOAT, n, 2);
        for (int i = 0; i < n; i++) {
            double a = r.nextGaussian();
            x.putScalar(i, 0, a);
            x.putScalar(i, 1, 0.9 * a + 0.3 * r.nextGaussian());
        }
        double after = train(spec, x, null, 2e-2, 120, 0.5);
        assertTrue(after < 2.4, "should learn the dependence (true entropy 1.634 nats): " + after);
    }

    /** Trains with Adam for {@code steps} minibatches of 128; asserts the NLL fell by {@code minDrop}; returns it. */
    static double train(MadeSpec spec, INDArray x, INDArray c, double lr, int steps, double minDrop) {
        MultiLayerNetwork net = new MultiLayerNetwork(spec.trainingConfiguration(new TrainingRecipe(lr, 3)));
        net.init();
        double before = -spec.densityOf(net).logProb(x, c).meanNumber().doubleValue();
        int batch = 128;
        int batches = (int) (x.rows() / batch);
        for (int s = 0; s < steps; s++) {
            INDArrayIndex rows = NDArrayIndex.interval((long) (s % batches) * batch, (long) (s % batches + 1) * batch);
            INDArray xb = x.get(rows, NDArrayIndex.all());
            INDArray cb = c == null ? null : c.get(rows, NDArrayIndex.all());
            net.fit(new DataSet(spec.trainingFeatures(xb, cb, s % spec.variantCount()), spec.trainingLabels(xb)));
        }
        double after = -spec.densityOf(net).logProb(x, c).meanNumber().doubleValue();
        assertTrue(Double.isFinite(after) && after < before - minDrop, "NLL " + before + " -> " + after);
        return after;
    }
}
