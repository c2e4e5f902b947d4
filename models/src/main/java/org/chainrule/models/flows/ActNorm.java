package org.chainrule.models.flows;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Activation normalisation (Kingma &amp; Dhariwal 2018, "Glow: Generative Flow with Invertible 1x1 Convolutions",
 * section 3.1): a per-channel affine map {@code y = (x + bias) * exp(logScale)} whose parameters are set from the
 * first batch of data so that each channel leaves it with zero mean and unit variance, and are trained freely after
 * that. It replaces batch normalisation, whose statistics depend on the batch (so the flow would not be a fixed
 * invertible map) and are noisy for the small batches that large images force.
 *
 * <p>An event is {@code [C, H, W]} (an image; any number of trailing spatial axes works) or {@code [D]} (a vector,
 * the {@code H = W = 1} case). The parameters {@code bias} and {@code logScale} are shaped to broadcast over the batch
 * and the spatial axes: {@code [1, C, 1, 1]} for images, {@code [1, D]} for vectors. Because the same scale multiplies
 * every pixel of a channel, {@code log |det J| = H * W * sum(logScale)}, the same for every example. The scale is
 * stored as a logarithm so that it stays positive (the map stays invertible) whatever the optimiser does. The formulas
 * broadcast, so parameters with a leading batch dimension instead of 1 also work.
 */
public final class ActNorm extends DescribedTransform {
    private static final long serialVersionUID = 1L;
    /** Added to the standard deviation in the data initialisation, so a constant channel does not give log(0). */
    static final double STD_EPS = 1e-6;

    private final long[] shape;

    /**
     * @param shape event shape: {@code [C, H, W]} for images or {@code [D]} for vectors; the first entry is the
     *              channel axis, the rest are spatial positions sharing the channel's parameters
     */
    public ActNorm(long[] shape) {
        if (shape.length == 0 || Arrays.stream(shape).anyMatch(s -> s < 1)) {
            throw new IllegalArgumentException("actnorm needs a non-empty positive shape, got "
                    + Arrays.toString(shape));
        }
        this.shape = shape.clone();
    }

    @Override
    public long[] inputShape() {
        return shape.clone();
    }

    /** Number of channels (the first entry of the event shape). */
    public long channels() {
        return shape[0];
    }

    /** Spatial positions per channel: {@code H * W} for images, 1 for vectors. */
    public long spatialSize() {
        return Flows.size(shape) / shape[0];
    }

    /** {@code [1, C, 1, ...]}: one value per channel, broadcasting over batch and spatial axes. */
    private long[] parameterShape() {
        long[] p = new long[shape.length + 1];
        Arrays.fill(p, 1);
        p[1] = shape[0];
        return p;
    }

    @Override
    public Map<String, long[]> parameterShapes() {
        Map<String, long[]> m = new LinkedHashMap<>();
        m.put("bias", parameterShape());
        m.put("logScale", parameterShape());
        return m;
    }

    /** The identity: zero bias and zero log-scale (the seed is unused; the map has no randomness). */
    @Override
    public void initialize(Map<String, INDArray> params, long seed) {
        params.get("bias").assign(0.0);
        params.get("logScale").assign(0.0);
    }

    /**
     * Glow's data-dependent initialisation: {@code bias = -mean} and {@code logScale = -log(std + 1e-6)} per channel,
     * the mean and (population) standard deviation taken over the batch and all spatial positions of {@code x}
     * ({@code [batch, inputShape...]}), so that this batch leaves the layer with zero mean and unit variance per
     * channel. Computed in double and stored in the parameters' own type.
     */
    @Override
    public void initializeFromData(Map<String, INDArray> params, INDArray x) {
        long c = shape[0];
        INDArray xd = x.castTo(DataType.DOUBLE);
        // channel axis first, then everything else flattened: [C, batch * spatial]
        int[] order = new int[xd.rank()];
        order[0] = 1;
        order[1] = 0;
        for (int i = 2; i < order.length; i++) {
            order[i] = i;
        }
        INDArray columns = xd.permute(order).dup('c').reshape(c, -1);
        INDArray mean = columns.mean(1);
        INDArray std = columns.std(false, 1);
        INDArray bias = params.get("bias");
        INDArray logScale = params.get("logScale");
        bias.assign(mean.neg().reshape(parameterShape()).castTo(bias.dataType()));
        INDArray negLogStd = org.nd4j.linalg.ops.transforms.Transforms.log(std.add(STD_EPS), false).neg();
        logScale.assign(negLogStd.reshape(parameterShape()).castTo(logScale.dataType()));
    }

    /** {@code H * W * sum(logScale)}, one copy per example of the batch. */
    private SDVariable logDet(SDVariable batch, SDVariable logScale) {
        long[] perExample = Arrays.copyOfRange(parameterShape(), 1, shape.length + 1);
        return Flows.sumPerExample(logScale, perExample).mul((double) spatialSize())
                .add(Flows.zeroLogDet(batch, shape));
    }

    @Override
    public Flowed forward(SameDiff sd, SDVariable x, Map<String, SDVariable> params) {
        SDVariable logScale = params.get("logScale");
        SDVariable y = x.add(params.get("bias")).mul(sd.math().exp(logScale));
        return new Flowed(y, logDet(x, logScale));
    }

    @Override
    public Flowed inverse(SameDiff sd, SDVariable z, Map<String, SDVariable> params) {
        SDVariable logScale = params.get("logScale");
        SDVariable x = z.mul(sd.math().exp(logScale.neg())).sub(params.get("bias"));
        return new Flowed(x, logDet(z, logScale).neg());
    }

    /** {@code kind = "actnorm"} and {@code shape} (the event shape). */
    @Override
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("kind", "actnorm");
        List<Long> s = new ArrayList<>();
        for (long v : shape) {
            s.add(v);
        }
        m.put("shape", s);
        return m;
    }
}
