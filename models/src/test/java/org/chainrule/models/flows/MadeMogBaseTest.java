package org.chainrule.models.flows;

import org.chainrule.models.TrainingRecipe;
import com.typesafe.config.ConfigFactory;
import org.chainrule.models.DensityModel;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.conditionals.GaussianMixture;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A flow whose base is a MADE with Gaussian-mixture conditionals (MAF MoG): density, sampler, training, persistence. */
class MadeMogBaseTest {

    private static FlowSpec mafMog(int d, int components) {
        return new FlowSpec("maf", new long[]{d}, Maf.chain(d, 2, new int[]{8}, false, 3), 0, 0, 1,
                Dequantization.UNIFORM, BaseDistribution.madeMog(new int[]{10}, components, 7));
    }

    /** A network at its initial values plus N(0, scale^2) noise on every parameter: a generic, moderate flow. */
    private static MultiLayerNetwork perturbed(FlowSpec spec, long seed, double scale) {
        MultiLayerNetwork net = new MultiLayerNetwork(spec.trainingConfiguration(new TrainingRecipe(1e-2, seed)));
        net.init();
        Random r = new Random(seed);
        INDArray p = net.params();
        for (long i = 0; i < p.length(); i++) {
            p.putScalar(i, p.getDouble(i) + scale * r.nextGaussian());
        }
        net.setParams(p);
        return net;
    }

    private static Map<String, INDArray> baseParams(BaseDistribution base, int dim, long seed) {
        Map<String, INDArray> p = new LinkedHashMap<>();
        base.parameterShapes(dim).forEach((k, s) -> p.put(k, Nd4j.zeros(DataType.DOUBLE, s)));
        base.initialize(p, dim, seed);
        Random r = new Random(seed);
        for (INDArray v : p.values()) {
            for (long i = 0; i < v.length(); i++) {
                v.putScalar(i, v.getDouble(i) + 0.5 * r.nextGaussian());
            }
        }
        return p;
    }

    /** Midpoint grid over [lo, hi]^d, n points per axis. */
    private static INDArray grid(int d, double lo, double hi, int n) {
        double h = (hi - lo) / n;
        int points = d == 1 ? n : n * n;
        INDArray g = Nd4j.create(DataType.DOUBLE, points, d);
        for (int k = 0; k < points; k++) {
            g.putScalar(k, 0, lo + (k % n + 0.5) * h);
            if (d == 2) {
                g.putScalar(k, 1, lo + (k / n + 0.5) * h);
            }
        }
        return g;
    }

    @Test
    void flowDensityIntegratesToOneIn1dAnd2d() {
        for (int d = 1; d <= 2; d++) {
            FlowSpec spec = mafMog(d, 3);
            DensityModel m = spec.densityOf(perturbed(spec, 40 + d, 0.3));
            // wide: a conditional's standard deviation may grow exponentially with the earlier latents
            double lo = -20;
            double hi = 20;
            int n = d == 1 ? 8000 : 500;
            double[] lp = m.logProb(grid(d, lo, hi, n)).toDoubleVector();
            double total = 0;
            for (double v : lp) {
                total += Math.exp(v);
            }
            total *= Math.pow((hi - lo) / n, d);
            assertEquals(1.0, total, 1e-3, d + "-D integral of the flow density");
        }
    }

