package org.chainrule.models.flows;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

import static org.chainrule.models.flows.PlanarFlowTest.extreme;
import static org.chainrule.models.flows.PlanarFlowTest.randn;
import static org.chainrule.models.flows.PlanarFlowTest.softplus;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RadialFlowTest {

    static Map<String, INDArray> params(long dim, double alphaRaw, double betaRaw, long seed) {
        Map<String, INDArray> p = new LinkedHashMap<>();
        p.put("z0", randn(1, dim, 1, seed));
        p.put("alphaRaw", Nd4j.create(new double[]{alphaRaw}, new long[]{1, 1}, DataType.DOUBLE));
        p.put("betaRaw", Nd4j.create(new double[]{betaRaw}, new long[]{1, 1}, DataType.DOUBLE));
        return p;
    }

    /** Points near z0 (within 0.05) and at moderate distance, so both the core and the tails are exercised. */
    static INDArray around(Map<String, INDArray> p, long rows, long dim, long seed) {
        INDArray x = randn(rows, dim, 1.5, seed).addRowVector(p.get("z0"));
        INDArray near = randn(1, dim, 0.02, seed + 1).add(p.get("z0"));
        x.putRow(0, near.reshape(dim));
        return x;
    }

    @Test
    void passesTheFlowChecksWithRandomParameters() {
        for (long dim : new long[]{1, 2, 5}) {
            for (long seed = 0; seed < 2; seed++) {
                SplittableRandom rng = new SplittableRandom(seed + 30);
                RadialFlow t = new RadialFlow(dim);
                Map<String, INDArray> p = params(dim, PlanarFlow.gaussian(rng), PlanarFlow.gaussian(rng), seed);
                INDArray x = around(p, 5, dim, seed + 100);
                FlowChecks.assertRoundTrip(t, p, x, 1e-10);
                FlowChecks.assertLogDetMatchesJacobian(t, p, x, 1e-6);
                FlowChecks.assertFinite(t, p, extreme(4, dim, seed));
            }
        }
    }

    @Test
    void passesTheFlowChecksWithAdversarialParameters() {
        // betaRaw very negative: beta = -alpha + softplus(betaRaw) sits at (-40: within 4e-18 of) or, in double,
        // exactly at (-1000) the edge beta = -alpha, where the map collapses the neighbourhood of z0; betaRaw large:
        // a strong expansion; alphaRaw small or large: a sharp or a wide bump
        double[][] cases = {{0.3, -40}, {-0.5, -1000}, {0.0, 6}, {-6, 0.5}, {5, -3}};
        for (long dim : new long[]{1, 2, 5}) {
            for (double[] ab : cases) {
                RadialFlow t = new RadialFlow(dim);
                Map<String, INDArray> p = params(dim, ab[0], ab[1], dim);
                INDArray x = around(p, 4, dim, 40 + dim);
                FlowChecks.assertRoundTrip(t, p, x, 1e-9);
                FlowChecks.assertLogDetMatchesJacobian(t, p, x, 1e-5);
                FlowChecks.assertFinite(t, p, extreme(3, dim, dim));
            }
        }
    }

    @Test
    void centreItselfIsFiniteBothWays() {
        for (double betaRaw : new double[]{1.0, -1000}) {
            RadialFlow t = new RadialFlow(3);
            Map<String, INDArray> p = params(3, 0.2, betaRaw, 4);
            INDArray x = p.get("z0").dup();
            FlowChecks.assertFinite(t, p, x);
            // f(z0) = z0 and f^-1(z0) = z0
            assertEquals(0, Flows.forward(t, p, x).value().sub(x).amaxNumber().doubleValue(), 1e-12);
            assertEquals(0, Flows.inverse(t, p, x).value().sub(x).amaxNumber().doubleValue(), 1e-12);
        }
    }

    @Test
    void densityIntegratesToOneIn1DAnd2D() {
        double[][] cases = {{0.5, 1.2}, {0.0, -30}, {-1, 2.5}};
        for (double[] ab : cases) {
            double alpha = softplus(ab[0]);
            double reach = Math.abs(softplus(ab[1]) - alpha);   // |f(x) - x| <= |beta|
            Map<String, INDArray> p1 = params(1, ab[0], ab[1], 3);
            double c1 = p1.get("z0").getDouble(0);
            FlowChecks.assertIntegratesToOne(new RadialFlow(1), p1, -9 - reach - Math.abs(c1),
                    9 + reach + Math.abs(c1), 6000, 1e-3);
            Map<String, INDArray> p2 = params(2, ab[0], ab[1], 5);
            double c2 = p2.get("z0").amaxNumber().doubleValue();
            FlowChecks.assertIntegratesToOne(new RadialFlow(2), p2, -8 - reach - c2, 8 + reach + c2, 400, 1e-3);
        }
    }

    @Test
    void forwardIsThePapersFormula() {
        long dim = 4;
        Map<String, INDArray> p = params(dim, 0.4, -1.3, 2);
        double alpha = softplus(0.4);
        double beta = -alpha + softplus(-1.3);
        assertTrue(beta < 0 && beta >= -alpha);
        double[] z0 = p.get("z0").toDoubleVector();
        INDArray x = around(p, 5, dim, 3);
        Flows.Result f = Flows.forward(new RadialFlow(dim), p, x);
        for (int r = 0; r < 5; r++) {
            double rad = 0;
            for (int i = 0; i < dim; i++) {
                rad += Math.pow(x.getDouble(r, i) - z0[i], 2);
            }
            rad = Math.sqrt(rad);
            double h = 1 / (alpha + rad);
            double hPrime = -h * h;
            for (int i = 0; i < dim; i++) {
                double expected = x.getDouble(r, i) + beta * h * (x.getDouble(r, i) - z0[i]);
                assertEquals(expected, f.value().getDouble(r, i), 1e-12);
            }
            double logDet = (dim - 1) * Math.log(1 + beta * h) + Math.log(1 + beta * h + beta * hPrime * rad);
            assertEquals(logDet, f.logAbsDet().getDouble(r), 1e-10);
        }
    }

    @Test
    void unconstrainedBetaBreaksMonotonicityAndTheConstraintRestoresIt() {
        // 1-D: f(x) = x + beta (x - z0) / (alpha + |x - z0|) has slope 1 + beta alpha / (alpha + r)^2, negative near
        // z0 when beta < -alpha; with beta = -alpha + softplus(betaRaw) it never is
        double alpha = 0.5;
        double rawBeta = -2;
        int n = 801;
        int decreasing = 0;
        for (int i = 1; i < n; i++) {
            double a = -2 + 4.0 * (i - 1) / (n - 1);
            double b = -2 + 4.0 * i / (n - 1);
            if (b + rawBeta * b / (alpha + Math.abs(b)) < a + rawBeta * a / (alpha + Math.abs(a))) {
                decreasing++;
            }
        }
        assertTrue(decreasing > 10, "beta < -alpha gives a decreasing stretch");
        Map<String, INDArray> p = params(1, Math.log(Math.expm1(alpha)), -6, 0);
        p.get("z0").assign(0.0);
        INDArray x = Nd4j.create(DataType.DOUBLE, n, 1);
        for (int i = 0; i < n; i++) {
            x.putScalar(i, 0, -2 + 4.0 * i / (n - 1));
        }
        INDArray z = Flows.forward(new RadialFlow(1), p, x).value();
        for (int i = 1; i < n; i++) {
            assertTrue(z.getDouble(i, 0) > z.getDouble(i - 1, 0), "increasing at x = " + x.getDouble(i, 0));
        }
    }

    @Test
    void perRowParametersMatchRowByRowRuns() {
        @SuppressWarnings("unchecked")
        Map<String, INDArray>[] rows = new Map[]{params(3, 0.1, 0.7, 1), params(3, -2, -30, 2),
                params(3, 1.5, 4, 3), params(3, 0.0, -1, 4)};
        PlanarFlowTest.assertPerRowMatchesRowByRow(new RadialFlow(3), rows, randn(4, 3, 1.5, 5));
        @SuppressWarnings("unchecked")
        Map<String, INDArray>[] oneD = new Map[]{params(1, 0.1, 0.7, 1), params(1, -2, -30, 2), params(1, 1, 3, 3)};
        PlanarFlowTest.assertPerRowMatchesRowByRow(new RadialFlow(1), oneD, randn(3, 1, 1.5, 6));
    }

    @Test
    void toMapRoundTrips() {
        RadialFlow t = new RadialFlow(3);
        Transform back = Transforms.fromMap(t.toMap());
        assertEquals(t, back);
        assertEquals(t.hashCode(), back.hashCode());
        assertEquals("radial", t.toMap().get("kind"));
        assertTrue(Transforms.KINDS.contains("radial"));
        assertTrue(!t.equals(new RadialFlow(2)));
        Map<String, INDArray> p = Flows.newParameters(t, DataType.DOUBLE, 3);
        INDArray x = randn(5, 3, 1, 4);
        assertEquals(Flows.forward(t, p, x).value(), Flows.forward(back, p, x).value());
        assertEquals(Flows.forward(t, p, x).logAbsDet(), Flows.forward(back, p, x).logAbsDet());
        assertThrows(IllegalArgumentException.class, () -> new RadialFlow(0));
    }

    @Test
    void initialisationIsNearTheIdentityAndInvertible() {
        RadialFlow t = new RadialFlow(4);
        Map<String, INDArray> p = Flows.newParameters(t, DataType.DOUBLE, 11);
        INDArray x = randn(8, 4, 1, 12);
        double moved = Flows.forward(t, p, x).value().sub(x).amaxNumber().doubleValue();
        assertTrue(moved < 0.3, "initial radial flow moves points by " + moved);
        assertTrue(moved > 0, "initial radial flow is exactly the identity");
        FlowChecks.assertRoundTrip(t, p, x, 1e-10);
    }

    @Test
    void chainsWithPlanarStepsAndRunsInFloat() {
        Chain chain = new Chain(java.util.List.of(new PlanarFlow(2), new RadialFlow(2), new PlanarFlow(2),
                new RadialFlow(2)));
        Map<String, INDArray> p = Flows.newParameters(chain, DataType.DOUBLE, 5);
        p.get("t1betaRaw").assign(2.0);
        p.get("t2u").muli(20);
        INDArray x = randn(5, 2, 1.5, 6);
        FlowChecks.assertRoundTrip(chain, p, x, 1e-10);
        FlowChecks.assertLogDetMatchesJacobian(chain, p, x, 1e-6);
        Map<String, INDArray> pf = new LinkedHashMap<>();
        p.forEach((k, v) -> pf.put(k, v.castTo(DataType.FLOAT)));
        FlowChecks.assertRoundTrip(chain, pf, x.castTo(DataType.FLOAT), 1e-4);
    }

    @Test
    void forwardGraphIsDifferentiableInFloat() {
        // row 0 is the centre itself, where |x - z0| has no derivative: the floor under r keeps the gradient finite
        Map<String, INDArray> p = params(3, 0.2, 1.1, 8);
        INDArray x = randn(6, 3, 1, 9);
        x.putRow(0, p.get("z0").reshape(3));
        PlanarFlowTest.assertGradientsFlow(new RadialFlow(3), p, x);
        PlanarFlowTest.assertGradientsFlow(new RadialFlow(1), params(1, -0.3, 0.4, 8), randn(6, 1, 1, 9));
        Map<String, INDArray> perRow = new LinkedHashMap<>();
        perRow.put("z0", randn(4, 2, 1, 1));
        perRow.put("alphaRaw", randn(4, 1, 1, 2));
        perRow.put("betaRaw", randn(4, 1, 1, 3));
        PlanarFlowTest.assertGradientsFlow(new RadialFlow(2), perRow, randn(4, 2, 1, 4));
    }
}
