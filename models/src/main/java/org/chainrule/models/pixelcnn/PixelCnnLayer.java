package org.chainrule.models.pixelcnn;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.chainrule.models.pixelcnn.MaskedConvolution.Kind.A;
import static org.chainrule.models.pixelcnn.MaskedConvolution.Kind.B;
import static org.chainrule.models.pixelcnn.MaskedConvolution.blocks;

/**
 * The PixelCNN of van den Oord, Kalchbrenner and Kavukcuoglu 2016 ("Pixel Recurrent Neural Networks", sections 3.4
 * and 3.5, figure 5) as one SameDiff layer:
 * <pre>
 *   conv 7x7 mask A (C -> 2h)
 *   R residual blocks:  s += conv1x1 B (h -> 2h) . ReLU . conv3x3 B (h -> h) . ReLU . conv1x1 B (2h -> h) . ReLU (s)
 *   ReLU . conv1x1 B (2h -> F) . ReLU . conv1x1 B (F -> C P)
 * </pre>
 * with h = {@code filters}, R = {@code blocks}, F = {@code outputFilters}. Every map is split into C colour groups
 * (see {@link MaskedConvolution}); the 1x1 convolutions are masked too, since at the centre they would otherwise mix
 * the colour groups. With a class label, each convolution adds a learned per-label bias.
 *
 * <p>The receptive field of stacked masked convolutions misses part of the upper-right context, however deep the
 * stack (the "blind spot" that {@link GatedPixelCnnLayer} removes): a 3x3 mask-B tap reaches up-right only by moving
 * up a row, so row i - r is never seen more than r + 2 columns to the right of pixel (i, j); the row directly above,
 * for instance, no further than the first layer's own reach of three columns.
 */
public class PixelCnnLayer extends PixelLayer {
    /** Kernel size of the first (mask A) layer, as in the paper. */
    public static final int FIRST_KERNEL = 7;
    /** Kernel size of the residual blocks' masked convolutions. */
    public static final int KERNEL = 3;

    private int blocks;

    /** For JSON deserialization. */
    public PixelCnnLayer() {
    }

    public PixelCnnLayer(PixelSpec spec) {
        super(spec.eventShape(), spec.levels(), spec.filters(), spec.outputFilters(), spec.contextSize());
        this.blocks = spec.depth();
    }

    @Override
    protected List<Conv> convolutions() {
        int c = getChannels();
        int h = getFilters();
        int[] stream = blocks(2 * h, c);
        int[] inner = blocks(h, c);
        int[] head = blocks(getOutputFilters(), c);
        List<Conv> convs = new ArrayList<>();
        convs.add(new Conv("0", mask(FIRST_KERNEL, FIRST_KERNEL, inputGroups(), stream, A), true, true));
        for (int r = 1; r <= blocks; r++) {
            convs.add(new Conv(r + "a", mask(1, 1, stream, inner, B), true, true));
            convs.add(new Conv(r + "b", mask(KERNEL, KERNEL, inner, inner, B), true, true));
            convs.add(new Conv(r + "c", mask(1, 1, inner, stream, B), true, true));
        }
        convs.add(new Conv("o1", mask(1, 1, stream, head, B), true, true));
        convs.add(new Conv("o2", mask(1, 1, head, outputGroups(), B), true, true));
        return convs;
    }

    @Override
    public SDVariable logits(SameDiff sd, SDVariable x, SDVariable context, Map<String, SDVariable> params) {
        List<Conv> convs = convolutions();
        SDVariable s = conv(sd, find(convs, "0"), image(x), context, params);
        for (int r = 1; r <= blocks; r++) {
            SDVariable t = conv(sd, find(convs, r + "a"), relu(sd, s), context, params);
            t = conv(sd, find(convs, r + "b"), relu(sd, t), context, params);
            t = conv(sd, find(convs, r + "c"), relu(sd, t), context, params);
            s = s.add(t);
        }
        SDVariable o = conv(sd, find(convs, "o1"), relu(sd, s), context, params);
        return flatten(conv(sd, find(convs, "o2"), relu(sd, o), context, params));
    }

    private static SDVariable relu(SameDiff sd, SDVariable v) {
        return sd.nn().relu(v, 0);
    }

    /** Number of residual blocks R. */
    public int getBlocks() {
        return blocks;
    }

    public void setBlocks(int blocks) {
        this.blocks = blocks;
    }
}
