package org.chainrule.models.flows;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Shared helpers of the RealNVP tests: parameters away from the identity start, and a backprop check. */
final class CouplingSupport {
    private CouplingSupport() {
    }

    /**
     * Initialised double parameters plus N(0, std^2) noise on every entry: a coupling starts as the identity (zero
     * heads), which would make most checks trivially true.
     */
    static Map<String, INDArray> perturbed(Transform t, long seed, double std) {
        Map<String, INDArray> p = Flows.newParameters(t, DataType.DOUBLE, seed);
        SplittableRandom r = new SplittableRandom(seed * 31 + 7);
        for (INDArray a : p.values()) {
            double[] noise = new double[(int) a.length()];
            for (int i = 0; i < noise.length; i++) {
                noise[i] = std * r.nextGaussian();
            }
            a.addi(Nd4j.create(noise, a.shape(), DataType.DOUBLE));
        }
        return p;
    }

    /** A seeded standard normal batch of the given full shape. */
    static INDArray normal(long seed, long... shape) {
        SplittableRandom r = new SplittableRandom(seed);
        long n = 1;
        for (long s : shape) {
            n *= s;
        }
        double[] v = new double[(int) n];
        for (int i = 0; i < v.length; i++) {
            v[i] = r.nextGaussian();
        }
        return Nd4j.create(v, shape, DataType.DOUBLE);
    }

    /**
     * The training view: in FLOAT, with the parameters as SameDiff variables and the input a placeholder, the loss
     * mean(0.5 |z|^2 - log |det|) must give every parameter a finite gradient that is not all zeros.
     */
    static void assertGradientsFlow(Transform t, Map<String, INDArray> params, INDArray x) {
        SameDiff sd = SameDiff.create();
        SDVariable in = sd.placeHolder("x", DataType.FLOAT, FlowChecks.withBatch(-1, t.inputShape()));
        Map<String, SDVariable> p = new LinkedHashMap<>();
        params.forEach((name, v) -> p.put(name, sd.var(name, v.castTo(DataType.FLOAT))));
        Transform.Flowed f = t.forward(sd, in, p);
        SDVariable energy = Flows.sumPerExample(f.value().mul(f.value()), t.outputShape()).mul(0.5);
        SDVariable loss = energy.sub(f.logAbsDet()).mean();
        sd.setLossVariables(loss);
        Map<String, INDArray> g = sd.calculateGradients(Map.of("x", x.castTo(DataType.FLOAT)), p.keySet());
        assertEquals(params.keySet(), g.keySet(), "a gradient for every parameter");
        for (Map.Entry<String, INDArray> e : g.entrySet()) {
            INDArray v = e.getValue();
            assertTrue(v != null, "no gradient for " + e.getKey());
            for (double d : v.dup().reshape(-1).toDoubleVector()) {
                assertTrue(Double.isFinite(d), "non-finite gradient of " + e.getKey());
            }
            assertTrue(v.amaxNumber().doubleValue() > 0, "all-zero gradient of " + e.getKey());
        }
    }

    /** toMap / fromMap round trip: an equal transform with the same parameter layout and identical outputs. */
    static void assertRebuilds(Transform t, Map<String, INDArray> params, INDArray x) {
        Transform back = Transforms.fromMap(t.toMap());
        assertEquals(t, back);
        assertEquals(t.hashCode(), back.hashCode());
        assertEquals(t.toMap(), back.toMap());
        assertEquals(t.parameterShapes().keySet(), back.parameterShapes().keySet());
        t.parameterShapes().forEach((k, s) -> assertTrue(java.util.Arrays.equals(s, back.parameterShapes().get(k))));
        Flows.Result a = Flows.forward(t, params, x);
        Flows.Result b = Flows.forward(back, params, x);
        assertEquals(a.value(), b.value());
        assertEquals(a.logAbsDet(), b.logAbsDet());
    }
}
