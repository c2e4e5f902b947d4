package org.chainrule.models.flows;

import java.util.ArrayList;
import java.util.List;

/**
 * Ready-made RealNVP flows (Dinh et al. 2017, "Density estimation using Real NVP") from {@link AffineCoupling},
 * {@link Squeeze} and {@link FactorOut}. The result is a plain {@link Chain}, so it is described, saved and rebuilt
 * like any other transform; the factory only fixes the architecture. Parameters are initialised as usual (e.g.
 * {@link Flows#newParameters}), which is where the seed comes in.
 */
public final class RealNvp {
    private RealNvp() {
    }

    /**
     * The multi-scale image flow of the paper, adapted to small images. Each scale but the last is
     * {@code couplingsPerScale} checkerboard couplings of alternating parity, a {@link Squeeze}, then
     * {@code couplingsPerScale} channel couplings of alternating parity, after which half of the channels are
     * factored out and the next scale works on the other half ({@link FactorOut}, whose javadoc draws the MNIST
     * example); a scale nested in a factor-out ends with an unsqueeze, as a factor-out's inner part must keep its
     * shape. The result maps {@code [C, H, W]} to {@code [4C, H/2, W/2]} (or to itself for one scale). The last scale is {@code couplingsPerScale + 1} checkerboard couplings (the paper's 4 for 3). A scale
     * whose height or width is odd cannot be squeezed, so it becomes the last one even if {@code scales} asks for
     * more: MNIST {@code [1, 28, 28]} squeezes to 14x14 and then 7x7, so at most 3 scales are built for it.
     *
     * @param chw               image shape {@code [C, H, W]}
     * @param scales            number of scales (1 = no squeeze)
     * @param couplingsPerScale couplings per mask type at each scale (the paper uses 3)
     * @param hiddenChannels    channels of the conditioners' hidden layers
     * @param scaleType         {@code "tanh"} (RealNVP) or {@code "sigmoid"} (Glow)
     */
    public static Chain image(long[] chw, int scales, int couplingsPerScale, int hiddenChannels, String scaleType) {
        if (chw.length != 3) {
            throw new IllegalArgumentException("RealNvp.image takes [C, H, W], got " + java.util.Arrays.toString(chw));
        }
        if (scales < 1 || couplingsPerScale < 1) {
            throw new IllegalArgumentException("need at least one scale and one coupling per scale");
        }
        return scale(chw.clone(), scales, couplingsPerScale, hiddenChannels, scaleType, false);
    }

    private static Chain scale(long[] chw, int scalesLeft, int n, int hidden, String scaleType, boolean nested) {
        List<Transform> steps = new ArrayList<>();
        boolean last = scalesLeft == 1 || chw[1] % 2 != 0 || chw[2] % 2 != 0;
        if (last) {
            for (int i = 0; i < n + 1; i++) {
                steps.add(AffineCoupling.image(chw, "checkerboard", i % 2, hidden, scaleType));
            }
            return new Chain(steps);
        }
        for (int i = 0; i < n; i++) {
            steps.add(AffineCoupling.image(chw, "checkerboard", i % 2, hidden, scaleType));
        }
        Squeeze squeeze = new Squeeze(chw);
        steps.add(squeeze);
        long[] sq = squeeze.outputShape();
        for (int i = 0; i < n; i++) {
            steps.add(AffineCoupling.image(sq, "channel", i % 2, hidden, scaleType));
        }
        int keep = (int) (sq[0] / 2);
        long[] rest = {sq[0] - keep, sq[1], sq[2]};
        steps.add(new FactorOut(scale(rest, scalesLeft - 1, n, hidden, scaleType, true), sq, keep));
        if (nested) {
            // inside a FactorOut a scale must give back the shape it was given
            steps.add(Squeeze.unsqueeze(chw));
        }
        return new Chain(steps);
    }

    /**
     * A RealNVP flow for vectors: {@code couplings} affine couplings with the {@code "alternate"} (even/odd) mask
     * and alternating parity, so consecutive layers transform complementary halves.
     */
    public static Chain vector(int dim, int couplings, int[] hidden, String scaleType) {
        if (couplings < 1) {
            throw new IllegalArgumentException("need at least one coupling");
        }
        List<Transform> steps = new ArrayList<>();
        for (int i = 0; i < couplings; i++) {
            steps.add(AffineCoupling.vector(dim, "alternate", i % 2, hidden, scaleType));
        }
        return new Chain(steps);
    }
}
