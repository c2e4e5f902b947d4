package org.chainrule.models.nade;

import org.chainrule.models.TrainingRecipe;
import com.typesafe.config.ConfigFactory;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.ModelTesting;
import org.chainrule.models.conditionals.Bernoulli;
import org.chainrule.models.conditionals.Categorical;
import org.chainrule.models.conditionals.GaussianMixture;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.io.File;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static org.chainrule.models.ModelTesting.chiSquaredCritical999;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class NadeTest {
    private static final int CONTEXT = 2;

    /** Every family, with one and three orderings, with and without a (one-hot) context. */
    static Stream<NadeSpec> specs() {
        return Stream.of(
                NadeSpec.of(new long[]{5}, new Bernoulli(), 8),
                NadeSpec.of(new long[]{1, 5}, new Bernoulli(), 8).withOrderings(3, 7).withContext(CONTEXT),
                NadeSpec.of(new long[]{3}, new Categorical(3), 6).withContext(CONTEXT),
                NadeSpec.of(new long[]{3}, new Categorical(3), 6).withOrderings(3, 11),
                NadeSpec.of(new long[]{2}, new GaussianMixture(2), 8).withActivation("relu"),
                NadeSpec.of(new long[]{4}, new GaussianMixture(2), 8).withOrderings(3, 5).withContext(CONTEXT),
                NadeSpec.of(new long[]{5}, new Bernoulli(), 8).withOrdering("random"),
                NadeSpec.of(new long[]{3}, new Categorical(3), 6).withOrderings(2, 4).withOrdering("9")
                        .withActivation("relu"),
                NadeSpec.of(new long[]{5}, new Bernoulli(), 8).withOrderings(2, 3).withDropout(0.5));
    }

    /** Dropout on the hidden units while training, keyed by the step (every family, with and without a context). */
    @Test
    void dropoutMasksTrainingSteps() {
        for (NadeSpec spec : List.of(NadeSpec.of(new long[]{6}, new Bernoulli(), 10).withDropout(0.3),
                NadeSpec.of(new long[]{3}, new GaussianMixture(2), 8).withContext(CONTEXT).withDropout(0.5))) {
            MultiLayerNetwork net = randomNetwork(spec, 23);
            ModelTesting.assertDropoutKeyed(spec, net, randomEvents(spec, 16, 4), contexts(spec, 16));
        }
    }

    static Stream<NadeSpec> discreteSpecs() {
        return specs().filter(s -> s.levels() > 0);
    }

    /**
     * A fresh network with parameters spread out (weights doubled, biases random) so conditionals are far from
     * uniform, but moderate enough that a mixture's standard deviations stay within a few e-folds of 1.
     */
    static MultiLayerNetwork randomNetwork(NadeSpec spec, long seed) {
        MultiLayerNetwork net = new MultiLayerNetwork(spec.trainingConfiguration(new TrainingRecipe(1e-2, seed)));
        net.init();
        Random r = new Random(seed);
        double scale = spec.levels() > 0 ? 2.0 : 1.0;
        INDArray p = net.params();
        for (long i = 0; i < p.length(); i++) {
            p.putScalar(i, p.getDouble(i) * scale + 0.3 * r.nextGaussian());
        }
        net.setParams(p);
        return net;
    }

    /** Random events of the spec's value type. */
    static INDArray randomEvents(NadeSpec spec, int n, long seed) {
        Random r = new Random(seed);
        float[] v = new float[n * spec.dim()];
        for (int i = 0; i < v.length; i++) {
            v[i] = spec.levels() > 0 ? r.nextInt(spec.levels()) : (float) r.nextGaussian();
        }
        return Nd4j.create(v, new long[]{n, spec.dim()}, DataType.FLOAT);
    }

    /** One-hot contexts cycling through the classes, or null for an unconditional spec. */
    static INDArray contexts(NadeSpec spec, int n) {
        if (spec.contextSize() == 0) {
            return null;
        }
        INDArray y = Nd4j.zeros(DataType.FLOAT, n, spec.contextSize());
        for (int i = 0; i < n; i++) {
            y.putScalar(i, i % spec.contextSize(), 1.0);
        }
        return y;
    }

    /** The same one-hot class for every row. */
    static INDArray constantContext(NadeSpec spec, int n, int cls) {
        INDArray y = Nd4j.zeros(DataType.FLOAT, n, spec.contextSize());
        y.getColumn(cls).assign(1.0);
        return y;
    }

    /** All L^D vectors, row i holding the base-L digits of i (digit j = dimension j). */
    static INDArray allVectors(int levels, int d) {
        int n = (int) Math.pow(levels, d);
        float[] v = new float[n * d];
        for (int i = 0; i < n; i++) {
            int rest = i;
            for (int j = 0; j < d; j++) {
                v[i * d + j] = rest % levels;
                rest /= levels;
            }
        }
        return Nd4j.create(v, new long[]{n, d}, DataType.FLOAT);
    }

    static int vectorIndex(float[] row, int levels) {
        int idx = 0;
        for (int j = row.length - 1; j >= 0; j--) {
            idx = idx * levels + Math.round(row[j]);
        }
        return idx;
    }

    /** The graph's log p_k(x | context) under ordering k: minus the training network's output. */
    static double[] graphLogProb(NadeSpec spec, MultiLayerNetwork net, INDArray x, INDArray context, int k) {
        return net.output(spec.trainingFeatures(x, context, k), false).reshape(-1).castTo(DataType.DOUBLE).neg()
                .toDoubleVector();
    }

    /**
     * Conditional parameters computed by the layer's SameDiff expression (the one the training graph uses), put back
     * into the natural layout {@code [batch, D * P]}.
     */
    static INDArray graphParams(NadeSpec spec, MultiLayerNetwork net, INDArray x, INDArray context, int k) {
        NadeLayer layer = (NadeLayer) net.getLayerWiseConfigurations().getConf(0).getLayer();
        SameDiff sd = SameDiff.create();
        Map<String, SDVariable> table = new HashMap<>();
        for (Map.Entry<String, INDArray> e : net.getLayer(0).paramTable().entrySet()) {
            table.put(e.getKey(), sd.var(e.getKey(), e.getValue().dup()));
        }
        int[] order = spec.ordering(k);
        int[] rank = new int[order.length];
        for (int t = 0; t < order.length; t++) {
            rank[order[t]] = t;
        }
        SDVariable rankVar = sd.constant(Nd4j.createFromArray(rank));
        SDVariable ctx = context == null ? null : sd.constant(context.castTo(DataType.FLOAT));
        INDArray ordered = layer.orderedParams(sd, sd.constant(x.castTo(DataType.FLOAT)), ctx, rankVar, null, table)[0]
                .eval();
        int p = spec.family().paramsPerDim();
        INDArray natural = ordered.ulike();
        for (int t = 0; t < order.length; t++) {
            natural.get(NDArrayIndex.all(), NDArrayIndex.interval(order[t] * p, order[t] * p + p))
                    .assign(ordered.get(NDArrayIndex.all(), NDArrayIndex.interval(t * p, t * p + p)));
        }
        return natural;
    }

    /** Changes the given columns: flips bits, shifts categories, moves reals. */
    static INDArray perturb(NadeSpec spec, INDArray x, int[] columns) {
        INDArray y = x.dup();
        for (int d : columns) {
            INDArray col = y.getColumn(d);
            if (spec.levels() == 0) {
                col.addi(1.3);
            } else {
                col.addi(1.0).fmodi(spec.levels());
            }
        }
        return y;
    }

    /** Parameters of dimension o_t never change when x_{o_s}, s &gt;= t, changes, in the Java pass and the graph. */
    @ParameterizedTest
    @MethodSource("specs")
    void autoregressiveProperty(NadeSpec spec) {
        MultiLayerNetwork net = randomNetwork(spec, 3);
        Nade nade = (Nade) spec.densityOf(net);
        int dim = spec.dim();
        int p = spec.family().paramsPerDim();
        INDArray x = randomEvents(spec, 16, 4);
        INDArray y = contexts(spec, 16);
        for (int k = 0; k < spec.orderings(); k++) {
            int[] order = spec.ordering(k);
            INDArray base = nade.conditionalParams(x, y, k);
            INDArray graphBase = graphParams(spec, net, x, y, k);
            assertTrue(graphBase.equalsWithEps(base, 1e-4), "graph and Java parameters differ for ordering " + k);
            int usesPast = 0;
            for (int t = 0; t < dim; t++) {
                int[] future = java.util.Arrays.copyOfRange(order, t, dim);
                INDArray changed = perturb(spec, x, future);
                double javaDiff = columns(nade.conditionalParams(changed, y, k), order[t], p)
                        .sub(columns(base, order[t], p)).amaxNumber().doubleValue();
                double graphDiff = columns(graphParams(spec, net, changed, y, k), order[t], p)
                        .sub(columns(graphBase, order[t], p)).amaxNumber().doubleValue();
                assertEquals(0.0, javaDiff, 0.0, "ordering " + k + ": dimension " + order[t] + " sees its future");
                assertEquals(0.0, graphDiff, 0.0, "graph, ordering " + k + ": dimension " + order[t]
                        + " sees its future");
                if (t > 0) {
                    INDArray past = perturb(spec, x, java.util.Arrays.copyOfRange(order, 0, t));
                    if (columns(nade.conditionalParams(past, y, k), order[t], p).sub(columns(base, order[t], p))
                            .amaxNumber().doubleValue() > 1e-4) {
                        usesPast++;
                    }
                }
            }
            assertEquals(dim - 1, usesPast, "ordering " + k + ": every dimension after the first uses its past");
        }
    }

    private static INDArray columns(INDArray a, int d, int p) {
        return a.get(NDArrayIndex.all(), NDArrayIndex.interval(d * p, d * p + p));
    }

    /** The Java running-sum forward (the sampler's) gives the graph's log-likelihood for every ordering. */
    @ParameterizedTest
    @MethodSource("specs")
    void javaForwardMatchesGraph(NadeSpec spec) {
        MultiLayerNetwork net = randomNetwork(spec, 5);
        Nade nade = (Nade) spec.densityOf(net);
        INDArray x = randomEvents(spec, 40, 6);
        INDArray y = contexts(spec, 40);
        double[] all = new double[40];
        for (int k = 0; k < spec.orderings(); k++) {
            double[] graph = graphLogProb(spec, net, x, y, k);
            double[] java = nade.logProb(x, y, k).toDoubleVector();
            for (int i = 0; i < graph.length; i++) {
                assertTrue(Double.isFinite(graph[i]));
                assertEquals(graph[i], java[i], 1e-4 * Math.max(1.0, Math.abs(graph[i])), "ordering " + k + " row " + i);
                all[i] += Math.exp(java[i]) / spec.orderings();
            }
        }
        // the density's ensemble is the log-mean-exp over orderings
        double[] ens = nade.logProb(x, y).toDoubleVector();
        for (int i = 0; i < 40; i++) {
            assertEquals(Math.log(all[i]), ens[i], 1e-4 * Math.max(1.0, Math.abs(ens[i])));
        }
        if (spec.orderings() > 1) {
            assertNotEquals(graphLogProb(spec, net, x, y, 0)[0], graphLogProb(spec, net, x, y, 1)[0],
                    "orderings should give different models");
        }
    }

    /**
     * Scoring in slices of rows (as it does for large inputs, to bound the [rows, D, H] activations) gives the
     * whole-batch numbers for every ordering and context, including a last slice shorter than the rest.
     */
    @ParameterizedTest
    @MethodSource("specs")
    void scoringInSlicesMatchesOnePass(NadeSpec spec) {
        Nade nade = (Nade) spec.densityOf(randomNetwork(spec, 7));
        INDArray x = randomEvents(spec, 23, 8);
        INDArray y = contexts(spec, 23);
        double[] whole = nade.logProbInSlices(x, y, Integer.MAX_VALUE).toDoubleVector();
        for (int rows : new int[]{1, 5, 22}) {
            double[] sliced = nade.logProbInSlices(x, y, rows).toDoubleVector();
            assertEquals(23, sliced.length);
            for (int i = 0; i < whole.length; i++) {
                assertEquals(whole[i], sliced[i], 1e-5 * Math.max(1.0, Math.abs(whole[i])), rows + " rows, row " + i);
            }
        }
        assertEquals(spec.dim() * (long) spec.hidden(), spec.activationElementsPerRow());
        assertEquals(42, org.chainrule.models.GraphDensity.rowsPerPass(784L * 500, org.chainrule.models.GraphDensity.SCORING_ELEMENTS));
        assertEquals(1, org.chainrule.models.GraphDensity.rowsPerPass(Long.MAX_VALUE / 2, 100));
        assertEquals(Integer.MAX_VALUE, org.chainrule.models.GraphDensity.rowsPerPass(0, 100));
        assertThrows(IllegalArgumentException.class, () -> nade.logProbInSlices(x, y, 0));
    }

    /** Summing exp(logProb) over every discrete event gives 1: for the ensemble, each ordering and each context. */
    @ParameterizedTest
    @MethodSource("discreteSpecs")
    void exactlyNormalized(NadeSpec spec) {
        MultiLayerNetwork net = randomNetwork(spec, 7);
        Nade nade = (Nade) spec.densityOf(net);
        INDArray all = allVectors(spec.levels(), spec.dim());
        int classes = Math.max(1, spec.contextSize());
        for (int cls = 0; cls < classes; cls++) {
            INDArray y = spec.contextSize() == 0 ? null : constantContext(spec, (int) all.rows(), cls);
            assertEquals(1.0, sumExp(nade.logProb(all, y).toDoubleVector()), 1e-4, "ensemble, context " + cls);
            for (int k = 0; k < spec.orderings(); k++) {
                assertEquals(1.0, sumExp(nade.logProb(all, y, k).toDoubleVector()), 1e-4, "ordering " + k);
                assertEquals(1.0, sumExp(graphLogProb(spec, net, all, y, k)), 1e-4, "graph ordering " + k);
            }
        }
    }

    private static double sumExp(double[] lp) {
        double s = 0;
        for (double v : lp) {
            s += Math.exp(v);
        }
        return s;
    }

    /** 1-D RNADE integrates to one (trapezoid rule, exponentially accurate for smooth, fast-decaying densities). */
    @Test
    void rnadeIntegratesToOneIn1d() {
        for (String act : new String[]{"relu", "sigmoid"}) {
            NadeSpec spec = NadeSpec.of(new long[]{1}, new GaussianMixture(3), 8).withActivation(act);
            Nade nade = (Nade) spec.densityOf(randomNetwork(spec, 9));
            double[] lp = nade.logProb(grid(-60, 60, 0.01)).toDoubleVector();
            assertEquals(1.0, sumExp(lp) * 0.01, 1e-3, act);
        }
    }

    /**
     * 2-D RNADE (ensemble of 3 orderings, conditional) integrates to one for each context value. The weights are
     * halved so that every conditional carrying mass stays within the grid (ReLU units otherwise let the spread grow
     * with |x|, giving heavy tails) and wider than its step.
     */
    @Test
    void rnadeIntegratesToOneIn2d() {
        for (String act : new String[]{"sigmoid", "relu"}) {
            NadeSpec spec = NadeSpec.of(new long[]{2}, new GaussianMixture(2), 6).withOrderings(3, 2)
                    .withContext(CONTEXT).withActivation(act);
            MultiLayerNetwork net = randomNetwork(spec, 10);
            for (String name : new String[]{NadeLayer.W, NadeLayer.U, NadeLayer.V, NadeLayer.VC}) {
                net.getLayer(0).getParam(name).muli(0.5); // in place: setParam is a no-op on SameDiff layers
            }
            Nade nade = (Nade) spec.densityOf(net);
            assertEquals(1, spec.ordering(1)[0], "both orderings should be exercised");
            // standard deviations here reach about 5 and are rarely below 0.5: [-30, 30] in steps of 0.25
            double h = 0.25;
            int n = 241;
            float[] v = new float[2 * n * n];
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    v[2 * (i * n + j)] = (float) (-30 + i * h);
                    v[2 * (i * n + j) + 1] = (float) (-30 + j * h);
                }
            }
            INDArray x = Nd4j.create(v, new long[]{(long) n * n, 2}, DataType.FLOAT);
            for (int cls = 0; cls < CONTEXT; cls++) {
                double[] lp = nade.logProb(x, constantContext(spec, n * n, cls)).toDoubleVector();
                assertEquals(1.0, sumExp(lp) * h * h, 1e-3, act + ", context " + cls);
            }
        }
    }

    private static INDArray grid(double lo, double hi, double step) {
        int n = (int) Math.round((hi - lo) / step) + 1;
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (lo + i * step);
        }
        return Nd4j.create(v, new long[]{n, 1}, DataType.FLOAT);
    }

    /** 20k samples follow the exact pmf (chi-squared at the 0.1% level), for a fixed context where there is one. */
    @ParameterizedTest
    @MethodSource("discreteSpecs")
    void samplesFollowThePmf(NadeSpec spec) {
        Nade nade = (Nade) spec.densityOf(randomNetwork(spec, 13));
        int n = 20_000;
        long[] seeds = new long[n];
        for (int i = 0; i < n; i++) {
            seeds[i] = org.chainrule.models.Seeds.derive(77, i);
        }
        INDArray y = spec.contextSize() == 0 ? null : constantContext(spec, n, 1);
        INDArray samples = nade.sample(seeds, y, 1.0);
        INDArray all = allVectors(spec.levels(), spec.dim());
        double[] lp = nade.logProb(all, y == null ? null : constantContext(spec, (int) all.rows(), 1)).toDoubleVector();
        long[] counts = new long[lp.length];
        for (float[] row : samples.toFloatMatrix()) {
            counts[vectorIndex(row, spec.levels())]++;
        }
        double stat = 0;
        int cells = 0;
        double smallE = 0;
        long smallO = 0;
        for (int i = 0; i < lp.length; i++) {
            double e = n * Math.exp(lp[i]);
            if (e < 5) {
                smallE += e;
                smallO += counts[i];
            } else {
                stat += (counts[i] - e) * (counts[i] - e) / e;
                cells++;
            }
        }
        if (smallE > 0) {
            stat += (smallO - smallE) * (smallO - smallE) / Math.max(smallE, 1e-9);
            cells++;
        }
        assertTrue(cells > 5, "too few cells: " + cells);
        assertTrue(stat < chiSquaredCritical999(cells - 1), "chi-squared " + stat + " with " + (cells - 1) + " dof");
    }

    /** A 1-D mixture's sample mean and variance match the density's numerical moments. */
    @Test
    void mixtureSamplesMatchMoments() {
        NadeSpec spec = NadeSpec.of(new long[]{1}, new GaussianMixture(3), 8).withActivation("relu").withContext(CONTEXT);
        Nade nade = (Nade) spec.densityOf(randomNetwork(spec, 17));
        double step = 0.01;
        INDArray g = grid(-60, 60, step);
        double[] lp = nade.logProb(g, constantContext(spec, (int) g.rows(), 0)).toDoubleVector();
        double[] xs = g.reshape(-1).toDoubleVector();
        double m0 = 0, m1 = 0, m2 = 0;
        for (int i = 0; i < xs.length; i++) {
            double p = Math.exp(lp[i]) * step;
            m0 += p;
            m1 += p * xs[i];
            m2 += p * xs[i] * xs[i];
        }
        double mean = m1 / m0;
        double var = m2 / m0 - mean * mean;
        double m4 = 0;
        for (int i = 0; i < xs.length; i++) {
            m4 += Math.exp(lp[i]) * step * Math.pow(xs[i] - mean, 4) / m0;
        }
        int n = 20_000;
        long[] seeds = new long[n];
        for (int i = 0; i < n; i++) {
            seeds[i] = org.chainrule.models.Seeds.derive(5, i);
        }
        double[] s = nade.sample(seeds, constantContext(spec, n, 0), 1.0).reshape(-1).toDoubleVector();
        double sm = java.util.Arrays.stream(s).average().orElseThrow();
        double sv = java.util.Arrays.stream(s).map(v -> (v - sm) * (v - sm)).sum() / (n - 1);
        assertEquals(mean, sm, 5 * Math.sqrt(var / n), "sample mean");
        // the variance of a sample variance is about (m4 - var^2) / n
        assertEquals(var, sv, 5 * Math.sqrt((m4 - var * var) / n), "sample variance");
        // the other context gives another distribution
        double[] s2 = nade.sample(seeds, constantContext(spec, n, 1), 1.0).reshape(-1).toDoubleVector();
        assertNotEquals(s[0], s2[0]);
    }

    /** Rows depend only on their own seeds; temperature 1 is the plain sampler; K orderings are all used. */
    @ParameterizedTest
    @MethodSource("specs")
    void samplingIsSeeded(NadeSpec spec) {
        Nade nade = (Nade) spec.densityOf(randomNetwork(spec, 19));
        long[] seeds = {11, 12, 13, 14, 15, 16};
        INDArray y = contexts(spec, seeds.length);
        INDArray a = nade.sample(seeds, y, 1.0);
        assertEquals(a, nade.sample(seeds, y, 1.0));
        INDArray single = nade.sample(new long[]{14}, y == null ? null : y.getRow(3, true), 1.0);
        assertEquals(a.getRow(3), single.getRow(0));
        if (y == null) {
            assertEquals(a, nade.sample(seeds));
        }
        assertArrayEquals(new long[]{seeds.length, spec.dim()}, a.shape());
        assertTrue(nade.logProb(a, y).neg().maxNumber().doubleValue() < Double.POSITIVE_INFINITY);
        int[] used = new int[spec.orderings()];
        for (long s = 0; s < 300; s++) {
            used[nade.samplingOrdering(s)]++;
        }
        for (int u : used) {
            assertTrue(u > 300 / spec.orderings() / 2, "orderings drawn unevenly: " + java.util.Arrays.toString(used));
        }
    }

    @ParameterizedTest
    @MethodSource("specs")
    void specSurvivesJson(NadeSpec spec) {
        ModelSpec back = ModelSpec.fromConfig(ConfigFactory.parseMap(spec.toMap()));
        assertEquals(spec, back);
        assertEquals(spec.hashCode(), back.hashCode());
        assertEquals(spec.toMap(), back.toMap());
        assertTrue(org.chainrule.models.ModelFamilies.types().contains(spec.type()));
        assertNotEquals(spec, spec.withOrderings(spec.orderings() + 1, spec.orderSeed()));
    }

    @ParameterizedTest
    @MethodSource("specs")
    void savedNetworkGivesTheSameLikelihood(NadeSpec spec, @TempDir File dir) throws Exception {
        MultiLayerNetwork net = randomNetwork(spec, 23);
        File f = new File(dir, "nade.zip");
        ModelSerializer.writeModel(net, f, true);
        MultiLayerNetwork back = ModelSerializer.restoreMultiLayerNetwork(f, true);
        INDArray x = randomEvents(spec, 20, 24);
        INDArray y = contexts(spec, 20);
        assertEquals(spec.densityOf(net).logProb(x, y), spec.densityOf(back).logProb(x, y));
    }

    /**
     * The running sum is a cumulative sum over positions, forward and in its gradient (a suffix sum of the upstream
     * gradient), and no NADE graph holds ND4J's native cumsum op, which leaks native memory on every call in ND4J
     * 1.0.0-M2.1 (a NADE training process grew until it was killed).
     */
    @Test
    void runningSumIsACumulativeSumWithoutTheLeakingOp() {
        SameDiff sd = SameDiff.create();
        INDArray terms = Nd4j.rand(DataType.DOUBLE, 6, 3, 4).subi(0.5);
        INDArray upstream = Nd4j.rand(DataType.DOUBLE, 6, 3, 4);
        SDVariable t = sd.var("terms", terms);
        SDVariable sum = NadeLayer.runningSum(sd, t, 6);
        sum.mul(sd.constant("upstream", upstream)).sum().markAsLoss();
        INDArray out = sum.eval();
        INDArray grad = sd.calculateGradients(Map.of(), "terms").get("terms");
        for (int b = 0; b < 3; b++) {
            for (int h = 0; h < 4; h++) {
                double prefix = 0;
                double suffix = 0;
                for (int d = 0; d < 6; d++) {
                    prefix += terms.getDouble(d, b, h);
                    suffix += upstream.getDouble(5 - d, b, h);
                    assertEquals(prefix, out.getDouble(d, b, h), 1e-12);
                    assertEquals(suffix, grad.getDouble(5 - d, b, h), 1e-12);
                }
            }
        }
        specs().forEach(spec -> {
            SameDiff graph = SameDiff.create();
            NadeLayer layer = new NadeLayer(spec);
            org.deeplearning4j.nn.conf.layers.samediff.SDLayerParams params =
                    new org.deeplearning4j.nn.conf.layers.samediff.SDLayerParams();
            layer.defineParameters(params);
            Map<String, SDVariable> table = new HashMap<>();
            params.getParamShapes().forEach((name, shape) -> table.put(name, graph.var(name, DataType.FLOAT, shape)));
            layer.defineLayer(graph, graph.placeHolder("in", DataType.FLOAT, -1, spec.dim() + spec.contextSize() + 1),
                    table, null);
            for (var op : graph.ops()) {
                assertNotEquals("cumsum", op.opName(), spec.toString());
            }
        });
    }

    @Test
    void configurationSurvivesJson() {
        NadeSpec spec = NadeSpec.of(new long[]{3, 4}, new GaussianMixture(4), 17).withOrderings(5, 42)
                .withContext(3).withActivation("relu");
        MultiLayerConfiguration conf = spec.trainingConfiguration(new TrainingRecipe(1e-3, 1));
        MultiLayerConfiguration back = MultiLayerConfiguration.fromJson(conf.toJson());
        assertEquals(conf.toJson(), back.toJson());
        NadeLayer layer = (NadeLayer) back.getConf(0).getLayer();
        assertEquals(12, layer.getDim());
        assertEquals(17, layer.getHidden());
        assertEquals("mixture", layer.getOutput());
        assertEquals(4, layer.getComponents());
        assertEquals("relu", layer.getActivation());
        assertEquals(5, layer.getOrderings());
        assertEquals(42L, layer.getOrderSeed());
        assertEquals(3, layer.getContextSize());
        assertEquals(new GaussianMixture(4), layer.family());
        NadeLayer cat = (NadeLayer) MultiLayerConfiguration.fromJson(NadeSpec.of(new long[]{2}, new Categorical(7), 3)
                .trainingConfiguration(new TrainingRecipe(1e-3, 1)).toJson()).getConf(0).getLayer();
        assertEquals(new Categorical(7), cat.family());
    }

    /**
     * 150 Adam steps on correlated binary chains (order-agnostic, 2 orderings) lower the NLL clearly, close to the
     * chain's entropy, and held-out data cannot score better than that entropy (a leak in normalization would).
     */
    @Test
    void trainingLowersBinaryNll() {
        NadeSpec spec = NadeSpec.of(new long[]{10}, new Bernoulli(), 16).withOrderings(2, 1);
        double entropy = Math.log(2) + 9 * binaryEntropy(0.1);    // about 3.62 nats
        double[] nll = train(spec, markov(512, 10, 5), markov(512, 10, 6), null, 150);
        assertTrue(nll[1] < nll[0] - 1.5, "NLL " + nll[0] + " -> " + nll[1]);
        assertTrue(nll[2] < entropy + 0.6, "held-out NLL " + nll[2] + " should approach the entropy " + entropy);
        assertTrue(nll[2] > entropy - 0.45, "held-out NLL " + nll[2] + " below the entropy " + entropy);
    }

    private static double binaryEntropy(double p) {
        return -p * Math.log(p) - (1 - p) * Math.log(1 - p);
    }

    /** RNADE on correlated Gaussian triples, conditioned on a class that flips one correlation's sign. */
    @Test
    void trainingLowersRealNll() {
        NadeSpec spec = NadeSpec.of(new long[]{3}, new GaussianMixture(2), 16).withActivation("relu")
                .withContext(CONTEXT);
        int n = 512;
        INDArray y = contexts(spec, n);
        // z ~ N(0, 1), x1 = +-z + N(0, 0.2^2), x2 = z / 2 + N(0, 0.3^2): entropy about 1.44 nats
        double entropy = 1.5 * Math.log(2 * Math.PI * Math.E) + Math.log(0.2) + Math.log(0.3);
        double[] nll = train(spec, triples(n, 3), triples(n, 4), y, 150);
        assertTrue(nll[1] < nll[0] - 1.5, "NLL " + nll[0] + " -> " + nll[1]);
        assertTrue(nll[2] < entropy + 0.6, "held-out NLL " + nll[2] + " should approach the entropy " + entropy);
        assertTrue(nll[2] > entropy - 0.3, "held-out NLL " + nll[2] + " below the entropy " + entropy);
    }

    /** Rows of (z, +-z + noise, z / 2 + noise); the sign is + on even rows (class 0), - on odd rows (class 1). */
    static INDArray triples(int n, long seed) {
        Random r = new Random(seed);
        INDArray x = Nd4j.create(DataType.FLOAT, n, 3);
        for (int i = 0; i < n; i++) {
            double z = r.nextGaussian();
            x.putScalar(i, 0, z);
            x.putScalar(i, 1, (i % 2 == 0 ? 1 : -1) * z + 0.2 * r.nextGaussian());
            x.putScalar(i, 2, 0.5 * z + 0.3 * r.nextGaussian());
        }
        return x;
    }

    /**
     * Mean NLL (from the density, not net.score()) on the training data before and after {@code steps} Adam steps on
     * minibatches of 128, and on held-out data after.
     */
    private static double[] train(NadeSpec spec, INDArray x, INDArray heldOut, INDArray y, int steps) {
        MultiLayerNetwork net = new MultiLayerNetwork(spec.trainingConfiguration(new TrainingRecipe(2e-2, 3)));
        net.init();
        double before = -spec.densityOf(net).logProb(x, y).meanNumber().doubleValue();
        int size = 128;
        int batches = (int) x.rows() / size;
        for (int s = 0; s < steps; s++) {
            int b = s % batches;
            INDArray bx = x.get(NDArrayIndex.interval(b * size, (b + 1) * size), NDArrayIndex.all());
            INDArray by = y == null ? null : y.get(NDArrayIndex.interval(b * size, (b + 1) * size), NDArrayIndex.all());
            net.fit(new DataSet(spec.trainingFeatures(bx, by, s % spec.orderings()), spec.trainingLabels(bx)));
        }
        org.chainrule.models.DensityModel trained = spec.densityOf(net);
        double after = -trained.logProb(x, y).meanNumber().doubleValue();
        double held = -trained.logProb(heldOut, y).meanNumber().doubleValue();
        System.out.println("NADE training " + spec.family().name() + ": NLL " + before + " -> " + after
                + ", held out " + held);
        return new double[]{before, after, held};
    }

    @Test
    void rejectsBadInput() {
        assertThrows(IllegalArgumentException.class, () -> NadeSpec.of(new long[]{4}, new Bernoulli(), 0));
        assertThrows(IllegalArgumentException.class, () -> NadeSpec.of(new long[]{4}, new Bernoulli(), 3)
                .withActivation("tanh"));
        assertThrows(IllegalArgumentException.class, () -> NadeSpec.of(new long[]{4}, new Bernoulli(), 3)
                .withOrderings(0, 1));
        NadeSpec spec = NadeSpec.of(new long[]{4}, new Bernoulli(), 3).withContext(2);
        assertThrows(IllegalArgumentException.class, () -> spec.trainingFeatures(Nd4j.zeros(2, 4), null, 0));
        assertThrows(IllegalArgumentException.class, () -> spec.trainingFeatures(Nd4j.zeros(2, 4), Nd4j.zeros(2, 2), 1));
        Nade nade = (Nade) spec.densityOf(randomNetwork(spec, 1));
        assertThrows(IllegalArgumentException.class, () -> nade.logProb(Nd4j.zeros(2, 4)));
        assertThrows(IllegalArgumentException.class, () -> nade.sample(new long[]{1}, Nd4j.zeros(1, 2), 0.0));
    }

    /** Binary Markov chains: x_0 ~ Bern(.5), x_d flips x_{d-1} with probability 0.1. */
    static INDArray markov(int n, int d, long seed) {
        Random r = new Random(seed);
        float[] v = new float[n * d];
        for (int i = 0; i < n; i++) {
            v[i * d] = r.nextBoolean() ? 1 : 0;
            for (int j = 1; j < d; j++) {
                float prev = v[i * d + j - 1];
                v[i * d + j] = r.nextDouble() < 0.1 ? 1 - prev : prev;
            }
        }
        return Nd4j.create(v, new long[]{n, d}, DataType.FLOAT);
    }
}
