package org.chainrule.models.sequence;

import org.chainrule.models.TrainingRecipe;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigRenderOptions;
import org.chainrule.models.DensityModel;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.OneNativeThread;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.chainrule.models.ModelTesting.chiSquaredCritical999;
import static org.chainrule.models.ModelTesting.randomNetwork;
import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.point;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@ExtendWith(OneNativeThread.class)
class CharRnnTest {
    private static final int V = 3;
    private static final int T = 4;

    static Stream<CharRnnSpec> specs() {
        return Stream.of(CharRnnSpec.lstm(T, V, 8), CharRnnSpec.rnn(T, V, 8), CharRnnSpec.lstm(T, V, 8, 6));
    }

    private static CharRnnDensity density(CharRnnSpec spec, long seed) {
        return (CharRnnDensity) spec.densityOf(randomNetwork(spec, seed));
    }

    @Test
    void featuresAreTheShiftedSequenceAfterAStartToken() {
        CharRnnSpec spec = CharRnnSpec.lstm(T, V, 8);
        INDArray x = Nd4j.create(new float[][]{{2, 0, 1, 1}, {0, 0, 2, 1}});
        INDArray f = spec.trainingFeatures(x, 0);
        INDArray y = spec.trainingLabels(x);
        assertArrayEquals(new long[]{2, V + 1, T}, f.shape());
        assertArrayEquals(new long[]{2, V, T}, y.shape());
        for (int i = 0; i < 2; i++) {
            for (int t = 0; t < T; t++) {
                int previous = t == 0 ? V : x.getInt(i, t - 1);
                for (int c = 0; c <= V; c++) {
                    assertEquals(c == previous ? 1.0 : 0.0, f.getDouble(i, c, t), "feature " + i + "," + c + "," + t);
                }
                for (int c = 0; c < V; c++) {
                    assertEquals(c == x.getInt(i, t) ? 1.0 : 0.0, y.getDouble(i, c, t), "label " + i + "," + c + "," + t);
                }
            }
        }
        assertThrows(IllegalArgumentException.class, () -> spec.trainingFeatures(x.add(0.5), 0));
        assertThrows(IllegalArgumentException.class, () -> spec.trainingLabels(x.add(1)));
        assertThrows(IllegalArgumentException.class, () -> spec.trainingFeatures(Nd4j.zeros(2, T + 1), 0));
        assertThrows(IllegalArgumentException.class, () -> spec.trainingFeatures(x, 1));
    }

