package org.chainrule.models.flows;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The checks every transform must pass (issue contract): exact inversion with cancelling log-determinants, the
 * log-determinant against a finite-difference Jacobian, finiteness on extreme inputs, and normalisation of a 1-D/2-D
 * flow density with a standard normal base by quadrature. Run in double precision.
 */
public final class FlowChecks {
    private FlowChecks() {
    }

    /** inverse(forward(x)) == x within tol, and the two log-determinants sum to zero within tol. */
    public static void assertRoundTrip(Transform t, Map<String, INDArray> params, INDArray x, double tol) {
        Flows.Result f = Flows.forward(t, params, x);
        Flows.Result b = Flows.inverse(t, params, f.value());
        double err = b.value().sub(x).amaxNumber().doubleValue();
        assertTrue(err <= tol, "inverse(forward(x)) differs from x by " + err);
        double cancel = f.logAbsDet().add(b.logAbsDet()).amaxNumber().doubleValue();
        assertTrue(cancel <= tol, "forward and inverse log-determinants do not cancel: " + cancel);
        // and the other way round, from a latent point
        Flows.Result g = Flows.forward(t, params, b.value());
        assertTrue(g.value().sub(f.value()).amaxNumber().doubleValue() <= tol, "forward(inverse(z)) differs from z");
    }

    /**
     * The forward log-determinant of each row equals log |det J| of a central-difference Jacobian of the forward map
     * (flattened event), within tol. Keep events small (D up to ~50) and params in double.
     */
    public static void assertLogDetMatchesJacobian(Transform t, Map<String, INDArray> params, INDArray x, double tol) {
        assertEquals(DataType.DOUBLE, x.dataType(), "Jacobian checks need double precision");
        Flows.Result f = Flows.forward(t, params, x);
        int rows = (int) x.size(0);
        int d = (int) Flows.size(t.inputShape());
        int dOut = (int) Flows.size(t.outputShape());
        assertEquals(d, dOut, "a flow must keep the number of dimensions");
        double eps = 1e-6;
        for (int r = 0; r < rows; r++) {
            INDArray row = x.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(r, r + 1)).dup().reshape(1, d);
            // every perturbation of this row as one batch: 2d rows
            INDArray batch = Nd4j.create(DataType.DOUBLE, 2L * d, d);
            for (int j = 0; j < d; j++) {
                batch.putRow(2L * j, row.reshape(d));
                batch.putRow(2L * j + 1, row.reshape(d));
                batch.putScalar(2L * j, j, row.getDouble(j) + eps);
                batch.putScalar(2L * j + 1, j, row.getDouble(j) - eps);
            }
            INDArray out = Flows.forward(t, params, batch.reshape(withBatch(2L * d, t.inputShape()))).value()
                    .reshape(2L * d, d);
            double[][] jac = new double[d][d];
            for (int j = 0; j < d; j++) {
                for (int i = 0; i < d; i++) {
                    jac[i][j] = (out.getDouble(2L * j, i) - out.getDouble(2L * j + 1, i)) / (2 * eps);
                }
            }
            double expected = logAbsDet(jac);
            assertEquals(expected, f.logAbsDet().getDouble(r), tol, "log |det J| of row " + r);
        }
    }

    /** Forward and inverse give finite values and log-determinants on the given (extreme) inputs. */
    public static void assertFinite(Transform t, Map<String, INDArray> params, INDArray x) {
        Flows.Result f = Flows.forward(t, params, x);
        assertAllFinite(f.value(), "forward value");
        assertAllFinite(f.logAbsDet(), "forward log-determinant");
        Flows.Result b = Flows.inverse(t, params, x.reshape(withBatch(x.size(0), t.outputShape())));
        assertAllFinite(b.value(), "inverse value");
        assertAllFinite(b.logAbsDet(), "inverse log-determinant");
    }

    /**
     * The flow density {@code N(forward(x); 0, I) |det J|} of a 1-D or 2-D transform integrates to 1 within tol over
     * the box [lo, hi]^D by the midpoint rule on n points per axis.
     */
    public static void assertIntegratesToOne(Transform t, Map<String, INDArray> params, double lo, double hi, int n,
                                             double tol) {
        int d = (int) Flows.size(t.inputShape());
        assertTrue(d == 1 || d == 2, "quadrature is for 1-D or 2-D flows");
        double h = (hi - lo) / n;
        long points = d == 1 ? n : (long) n * n;
        INDArray grid = Nd4j.create(DataType.DOUBLE, points, d);
        for (long k = 0; k < points; k++) {
            grid.putScalar(k, 0, lo + (k % n + 0.5) * h);
            if (d == 2) {
                grid.putScalar(k, 1, lo + (k / n + 0.5) * h);
            }
        }
        double total = 0;
        int chunk = 20_000;
        for (long start = 0; start < points; start += chunk) {
            long end = Math.min(points, start + chunk);
            INDArray part = grid.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(start, end)).dup();
            Flows.Result f = Flows.forward(t, params, part.reshape(withBatch(end - start, t.inputShape())));
            INDArray z = f.value().reshape(end - start, d);
            for (long k = 0; k < end - start; k++) {
                double logp = f.logAbsDet().getDouble(k);
                for (int j = 0; j < d; j++) {
                    double v = z.getDouble(k, j);
                    logp += -0.5 * v * v - 0.5 * Math.log(2 * Math.PI);
                }
                total += Math.exp(logp);
            }
        }
        total *= Math.pow(h, d);
        assertEquals(1.0, total, tol, "integral of the flow density");
    }

    static long[] withBatch(long batch, long[] shape) {
        long[] s = new long[shape.length + 1];
        s[0] = batch;
        System.arraycopy(shape, 0, s, 1, shape.length);
        return s;
    }

    private static void assertAllFinite(INDArray a, String what) {
        for (double v : a.dup().reshape(-1).toDoubleVector()) {
            assertTrue(Double.isFinite(v), what + " has a non-finite value " + v);
        }
    }

    /** log |det A| by LU decomposition with partial pivoting. */
    static double logAbsDet(double[][] a) {
        int n = a.length;
        double[][] m = new double[n][];
        for (int i = 0; i < n; i++) {
            m[i] = a[i].clone();
        }
        double sum = 0;
        for (int c = 0; c < n; c++) {
            int p = c;
            for (int r = c + 1; r < n; r++) {
                if (Math.abs(m[r][c]) > Math.abs(m[p][c])) {
                    p = r;
                }
            }
            double[] tmp = m[c];
            m[c] = m[p];
            m[p] = tmp;
            if (m[c][c] == 0) {
                return Double.NEGATIVE_INFINITY;
            }
            sum += Math.log(Math.abs(m[c][c]));
            for (int r = c + 1; r < n; r++) {
                double f = m[r][c] / m[c][c];
                for (int k = c; k < n; k++) {
                    m[r][k] -= f * m[c][k];
                }
            }
        }
        return sum;
    }
}
