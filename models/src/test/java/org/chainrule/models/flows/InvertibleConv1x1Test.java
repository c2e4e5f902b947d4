package org.chainrule.models.flows;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class InvertibleConv1x1Test {

    private static final List<long[]> SHAPES = List.of(new long[]{2, 2, 2}, new long[]{3, 2, 2}, new long[]{3});

    /**
     * A transform whose permutation is not the identity (nor, from three channels on, its own inverse, so that
     * confusing P with P^T shows) and whose signs include -1, so the tests exercise both fixed parts of the LU form.
     */
    static InvertibleConv1x1 nonTrivial(long[] shape) {
        int c = (int) shape[0];
        for (long seed = 0; ; seed++) {
            InvertibleConv1x1 t = new InvertibleConv1x1(c, shape, seed);
            int[] perm = t.permutation();
            boolean permuted = false;
            boolean involution = true;
            boolean negative = false;
            for (int i = 0; i < c; i++) {
                permuted |= perm[i] != i;
                involution &= perm[perm[i]] == i;
                negative |= t.signs()[i] < 0;
            }
            if (c == 1 || (permuted && negative && (c == 2 || !involution))) {
                return t;
            }
        }
    }

    /** Every entry random, also those the masks must ignore, and logAbsS away from 0. */
    static Map<String, INDArray> randomParameters(Transform t, long seed) {
        Nd4j.getRandom().setSeed(seed);
        Map<String, INDArray> p = Flows.newParameters(t, DataType.DOUBLE, seed);
        p.get("lower").assign(Nd4j.randn(DataType.DOUBLE, p.get("lower").shape()).muli(0.5));
        p.get("upper").assign(Nd4j.randn(DataType.DOUBLE, p.get("upper").shape()).muli(0.5));
        p.get("logAbsS").assign(Nd4j.randn(DataType.DOUBLE, p.get("logAbsS").shape()).muli(0.3));
        return p;
    }

    /** W = P L (U + diag(sign * exp(logAbsS))), assembled here by plain loops, independently of the graph. */
    static double[][] assemble(InvertibleConv1x1 t, Map<String, INDArray> p) {
        int c = t.channels();
        double[][] l = new double[c][c];
        double[][] u = new double[c][c];
        for (int i = 0; i < c; i++) {
            for (int j = 0; j < c; j++) {
                if (j < i) {
                    l[i][j] = p.get("lower").getDouble(i, j);
                } else if (j > i) {
                    u[i][j] = p.get("upper").getDouble(i, j);
                }
            }
            l[i][i] = 1;
            u[i][i] = t.signs()[i] * Math.exp(p.get("logAbsS").getDouble(0, i));
        }
        double[][] lu = product(l, u);
        double[][] w = new double[c][c];
        for (int i = 0; i < c; i++) {
            // P has column i equal to e_{permutation[i]}: row i of L U becomes row permutation[i] of W
            w[t.permutation()[i]] = lu[i];
        }
        return w;
    }

    static double[][] product(double[][] a, double[][] b) {
        int n = a.length;
        double[][] r = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                for (int k = 0; k < n; k++) {
                    r[i][j] += a[i][k] * b[k][j];
                }
            }
        }
        return r;
    }

    static double[][] transpose(double[][] a) {
        int n = a.length;
        double[][] r = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                r[j][i] = a[i][j];
            }
        }
        return r;
    }

    @Test
    void startsAsARandomRotation() {
        for (int c : new int[]{1, 2, 3, 5, 8}) {
            InvertibleConv1x1 t = nonTrivial(new long[]{c, 2, 2});
            Map<String, INDArray> p = Flows.newParameters(t, DataType.DOUBLE, 99);
            double[][] w = assemble(t, p);
            double[][] wwt = product(w, transpose(w));
            for (int i = 0; i < c; i++) {
                for (int j = 0; j < c; j++) {
                    assertEquals(i == j ? 1.0 : 0.0, wwt[i][j], 1e-12, "W W^T at " + i + "," + j + " for C=" + c);
                }
            }
            // a rotation preserves volume: the log-determinant starts at zero
            INDArray x = Nd4j.randn(DataType.DOUBLE, 2, c, 2, 2);
            assertEquals(0.0, Flows.forward(t, p, x).logAbsDet().amaxNumber().doubleValue(), 1e-12);
        }
        // different seeds give different rotations; the same seed the same one
        InvertibleConv1x1 a = new InvertibleConv1x1(4, new long[]{4}, 1);
        InvertibleConv1x1 b = new InvertibleConv1x1(4, new long[]{4}, 2);
        double[][] wa = assemble(a, Flows.newParameters(a, DataType.DOUBLE, 0));
        double[][] wb = assemble(b, Flows.newParameters(b, DataType.DOUBLE, 0));
        assertTrue(Math.abs(wa[0][0] - wb[0][0]) + Math.abs(wa[1][2] - wb[1][2]) > 1e-3, "seeds 1 and 2 agree");
        assertEquals(a, new InvertibleConv1x1(4, new long[]{4}, 1));
    }

    @Test
    void multipliesEveryPixelByTheAssembledMatrix() {
        for (long[] shape : SHAPES) {
            InvertibleConv1x1 t = nonTrivial(shape);
            Map<String, INDArray> p = randomParameters(t, 13);
            double[][] w = assemble(t, p);
            int c = t.channels();
            int pixels = (int) t.spatialSize();
            INDArray x = Nd4j.randn(DataType.DOUBLE, FlowChecks.withBatch(3, shape));
            Flows.Result f = Flows.forward(t, p, x);
            assertArrayEquals(x.shape(), f.value().shape());
            INDArray xs = x.reshape(3, c, pixels);
            INDArray ys = f.value().reshape(3, c, pixels);
            for (int b = 0; b < 3; b++) {
                for (int q = 0; q < pixels; q++) {
                    for (int i = 0; i < c; i++) {
                        double expected = 0;
                        for (int j = 0; j < c; j++) {
                            expected += w[i][j] * xs.getDouble(b, j, q);
                        }
                        assertEquals(expected, ys.getDouble(b, i, q), 1e-12);
                    }
                }
            }
            // log-determinant = H * W * log |det W|, the determinant taken independently of the LU form
            double expected = pixels * FlowChecks.logAbsDet(w);
            assertTrue(Math.abs(expected) > 0.05, "random parameters should change the volume");
            for (int b = 0; b < 3; b++) {
                assertEquals(expected, f.logAbsDet().getDouble(b), 1e-10);
            }
        }
    }

    @Test
    void invertsAndMatchesTheJacobianWithRandomParameters() {
        for (long[] shape : SHAPES) {
            InvertibleConv1x1 t = nonTrivial(shape);
            Map<String, INDArray> p = randomParameters(t, 17);
            INDArray x = Nd4j.randn(DataType.DOUBLE, FlowChecks.withBatch(3, shape)).muli(2);
            FlowChecks.assertRoundTrip(t, p, x, 1e-10);
            FlowChecks.assertLogDetMatchesJacobian(t, p, x, 1e-6);
            // and at initialisation
            Map<String, INDArray> p0 = Flows.newParameters(t, DataType.DOUBLE, 0);
            FlowChecks.assertRoundTrip(t, p0, x, 1e-10);
            FlowChecks.assertLogDetMatchesJacobian(t, p0, x, 1e-6);
        }
    }

    @Test
    void invertsInSinglePrecision() {
        InvertibleConv1x1 t = nonTrivial(new long[]{3, 2, 2});
        Map<String, INDArray> p = randomParameters(t, 19);
        Map<String, INDArray> pf = new LinkedHashMap<>();
        p.forEach((k, v) -> pf.put(k, v.castTo(DataType.FLOAT)));
        INDArray x = Nd4j.randn(DataType.FLOAT, 4, 3, 2, 2);
        Flows.Result f = Flows.forward(t, pf, x);
        Flows.Result b = Flows.inverse(t, pf, f.value());
        assertEquals(DataType.FLOAT, b.value().dataType());
        assertTrue(b.value().sub(x).amaxNumber().doubleValue() < 1e-4);
        assertTrue(f.logAbsDet().add(b.logAbsDet()).amaxNumber().doubleValue() < 1e-5);
    }

    @Test
    void finiteOnExtremeInputs() {
        for (long[] shape : SHAPES) {
            InvertibleConv1x1 t = nonTrivial(shape);
            FlowChecks.assertFinite(t, randomParameters(t, 5), ActNormTest.extremes(FlowChecks.withBatch(4, shape)));
        }
    }

    @Test
    void vectorDensityIntegratesToOne() {
        InvertibleConv1x1 t = nonTrivial(new long[]{2});
        Map<String, INDArray> p = Flows.newParameters(t, DataType.DOUBLE, 0);
        p.get("lower").putScalar(1, 0, 0.6);
        p.get("upper").putScalar(0, 1, -0.8);
        p.get("logAbsS").assign(Nd4j.createFromArray(new double[][]{{0.3, -0.25}}));
        double[][] w = assemble(t, p);
        assertTrue(Math.abs(FlowChecks.logAbsDet(w)) > 0.04, "the map should not preserve volume");
        FlowChecks.assertIntegratesToOne(t, p, -12, 12, 480, 1e-3);
        // a 1-D map is a signed scale
        InvertibleConv1x1 one = new InvertibleConv1x1(1, new long[]{1}, 3);
        Map<String, INDArray> p1 = Flows.newParameters(one, DataType.DOUBLE, 0);
        p1.get("logAbsS").assign(-0.7);
        FlowChecks.assertIntegratesToOne(one, p1, -20, 20, 4000, 1e-6);
    }

    @Test
    void forwardGraphIsDifferentiable() {
        for (long[] shape : SHAPES) {
            InvertibleConv1x1 t = nonTrivial(shape);
            ActNormTest.assertGradientsFlow(t, randomParameters(t, 23),
                    Nd4j.randn(DataType.DOUBLE, FlowChecks.withBatch(5, shape)));
        }
    }

    @Test
    void worksInAChainWithActNorm() {
        long[] shape = {3, 2, 2};
        Chain chain = new Chain(List.of(new ActNorm(shape), nonTrivial(shape), new ActNorm(shape)));
        Map<String, INDArray> p = Flows.newParameters(chain, DataType.DOUBLE, 0);
        Nd4j.getRandom().setSeed(29);
        INDArray x = Nd4j.randn(DataType.DOUBLE, 8, 3, 2, 2).muli(4).addi(1);
        chain.initializeFromData(p, x);
        p.get("t1logAbsS").addi(Nd4j.randn(DataType.DOUBLE, 1, 3).muli(0.3));
        FlowChecks.assertRoundTrip(chain, p, x, 1e-10);
        FlowChecks.assertLogDetMatchesJacobian(chain, p, x.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 2)),
                1e-6);
    }

    @Test
    void rebuildsFromItsMapWithTheSamePermutationAndSigns() throws Exception {
        for (long[] shape : SHAPES) {
            InvertibleConv1x1 t = nonTrivial(shape);
            Map<String, Object> m = t.toMap();
            assertEquals("invconv1x1", m.get("kind"));
            InvertibleConv1x1 back = (InvertibleConv1x1) Transforms.fromMap(m);
            assertEquals(t, back);
            assertEquals(t.hashCode(), back.hashCode());
            assertArrayEquals(t.permutation(), back.permutation());
            assertArrayEquals(t.signs(), back.signs());
            assertArrayEquals(t.inputShape(), back.inputShape());
            // identical initial parameters and identical outputs
            Map<String, INDArray> p0 = Flows.newParameters(t, DataType.DOUBLE, 0);
            Map<String, INDArray> q0 = Flows.newParameters(back, DataType.DOUBLE, 0);
            for (String name : p0.keySet()) {
                assertEquals(p0.get(name), q0.get(name), name);
            }
            Map<String, INDArray> p = randomParameters(t, 31);
            INDArray x = Nd4j.randn(DataType.DOUBLE, FlowChecks.withBatch(3, shape));
            assertEquals(Flows.forward(t, p, x).value(), Flows.forward(back, p, x).value());
            assertEquals(Flows.inverse(t, p, x).value(), Flows.inverse(back, p, x).value());

            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
                out.writeObject(t);
            }
            try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
                InvertibleConv1x1 read = (InvertibleConv1x1) in.readObject();
                assertEquals(t, read);
                assertArrayEquals(t.permutation(), read.permutation());
            }
        }
        assertTrue(Transforms.KINDS.contains("invconv1x1"));
    }

    @Test
    void theRecordedPermutationIsWhatTheRebuiltTransformUses() {
        InvertibleConv1x1 t = nonTrivial(new long[]{3});
        Map<String, Object> m = new LinkedHashMap<>(t.toMap());
        List<Integer> reversed = new ArrayList<>(List.of(2, 1, 0));
        if (reversed.equals(m.get("permutation"))) {
            reversed = List.of(1, 2, 0);
        }
        m.put("permutation", reversed);
        InvertibleConv1x1 edited = (InvertibleConv1x1) Transforms.fromMap(m);
        assertNotEquals(t, edited);
        assertArrayEquals(reversed.stream().mapToInt(Integer::intValue).toArray(), edited.permutation());
        // the same parameters now assemble a different W, and the graph follows the recorded permutation
        Map<String, INDArray> p = randomParameters(t, 37);
        INDArray x = Nd4j.randn(DataType.DOUBLE, 2, 3);
        double[][] w = assemble(edited, p);
        INDArray y = Flows.forward(edited, p, x).value();
        for (int i = 0; i < 3; i++) {
            double expected = 0;
            for (int j = 0; j < 3; j++) {
                expected += w[i][j] * x.getDouble(1, j);
            }
            assertEquals(expected, y.getDouble(1, i), 1e-12);
        }
        // its seed no longer gives its permutation, so there is no rotation to start from
        assertThrows(IllegalStateException.class, () -> Flows.newParameters(edited, DataType.DOUBLE, 0));

        m.put("permutation", List.of(0, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> Transforms.fromMap(m));
        m.put("permutation", t.toMap().get("permutation"));
        m.put("signs", List.of(1, 0, -1));
        assertThrows(IllegalArgumentException.class, () -> Transforms.fromMap(m));
    }

    @Test
    void rejectsShapesThatAreNotImagesOrVectorsOfItsChannels() {
        assertThrows(IllegalArgumentException.class, () -> new InvertibleConv1x1(3, new long[]{2, 2, 2}, 0));
        assertThrows(IllegalArgumentException.class, () -> new InvertibleConv1x1(3, new long[]{3, 2}, 0));
        assertThrows(IllegalArgumentException.class, () -> new InvertibleConv1x1(0, new long[]{0}, 0));
    }
}
