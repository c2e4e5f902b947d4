package org.chainrule.models.flows;

import com.typesafe.config.Config;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * RealNVP's squeeze (Dinh et al. 2017, "Density estimation using Real NVP", section 3.6): space-to-depth, each 2x2
 * block of pixels of a channel becomes 4 channels, {@code [C, H, W] -> [4C, H/2, W/2]}. It trades spatial size for
 * channels so that the next couplings' channel masks mix neighbouring pixels, and so that the multi-scale
 * architecture can factor out half of the channels at a coarser resolution. A permutation, so log |det| = 0.
 *
 * <p><b>Channel order:</b> {@code out[4c + 2i + j, h, w] = in[c, 2h + i, 2w + j]} for block offsets
 * {@code i, j} in {0, 1}: the 4 channels from input channel {@code c} are consecutive, in row-major order of the
 * block (top-left, top-right, bottom-left, bottom-right). Written as reshape
 * {@code [C, H/2, 2, W/2, 2]}, permute to {@code [C, 2, 2, H/2, W/2]}, reshape; the inverse (depth-to-space)
 * undoes each step. H and W must be even.
 *
 * <p>{@link #unsqueeze} gives the same map the other way round (depth-to-space forward), under the same kind with
 * {@code "unsqueeze": true}: a scale nested in a {@link FactorOut} squeezes and must hand back its input's shape.
 */
public final class Squeeze extends DescribedTransform {
    private static final long serialVersionUID = 1L;
    private final long[] shape;
    private final boolean unsqueeze;

    /** Space-to-depth of {@code [C, H, W]} events, H and W even. */
    public Squeeze(long[] chw) {
        this(chw, false);
    }

    /**
     * Depth-to-space: takes {@code [4C, H/2, W/2]} events back to {@code chw = [C, H, W]}, the inverse of
     * {@code new Squeeze(chw)}.
     */
    public static Squeeze unsqueeze(long[] chw) {
        return new Squeeze(chw, true);
    }

    /**
     * @param chw       the spatial (unsqueezed) shape {@code [C, H, W]}, H and W even
     * @param unsqueeze false for space-to-depth, true for depth-to-space
     */
    public Squeeze(long[] chw, boolean unsqueeze) {
        if (chw.length != 3) {
            throw new IllegalArgumentException("squeeze takes [C, H, W] events, got " + Arrays.toString(chw));
        }
        if (chw[1] % 2 != 0 || chw[2] % 2 != 0 || chw[1] < 2 || chw[2] < 2) {
            throw new IllegalArgumentException("squeeze needs an even height and width, got "
                    + chw[1] + "x" + chw[2]);
        }
        this.shape = chw.clone();
        this.unsqueeze = unsqueeze;
    }

    /** Reads the description {@link #toMap()} wrote. */
    public static Squeeze fromConfig(Config c) {
        return new Squeeze(Transforms.shape(c, "shape"), c.hasPath("unsqueeze") && c.getBoolean("unsqueeze"));
    }

    /** Whether this is the depth-to-space direction. */
    public boolean isUnsqueeze() {
        return unsqueeze;
    }

    @Override
    public long[] inputShape() {
        return unsqueeze ? squeezed() : shape.clone();
    }

    @Override
    public long[] outputShape() {
        return unsqueeze ? shape.clone() : squeezed();
    }

    private long[] squeezed() {
        return new long[]{4 * shape[0], shape[1] / 2, shape[2] / 2};
    }

    @Override
    public Map<String, long[]> parameterShapes() {
        return new LinkedHashMap<>();
    }

    @Override
    public void initialize(Map<String, INDArray> params, long seed) {
    }

    @Override
    public Flowed forward(SameDiff sd, SDVariable x, Map<String, SDVariable> params) {
        return unsqueeze ? depthToSpace(x) : spaceToDepth(x);
    }

    @Override
    public Flowed inverse(SameDiff sd, SDVariable z, Map<String, SDVariable> params) {
        return unsqueeze ? spaceToDepth(z) : depthToSpace(z);
    }

    private Flowed spaceToDepth(SDVariable x) {
        long c = shape[0], h = shape[1] / 2, w = shape[2] / 2;
        // [b, c, h, i, w, j] -> [b, c, i, j, h, w]
        SDVariable y = x.reshape(-1, c, h, 2, w, 2).permute(0, 1, 3, 5, 2, 4).reshape(-1, 4 * c, h, w);
        return new Flowed(y, Flows.zeroLogDet(x, shape));
    }

    private Flowed depthToSpace(SDVariable z) {
        long c = shape[0], h = shape[1] / 2, w = shape[2] / 2;
        // [b, c, i, j, h, w] -> [b, c, h, i, w, j]
        SDVariable x = z.reshape(-1, c, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3).reshape(-1, c, 2 * h, 2 * w);
        return new Flowed(x, Flows.zeroLogDet(z, squeezed()));
    }

    @Override
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("kind", "squeeze");
        m.put("shape", List.of(shape[0], shape[1], shape[2]));
        m.put("unsqueeze", unsqueeze);
        return m;
    }
}
