package org.chainrule.models.flows;

import com.typesafe.config.Config;
import org.nd4j.autodiff.samediff.SDIndex;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * RealNVP's "factor out" (Dinh et al. 2017, "Density estimation using Real NVP", section 3.6), the step that makes
 * the architecture multi-scale: the first {@code keep} entries of the leading event axis (channels of an image,
 * coordinates of a vector) leave the flow here and go straight to the standard normal base, and {@code inner} is
 * applied to the rest only. The output is {@code concat(passed, inner(rest))} along that axis, so the total shape is
 * unchanged and the log-determinant is inner's. Deeper levels thus work on half the dimensions at each scale, which
 * keeps the cost down and lets the early latents model fine detail and the late ones the coarse structure.
 *
 * <p>{@code inner} must keep its shape ({@code inner.outputShape() == inner.inputShape() == rest}); it may squeeze
 * inside only if it unsqueezes back. Its parameters are named {@code "in" + name}.
 *
 * <p><b>Worked example</b> (what {@link RealNvp#image} builds for MNIST {@code [1, 28, 28]}, 2 scales):
 * <pre>
 *   Chain[ coupling(checkerboard, 0), coupling(checkerboard, 1), coupling(checkerboard, 0),   on [1, 28, 28]
 *          Squeeze([1, 28, 28]),                                                              to [4, 14, 14]
 *          coupling(channel, 0), coupling(channel, 1), coupling(channel, 0),                  on [4, 14, 14]
 *          FactorOut(keep 2 channels,                                                         of [4, 14, 14]
 *                    Chain[ 4 checkerboard couplings of alternating parity ])                 on [2, 14, 14] ]
 * </pre>
 * The latent is {@code [4, 14, 14]}: channels 0-1 leave after the first scale, channels 2-3 after the last. A third
 * scale would put {@code Chain[3 checkerboard, Squeeze -> [8, 7, 7], 3 channel, FactorOut(keep 4, 4 checkerboard),
 * unsqueeze -> [2, 14, 14]]} inside the first FactorOut instead (the unsqueeze because inner must keep its shape);
 * the 7x7 grid cannot be squeezed again, so deeper scales stop there.
 */
public final class FactorOut extends DescribedTransform {
    private static final long serialVersionUID = 1L;
    private static final String PREFIX = "in";
    private final Transform inner;
    private final long[] shape;
    private final int keep;

    /**
     * @param inner the transform of the remaining {@code shape[0] - keep} entries, shape-preserving
     * @param shape the full event shape, {@code [D]} or {@code [C, H, W]}
     * @param keep  how many leading entries (vectors) or channels (images) pass through unchanged
     */
    public FactorOut(Transform inner, long[] shape, int keep) {
        if (shape.length < 1) {
            throw new IllegalArgumentException("factor-out needs an event with at least one axis");
        }
        if (keep < 1 || keep >= shape[0]) {
            throw new IllegalArgumentException("factor-out must keep between 1 and " + (shape[0] - 1)
                    + " of " + shape[0] + " leading entries, got " + keep);
        }
        long[] rest = shape.clone();
        rest[0] = shape[0] - keep;
        if (!Arrays.equals(inner.inputShape(), rest)) {
            throw new IllegalArgumentException("factor-out's inner transform must take the remaining "
                    + Arrays.toString(rest) + ", but takes " + Arrays.toString(inner.inputShape()));
        }
        if (!Arrays.equals(inner.outputShape(), inner.inputShape())) {
            throw new IllegalArgumentException("factor-out's inner transform must keep its shape "
                    + Arrays.toString(inner.inputShape()) + ", but gives " + Arrays.toString(inner.outputShape())
                    + " (unsqueeze back inside it)");
        }
        this.inner = inner;
        this.shape = shape.clone();
        this.keep = keep;
    }

    /** Reads the description {@link #toMap()} wrote. */
    public static FactorOut fromConfig(Config c) {
        return new FactorOut(Transforms.fromConfig(c.getConfig("inner")), Transforms.shape(c, "shape"),
                c.getInt("keep"));
    }

    public Transform inner() {
        return inner;
    }

    public int keep() {
        return keep;
    }

    @Override
    public long[] inputShape() {
        return shape.clone();
    }

    @Override
    public Map<String, long[]> parameterShapes() {
        Map<String, long[]> m = new LinkedHashMap<>();
        inner.parameterShapes().forEach((name, s) -> m.put(PREFIX + name, s));
        return m;
    }

    @Override
    public void initialize(Map<String, INDArray> params, long seed) {
        inner.initialize(own(params), seed);
    }

    @Override
    public void initializeFromData(Map<String, INDArray> params, INDArray x) {
        INDArrayIndex[] idx = new INDArrayIndex[shape.length + 1];
        Arrays.fill(idx, NDArrayIndex.all());
        idx[1] = NDArrayIndex.interval(keep, shape[0]);
        inner.initializeFromData(own(params), x.get(idx).dup());
    }

    @Override
    public Flowed forward(SameDiff sd, SDVariable x, Map<String, SDVariable> params) {
        Flowed f = inner.forward(sd, part(x, false), own(params));
        return new Flowed(sd.concat(1, part(x, true), f.value()), f.logAbsDet());
    }

    @Override
    public Flowed inverse(SameDiff sd, SDVariable z, Map<String, SDVariable> params) {
        Flowed f = inner.inverse(sd, part(z, false), own(params));
        return new Flowed(sd.concat(1, part(z, true), f.value()), f.logAbsDet());
    }

    /** The passed-through ({@code first}) or the remaining part of a batch along the leading event axis. */
    private SDVariable part(SDVariable v, boolean first) {
        SDIndex[] idx = new SDIndex[shape.length + 1];
        Arrays.fill(idx, SDIndex.all());
        idx[1] = first ? SDIndex.interval(0L, (long) keep) : SDIndex.interval((long) keep, shape[0]);
        return v.get(idx);
    }

    /** Inner's entries of a parameter map, under inner's own names. */
    private <V> Map<String, V> own(Map<String, V> params) {
        Map<String, V> m = new LinkedHashMap<>();
        for (String name : inner.parameterShapes().keySet()) {
            V v = params.get(PREFIX + name);
            if (v == null) {
                throw new IllegalArgumentException("missing flow parameter " + PREFIX + name);
            }
            m.put(name, v);
        }
        return m;
    }

    @Override
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("kind", "factor-out");
        List<Long> s = new ArrayList<>();
        for (long v : shape) {
            s.add(v);
        }
        m.put("shape", s);
        m.put("keep", keep);
        m.put("inner", inner.toMap());
        return m;
    }
}
