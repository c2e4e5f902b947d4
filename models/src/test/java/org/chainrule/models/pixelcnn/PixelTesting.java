package org.chainrule.models.pixelcnn;

import org.chainrule.models.TrainingRecipe;
import com.typesafe.config.ConfigFactory;
import org.chainrule.models.DensityModel;
import org.chainrule.models.GraphDensity;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.conditionals.OutputFamily;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

import java.io.File;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.chainrule.models.ModelTesting.chiSquaredCritical999;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The checks the pixel-network tests share ({@link PixelNetworkContract} runs them for every network): random networks,
 * Jacobians, enumeration, chi-squared.
 */
final class PixelTesting {
    private PixelTesting() {
    }

    /** A freshly initialised training network with every parameter perturbed (biases and labels included). */
    static MultiLayerNetwork network(ModelSpec spec, long seed, double noise) {
        MultiLayerNetwork net = new MultiLayerNetwork(
                spec.trainingConfiguration(new TrainingRecipe(1e-2, seed)));
        net.init();
        Random r = new Random(seed);
        INDArray p = net.params();
        for (long i = 0; i < p.length(); i++) {
            p.putScalar(i, p.getDouble(i) + noise * r.nextGaussian());
        }
        net.setParams(p);
        return net;
    }

    /**
     * The Jacobian of the logits with respect to the input, one output sub-pixel per row, by SameDiff's own
     * backpropagation through {@link PixelLayer#logits}: the input has D rows, and the loss is a random positive
     * combination of row r's logits of sub-pixel r only, so (images never mixing in a convolution) the gradient's
     * row r is d(logits of sub-pixel r)/dx evaluated at the input's row r. The graph is built once and evaluated at
     * several inputs.
     */
    static final class Jacobian {
        private final SameDiff sd;
        private final SDVariable x;

        Jacobian(PixelSpec spec, MultiLayerNetwork net, INDArray context, long seed) {
            int d = spec.dim();
            int p = spec.family().paramsPerDim();
            sd = SameDiff.create();
            x = sd.var("x", Nd4j.zeros(DataType.FLOAT, d, d));
            SDVariable c = context == null ? null : sd.constant("context", context.castTo(DataType.FLOAT).dup());
            Map<String, SDVariable> params = new HashMap<>();
            net.getLayer(0).paramTable().forEach((name, value) -> params.put(name, sd.var(name, value.dup())));
            SDVariable logits = spec.layer().logits(sd, x, c, params);
            Random r = new Random(seed);
            INDArray select = Nd4j.zeros(DataType.FLOAT, d, (long) d * p);
            for (int row = 0; row < d; row++) {
                for (int q = 0; q < p; q++) {
                    select.putScalar(row, (long) row * p + q, 0.5 + r.nextDouble());
                }
            }
            sd.setLossVariables(logits.mul(sd.constant(select)).sum());
        }

        /**
         * @param events {@code [D, D]}, the input at which row r's gradient is taken
         * @return {@code [D][D]}: entry (r, s) is the gradient of sub-pixel r's logits w.r.t. input sub-pixel s
         */
        double[][] at(INDArray events) {
            x.getArr().assign(events);
            return sd.calculateGradients(new HashMap<>(), "x").get("x").castTo(DataType.DOUBLE).toDoubleMatrix();
        }
    }

    /**
     * Which inputs some output's logits depend on, in at least one of {@code trials} random inputs: entry (r, s) is
     * true when the gradient of sub-pixel r's logits w.r.t. sub-pixel s was not exactly 0.0 at least once.
     */
    static boolean[][] dependencies(PixelSpec spec, MultiLayerNetwork net, INDArray context, int trials, long seed) {
        int d = spec.dim();
        Jacobian jacobian = new Jacobian(spec, net, context, seed);
        Random r = new Random(seed);
        boolean[][] seen = new boolean[d][d];
        for (int t = 0; t < trials; t++) {
            double[][] j = jacobian.at(events(spec, d, r));
            for (int a = 0; a < d; a++) {
                for (int b = 0; b < d; b++) {
                    seen[a][b] |= j[a][b] != 0.0;
                }
            }
        }
        return seen;
    }

