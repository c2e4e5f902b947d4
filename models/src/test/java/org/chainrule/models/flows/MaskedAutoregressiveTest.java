package org.chainrule.models.flows;

import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MaskedAutoregressiveTest {
    private static final int[] HIDDEN = {8, 8};

    /** Initialised parameters overwritten with Gaussian values, so the map is far from the identity. */
    static Map<String, INDArray> randomParams(Transform t, double scale, long seed) {
        Map<String, INDArray> p = Flows.newParameters(t, DataType.DOUBLE, seed);
        Random r = new Random(seed);
        p.forEach((name, v) -> {
            double[] values = new double[(int) v.length()];
            for (int i = 0; i < values.length; i++) {
                values[i] = r.nextGaussian() * scale;
            }
            v.assign(Nd4j.create(values, v.shape()));
        });
        return p;
    }

    static INDArray randn(long rows, long cols, long seed) {
        Random r = new Random(seed);
        INDArray a = Nd4j.create(DataType.DOUBLE, rows, cols);
        for (long i = 0; i < rows; i++) {
            for (long j = 0; j < cols; j++) {
                a.putScalar(i, j, r.nextGaussian());
            }
        }
        return a;
    }

    private static List<MaskedAutoregressive> variants() {
        List<MaskedAutoregressive> all = new ArrayList<>();
        for (boolean iaf : new boolean[]{false, true}) {
            for (int d : new int[]{1, 2, 5}) {
                all.add(new MaskedAutoregressive(d, HIDDEN, iaf, 11 + d));
            }
            all.add(new MaskedAutoregressive(4, new int[0], iaf, 3)); // no hidden layer: linear conditioner
        }
        return all;
    }

    @Test
    void roundTripAndLogDeterminantMatchJacobian() {
        for (MaskedAutoregressive t : variants()) {
            Map<String, INDArray> p = randomParams(t, 0.5, 21);
            INDArray x = randn(6, t.dim(), 4).muli(2);
            FlowChecks.assertRoundTrip(t, p, x, 1e-9);
            FlowChecks.assertLogDetMatchesJacobian(t, p, x, 1e-6);
            // the map is far from the identity: its log-determinant is not ~0 and it moves points
            assertTrue(Flows.forward(t, p, x).logAbsDet().amaxNumber().doubleValue() > 0.05, t.toString());
            assertTrue(Flows.forward(t, p, x).value().sub(x).amaxNumber().doubleValue() > 0.1, t.toString());
        }
    }

    @Test
    void startsAtTheIdentity() {
        for (MaskedAutoregressive t : variants()) {
            Map<String, INDArray> p = Flows.newParameters(t, DataType.DOUBLE, 5);
            INDArray x = randn(3, t.dim(), 1);
            Flows.Result f = Flows.forward(t, p, x);
            assertEquals(0.0, f.value().sub(x).amaxNumber().doubleValue(), 0.0);
            assertEquals(0.0, f.logAbsDet().amaxNumber().doubleValue(), 0.0);
            if (t.hidden().length > 0) {
                assertTrue(p.get("W0").amaxNumber().doubleValue() > 0, "hidden weights are random, not zero");
            }
        }
    }

    @Test
    void extremeInputsStayFinite() {
        for (MaskedAutoregressive t : variants()) {
            Map<String, INDArray> p = randomParams(t, 0.5, 8);
            int d = t.dim();
            INDArray x = Nd4j.create(DataType.DOUBLE, 4, d);
            for (int j = 0; j < d; j++) {
                x.putScalar(0, j, 1e3);
                x.putScalar(1, j, -1e3);
                x.putScalar(2, j, j % 2 == 0 ? 1e3 : -1e3);
                x.putScalar(3, j, 0);
            }
            FlowChecks.assertFinite(t, p, x);
        }
    }

    @Test
    void alphaIsBoundedSoScalesStayWithinTheBound() {
        MaskedAutoregressive t = new MaskedAutoregressive(1, new int[]{4}, false, 1, 2.0);
        Map<String, INDArray> p = Flows.newParameters(t, DataType.DOUBLE, 1);
        p.get("b1").putScalar(0, 1, 50.0); // raw log-scale of dimension 0 = 50
        Flows.Result f = Flows.forward(t, p, Nd4j.create(new double[][]{{1.0}}));
        assertEquals(-2.0 * Math.tanh(25.0), f.logAbsDet().getDouble(0), 1e-12);
        assertEquals(Math.exp(-2.0 * Math.tanh(25.0)), f.value().getDouble(0, 0), 1e-12);
    }

    @Test
    void densityIntegratesToOneIn1DAnd2D() {
        for (boolean iaf : new boolean[]{false, true}) {
            MaskedAutoregressive one = new MaskedAutoregressive(1, HIDDEN, iaf, 2);
            FlowChecks.assertIntegratesToOne(one, randomParams(one, 0.5, 3), -15, 15, 3000, 1e-3);
            MaskedAutoregressive two = new MaskedAutoregressive(2, HIDDEN, iaf, 4);
            Map<String, INDArray> p = randomParams(two, 0.5, 6);
            INDArray x = randn(5, 2, 2);
            assertTrue(Flows.forward(two, p, x).logAbsDet().amaxNumber().doubleValue() > 0.05);
            FlowChecks.assertIntegratesToOne(two, p, -14, 14, 280, 1e-3);
        }
    }

    /** Central-difference Jacobian dz_i/dx_j of the forward map at one point. */
    private static double[][] jacobian(Transform t, Map<String, INDArray> p, double[] x, boolean forward) {
        int d = x.length;
        double eps = 1e-4;
        INDArray batch = Nd4j.create(DataType.DOUBLE, 2L * d, d);
        for (int j = 0; j < d; j++) {
            for (int k = 0; k < d; k++) {
                batch.putScalar(2L * j, k, x[k] + (k == j ? eps : 0));
                batch.putScalar(2L * j + 1, k, x[k] - (k == j ? eps : 0));
            }
        }
        INDArray out = (forward ? Flows.forward(t, p, batch) : Flows.inverse(t, p, batch)).value();
        double[][] jac = new double[d][d];
        for (int i = 0; i < d; i++) {
            for (int j = 0; j < d; j++) {
                jac[i][j] = (out.getDouble(2L * j, i) - out.getDouble(2L * j + 1, i)) / (2 * eps);
            }
        }
        return jac;
    }

    @Test
    void jacobianIsLowerTriangularWithExactZerosAboveTheDiagonal() {
        for (boolean iaf : new boolean[]{false, true}) {
            MaskedAutoregressive t = new MaskedAutoregressive(5, HIDDEN, iaf, 9);
            Map<String, INDArray> p = randomParams(t, 0.5, 10);
            double[] x = randn(1, 5, 12).toDoubleVector();
            for (boolean forward : new boolean[]{true, false}) {
                double[][] jac = jacobian(t, p, x, forward);
                double below = 0;
                for (int i = 0; i < 5; i++) {
                    for (int j = 0; j < 5; j++) {
                        String where = (iaf ? "IAF " : "MAF ") + (forward ? "forward" : "inverse") + " d out"
                                + i + "/d in" + j;
                        if (j > i) {
                            assertEquals(0.0, jac[i][j], 0.0, where);
                        } else if (j == i) {
                            assertTrue(jac[i][i] > 0, where);
                        } else {
                            below += Math.abs(jac[i][j]);
                        }
                    }
                }
                assertTrue(below > 0.1, "each dimension depends on the earlier ones: " + below);
            }
        }
    }

    /**
     * Where the log-scale does not depend on the input (zero alpha output weights), MAF's one-pass density map
     * {@code (x - mu(x)) e^-a} is an IAF's one-pass sampling map {@code x e^a' + mu'(x)} with {@code a' = -a} and
     * {@code mu' = -mu e^-a}, i.e. the same hidden layers and output columns scaled by {@code -e^-a}; then the
     * sequential directions must agree too.
     */
    @Test
    void mafForwardIsIafInverseWhenTheScaleIsConstant() {
        int d = 4;
        MaskedAutoregressive maf = new MaskedAutoregressive(d, HIDDEN, false, 7);
        MaskedAutoregressive iaf = new MaskedAutoregressive(d, HIDDEN, true, 7);
        Map<String, INDArray> p = randomParams(maf, 0.5, 13);
        INDArray wOut = p.get("W2");
        INDArray bOut = p.get("b2");
        for (int k = 0; k < wOut.rows(); k++) {
            for (int j = d; j < 2 * d; j++) {
                wOut.putScalar(k, j, 0.0);
            }
        }
        Map<String, INDArray> q = new LinkedHashMap<>();
        p.forEach((name, v) -> q.put(name, v.dup()));
        double bound = maf.alphaBound();
        for (int j = 0; j < d; j++) {
            double a = bound * Math.tanh(bOut.getDouble(0, d + j) / bound);
            double factor = -Math.exp(-a);
            for (int k = 0; k < wOut.rows(); k++) {
                q.get("W2").putScalar(k, j, wOut.getDouble(k, j) * factor);
            }
            q.get("b2").putScalar(0, j, bOut.getDouble(0, j) * factor);
            q.get("b2").putScalar(0, d + j, -bOut.getDouble(0, d + j)); // tanh is odd: a' = -a
        }
        INDArray x = randn(7, d, 3).muli(2);
        Flows.Result mafForward = Flows.forward(maf, p, x);
        Flows.Result iafInverse = Flows.inverse(iaf, q, x);
        assertTrue(mafForward.value().sub(x).amaxNumber().doubleValue() > 0.1, "not the identity");
        assertEquals(0.0, mafForward.value().sub(iafInverse.value()).amaxNumber().doubleValue(), 1e-10);
        assertEquals(0.0, mafForward.logAbsDet().sub(iafInverse.logAbsDet()).amaxNumber().doubleValue(), 1e-10);
        Flows.Result mafInverse = Flows.inverse(maf, p, x);
        Flows.Result iafForward = Flows.forward(iaf, q, x);
        assertEquals(0.0, mafInverse.value().sub(iafForward.value()).amaxNumber().doubleValue(), 1e-9);
        assertEquals(0.0, mafInverse.logAbsDet().sub(iafForward.logAbsDet()).amaxNumber().doubleValue(), 1e-9);
        // with the same parameters, a MAF and an IAF are different maps
        assertTrue(Flows.forward(maf, p, x).value().sub(Flows.forward(iaf, p, x).value())
                .amaxNumber().doubleValue() > 1e-3);
    }

    /**
     * Every parameter gets a finite, non-zero gradient of the flow NLL through the SameDiff graph in FLOAT, including
     * on a 1-row batch and through the sequential (IAF) direction.
     */
    static void assertGradientsFlow(Transform t, Map<String, INDArray> params, INDArray x) {
        SameDiff sd = SameDiff.create();
        long[] shape = t.inputShape();
        SDVariable in = sd.placeHolder("x", DataType.FLOAT, FlowChecks.withBatch(-1, shape));
        Map<String, SDVariable> p = new LinkedHashMap<>();
        params.forEach((name, v) -> p.put(name, sd.var(name, v.castTo(DataType.FLOAT))));
        Transform.Flowed f = t.forward(sd, in, p);
        SDVariable nll = Flows.sumPerExample(f.value().mul(f.value()).mul(0.5), shape).sub(f.logAbsDet());
        SDVariable loss = nll.mean();
        sd.setLossVariables(loss);
        Map<String, INDArray> grads = sd.calculateGradients(Map.of("x", x.castTo(DataType.FLOAT)),
                p.keySet().toArray(new String[0]));
        for (String name : p.keySet()) {
            INDArray g = grads.get(name);
            assertTrue(g != null, "no gradient for " + name);
            for (double v : g.dup().reshape(-1).toDoubleVector()) {
                assertTrue(Double.isFinite(v), name + " has a non-finite gradient");
            }
            assertTrue(g.amaxNumber().doubleValue() > 0, name + " gets an all-zero gradient");
        }
    }

    @Test
    void gradientsReachEveryParameter() {
        for (boolean iaf : new boolean[]{false, true}) {
            MaskedAutoregressive t = new MaskedAutoregressive(3, HIDDEN, iaf, 5);
            Map<String, INDArray> p = randomParams(t, 0.5, 2);
            assertGradientsFlow(t, p, randn(4, 3, 9));
            assertGradientsFlow(t, p, randn(1, 3, 10));
        }
        // at the initial point the output layer already learns (the hidden layers follow once it is non-zero)
        MaskedAutoregressive t = new MaskedAutoregressive(3, HIDDEN, false, 5);
        Map<String, INDArray> init = Flows.newParameters(t, DataType.DOUBLE, 1);
        Map<String, INDArray> outputOnly = new LinkedHashMap<>();
        outputOnly.put("W2", init.get("W2"));
        outputOnly.put("b2", init.get("b2"));
        SameDiff sd = SameDiff.create();
        Map<String, SDVariable> vars = new LinkedHashMap<>();
        init.forEach((name, v) -> vars.put(name, outputOnly.containsKey(name) ? sd.var(name, v.castTo(DataType.FLOAT))
                : sd.constant(name, v.castTo(DataType.FLOAT))));
        SDVariable in = sd.placeHolder("x", DataType.FLOAT, -1, 3);
        Transform.Flowed f = t.forward(sd, in, vars);
        sd.setLossVariables(Flows.sumPerExample(f.value().mul(f.value()).mul(0.5), t.inputShape())
                .sub(f.logAbsDet()).mean());
        Map<String, INDArray> g = sd.calculateGradients(Map.of("x", randn(4, 3, 3).castTo(DataType.FLOAT)),
                "W2", "b2");
        assertTrue(g.get("W2").amaxNumber().doubleValue() > 0);
        assertTrue(g.get("b2").amaxNumber().doubleValue() > 0);
    }

    /**
     * The gradient through the D unrolled sweeps of IAF's density direction is the gradient of the exact solution:
     * compare with central differences in the parameters.
     */
    @Test
    void sequentialDirectionHasTheExactParameterGradient() {
        MaskedAutoregressive t = new MaskedAutoregressive(3, new int[]{4}, true, 4);
        Map<String, INDArray> params = randomParams(t, 0.5, 7);
        INDArray x = randn(3, 3, 8);
        SameDiff sd = SameDiff.create();
        SDVariable in = sd.placeHolder("x", DataType.DOUBLE, -1, 3);
        Map<String, SDVariable> p = new LinkedHashMap<>();
        params.forEach((name, v) -> p.put(name, sd.var(name, v.dup())));
        Transform.Flowed f = t.forward(sd, in, p);
        SDVariable loss = Flows.sumPerExample(f.value().mul(f.value()).mul(0.5), t.inputShape())
                .sub(f.logAbsDet()).sum();
        sd.setLossVariables(loss);
        Map<String, INDArray> grads = sd.calculateGradients(Map.of("x", x), "W0", "W1", "b1");
        double eps = 1e-6;
        int checked = 0;
        for (String name : new String[]{"W0", "W1", "b1"}) {
            INDArray v = sd.getArrForVarName(name); // perturbed in place: the same graph gives the loss
            for (int k = 0; k < v.length(); k++) {
                long i = k / v.columns();
                long j = k % v.columns();
                double old = v.getDouble(i, j);
                v.putScalar(i, j, old + eps);
                double up = sd.output(Map.of("x", x), loss.name()).get(loss.name()).getDouble(0);
                v.putScalar(i, j, old - eps);
                double down = sd.output(Map.of("x", x), loss.name()).get(loss.name()).getDouble(0);
                v.putScalar(i, j, old);
                double numeric = (up - down) / (2 * eps);
                double analytic = grads.get(name).getDouble(i, j);
                assertEquals(numeric, analytic, 1e-5 * Math.max(1, Math.abs(numeric)), name + "[" + i + "," + j + "]");
                checked += Math.abs(numeric) > 1e-4 ? 1 : 0;
            }
        }
        assertTrue(checked >= 10, "only " + checked + " of the checked gradients are non-zero");
        // and the loss the graph computes is the flow NLL of the array-level forward map
        assertEquals(nll(t, params, x), sd.output(Map.of("x", x), loss.name()).get(loss.name()).getDouble(0), 1e-9);
    }

    private static double nll(Transform t, Map<String, INDArray> p, INDArray x) {
        Flows.Result f = Flows.forward(t, p, x);
        return f.value().mul(f.value()).muli(0.5).sumNumber().doubleValue() - f.logAbsDet().sumNumber().doubleValue();
    }

    @Test
    void toMapRoundTrip() {
        for (MaskedAutoregressive t : variants()) {
            Transform back = Transforms.fromMap(t.toMap());
            assertEquals(t, back);
            assertEquals(t.hashCode(), back.hashCode());
            Map<String, INDArray> p = randomParams(t, 0.5, 1);
            INDArray x = randn(3, t.dim(), 2);
            assertEquals(Flows.forward(t, p, x).value(), Flows.forward(back, p, x).value());
            assertEquals(Flows.inverse(t, p, x).value(), Flows.inverse(back, p, x).value());
        }
        MaskedAutoregressive custom = new MaskedAutoregressive(3, new int[]{5}, true, Long.MAX_VALUE - 3, 1.5);
        assertEquals(custom, Transforms.fromMap(custom.toMap()));
        assertNotEquals(custom, new MaskedAutoregressive(3, new int[]{5}, false, Long.MAX_VALUE - 3, 1.5));
        assertNotEquals(custom, new MaskedAutoregressive(3, new int[]{5}, true, 0, 1.5));
        assertTrue(Transforms.KINDS.contains("masked-autoregressive"));
    }

    @Test
    void rejectsBadArguments() {
        assertThrows(IllegalArgumentException.class, () -> new MaskedAutoregressive(0, HIDDEN, false, 1));
        assertThrows(IllegalArgumentException.class, () -> new MaskedAutoregressive(3, new int[]{0}, false, 1));
        assertThrows(IllegalArgumentException.class, () -> new MaskedAutoregressive(3, HIDDEN, false, 1, 0));
    }
}
