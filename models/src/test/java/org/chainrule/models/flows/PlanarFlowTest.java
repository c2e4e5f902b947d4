package org.chainrule.models.flows;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PlanarFlowTest {

    /** Random parameters: w ~ N(0, I), b ~ N(0, 1), and u with the given w.u (plus a component orthogonal to w). */
    static Map<String, INDArray> params(long dim, double wu, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        double[] w = new double[(int) dim];
        double[] noise = new double[(int) dim];
        double norm2 = 0;
        double dot = 0;
        for (int i = 0; i < dim; i++) {
            w[i] = PlanarFlow.gaussian(rng);
            noise[i] = PlanarFlow.gaussian(rng);
            norm2 += w[i] * w[i];
            dot += w[i] * noise[i];
        }
        double[] u = new double[(int) dim];
        for (int i = 0; i < dim; i++) {
            u[i] = noise[i] - dot * w[i] / norm2 + wu * w[i] / norm2;
        }
        Map<String, INDArray> p = new LinkedHashMap<>();
        p.put("u", Nd4j.create(u, new long[]{1, dim}, DataType.DOUBLE));
        p.put("w", Nd4j.create(w, new long[]{1, dim}, DataType.DOUBLE));
        p.put("b", Nd4j.create(new double[]{PlanarFlow.gaussian(rng)}, new long[]{1, 1}, DataType.DOUBLE));
        return p;
    }

    static double softplus(double a) {
        return Math.max(a, 0) + Math.log1p(Math.exp(-Math.abs(a)));
    }

    /** u_hat by the paper's formula, in plain Java. */
    static double[] uHat(double[] u, double[] w) {
        double wu = 0;
        double norm2 = 0;
        for (int i = 0; i < u.length; i++) {
            wu += w[i] * u[i];
            norm2 += w[i] * w[i];
        }
        double m = -1 + softplus(wu);
        double[] out = new double[u.length];
        for (int i = 0; i < u.length; i++) {
            out[i] = u[i] + (m - wu) * w[i] / norm2;
        }
        return out;
    }

    static INDArray randn(long rows, long dim, double scale, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        INDArray x = Nd4j.create(DataType.DOUBLE, rows, dim);
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < dim; i++) {
                x.putScalar(r, i, scale * PlanarFlow.gaussian(rng));
            }
        }
        return x;
    }

    /** Rows of +-1e3 (random signs): tanh saturates, radii are large. */
    static INDArray extreme(long rows, long dim, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        INDArray x = Nd4j.create(DataType.DOUBLE, rows, dim);
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < dim; i++) {
                x.putScalar(r, i, rng.nextBoolean() ? 1e3 : -1e3);
            }
        }
        return x;
    }

    @Test
    void passesTheFlowChecksWithRandomParameters() {
        for (long dim : new long[]{1, 2, 5}) {
            for (long seed = 0; seed < 2; seed++) {
                PlanarFlow t = new PlanarFlow(dim);
                Map<String, INDArray> p = params(dim, PlanarFlow.gaussian(new SplittableRandom(seed + 50)), seed);
                INDArray x = randn(5, dim, 1.5, seed + 100);
                FlowChecks.assertRoundTrip(t, p, x, 1e-10);
                FlowChecks.assertLogDetMatchesJacobian(t, p, x, 1e-6);
                FlowChecks.assertFinite(t, p, extreme(4, dim, seed));
            }
        }
    }

    @Test
    void passesTheFlowChecksWithAdversarialParameters() {
        // w.u far below -1: the raw u would not be invertible, u_hat brings w.u_hat to just above -1 (softplus(-8)
        // = 3e-4, softplus(-30) = 1e-13); and w.u large, where u_hat is u minus w / |w|^2.
        for (long dim : new long[]{1, 2, 5}) {
            for (double wu : new double[]{-8, -30, 40}) {
                PlanarFlow t = new PlanarFlow(dim);
                Map<String, INDArray> p = params(dim, wu, 7 + dim);
                INDArray x = randn(4, dim, 1.5, 11 + dim);
                FlowChecks.assertRoundTrip(t, p, x, 1e-8);
                FlowChecks.assertLogDetMatchesJacobian(t, p, x, 1e-5);
                FlowChecks.assertFinite(t, p, extreme(4, dim, dim));
            }
        }
        // the singular point of the limit w.u -> -infinity: w.x + b = 0 exactly, where 1 + w.u_hat sech^2 = 0 in
        // double; the epsilon inside the log keeps the log-determinant finite there
        PlanarFlow t = new PlanarFlow(2);
        Map<String, INDArray> p = params(2, -1e3, 3);
        INDArray x = Nd4j.create(DataType.DOUBLE, 1, 2);
        x.putScalar(0, 0, -p.get("b").getDouble(0) / p.get("w").getDouble(0, 0));
        FlowChecks.assertFinite(t, p, x);
        assertTrue(Flows.forward(t, p, x).logAbsDet().getDouble(0) < -20, "log |det| at the singular point");
    }

    @Test
    void densityIntegratesToOneIn1DAnd2D() {
        for (double wu : new double[]{0.7, -6, 15}) {
            Map<String, INDArray> p1 = params(1, wu, 21);
            double reach1 = Math.abs(uHat(p1.get("u").toDoubleVector(), p1.get("w").toDoubleVector())[0]);
            FlowChecks.assertIntegratesToOne(new PlanarFlow(1), p1, -9 - reach1, 9 + reach1, 6000, 1e-3);
            Map<String, INDArray> p2 = params(2, wu, 22);
            double[] uh = uHat(p2.get("u").toDoubleVector(), p2.get("w").toDoubleVector());
            double reach2 = Math.hypot(uh[0], uh[1]);
            FlowChecks.assertIntegratesToOne(new PlanarFlow(2), p2, -8 - reach2, 8 + reach2, 300, 1e-3);
        }
    }

    @Test
    void forwardIsThePapersFormulaWithUHat() {
        long dim = 3;
        Map<String, INDArray> p = params(dim, -4, 5);
        double[] u = p.get("u").toDoubleVector();
        double[] w = p.get("w").toDoubleVector();
        double b = p.get("b").getDouble(0);
        double[] uh = uHat(u, w);
        double wuHat = 0;
        for (int i = 0; i < dim; i++) {
            wuHat += w[i] * uh[i];
        }
        assertTrue(wuHat > -1, "w.u_hat = " + wuHat);
        INDArray x = randn(5, dim, 1, 6);
        Flows.Result f = Flows.forward(new PlanarFlow(dim), p, x);
        for (int r = 0; r < 5; r++) {
            double a = b;
            for (int i = 0; i < dim; i++) {
                a += w[i] * x.getDouble(r, i);
            }
            for (int i = 0; i < dim; i++) {
                assertEquals(x.getDouble(r, i) + uh[i] * Math.tanh(a), f.value().getDouble(r, i), 1e-12);
            }
            double sech2 = 1 - Math.tanh(a) * Math.tanh(a);
            assertEquals(Math.log(Math.abs(1 + wuHat * sech2)), f.logAbsDet().getDouble(r), 1e-9);
        }
    }

    @Test
    void rawUBreaksMonotonicityAndUHatRestoresIt() {
        // 1-D: f(x) = x + u tanh(w x + b) has slope 1 + w u sech^2(w x + b), negative near w x + b = 0 when w u < -1
        double u = -1.5;
        double w = 2;
        double b = 0.3;
        int n = 1201;
        double[] grid = new double[n];
        INDArray x = Nd4j.create(DataType.DOUBLE, n, 1);
        for (int i = 0; i < n; i++) {
            grid[i] = -6 + 12.0 * i / (n - 1);
            x.putScalar(i, 0, grid[i]);
        }
        int decreasingRaw = 0;
        for (int i = 1; i < n; i++) {
            double prev = grid[i - 1] + u * Math.tanh(w * grid[i - 1] + b);
            double cur = grid[i] + u * Math.tanh(w * grid[i] + b);
            if (cur < prev) {
                decreasingRaw++;
            }
        }
        assertTrue(decreasingRaw > 10, "the raw planar map with w u = -3 decreases on part of the grid");

        Map<String, INDArray> p = new LinkedHashMap<>();
        p.put("u", Nd4j.create(new double[]{u}, new long[]{1, 1}, DataType.DOUBLE));
        p.put("w", Nd4j.create(new double[]{w}, new long[]{1, 1}, DataType.DOUBLE));
        p.put("b", Nd4j.create(new double[]{b}, new long[]{1, 1}, DataType.DOUBLE));
        INDArray z = Flows.forward(new PlanarFlow(1), p, x).value();
        for (int i = 1; i < n; i++) {
            assertTrue(z.getDouble(i, 0) > z.getDouble(i - 1, 0), "the u-hat map is increasing at x = " + grid[i]);
        }
        // its slope at w x + b = 0 is 1 + w u_hat = softplus(w u), the paper's m(w u) + 1
        INDArray at = Nd4j.create(new double[]{-b / w - 1e-6, -b / w + 1e-6}, new long[]{2, 1}, DataType.DOUBLE);
        INDArray za = Flows.forward(new PlanarFlow(1), p, at).value();
        assertEquals(softplus(u * w), (za.getDouble(1, 0) - za.getDouble(0, 0)) / 2e-6, 1e-6);
        FlowChecks.assertRoundTrip(new PlanarFlow(1), p, x, 1e-9);
    }

    @Test
    void inverseIsAccurateOverAWideRangeOfParameters() {
        // one row per (w.u, scale of x), parameters per row; |w| = 1 in 2-D
        double[] wus = {-18, -8, -2, -0.5, 0, PlanarFlow.IDENTITY_WU, 3, 50, 1e3};
        double[] scales = {0, 1e-6, 0.3, 5, 1e3};
        int rows = wus.length * scales.length;
        INDArray u = Nd4j.create(DataType.DOUBLE, rows, 2);
        INDArray w = Nd4j.create(DataType.DOUBLE, rows, 2);
        INDArray b = Nd4j.create(DataType.DOUBLE, rows, 1);
        INDArray x = Nd4j.create(DataType.DOUBLE, rows, 2);
        SplittableRandom rng = new SplittableRandom(9);
        int r = 0;
        for (double wu : wus) {
            for (double scale : scales) {
                double angle = 2 * Math.PI * rng.nextDouble();
                double c = Math.cos(angle);
                double s = Math.sin(angle);
                w.putScalar(r, 0, c);
                w.putScalar(r, 1, s);
                double ortho = PlanarFlow.gaussian(rng);
                u.putScalar(r, 0, wu * c - ortho * s);
                u.putScalar(r, 1, wu * s + ortho * c);
                b.putScalar(r, 0, scale == 0 ? 0 : 0.1 * PlanarFlow.gaussian(rng));
                // x along w, so that w.x + b has the chosen scale (0: exactly the point a = 0)
                double along = scale * PlanarFlow.gaussian(rng) - b.getDouble(r, 0);
                double across = PlanarFlow.gaussian(rng);
                x.putScalar(r, 0, along * c - across * s);
                x.putScalar(r, 1, along * s + across * c);
                r++;
            }
        }
        Map<String, INDArray> p = Map.of("u", u, "w", w, "b", b);
        PlanarFlow t = new PlanarFlow(2);
        Flows.Result f = Flows.forward(t, p, x);
        Flows.Result back = Flows.inverse(t, p, f.value());
        for (int i = 0; i < rows; i++) {
            double size = 1 + Math.abs(x.getDouble(i, 0)) + Math.abs(x.getDouble(i, 1));
            double err = Math.max(Math.abs(back.value().getDouble(i, 0) - x.getDouble(i, 0)),
                    Math.abs(back.value().getDouble(i, 1) - x.getDouble(i, 1))) / size;
            // 1e-10, or the rounding error of z magnified by the condition number 1 / (1 + w.u_hat) of the map's
            // inverse where that is larger (w.u = -18: 1 / softplus(-18) = 7e7)
            double tol = 1e-10 + 1e-15 / softplus(wus[i / scales.length]);
            assertTrue(err < tol, "row " + i + " (w.u = " + wus[i / scales.length] + ", scale "
                    + scales[i % scales.length] + "): relative error " + err);
            assertTrue(Double.isFinite(back.logAbsDet().getDouble(i)));
        }
    }

    @Test
    void perRowParametersMatchRowByRowRuns() {
        assertPerRowMatchesRowByRow(new PlanarFlow(3), new Map[]{params(3, 0.2, 1), params(3, -9, 2),
                params(3, 25, 3), params(3, -1.5, 4)}, randn(4, 3, 1.2, 5));
        assertPerRowMatchesRowByRow(new PlanarFlow(1), new Map[]{params(1, 0.2, 1), params(1, -9, 2),
                params(1, 3, 3)}, randn(3, 1, 1.2, 6));
    }

    /**
     * Stacks row i's parameters ({@code [1, ...]} each) into per-row parameters {@code [batch, ...]} and checks that
     * forward and inverse of the batch equal the separate runs of each row with its own parameters.
     */
    @SuppressWarnings("unchecked")
    static void assertPerRowMatchesRowByRow(Transform t, Map<String, INDArray>[] rowParams, INDArray x) {
        int rows = rowParams.length;
        Map<String, INDArray> stacked = new LinkedHashMap<>();
        for (String name : t.parameterShapes().keySet()) {
            INDArray[] parts = new INDArray[rows];
            for (int i = 0; i < rows; i++) {
                parts[i] = rowParams[i].get(name);
            }
            stacked.put(name, Nd4j.concat(0, parts));
        }
        Flows.Result f = Flows.forward(t, stacked, x);
        Flows.Result g = Flows.inverse(t, stacked, x);
        for (int i = 0; i < rows; i++) {
            INDArray row = x.get(NDArrayIndex.interval(i, i + 1), NDArrayIndex.all()).dup();
            Flows.Result fi = Flows.forward(t, rowParams[i], row);
            Flows.Result gi = Flows.inverse(t, rowParams[i], row);
            assertEquals(0, fi.value().sub(f.value().getRow(i, true)).amaxNumber().doubleValue(), 1e-12);
            assertEquals(fi.logAbsDet().getDouble(0), f.logAbsDet().getDouble(i), 1e-12);
            assertEquals(0, gi.value().sub(g.value().getRow(i, true)).amaxNumber().doubleValue(), 1e-12);
            assertEquals(gi.logAbsDet().getDouble(0), g.logAbsDet().getDouble(i), 1e-12);
        }
        // the rows really have different maps: the batch is not one map applied to all
        Flows.Result shared = Flows.forward(t, rowParams[0], x);
        assertTrue(shared.value().sub(f.value()).amaxNumber().doubleValue() > 1e-3);
        FlowChecks.assertRoundTrip(t, stacked, x, 1e-9);
    }

    @Test
    void toMapRoundTrips() {
        PlanarFlow t = new PlanarFlow(4);
        Transform back = Transforms.fromMap(t.toMap());
        assertEquals(t, back);
        assertEquals(t.hashCode(), back.hashCode());
        assertEquals("planar", t.toMap().get("kind"));
        assertTrue(Transforms.KINDS.contains("planar"));
        assertTrue(!t.equals(new PlanarFlow(3)));
        Map<String, INDArray> p = Flows.newParameters(t, DataType.DOUBLE, 3);
        INDArray x = randn(5, 4, 1, 4);
        assertEquals(Flows.forward(t, p, x).value(), Flows.forward(back, p, x).value());
        assertEquals(Flows.forward(t, p, x).logAbsDet(), Flows.forward(back, p, x).logAbsDet());
        assertThrows(IllegalArgumentException.class, () -> new PlanarFlow(0));
    }

    @Test
    void initialisationIsNearTheIdentityAndInvertible() {
        PlanarFlow t = new PlanarFlow(5);
        Map<String, INDArray> p = Flows.newParameters(t, DataType.DOUBLE, 11);
        INDArray x = randn(8, 5, 1, 12);
        Flows.Result f = Flows.forward(t, p, x);
        double moved = f.value().sub(x).amaxNumber().doubleValue();
        assertTrue(moved < 0.3, "initial planar flow moves points by " + moved);
        assertTrue(moved > 0, "initial planar flow is exactly the identity");
        FlowChecks.assertRoundTrip(t, p, x, 1e-10);
    }

    @Test
    void forwardGraphIsDifferentiableInFloat() {
        assertGradientsFlow(new PlanarFlow(3), params(3, -2, 8), randn(6, 3, 1, 9));
        assertGradientsFlow(new PlanarFlow(1), params(1, 1.5, 8), randn(6, 1, 1, 9));
        // per-row (amortised) parameters
        PlanarFlow t = new PlanarFlow(2);
        Map<String, INDArray> perRow = new LinkedHashMap<>();
        perRow.put("u", randn(4, 2, 1, 1));
        perRow.put("w", randn(4, 2, 1, 2));
        perRow.put("b", randn(4, 1, 1, 3));
        assertGradientsFlow(t, perRow, randn(4, 2, 1, 4));
    }

    /**
     * Builds the training-side graph: FLOAT variables for the parameters, a FLOAT placeholder input, and the loss
     * {@code mean(0.5 |z|^2 - logAbsDet)}; every parameter must get a finite gradient that is not all zero.
     */
    static void assertGradientsFlow(Transform t, Map<String, INDArray> params, INDArray x) {
        SameDiff sd = SameDiff.create();
        long[] shape = t.inputShape();
        SDVariable in = sd.placeHolder("x", DataType.FLOAT, FlowChecks.withBatch(-1, shape));
        Map<String, SDVariable> vars = new LinkedHashMap<>();
        params.forEach((name, value) -> vars.put(name, sd.var(name, value.castTo(DataType.FLOAT))));
        Transform.Flowed f = t.forward(sd, in, vars);
        SDVariable energy = Flows.sumPerExample(f.value().mul(f.value()), shape).mul(0.5);
        SDVariable loss = energy.sub(f.logAbsDet()).mean();
        sd.setLossVariables(loss);
        Map<String, INDArray> grads = sd.calculateGradients(Map.of("x", x.castTo(DataType.FLOAT)),
                vars.keySet().toArray(new String[0]));
        for (String name : vars.keySet()) {
            INDArray g = grads.get(name);
            assertTrue(g != null, "no gradient for " + name);
            for (double v : g.dup().reshape(-1).toDoubleVector()) {
                assertTrue(Double.isFinite(v), "non-finite gradient for " + name);
            }
            assertTrue(g.amaxNumber().doubleValue() > 0, "all-zero gradient for " + name);
        }
    }
}