    @Test
    void baseIsAutoregressiveAndTheGraphAgreesWithTheJavaConditionals() {
        int dim = 4;
        BaseDistribution base = BaseDistribution.madeMog(new int[]{12, 9}, 2, 5);
        Map<String, INDArray> p = baseParams(base, dim, 3);
        BaseDistribution.Made made = base.new Made(p, dim);
        double[] z = {0.3, -1.2, 0.8, 2.0};
        for (int j = 0; j < dim; j++) {
            double[] moved = z.clone();
            moved[j] += 1.7;
            boolean seen = false;
            for (int d = 0; d < dim; d++) {
                float[] before = made.conditional(z, d);
                float[] after = made.conditional(moved, d);
                if (d <= j) {
                    assertArrayEquals(before, after, "conditional " + d + " must not see z_" + j);
                } else {
                    seen |= !java.util.Arrays.equals(before, after);
                }
            }
            assertTrue(seen || j == dim - 1, "some later conditional depends on z_" + j);
        }
        // the graph's log-density (training and scoring) is the sum of the Java conditionals (sampling)
        Random r = new Random(4);
        INDArray rows = Nd4j.create(DataType.DOUBLE, 5, dim);
        for (int i = 0; i < 5 * dim; i++) {
            rows.putScalar(i / dim, i % dim, 1.5 * r.nextGaussian());
        }
        SameDiff sd = SameDiff.create();
        SDVariable in = sd.placeHolder("z", DataType.DOUBLE, -1, dim);
        Map<String, SDVariable> c = new LinkedHashMap<>();
        p.forEach((k, v) -> c.put(k, sd.constant("c" + k, v)));
        SDVariable lp = sd.identity("lp", base.logProb(sd, in, dim, c));
        INDArray graph = sd.output(Map.of("z", rows), "lp").get("lp");
        GaussianMixture mog = new GaussianMixture(2);
        for (int i = 0; i < 5; i++) {
            double[] row = rows.getRow(i).toDoubleVector();
            double java = 0;
            for (int d = 0; d < dim; d++) {
                java += mog.logProb(made.conditional(row, d), 0, row[d]);
            }
            assertEquals(java, graph.getDouble(i), 1e-5 * Math.max(1, Math.abs(java)), "row " + i);
            assertEquals(java, made.logProb(row), 1e-12);
        }
    }

    @Test
    void initialBaseIsTheStandardNormal() {
        BaseDistribution base = BaseDistribution.madeMog(new int[]{6}, 3, 2);
        Map<String, INDArray> p = new LinkedHashMap<>();
        base.parameterShapes(3).forEach((k, s) -> p.put(k, Nd4j.zeros(DataType.DOUBLE, s)));
        base.initialize(p, 3, 9);
        BaseDistribution.Made made = base.new Made(p, 3);
        double[] z = {0.4, -2.5, 1.1};
        double normal = 0;
        for (double v : z) {
            normal += -0.5 * v * v - 0.5 * Math.log(2 * Math.PI);
        }
        // equal weights, unit mixture variance, but distinct means: the mixture is not exactly normal in shape
        double lp = made.logProb(z);
        assertTrue(Math.abs(lp - normal) < 0.5, lp + " vs " + normal);
        float[] c = made.conditional(z, 1);
        assertEquals(c[0], c[1]);
        assertNotEquals(c[3], c[4], "components start apart");
    }