    /** Changing x_t leaves every conditional p(. | x_{<s}) for s <= t untouched, and does change step t + 1. */
    @ParameterizedTest
    @MethodSource("specs")
    void causal(CharRnnSpec spec) {
        CharRnnDensity model = density(spec, 11);
        INDArray x = randomSequences(32, 5);
        INDArray base = model.conditionals(x);
        INDArray baseSteps = model.stepLogProbs(x);
        for (int t = 0; t < T; t++) {
            INDArray changed = x.dup();
            changed.getColumn(t).addi(1).fmodi(V);
            INDArray cond = model.conditionals(changed);
            INDArray steps = model.stepLogProbs(changed);
            for (int s = 0; s <= t; s++) {
                assertEquals(0.0, maxAbsDiff(cond, base, s), 1e-6, "step " + s + " sees x_" + t);
                if (s < t) {
                    assertEquals(0.0, steps.getColumn(s).sub(baseSteps.getColumn(s)).amaxNumber().doubleValue(),
                            1e-6, "log p(x_" + s + " | past) changed with x_" + t);
                }
            }
            if (t + 1 < T) {
                assertTrue(maxAbsDiff(cond, base, t + 1) > 1e-3, "step " + (t + 1) + " ignores x_" + t);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("specs")
    void exactlyNormalized(CharRnnSpec spec) {
        CharRnnDensity model = density(spec, 17);
        INDArray all = allSequences();
        double total = 0;
        for (double lp : model.logProb(all).toDoubleVector()) {
            total += Math.exp(lp);
        }
        assertEquals(1.0, total, 1e-4, "sum of p(x) over all " + all.rows() + " sequences");
        // the log-likelihood is the sum of the per-step log-conditionals of the true characters
        INDArray cond = model.conditionals(all);
        double[] lp = model.logProb(all).toDoubleVector();
        for (int i = 0; i < all.rows(); i++) {
            double sum = 0;
            for (int t = 0; t < T; t++) {
                sum += Math.log(cond.getDouble(i, all.getInt(i, t), t));
            }
            assertEquals(sum, lp[i], 1e-5);
        }
    }

    /** The training loss (MCXENT summed over steps, averaged over rows) is the density's mean NLL per sequence. */
    @ParameterizedTest
    @MethodSource("specs")
    void trainingLossIsMeanNll(CharRnnSpec spec) {
        MultiLayerNetwork net = randomNetwork(spec, 19);
        INDArray x = randomSequences(64, 7);
        double loss = net.score(new DataSet(spec.trainingFeatures(x, 0), spec.trainingLabels(x)));
        double nll = -spec.densityOf(net).logProb(x).meanNumber().doubleValue();
        assertEquals(nll, loss, 1e-4 * nll);
    }

    /**
     * A network made so confident that the float softmax underflows to 0 at some true characters: log-likelihoods are
     * still finite (recomputed from the logits) and the density still sums to one; on ordinary networks the float and
     * logit paths agree.
     */
    @ParameterizedTest
    @MethodSource("specs")
    void logFromLogitsWhereTheSoftmaxUnderflows(CharRnnSpec spec) {
        CharRnnDensity ordinary = density(spec, 23);
        INDArray all = allSequences();
        INDArray floatPath = ordinary.stepLogProbs(all);
        INDArray logitPath = ordinary.stepLogProbs(all, 2.0); // every entry from the logits
        assertTrue(floatPath.equalsWithEps(logitPath, 1e-5), "float softmax and double log-softmax disagree");

        MultiLayerNetwork net = randomNetwork(spec, 23);
        org.deeplearning4j.nn.api.Layer out = net.getLayer(net.getnLayers() - 1);
        out.setParam("W", out.getParam("W").mul(400));
        out.setParam("b", out.getParam("b").mul(400));
        CharRnnDensity sharp = (CharRnnDensity) spec.densityOf(net);
        INDArray naive = sharp.stepLogProbs(all, 0.0); // log of the float softmax everywhere
        assertTrue(Double.isInfinite(naive.minNumber().doubleValue()), "test needs a softmax that underflows to 0");
        INDArray guarded = sharp.stepLogProbs(all);
        double min = guarded.minNumber().doubleValue();
        assertTrue(Double.isFinite(min) && min < Math.log(1e-45), "min step log-prob " + min);
        double total = 0;
        for (double lp : sharp.logProb(all).toDoubleVector()) {
            assertTrue(Double.isFinite(lp));
            total += Math.exp(lp);
        }
        assertEquals(1.0, total, 1e-4);
    }

    @ParameterizedTest
    @MethodSource("specs")
    void samplesFollowTheDensity(CharRnnSpec spec) {
        CharRnnDensity model = density(spec, 29);
        INDArray samples = model.sample(20_000, 99L);
        double[] pmf = temperedPmf(model, 1.0);
        double[] direct = model.logProb(allSequences()).toDoubleVector();
        for (int i = 0; i < pmf.length; i++) {
            assertEquals(Math.exp(direct[i]), pmf[i], 1e-6, "pmf from conditionals vs logProb");
        }
        assertChiSquared(pmf, samples);
        assertEquals(samples, model.sample(20_000, 99L), "sampling is not a function of the seeds");
    }

    /** Temperature tau samples prod_t softmax(z_t / tau)[x_t] exactly, for tau below and above 1. */
    @ParameterizedTest
    @MethodSource("specs")
    void temperedSamplesFollowTheTemperedConditionals(CharRnnSpec spec) {
        CharRnnDensity model = density(spec, 31);
        for (double tau : new double[]{0.5, 1.5}) {
            INDArray samples = model.sample(seeds(20_000, 7), null, tau);
            assertChiSquared(temperedPmf(model, tau), samples);
        }
        assertEquals(model.sample(seeds(100, 3)), model.sample(seeds(100, 3), null, 1.0));
    }

    @ParameterizedTest
    @MethodSource("specs")
    void lowTemperatureIsGreedyAndEntropyFallsWithTemperature(CharRnnSpec spec) {
        CharRnnDensity model = density(spec, 37);
        double hot = empiricalEntropy(model.sample(seeds(20_000, 6), null, 1.5));
        double one = empiricalEntropy(model.sample(seeds(20_000, 6), null, 1.0));
        double cool = empiricalEntropy(model.sample(seeds(20_000, 6), null, 0.5));
        assertTrue(hot > one + 0.05 && one > cool + 0.05, "entropies at 1.5, 1, 0.5: " + hot + ", " + one + ", " + cool);
        assertEquals(exactEntropy(temperedPmf(model, 1.0)), one, 0.05, "empirical entropy at temperature 1");

        // a sharper network (output layer scaled up) so that temperature 0.05 must give the greedy path
        MultiLayerNetwork net = randomNetwork(spec, 37);
        org.deeplearning4j.nn.api.Layer out = net.getLayer(net.getnLayers() - 1);
        out.setParam("W", out.getParam("W").mul(8));
        out.setParam("b", out.getParam("b").mul(8));
        model = (CharRnnDensity) spec.densityOf(net);
        // the greedy path: argmax of each conditional given the argmaxes before it
        INDArray greedy = Nd4j.zeros(DataType.FLOAT, 1, T);
        double escape = 0; // bound on the chance that a temperature-0.05 draw leaves the greedy path
        for (int t = 0; t < T; t++) {
            double[] p = model.conditionals(greedy).get(point(0), all(), point(t)).toDoubleVector();
            int best = 0;
            for (int k = 1; k < V; k++) {
                best = p[k] > p[best] ? k : best;
            }
            for (int k = 0; k < V; k++) {
                escape += k == best ? 0 : Math.pow(p[k] / p[best], 1 / 0.05);
            }
            greedy.putScalar(0, t, best);
        }
        int n = 500;
        assertTrue(escape * n < 1e-2, "conditionals too flat for a greedy check: " + escape);
        INDArray cold = model.sample(seeds(n, 5), null, 0.05);
        for (int i = 0; i < n; i++) {
            assertEquals(greedy.getRow(0), cold.getRow(i), "row " + i + " at temperature 0.05");
        }
        INDArray warm = model.sample(seeds(n, 5), null, 1.0);
        assertNotEquals(cold, warm, "at temperature 1 some rows should leave the greedy path");
    }

    @ParameterizedTest
    @MethodSource("specs")
    void aRowDependsOnlyOnItsSeed(CharRnnSpec spec) {
        CharRnnDensity model = density(spec, 41);
        long a = 1234, b = 987654321L;
        INDArray both = model.sample(new long[]{a, b}, null, 0.8);
        assertEquals(both.getRow(1), model.sample(new long[]{b}, null, 0.8).getRow(0));
        assertEquals(both.getRow(0), model.sample(new long[]{a}, null, 0.8).getRow(0));
        INDArray many = model.sample(seeds(64, 1));
        INDArray shuffledTail = model.sample(new long[]{seeds(64, 1)[63], 5, 6, seeds(64, 1)[10]});
        assertEquals(many.getRow(63), shuffledTail.getRow(0));
        assertEquals(many.getRow(10), shuffledTail.getRow(3));
        assertNotEquals(many.getRow(10), many.getRow(11), "different seeds should usually differ");
    }

    @Test
    void specSurvivesJsonAndConfig() {
        for (CharRnnSpec spec : List.of(CharRnnSpec.lstm(100, 80, 256, 256), CharRnnSpec.rnn(7, 3, 5).withGradientClip(0))) {
            String json = ConfigFactory.parseMap(spec.toMap()).root().render(ConfigRenderOptions.concise());
            ModelSpec back = ModelSpec.fromConfig(ConfigFactory.parseString(json));
            assertEquals(spec, back);
            assertEquals(spec.hashCode(), back.hashCode());
            assertEquals(spec.levels(), back.levels());
            assertEquals("uint8", back.valueType());
            assertTrue(org.chainrule.models.ModelFamilies.types().contains(spec.type()));
        }
        assertNotEquals(CharRnnSpec.lstm(4, 3, 8), CharRnnSpec.rnn(4, 3, 8));
        assertNotEquals(CharRnnSpec.lstm(4, 3, 8), CharRnnSpec.lstm(4, 3, 8, 8));
        assertNotEquals(CharRnnSpec.lstm(4, 3, 8), CharRnnSpec.lstm(4, 3, 8).withGradientClip(1));
        MultiLayerConfiguration conf = CharRnnSpec.lstm(4, 3, 8).trainingConfiguration(new TrainingRecipe(1e-3, 1));
        assertEquals(conf.toJson(), MultiLayerConfiguration.fromJson(conf.toJson()).toJson());
    }

    @Test
    void rejectsBadSpecsAndInputs() {
        assertThrows(IllegalArgumentException.class, () -> CharRnnSpec.lstm(4, 1, 8));
        assertThrows(IllegalArgumentException.class, () -> CharRnnSpec.lstm(4, 257, 8));
        assertThrows(IllegalArgumentException.class, () -> CharRnnSpec.lstm(4, 3));
        assertThrows(IllegalArgumentException.class, () -> CharRnnSpec.rnn(0, 3, 8));
        assertThrows(IllegalArgumentException.class, () -> CharRnnSpec.rnn(4, 3, 8).withGradientClip(-1));
        assertThrows(IllegalArgumentException.class, () -> new CharRnnSpec("char-gru", new long[]{4}, 3, new int[]{8}, 5));
        CharRnnDensity model = density(CharRnnSpec.lstm(T, V, 8), 1);
        assertThrows(IllegalArgumentException.class, () -> model.logProb(Nd4j.zeros(2, T + 1)));
        assertThrows(IllegalArgumentException.class, () -> model.logProb(Nd4j.zeros(2, T).addi(V)));
        assertThrows(IllegalArgumentException.class, () -> model.sample(new long[]{1}, null, 0.0));
        assertThrows(IllegalArgumentException.class, () -> model.sample(new long[]{1}, Nd4j.zeros(1, 1), 1.0));
    }

    @ParameterizedTest
    @MethodSource("specs")
    void savedAndLoadedNetworkScoresTheSame(CharRnnSpec spec) throws Exception {
        MultiLayerNetwork net = randomNetwork(spec, 43);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ModelSerializer.writeModel(net, bytes, true);
        MultiLayerNetwork back = ModelSerializer.restoreMultiLayerNetwork(new ByteArrayInputStream(bytes.toByteArray()));
        INDArray all = allSequences();
        assertEquals(spec.densityOf(net).logProb(all), spec.densityOf(back).logProb(all));
        assertEquals(spec.densityOf(net).sample(seeds(50, 2)), spec.densityOf(back).sample(seeds(50, 2)));
    }

    /** The density is a snapshot: training the network afterwards does not change it. */
    @Test
    void densityIsASnapshot() {
        CharRnnSpec spec = CharRnnSpec.lstm(T, V, 8);
        MultiLayerNetwork net = randomNetwork(spec, 47);
        DensityModel model = spec.densityOf(net);
        INDArray all = allSequences();
        INDArray before = model.logProb(all);
        net.fit(new DataSet(spec.trainingFeatures(all, 0), spec.trainingLabels(all)));
        assertEquals(before, model.logProb(all));
        assertNotEquals(before, spec.densityOf(net).logProb(all));
    }

    /** A few hundred Adam steps on noisy "abcabc..." text bring the NLL per character well below uniform. */
    @ParameterizedTest
    @MethodSource("trainingSpecs")
    void trainingLowersNll(CharRnnSpec spec) {
        int length = spec.length();
        int[] text = noisyPeriodicText(20_000, spec.vocabularySize(), 0.1, 3);
        Random r = new Random(5);
        INDArray heldOut = windows(text, 256, length, r);
        MultiLayerNetwork net = new MultiLayerNetwork(spec.trainingConfiguration(new TrainingRecipe(1e-2, 3)));
        net.init();
        double before = -spec.densityOf(net).logProb(heldOut).meanNumber().doubleValue() / length;
        for (int step = 0; step < 120; step++) {
            INDArray batch = windows(text, 32, length, r);
            net.fit(new DataSet(spec.trainingFeatures(batch, 0), spec.trainingLabels(batch)));
        }
        double after = -spec.densityOf(net).logProb(heldOut).meanNumber().doubleValue() / length;
        // the best possible is about 0.45 nats per character (0.1 noise); uniform is ln 4 = 1.39
        assertTrue(after < before - 0.6 && after < 0.7, "NLL per character " + before + " -> " + after);
        List<String> texts = CharRnnDensity.toText(spec.densityOf(net).sample(4, 8L), "abcd");
        for (String s : texts) {
            assertEquals(length, s.length());
            assertTrue(s.contains("abc") || s.contains("bca") || s.contains("cab"), "sample " + s);
        }
    }

    static Stream<CharRnnSpec> trainingSpecs() {
        return Stream.of(CharRnnSpec.lstm(10, 4, 16), CharRnnSpec.rnn(10, 4, 16));
    }

    @Test
    void textFromIndices() {
        INDArray rows = Nd4j.create(new float[][]{{0, 1, 2, 1}, {2, 2, 0, 3}});
        assertEquals(List.of("ab\nb", "\n\na "), CharRnnDensity.toText(rows, "ab\n "));
        assertThrows(IllegalArgumentException.class, () -> CharRnnDensity.toText(rows, "ab\n"));
    }

    // ---- helpers ----

    /** Every sequence of length T over V values, {@code [V^T, T]}; row r has x_t = digit t of r in base V. */
    static INDArray allSequences() {
        int n = (int) Math.pow(V, T);
        float[][] v = new float[n][T];
        for (int r = 0; r < n; r++) {
            int rest = r;
            for (int t = 0; t < T; t++) {
                v[r][t] = rest % V;
                rest /= V;
            }
        }
        return Nd4j.create(v);
    }

    /** The rows of a [n, T] matrix, read in one bulk copy. */
    static double[][] rows(INDArray x) {
        double[] flat = x.castTo(DataType.DOUBLE).dup('c').data().asDouble();
        double[][] rows = new double[(int) x.rows()][];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = java.util.Arrays.copyOfRange(flat, i * T, (i + 1) * T);
        }
        return rows;
    }

    static int index(double[] row) {
        int idx = 0;
        for (int t = T - 1; t >= 0; t--) {
            idx = idx * V + (int) row[t];
        }
        return idx;
    }

    static INDArray randomSequences(int n, long seed) {
        Random r = new Random(seed);
        float[][] v = new float[n][T];
        for (float[] row : v) {
            for (int t = 0; t < T; t++) {
                row[t] = r.nextInt(V);
            }
        }
        return Nd4j.create(v);
    }

    static long[] seeds(int n, long root) {
        long[] s = new long[n];
        for (int i = 0; i < n; i++) {
            s[i] = org.chainrule.models.Seeds.derive(root, i);
        }
        return s;
    }

    /** Largest change of any conditional at one step, over rows and values. */
    private static double maxAbsDiff(INDArray a, INDArray b, int step) {
        return a.get(all(), all(), point(step)).sub(b.get(all(), all(), point(step))).amaxNumber().doubleValue();
    }

    /** The exact pmf of tempered ancestral sampling: prod_t p_t(x_t)^(1/tau) / sum_v p_t(v)^(1/tau). */
    static double[] temperedPmf(CharRnnDensity model, double tau) {
        INDArray all = allSequences();
        INDArray cond = model.conditionals(all);
        double[] pmf = new double[(int) all.rows()];
        for (int i = 0; i < pmf.length; i++) {
            double p = 1;
            for (int t = 0; t < T; t++) {
                double norm = 0;
                for (int k = 0; k < V; k++) {
                    norm += Math.pow(cond.getDouble(i, k, t), 1 / tau);
                }
                p *= Math.pow(cond.getDouble(i, all.getInt(i, t), t), 1 / tau) / norm;
            }
            pmf[i] = p;
        }
        return pmf;
    }

    /** Pearson chi-squared of sample counts against a pmf over all sequences, cells below 5 expected merged. */
    static void assertChiSquared(double[] pmf, INDArray samples) {
        long[] counts = new long[pmf.length];
        for (double[] row : rows(samples)) {
            counts[index(row)]++;
        }
        int n = (int) samples.rows();
        double stat = 0;
        int cells = 0;
        double smallExpected = 0;
        long smallObserved = 0;
        for (int i = 0; i < pmf.length; i++) {
            double e = n * pmf[i];
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
        assertTrue(cells > 3, "too few cells for a chi-squared test: " + cells);
        assertTrue(stat < chiSquaredCritical999(cells - 1),
                "chi-squared " + stat + " with " + (cells - 1) + " dof exceeds the 0.1% critical value");
    }

    static double empiricalEntropy(INDArray samples) {
        double[] pmf = new double[(int) Math.pow(V, T)];
        for (double[] row : rows(samples)) {
            pmf[index(row)] += 1.0 / samples.rows();
        }
        return exactEntropy(pmf);
    }

    static double exactEntropy(double[] pmf) {
        double h = 0;
        for (double p : pmf) {
            h -= p > 0 ? p * Math.log(p) : 0;
        }
        return h;
    }

    /** A period-3 text "abcabc..." over values 0..2 in which each character is replaced by a uniform one w.p. noise. */
    static int[] noisyPeriodicText(int n, int vocabularySize, double noise, long seed) {
        Random r = new Random(seed);
        int[] text = new int[n];
        for (int i = 0; i < n; i++) {
            text[i] = r.nextDouble() < noise ? r.nextInt(vocabularySize) : i % 3;
        }
        return text;
    }

    static INDArray windows(int[] text, int n, int length, Random r) {
        float[][] v = new float[n][length];
        for (int i = 0; i < n; i++) {
            int start = r.nextInt(text.length - length);
            for (int t = 0; t < length; t++) {
                v[i][t] = text[start + t];
            }
        }
        return Nd4j.create(v);
    }
}