    /**
     * The receptive field of a PixelCNN from its masks' geometry alone: entry (r, s) is true when some path of live
     * taps leads from input sub-pixel s to output sub-pixel r. Computed by propagating, per position and colour group,
     * the set of inputs reachable through each layer of {@link PixelCnnLayer} (the widths do not matter: every feature
     * of a group has the same taps).
     */
    static boolean[][] pixelCnnCone(int height, int width, int colours, int blocks) {
        int d = height * width * colours;
        BitSet[][][] s = new BitSet[height][width][colours];
        for (int i = 0; i < height; i++) {
            for (int j = 0; j < width; j++) {
                for (int c = 0; c < colours; c++) {
                    s[i][j][c] = new BitSet(d);
                    s[i][j][c].set((i * width + j) * colours + c);
                }
            }
        }
        s = reach(s, PixelCnnLayer.FIRST_KERNEL, MaskedConvolution.Kind.A);
        for (int b = 0; b < blocks; b++) {
            BitSet[][][] t = reach(reach(reach(s, 1, MaskedConvolution.Kind.B), PixelCnnLayer.KERNEL,
                    MaskedConvolution.Kind.B), 1, MaskedConvolution.Kind.B);
            for (int i = 0; i < height; i++) {
                for (int j = 0; j < width; j++) {
                    for (int c = 0; c < colours; c++) {
                        t[i][j][c].or(s[i][j][c]);
                    }
                }
            }
            s = t;
        }
        s = reach(reach(s, 1, MaskedConvolution.Kind.B), 1, MaskedConvolution.Kind.B);
        boolean[][] cone = new boolean[d][d];
        for (int i = 0; i < height; i++) {
            for (int j = 0; j < width; j++) {
                for (int c = 0; c < colours; c++) {
                    BitSet set = s[i][j][c];
                    for (int in = set.nextSetBit(0); in >= 0; in = set.nextSetBit(in + 1)) {
                        cone[(i * width + j) * colours + c][in] = true;
                    }
                }
            }
        }
        return cone;
    }

    /** One masked k x k convolution's reach: the union over live taps of what the tapped (position, group) reaches. */
    private static BitSet[][][] reach(BitSet[][][] in, int k, MaskedConvolution.Kind kind) {
        int h = in.length;
        int w = in[0].length;
        int colours = in[0][0].length;
        BitSet[][][] out = new BitSet[h][w][colours];
        for (int i = 0; i < h; i++) {
            for (int j = 0; j < w; j++) {
                for (int g = 0; g < colours; g++) {
                    BitSet set = new BitSet();
                    for (int dy = -k / 2; dy <= k / 2; dy++) {
                        for (int dx = -k / 2; dx <= k / 2; dx++) {
                            int y = i + dy;
                            int z = j + dx;
                            for (int src = 0; src < colours && y >= 0 && y < h && z >= 0 && z < w; src++) {
                                if (MaskedConvolution.allowed(kind, dy, dx, src, g)) {
                                    set.or(in[y][z][src]);
                                }
                            }
                        }
                    }
                    out[i][j][g] = set;
                }
            }
        }
        return out;
    }

    /**
     * The autoregressive property, from the gradients of a random network: no output sub-pixel depends on itself or
     * any later sub-pixel (raster order, then R, G, B); each depends on some earlier one; and each depends on its
     * nearest predecessors that every PixelCNN variant must see: the pixel to the left, the pixel above, and the
     * previous colour channel of its own pixel.
     */
    static boolean[][] assertCausal(PixelSpec spec, MultiLayerNetwork net, INDArray context, long seed) {
        int w = spec.width();
        int colours = spec.channels();
        int d = spec.dim();
        boolean[][] dep = dependencies(spec, net, context, 4, seed);
        for (int r = 0; r < d; r++) {
            int pixel = r / colours;
            int i = pixel / w;
            int j = pixel % w;
            int c = r % colours;
            boolean past = false;
            for (int s = 0; s < d; s++) {
                if (s >= r) {
                    assertTrue(!dep[r][s], "sub-pixel " + r + " (" + i + ", " + j + ", " + c
                            + ") depends on sub-pixel " + s + " at or after it");
                } else {
                    past |= dep[r][s];
                }
            }
            assertTrue(r == 0 || past, "sub-pixel " + r + " depends on nothing before it");
            if (c > 0) {
                assertTrue(dep[r][r - 1], "sub-pixel " + r + " ignores the previous channel of its pixel");
            }
            if (j > 0) {
                assertTrue(anyChannel(dep[r], pixel - 1, colours), "sub-pixel " + r + " ignores the pixel to its left");
            }
            if (i > 0) {
                assertTrue(anyChannel(dep[r], pixel - w, colours), "sub-pixel " + r + " ignores the pixel above");
            }
        }
        return dep;
    }