    @Test
    void samplesFollowTheGraphDensity() {
        // 1-D: binned samples of the whole flow against the quadrature of its graph density (chi-squared), and 2-D:
        // the sample mean against the quadrature mean, which exercises the sequential conditionals
        FlowSpec spec = mafMog(1, 3);
        DensityModel m = spec.densityOf(perturbed(spec, 8, 0.5));
        double lo = -12;
        double hi = 12;
        int n = 4800;
        double h = (hi - lo) / n;
        double[] lp = m.logProb(grid(1, lo, hi, n)).toDoubleVector();
        int bins = 24;
        double[] mass = new double[bins + 2]; // 0: below lo, bins + 1: above hi (expected ~0)
        for (int k = 0; k < n; k++) {
            mass[1 + k * bins / n] += Math.exp(lp[k]) * h;
        }
        int draws = 6000;
        INDArray s = m.sample(draws, 12);
        double[] counts = new double[bins + 2];
        for (double v : s.toDoubleVector()) {
            int b = v < lo ? 0 : v >= hi ? bins + 1 : 1 + (int) ((v - lo) / (hi - lo) * bins);
            counts[b]++;
        }
        double chi = 0;
        int used = 0;
        for (int b = 0; b < bins + 2; b++) {
            double e = draws * mass[b];
            if (e >= 5) {
                chi += (counts[b] - e) * (counts[b] - e) / e;
                used++;
            } else {
                assertTrue(counts[b] <= 12, "bin " + b + ": " + counts[b] + " samples where " + e + " are expected");
            }
        }
        assertTrue(used >= 6, "the density spreads over several bins: " + used);
        // 0.1% critical value of chi-squared with used - 1 <= 25 degrees of freedom is at most 52.6
        assertTrue(chi < 52.6, "chi-squared " + chi + " over " + used + " bins");

        FlowSpec two = mafMog(2, 2);
        DensityModel m2 = two.densityOf(perturbed(two, 9, 0.3));
        int g = 400;
        double h2 = 40.0 / g;
        INDArray pts = grid(2, -20, 20, g);
        double[] lp2 = m2.logProb(pts).toDoubleVector();
        double[] mean = new double[2];
        double[] second = new double[2];
        double total = 0;
        for (int k = 0; k < lp2.length; k++) {
            double w = Math.exp(lp2[k]) * h2 * h2;
            total += w;
            for (int j = 0; j < 2; j++) {
                mean[j] += w * pts.getDouble(k, j);
                second[j] += w * pts.getDouble(k, j) * pts.getDouble(k, j);
            }
        }
        assertEquals(1.0, total, 2e-3);
        INDArray s2 = m2.sample(draws, 13);
        for (int j = 0; j < 2; j++) {
            double sd = Math.sqrt(second[j] - mean[j] * mean[j]);
            double sampleMean = s2.getColumn(j).meanNumber().doubleValue();
            assertEquals(mean[j], sampleMean, 4.5 * sd / Math.sqrt(draws), "mean of dimension " + j);
            double sampleSd = s2.getColumn(j).stdNumber().doubleValue();
            assertEquals(sd, sampleSd, 0.06 * sd, "standard deviation of dimension " + j);
        }
    }

    @Test
    void samplingIsPerSeedAndTemperatureConcentrates() {
        FlowSpec spec = mafMog(3, 2);
        FlowDensity m = (FlowDensity) spec.densityOf(perturbed(spec, 2, 0.3));
        INDArray both = m.sample(new long[]{5, 6}, null, 1.0);
        INDArray alone = m.sample(new long[]{6}, null, 1.0);
        assertEquals(both.getRow(1), alone.getRow(0), "a row depends only on its own seed");
        INDArray same = m.sample(new long[]{9, 9}, null, 1.0);
        assertEquals(same.getRow(0), same.getRow(1), "equal seeds, equal samples");
        long[] seeds = new long[400];
        for (int i = 0; i < seeds.length; i++) {
            seeds[i] = 1000 + i;
        }
        double spreadHot = m.sample(seeds, null, 1.0).std(0).sumNumber().doubleValue();
        double spreadCold = m.sample(seeds, null, 0.05).std(0).sumNumber().doubleValue();
        assertTrue(spreadCold < 0.3 * spreadHot, "temperature 0.05: " + spreadCold + " vs " + spreadHot);
    }

    @Test
    void trainingLowersTheNllOnBimodalData() {
        FlowSpec spec = mafMog(2, 3);
        MultiLayerNetwork net = new MultiLayerNetwork(spec.trainingConfiguration(new TrainingRecipe(0.02, 1)));
        net.init();
        Random r = new Random(2);
        float[] v = new float[400];
        for (int i = 0; i < 200; i++) {
            double a = (r.nextBoolean() ? 2 : -2) + 0.4 * r.nextGaussian();
            v[2 * i] = (float) a;
            v[2 * i + 1] = (float) (0.5 * a + 0.3 * r.nextGaussian());
        }
        INDArray x = Nd4j.create(v, new long[]{200, 2});
        double before = spec.densityOf(net).logProb(x).meanNumber().doubleValue();
        for (int step = 0; step < 60; step++) {
            net.fit(new DataSet(spec.trainingFeatures(x, 0), spec.trainingLabels(x)));
        }
        double after = spec.densityOf(net).logProb(x).meanNumber().doubleValue();
        assertTrue(after > before + 0.5, "mean log-likelihood " + before + " -> " + after);
        Map<String, INDArray> trained = FlowLayer.parameters(net);
        assertTrue(trained.get("mogW1").amaxNumber().doubleValue() > 0, "the base's output layer (zero at first) trained");
    }

