package org.chainrule.models.flows;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.LinkedHashMap;
import java.util.Map;

/** Running transforms on plain arrays, and small graph helpers shared by the transforms. */
public final class Flows {
    private Flows() {
    }

    /** A transformed batch and its per-example log-determinant ({@code [batch]}). */
    public record Result(INDArray value, INDArray logAbsDet) {
    }

    /** Fresh parameters of a transform in the given precision, initialised by {@link Transform#initialize}. */
    public static Map<String, INDArray> newParameters(Transform t, DataType type, long seed) {
        Map<String, INDArray> params = new LinkedHashMap<>();
        t.parameterShapes().forEach((name, shape) -> params.put(name, Nd4j.zeros(type, shape)));
        t.initialize(params, seed);
        return params;
    }

    /** {@code t.forward(x)} on arrays: x is {@code [batch, inputShape...]}. */
    public static Result forward(Transform t, Map<String, INDArray> params, INDArray x) {
        return run(t, params, x, true);
    }

    /** {@code t.inverse(z)} on arrays: z is {@code [batch, outputShape...]}. */
    public static Result inverse(Transform t, Map<String, INDArray> params, INDArray z) {
        return run(t, params, z, false);
    }

    private static Result run(Transform t, Map<String, INDArray> params, INDArray in, boolean forward) {
        SameDiff sd = SameDiff.create();
        long[] shape = forward ? t.inputShape() : t.outputShape();
        long[] withBatch = new long[shape.length + 1];
        withBatch[0] = -1;
        System.arraycopy(shape, 0, withBatch, 1, shape.length);
        SDVariable input = sd.placeHolder("flowInput", in.dataType(), withBatch);
        Map<String, SDVariable> p = new LinkedHashMap<>();
        params.forEach((name, value) -> p.put(name, sd.constant("param_" + name, value.castTo(in.dataType()))));
        Transform.Flowed f = forward ? t.forward(sd, input, p) : t.inverse(sd, input, p);
        SDVariable value = sd.identity("flowValue", f.value());
        SDVariable logDet = sd.identity("flowLogDet", f.logAbsDet());
        Map<String, INDArray> out = sd.output(Map.of("flowInput", in), value.name(), logDet.name());
        return new Result(out.get(value.name()), out.get(logDet.name()).reshape(-1));
    }

    /**
     * Sum over every dimension but the batch one: {@code [batch, eventShape...]} to {@code [batch]}. (ND4J M2.1's
     * reductions fail on a length-1 axis inside SameDiff, so a 1-element event is reshaped instead of summed.)
     */
    public static SDVariable sumPerExample(SDVariable v, long[] eventShape) {
        long n = size(eventShape);
        return n == 1 ? v.reshape(-1) : v.reshape(-1, n).sum(1);
    }

    /** A zero log-determinant for a volume-preserving map: {@code [batch]} zeros in x's data type. */
    public static SDVariable zeroLogDet(SDVariable x, long[] eventShape) {
        return sumPerExample(x, eventShape).mul(0.0);
    }

    /** Number of scalars in an event shape. */
    public static long size(long[] shape) {
        long n = 1;
        for (long s : shape) {
            n *= s;
        }
        return n;
    }
}