    private static boolean anyChannel(boolean[] row, int pixel, int colours) {
        for (int c = 0; c < colours; c++) {
            if (row[pixel * colours + c]) {
                return true;
            }
        }
        return false;
    }

    /** {@code n} random events of the spec's levels. */
    static INDArray events(PixelSpec spec, int n, Random r) {
        float[] v = new float[n * spec.dim()];
        for (int i = 0; i < v.length; i++) {
            v[i] = r.nextInt(spec.levels());
        }
        return Nd4j.create(v, new long[]{n, spec.dim()}, DataType.FLOAT);
    }

    /** The same one-hot label on every row, or null when {@code classes} is 0. */
    static INDArray label(int classes, int n, int which) {
        if (classes == 0) {
            return null;
        }
        INDArray c = Nd4j.zeros(DataType.FLOAT, n, classes);
        c.getColumn(which).assign(1.0);
        return c;
    }

    /** All K^D events, {@code [K^D, D]}, the last sub-pixel varying fastest. */
    static INDArray allEvents(int levels, int dim) {
        int n = (int) Math.round(Math.pow(levels, dim));
        float[] v = new float[n * dim];
        for (int i = 0; i < n; i++) {
            int rest = i;
            for (int d = dim - 1; d >= 0; d--) {
                v[i * dim + d] = rest % levels;
                rest /= levels;
            }
        }
        return Nd4j.create(v, new long[]{n, dim}, DataType.FLOAT);
    }