    @Test
    void gradientsReachEveryBaseParameterEvenForOneRow() {
        FlowSpec spec = mafMog(3, 2);
        MultiLayerNetwork net = perturbed(spec, 3, 0.3);
        for (int rows : new int[]{1, 5}) {
            INDArray x = Nd4j.create(DataType.FLOAT, rows, 3);
            for (int i = 0; i < rows * 3; i++) {
                x.putScalar(i / 3, i % 3, 0.7 * (i % 5) - 1.1);
            }
            net.setInput(spec.trainingFeatures(x, 0));
            net.setLabels(spec.trainingLabels(x));
            net.computeGradientAndScore();
            for (String name : spec.parameterShapes().keySet()) {
                INDArray g = net.gradient().getGradientFor("0_" + name);
                for (double v : g.castTo(DataType.DOUBLE).reshape(-1).toDoubleVector()) {
                    assertTrue(Double.isFinite(v), name + " gradient " + v);
                }
                if (name.startsWith("mog")) {
                    assertTrue(g.amaxNumber().doubleValue() > 0, "zero gradient for " + name + ", " + rows + " row(s)");
                }
            }
        }
    }

    @Test
    void specAndNetworkSurviveJsonRoundTrips() {
        FlowSpec spec = mafMog(3, 4).withDequantization(Dequantization.UNIFORM);
        assertEquals(spec, ModelSpec.fromConfig(ConfigFactory.parseMap(spec.toMap())));
        FlowSpec discrete = new FlowSpec("maf", new long[]{2}, Maf.chain(2, 1, new int[]{4}, false, 1), 16, 0.05, 2,
                Dequantization.variational(3), BaseDistribution.madeMog(new int[0], 2, 4));
        assertEquals(discrete, ModelSpec.fromConfig(ConfigFactory.parseMap(discrete.toMap())));
        assertNotEquals(discrete, discrete.withBase(BaseDistribution.madeMog(new int[0], 3, 4)));
        MultiLayerNetwork net = perturbed(spec, 6, 0.3);
        MultiLayerNetwork back = new MultiLayerNetwork(MultiLayerConfiguration.fromJson(
                net.getLayerWiseConfigurations().toJson()));
        back.init(net.params().dup(), false);
        INDArray x = Nd4j.create(new double[]{0.1, -2, 3, 1, 1, 1}, new long[]{2, 3});
        assertArrayEquals(spec.densityOf(net).logProb(x).toDoubleVector(),
                spec.densityOf(back).logProb(x).toDoubleVector(), 1e-9);
        assertEquals(spec.densityOf(net).sample(10, 3), spec.densityOf(back).sample(10, 3));
    }

    @Test
    void architecturesOfferItForVectorsOnly() {
        FlowArchitectures.Options o = new FlowArchitectures.Options(2, new int[]{8}, 1, 4, "auto", 0, 1, 3, "uniform",
                new int[0], "made-mog", new int[]{16}, 5);
        FlowSpec spec = FlowArchitectures.build("realnvp", new long[]{4}, 0, o);
        assertEquals("made-mog", spec.base().kind());
        assertEquals(5, spec.base().components());
        assertThrows(IllegalArgumentException.class, () -> FlowArchitectures.build("glow", new long[]{4, 4}, 256, o));
        FlowSpec old = FlowArchitectures.build("maf", new long[]{4}, 0,
                new FlowArchitectures.Options(2, new int[]{8}, 1, 4, "auto", 0, 1, 3));
        assertEquals(BaseDistribution.NORMAL, old.base());
        assertThrows(IllegalArgumentException.class, () -> BaseDistribution.madeMog(new int[]{4}, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> new BaseDistribution("laplace", new int[0], 0, 0));
    }
}
