package org.chainrule.models.pixelcnn;

import org.nd4j.autodiff.samediff.SDIndex;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.chainrule.models.pixelcnn.MaskedConvolution.Kind.A;
import static org.chainrule.models.pixelcnn.MaskedConvolution.Kind.ABOVE;
import static org.chainrule.models.pixelcnn.MaskedConvolution.Kind.B;
import static org.chainrule.models.pixelcnn.MaskedConvolution.Kind.VERTICAL;
import static org.chainrule.models.pixelcnn.MaskedConvolution.blocks;
import static org.chainrule.models.pixelcnn.MaskedConvolution.gateBlocks;
import static org.chainrule.models.pixelcnn.MaskedConvolution.oneGroup;

/**
 * Gated PixelCNN (van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves and Kavukcuoglu 2016, "Conditional Image
 * Generation with PixelCNN Decoders", section 2 and figure 2) as one SameDiff layer. Each of L layers has two stacks
 * of p = {@code filters} maps:
 * <ul>
 *   <li>the vertical stack, a k x k convolution keeping the rows up to and including the current one (every
 *       channel): it sees the whole window above without a blind spot;</li>
 *   <li>the horizontal stack, a 1 x k convolution keeping the current row up to the current pixel (mask A in the
 *       first layer, B after, with the colour groups at the centre), plus a 1x1 link from the vertical stack's
 *       pre-activation <em>shifted down by one row</em>: since the vertical stack at row i has seen row i, only its
 *       value at row i - 1 may reach row i. The shift is a 3x1 convolution whose only live tap is the one above
 *       ({@link MaskedConvolution.Kind#ABOVE}), i.e. the 1x1 link applied to the row above.</li>
 * </ul>
 * Both stacks go through gated activations, tanh(a) * sigmoid(b) over the two halves of 2p pre-activation maps; the
 * horizontal stack then has a masked 1x1 convolution and, after the first layer, a residual connection. The output is
 * ReLU . conv1x1 B (p -&gt; F) . ReLU . conv1x1 B (F -&gt; C P) of the horizontal stack. With a class label, every
 * gate's pre-activation gets a learned per-label bias (the paper's V^T h with h one-hot), and so do the two output
 * convolutions. The first layer has k = 7, the others k = 3, as in {@link PixelCnnLayer}.
 *
 * <p>Colour: the horizontal stack carries the colour groups exactly as PixelCNN's maps do (the gate multiplies
 * features of the same group, see {@link MaskedConvolution#gateBlocks}); the vertical stack needs none, as it only
 * reaches the output from the row above.
 */
public class GatedPixelCnnLayer extends PixelLayer {
    /** Kernel size of the first layer. */
    public static final int FIRST_KERNEL = 7;
    /** Kernel size of the later layers. */
    public static final int KERNEL = 3;

    private int layers;

    /** For JSON deserialization. */
    public GatedPixelCnnLayer() {
    }

    public GatedPixelCnnLayer(PixelSpec spec) {
        super(spec.eventShape(), spec.levels(), spec.filters(), spec.outputFilters(), spec.contextSize());
        this.layers = spec.depth();
    }

    @Override
    protected List<Conv> convolutions() {
        int c = getChannels();
        int p = getFilters();
        int[] maps = blocks(p, c);
        int[] gate = gateBlocks(p, c);
        int[] head = blocks(getOutputFilters(), c);
        List<Conv> convs = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            int k = l == 0 ? FIRST_KERNEL : KERNEL;
            int vIn = l == 0 ? c : p;
            int[] hIn = l == 0 ? inputGroups() : maps;
            convs.add(new Conv("v" + l, mask(k, k, oneGroup(vIn), oneGroup(2 * p), VERTICAL), true, true));
            convs.add(new Conv("h" + l, mask(1, k, hIn, gate, l == 0 ? A : B), true, true));
            convs.add(new Conv("l" + l, mask(3, 1, oneGroup(2 * p), oneGroup(2 * p), ABOVE), false, false));
            convs.add(new Conv("r" + l, mask(1, 1, maps, maps, B), true, false));
        }
        convs.add(new Conv("o1", mask(1, 1, maps, head, B), true, true));
        convs.add(new Conv("o2", mask(1, 1, head, outputGroups(), B), true, true));
        return convs;
    }

    @Override
    public SDVariable logits(SameDiff sd, SDVariable x, SDVariable context, Map<String, SDVariable> params) {
        List<Conv> convs = convolutions();
        SDVariable img = image(x);
        SDVariable v = img;
        SDVariable h = img;
        for (int l = 0; l < layers; l++) {
            SDVariable vPre = conv(sd, find(convs, "v" + l), v, context, params);
            SDVariable hPre = conv(sd, find(convs, "h" + l), h, context, params)
                    .add(conv(sd, find(convs, "l" + l), vPre, null, params));
            if (l < layers - 1) {
                v = gate(sd, vPre);
            }
            SDVariable out = conv(sd, find(convs, "r" + l), gate(sd, hPre), context, params);
            h = l == 0 ? out : h.add(out);
        }
        SDVariable o = conv(sd, find(convs, "o1"), sd.nn().relu(h, 0), context, params);
        return flatten(conv(sd, find(convs, "o2"), sd.nn().relu(o, 0), context, params));
    }

    /** tanh(a) * sigmoid(b) over the two halves of {@code [batch, 2p, H, W]}. */
    private SDVariable gate(SameDiff sd, SDVariable pre) {
        int p = getFilters();
        SDVariable a = pre.get(SDIndex.all(), SDIndex.interval(0, p), SDIndex.all(), SDIndex.all());
        SDVariable b = pre.get(SDIndex.all(), SDIndex.interval(p, 2 * p), SDIndex.all(), SDIndex.all());
        return sd.math().tanh(a).mul(sd.nn().sigmoid(b));
    }

    /** Number of gated layers L. */
    public int getLayers() {
        return layers;
    }

    public void setLayers(int layers) {
        this.layers = layers;
    }
}