    /** Index of an event in {@link #allEvents} order. */
    static int index(float[] row, int levels) {
        int idx = 0;
        for (float v : row) {
            idx = idx * levels + (int) v;
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

    /**
     * Asserts Pearson's chi-squared test at the 0.1% level of sample counts against expected probabilities over all
     * events (cells expecting fewer than 5 samples pooled into one).
     */
    static void assertFollows(double[] probabilities, INDArray samples, int levels, String what) {
        long[] counts = new long[probabilities.length];
        int n = (int) samples.rows();
        int d = (int) samples.columns();
        float[] flat = PixelCnnDensity.flat(samples);
        for (int i = 0; i < n; i++) {
            counts[index(Arrays.copyOfRange(flat, i * d, (i + 1) * d), levels)]++;
        }
        double stat = 0;
        int cells = 0;
        double smallExpected = 0;
        long smallObserved = 0;
        for (int i = 0; i < probabilities.length; i++) {
            double e = n * probabilities[i];
            if (e < 5) {
                smallExpected += e;
                smallObserved += counts[i];
            } else {
                stat += (counts[i] - e) * (counts[i] - e) / e;
                cells++;
            }
        }
        if (smallExpected > 0) {
            stat += (smallObserved - smallExpected) * (smallObserved - smallExpected) / Math.max(smallExpected, 1e-9);
            cells++;
        }
        assertTrue(cells >= 4, what + ": too few cells: " + cells);
        double dof = cells - 1;
        assertTrue(stat < chiSquaredCritical999(dof), what + ": chi-squared " + stat + " with " + dof + " dof");
    }

    /**
     * Every label's distribution sums to one over all K^D events; with labels, the distributions differ.
     *
     * @return the log-probabilities of all events, one array per label
     */
    static double[][] assertNormalized(PixelSpec spec, MultiLayerNetwork net, double tol) {
        DensityModel density = spec.densityOf(net);
        INDArray all = allEvents(spec.levels(), spec.dim());
        int labels = Math.max(1, spec.contextSize());
        double[][] lp = new double[labels][];
        for (int which = 0; which < labels; which++) {
            INDArray logProb = density.logProb(all, label(spec.contextSize(), (int) all.rows(), which));
            assertEquals(1.0, sumExp(logProb), tol, spec.type() + " " + spec.toMap() + ", label " + which);
            lp[which] = logProb.toDoubleVector();
        }
        for (int which = 1; which < labels; which++) {
            double diff = 0;
            for (int e = 0; e < lp[0].length; e++) {
                diff = Math.max(diff, Math.abs(lp[which][e] - lp[0][e]));
            }
            assertTrue(diff > 0.05, "label " + which + " gives the same distribution as label 0: " + diff);
        }
        return lp;
    }

    /** Samples (per label) pass a chi-squared test against exp(logProb) over all events. */
    static void assertSamplesFollowDensity(PixelSpec spec, MultiLayerNetwork net, int n) {
        DensityModel density = spec.densityOf(net);
        INDArray all = allEvents(spec.levels(), spec.dim());
        for (int which = 0; which < Math.max(1, spec.contextSize()); which++) {
            double[] p = density.logProb(all, label(spec.contextSize(), (int) all.rows(), which)).toDoubleVector();
            for (int e = 0; e < p.length; e++) {
                p[e] = Math.exp(p[e]);
            }
            INDArray samples = density.sample(seeds(n, 1000L * which), label(spec.contextSize(), n, which), 1.0);
            assertArrayEquals(new long[]{n, spec.dim()}, samples.shape());
            assertFollows(p, samples, spec.levels(), spec.type() + " label " + which);
        }
    }

    /**
     * The sampler's conditionals are the trained density's: summing the family's Java log-probabilities over the
     * density's logits gives the training graph's likelihood.
     */
    static void assertLogitsGiveLikelihood(PixelSpec spec, MultiLayerNetwork net) {
        PixelCnnDensity density = assertInstanceOf(PixelCnnDensity.class, spec.densityOf(net));
        OutputFamily family = spec.family();
        int p = family.paramsPerDim();
        INDArray x = events(spec, 12, new Random(3));
        INDArray c = spec.contextSize() == 0 ? null : label(spec.contextSize(), 12, spec.contextSize() - 1);
        float[][] logits = density.logits(x, c).toFloatMatrix();
        double[] graph = density.logProb(x, c).toDoubleVector();
        assertEquals(12, logits.length);
        assertEquals(spec.dim() * p, logits[0].length);
        for (int i = 0; i < 12; i++) {
            double java = 0;
            for (int d = 0; d < spec.dim(); d++) {
                java += family.logProb(logits[i], d * p, x.getDouble(i, d));
            }
            assertEquals(graph[i], java, 1e-4 * Math.max(1, Math.abs(graph[i])), "row " + i);
        }
    }

    /** A row's sample depends only on its seed and label: the same in any batch, and integer levels. */
    static void assertSeeded(PixelSpec spec, MultiLayerNetwork net) {
        DensityModel density = spec.densityOf(net);
        long[] s = seeds(8, 40);
        INDArray c = spec.contextSize() == 0 ? null : label(spec.contextSize(), 8, 0);
        INDArray batch = density.sample(s, c, 1.0);
        assertEquals(batch, density.sample(s, c, 1.0));
        INDArray one = density.sample(new long[]{s[5]}, c == null ? null : c.getRow(5, true), 1.0);
        assertEquals(batch.getRow(5), one.getRow(0));
        for (double v : batch.reshape(-1).toDoubleVector()) {
            assertTrue(v == Math.rint(v) && v >= 0 && v < spec.levels(), "not a level: " + v);
        }
        assertTrue(!batch.getRow(0).equals(batch.getRow(1)) || !batch.getRow(2).equals(batch.getRow(3)),
                "different seeds should give different samples");
    }

    /**
     * Structured binary images: a random first row repeated down the image (vertical stripes), each sub-pixel
     * flipped with probability 0.02. Entropy is about W bits plus the noise, far below the H W C bits of noise.
     */
    static INDArray stripes(PixelSpec spec, int n, Random r) {
        int h = spec.height();
        int w = spec.width();
        int colours = spec.channels();
        float[] v = new float[n * spec.dim()];
        for (int e = 0; e < n; e++) {
            float[] top = new float[w * colours];
            for (int k = 0; k < top.length; k++) {
                top[k] = r.nextBoolean() ? 1 : 0;
            }
            for (int i = 0; i < h; i++) {
                for (int k = 0; k < top.length; k++) {
                    float bit = top[k];
                    v[e * spec.dim() + i * w * colours + k] = r.nextDouble() < 0.02 ? 1 - bit : bit;
                }
            }
        }
        return Nd4j.create(v, new long[]{n, spec.dim()}, DataType.FLOAT);
    }

    /** A DL4J fit loop on stripes lowers held-out NLL well below that of independent fair coins. */
    static void assertTrainingLowersNll(PixelSpec spec, int steps) {
        MultiLayerNetwork net = new MultiLayerNetwork(spec.trainingConfiguration(new TrainingRecipe(3e-2, 7)));
        net.init();
        Random r = new Random(11);
        INDArray test = stripes(spec, 200, r);
        double before = -spec.densityOf(net).logProb(test).meanNumber().doubleValue();
        for (int step = 0; step < steps; step++) {
            INDArray x = stripes(spec, 32, r);
            net.fit(new DataSet(spec.trainingFeatures(x, 0), spec.trainingLabels(x)));
        }
        double after = -spec.densityOf(net).logProb(test).meanNumber().doubleValue();
        double coins = spec.dim() * Math.log(2);
        System.out.printf("%s: held-out NLL %.3f -> %.3f nats after %d steps (fair coins %.3f)%n", spec, before, after,
                steps, coins);
        assertTrue(after < 0.5 * coins && after < 0.6 * before,
                "NLL before " + before + ", after " + after + " (fair coins " + coins + ")");
    }

    /** A saved and restored network, and one rebuilt from the configuration's JSON, give the same density. */
    static void assertSavedNetworkGivesSameDensity(PixelSpec spec, MultiLayerNetwork net, Path dir) throws Exception {
        File file = dir.resolve("net.zip").toFile();
        ModelSerializer.writeModel(net, file, true);
        MultiLayerNetwork loaded = ModelSerializer.restoreMultiLayerNetwork(file);
        MultiLayerConfiguration conf = MultiLayerConfiguration.fromJson(net.getLayerWiseConfigurations().toJson());
        assertEquals(net.getLayerWiseConfigurations().toJson(), conf.toJson());
        MultiLayerNetwork rebuilt = new MultiLayerNetwork(conf);
        rebuilt.init(net.params().dup(), false);
        INDArray x = events(spec, 10, new Random(5));
        INDArray c = spec.contextSize() == 0 ? null : label(spec.contextSize(), 10, 0);
        INDArray expected = spec.densityOf(net).logProb(x, c);
        assertEquals(expected, spec.densityOf(loaded).logProb(x, c));
        assertEquals(expected, spec.densityOf(rebuilt).logProb(x, c));
        // scoring in slices of rows (how large batches are scored) gives the same numbers, ragged last slice included
        INDArray sliced = assertInstanceOf(GraphDensity.class, spec.densityOf(net)).logProbInSlices(x, c, 3);
        assertArrayEquals(expected.toDoubleVector(), sliced.toDoubleVector(), 1e-4);
        assertTrue(spec.activationElementsPerRow() >= (long) spec.dim() * spec.filters());
        long[] s = seeds(3, 9);
        INDArray sc = spec.contextSize() == 0 ? null : label(spec.contextSize(), 3, 0);
        assertEquals(spec.densityOf(net).sample(s, sc, 1.0), spec.densityOf(loaded).sample(s, sc, 1.0));
    }

    /** The spec comes back from its map through {@link ModelSpec#fromConfig}. */
    static void assertSpecSurvivesItsMap(PixelSpec spec) {
        ModelSpec back = ModelSpec.fromConfig(ConfigFactory.parseMap(spec.toMap()));
        assertEquals(spec, back);
        assertEquals(spec.hashCode(), back.hashCode());
        assertArrayEquals(spec.eventShape(), back.eventShape());
        assertEquals(spec.contextSize(), back.contextSize());
        assertEquals(spec.levels(), back.levels());
        assertEquals(spec.valueType(), back.valueType());
        assertTrue(org.chainrule.models.ModelFamilies.types().contains(spec.type()));
    }

    /**
     * The forget gates of a PixelRNN start open: in each named 4h bias (gates o, f, i, g of h = filters each, see
     * {@link PixelLstm#openForgetGates}) the f part is 1 and the rest 0.
     */
    static void assertForgetGatesOpen(PixelSpec spec, List<String> biases) {
        MultiLayerNetwork net = new MultiLayerNetwork(spec.trainingConfiguration(new TrainingRecipe(1e-2, 1)));
        net.init();
        int h = spec.filters();
        for (String name : biases) {
            double[] b = net.getLayer(0).getParam(name).reshape(-1).toDoubleVector();
            assertEquals(4 * h, b.length);
            for (int k = 0; k < 4 * h; k++) {
                assertEquals(k >= h && k < 2 * h ? 1.0 : 0.0, b[k], name + "[" + k + "]");
            }
        }
    }

    /** Seeds 0..n-1 offset by {@code base}. */
    static long[] seeds(int n, long base) {
        long[] s = new long[n];
        for (int i = 0; i < n; i++) {
            s[i] = base + i;
        }
        return s;
    }
}
