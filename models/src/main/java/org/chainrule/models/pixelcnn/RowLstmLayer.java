package org.chainrule.models.pixelcnn;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

import static org.chainrule.models.pixelcnn.MaskedConvolution.Kind.A;
import static org.chainrule.models.pixelcnn.MaskedConvolution.Kind.B;
import static org.chainrule.models.pixelcnn.MaskedConvolution.blocks;

/**
 * The Row LSTM of van den Oord, Kalchbrenner and Kavukcuoglu 2016 ("Pixel Recurrent Neural Networks", section 3.1
 * and figure 5) as one SameDiff layer:
 * <pre>
 *   s = conv 7x7 mask A (C -&gt; 2h)
 *   L Row LSTM layers:  s += conv1x1 B (h -&gt; 2h) . RowLSTM(s)
 *   ReLU . conv1x1 B (2h -&gt; F) . ReLU . conv1x1 B (F -&gt; C P)
 * </pre>
 * with h = {@code filters} (the LSTM state size), L = {@code layers}, F = {@code outputFilters}; the residual
 * connection around each LSTM layer is the paper's.
 *
 * <p>One Row LSTM layer processes the image a row at a time. The input-to-state part does not depend on the
 * recurrence, so it is a single 1 x k convolution of the whole input map (mask B, along the row: the pixels to the
 * left and, per colour group, the current one), giving 4h pre-activation maps. The state-to-state part is a 1-D
 * convolution of size k = 3 over the <em>previous</em> row's hidden state, unmasked and over every channel, since
 * all of row i - 1 precedes row i. Row r is then one {@link PixelLstm#step} with h_{r-1} as the previous state, and
 * h_{-1} = c_{-1} = 0. The H rows are unrolled in the graph (one small convolution and a few element-wise ops
 * per row), and the H hidden rows are concatenated back into an NCHW map. The forget gates' biases start at 1, so
 * that early in training the cell keeps what the rows above wrote (Gers, Schmidhuber and Cummins 2000).
 *
 * <p>Colour: the 2h stream and the h state are split into C groups as in {@link PixelCnnLayer}; the 4h
 * pre-activations are four copies of the h state's groups, so a gate multiplies features of one group only.
 *
 * <p>Receptive field (a trapezoid, "triangular" in the paper, figure 4): output pixel (i, j) depends on row i at
 * columns j - 3 - L .. j - 1 (the first layer reaches 3 to the left, each layer's 1 x 3 input-to-state one more;
 * the recurrence never moves along the current row), and on row i - r, r &gt;= 1, at columns j - 3 - L - r ..
 * j + 2 + r (each row up, the 1 x 3 state-to-state kernel widens the window by one on both sides). Unlike a
 * PixelCNN, the reach upwards is not bounded by the depth; but the far left of the current row and everything
 * outside the widening window above are never seen, which is what the {@link DiagonalBiLstmLayer} fixes.
 */
public class RowLstmLayer extends PixelLayer {
    /** Kernel size of the first (mask A) layer, as in the paper. */
    public static final int FIRST_KERNEL = 7;
    /** Size k of the input-to-state and state-to-state kernels, as in the paper. */
    public static final int KERNEL = 3;

    private int layers;

    /** For JSON deserialization. */
    public RowLstmLayer() {
    }

    public RowLstmLayer(PixelSpec spec) {
        super(spec.eventShape(), spec.levels(), spec.filters(), spec.outputFilters(), spec.contextSize());
        this.layers = spec.depth();
    }

    @Override
    protected List<Conv> convolutions() {
        int c = getChannels();
        int h = getFilters();
        int[] stream = blocks(2 * h, c);
        int[] state = blocks(h, c);
        int[] gates = PixelLstm.gateGroups(h, c);
        int[] head = blocks(getOutputFilters(), c);
        List<Conv> convs = new ArrayList<>();
        convs.add(new Conv("0", mask(FIRST_KERNEL, FIRST_KERNEL, inputGroups(), stream, A), true, true));
        for (int l = 1; l <= layers; l++) {
            convs.add(new Conv("i" + l, mask(1, KERNEL, stream, gates, B), true, true));
            if (getHeight() > 1) {
                convs.add(new Conv("s" + l, Nd4j.ones(DataType.FLOAT, 1, KERNEL, h, 4L * h), false, false));
            }
            convs.add(new Conv("r" + l, mask(1, 1, state, stream, B), true, true));
        }
        convs.add(new Conv("o1", mask(1, 1, stream, head, B), true, true));
        convs.add(new Conv("o2", mask(1, 1, head, outputGroups(), B), true, true));
        return convs;
    }

    @Override
    public SDVariable logits(SameDiff sd, SDVariable x, SDVariable context, Map<String, SDVariable> params) {
        List<Conv> convs = convolutions();
        SDVariable s = conv(sd, find(convs, "0"), image(x), context, params);
        for (int l = 1; l <= layers; l++) {
            SDVariable inputToState = conv(sd, find(convs, "i" + l), s, context, params);
            SDVariable hidden = rows(sd, inputToState, getHeight() > 1 ? find(convs, "s" + l) : null, params);
            s = s.add(conv(sd, find(convs, "r" + l), hidden, context, params));
        }
        SDVariable o = conv(sd, find(convs, "o1"), sd.nn().relu(s, 0), context, params);
        return flatten(conv(sd, find(convs, "o2"), sd.nn().relu(o, 0), context, params));
    }

    /**
     * The recurrence of one layer, unrolled over the rows.
     *
     * @param inputToState {@code [batch, 4h, H, W]}, the input-to-state pre-activations of every row
     * @param stateToState the 1 x k convolution of the previous row's state; null for a one-row image, which has no
     *                     recurrence (and no such parameters, since DL4J asks a gradient of every parameter)
     * @return the hidden states {@code [batch, h, H, W]}
     */
    private SDVariable rows(SameDiff sd, SDVariable inputToState, Conv stateToState, Map<String, SDVariable> params) {
        int h = getFilters();
        List<SDVariable> hidden = new ArrayList<>();
        SDVariable state = null;
        SDVariable cell = null;
        UnaryOperator<SDVariable> recurrence = stateToState == null ? null
                : PixelLstm.recurrence(sd, params.get("w" + stateToState.id()), stateToState.mask());
        SDVariable[] rows = PixelLstm.split(sd, inputToState, getHeight(), 2);
        for (int r = 0; r < getHeight(); r++) {
            SDVariable pre = rows[r];
            if (r > 0) {
                pre = pre.add(recurrence.apply(state));
            }
            SDVariable[] next = PixelLstm.step(sd, pre, cell, h);
            state = next[0];
            cell = next[1];
            hidden.add(state);
        }
        return PixelLstm.concat(sd, 2, hidden);
    }

    /**
     * As {@link PixelLayer}, He-normal kernels scaled by the masked fan-in, but with the forget gates' biases at 1.
     */
    @Override
    public void initializeParameters(Map<String, INDArray> params) {
        super.initializeParameters(params);
        int h = getFilters();
        for (int l = 1; l <= layers; l++) {
            PixelLstm.openForgetGates(params.get("bi" + l), h);
        }
    }

    /** Number of Row LSTM layers L. */
    public int getLayers() {
        return layers;
    }

    public void setLayers(int layers) {
        this.layers = layers;
    }
}
