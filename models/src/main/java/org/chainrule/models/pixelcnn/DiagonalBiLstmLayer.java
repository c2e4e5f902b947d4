package org.chainrule.models.pixelcnn;

import org.nd4j.autodiff.samediff.SDIndex;
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
import static org.chainrule.models.pixelcnn.MaskedConvolution.Kind.ABOVE;
import static org.chainrule.models.pixelcnn.MaskedConvolution.Kind.B;
import static org.chainrule.models.pixelcnn.MaskedConvolution.Kind.VERTICAL;
import static org.chainrule.models.pixelcnn.MaskedConvolution.blocks;
import static org.chainrule.models.pixelcnn.MaskedConvolution.oneGroup;

/**
 * The Diagonal BiLSTM of van den Oord, Kalchbrenner and Kavukcuoglu 2016 ("Pixel Recurrent Neural Networks", section
 * 3.2 and figure 5) as one SameDiff layer:
 * <pre>
 *   s = conv 7x7 mask A (C -&gt; 2h)
 *   L Diagonal BiLSTM layers:  s += conv1x1 B (h -&gt; 2h) . Left(s) + shift-down conv1x1 (h -&gt; 2h) . Right(s, x)
 *   ReLU . conv1x1 B (2h -&gt; F) . ReLU . conv1x1 B (F -&gt; C P)
 * </pre>
 * with h = {@code filters} (the LSTM state size of each direction), L = {@code layers}, F = {@code outputFilters}.
 *
 * <p>The left direction (from the top-left corner) skews the map: row i moves i columns to the right, so an H x W
 * map becomes H x (W + H - 1) and each diagonal of the image becomes a column. The input-to-state part is a 1x1
 * mask-B convolution (4h maps), computed for the whole image and then skewed; the recurrence then runs over the
 * skewed columns, and the state-to-state part is a 2x1 convolution of the previous column, i.e. of the states of the
 * pixel to the left (same row) and of the pixel above (row above), unmasked since both precede the current pixel.
 * Each column is one {@link PixelLstm#step}; the column states are unskewed back to H x W. The positions that the
 * skew pads get pre-activation 0; left of a row's start that keeps the state at exactly 0 (as if h = c = 0 left of
 * the image), and right of a row's end the values there are never read by a pixel of the image. So the left state of
 * pixel (i, j) sees every pixel (i', j') with i' &lt;= i, j' &lt;= j (the current one through mask B).
 *
 * <p>The right direction does the same on the map mirrored left to right (its own parameters), so its state of
 * (i, j) sees rows up to i at columns j and beyond, which includes the future of row i; its map is therefore shifted
 * down one row before it joins the stream, as in the paper, and at row i only row i - 1 and above are seen. The
 * shift and the paper's 1x1 convolution are one 3x1 convolution whose only live tap is the one above
 * ({@link MaskedConvolution.Kind#ABOVE}); the left map gets its own masked 1x1 convolution. Together, one layer
 * already sees every earlier sub-pixel: the whole context, with no blind spot and no triangle.
 *
 * <p>One departure from the paper makes that last claim true. If the right direction read only the stream, as the
 * paper's text has it, it would never see the last sub-pixel of a row: every feature at position (i - 1, W - 1) is a
 * causal feature of that position and so excludes its last sub-pixel, and the right state at (i - 1, j) reads
 * features of row i - 1 and above only. A pixel (i, j) would then see the last sub-pixel of row i - 1 only through
 * the first layer's 7x7 window, i.e. for j &gt;= W - 4, at any depth. Since the right map is used one row lower, its
 * input-to-state convolution needs no mask; here it is an unmasked 1x1 convolution of the stream together with the
 * image itself, which closes that gap (C more input channels per layer).
 *
 * <p>In SameDiff: the two directions run as one recurrence of 2h states, their pre-activations interleaved gate by
 * gate and the state-to-state kernel masked block-diagonally, so that a step costs the same number of ops for both
 * as for one. The skew is a split into rows, a zero-padding of each row by its offset and a concatenation; the
 * unskew a split into rows and a slice of each. (ND4J's gather, the natural tool, cannot be differentiated here: in
 * 1.0.0-M2.1 its gradient fails along any axis but 0, and along axis 0 it builds a loop whose name clashes with the
 * next gather's in the same graph.) The W + H - 1 columns are unrolled in the graph, about twice the steps of a Row
 * LSTM, each on an H x 1 column.
 */
public class DiagonalBiLstmLayer extends PixelLayer {
    /** Kernel size of the first (mask A) layer, as in the paper. */
    public static final int FIRST_KERNEL = 7;

    private int layers;

    /** For JSON deserialization. */
    public DiagonalBiLstmLayer() {
    }

    public DiagonalBiLstmLayer(PixelSpec spec) {
        super(spec.eventShape(), spec.levels(), spec.filters(), spec.outputFilters(), spec.contextSize());
        this.layers = spec.depth();
    }

    /** Skewed width W + H - 1: the number of steps of the recurrence. */
    private int columns() {
        return getWidth() + getHeight() - 1;
    }

    @Override
    protected List<Conv> convolutions() {
        int c = getChannels();
        int h = getFilters();
        int[] stream = blocks(2 * h, c);
        int[] head = blocks(getOutputFilters(), c);
        List<Conv> convs = new ArrayList<>();
        convs.add(new Conv("0", mask(FIRST_KERNEL, FIRST_KERNEL, inputGroups(), stream, A), true, true));
        for (int l = 1; l <= layers; l++) {
            convs.add(new Conv("li" + l, mask(1, 1, stream, PixelLstm.gateGroups(h, c), B), true, true));
            convs.add(new Conv("ri" + l, mask(1, 1, oneGroup(2 * h + c), oneGroup(4 * h), VERTICAL), true, true));
            if (columns() > 1) {
                convs.add(new Conv("s" + l, stateToStateMask(h), false, false));
            }
            convs.add(new Conv("lo" + l, mask(1, 1, blocks(h, c), stream, B), true, true));
            convs.add(new Conv("ro" + l, mask(3, 1, oneGroup(h), oneGroup(2 * h), ABOVE), false, false));
        }
        convs.add(new Conv("o1", mask(1, 1, stream, head, B), true, true));
        convs.add(new Conv("o2", mask(1, 1, head, outputGroups(), B), true, true));
        return convs;
    }

    /**
     * The state-to-state mask of both directions at once, {@code [3, 1, 2h, 8h]}: taps dy = -1 and 0 of the previous
     * skewed column (the pixels above and to the left), from the states of one direction (left: 0..h-1, right:
     * h..2h-1) to the gates of the same direction only. The 8h outputs are gate-major, as {@link #interleave} lays
     * out the pre-activations: gate q of direction d, unit k, is channel q 2h + d h + k.
     */
    static INDArray stateToStateMask(int h) {
        INDArray m = Nd4j.zeros(DataType.FLOAT, 3, 1, 2L * h, 8L * h);
        for (int dy = 0; dy <= 1; dy++) {
            for (int in = 0; in < 2 * h; in++) {
                for (int out = 0; out < 8 * h; out++) {
                    if (in / h == out % (2 * h) / h) {
                        m.putScalar(new long[]{dy, 0, in, out}, 1.0);
                    }
                }
            }
        }
        return m;
    }

    @Override
    public SDVariable logits(SameDiff sd, SDVariable x, SDVariable context, Map<String, SDVariable> params) {
        List<Conv> convs = convolutions();
        int h = getFilters();
        SDVariable img = image(x);
        SDVariable s = conv(sd, find(convs, "0"), img, context, params);
        for (int l = 1; l <= layers; l++) {
            SDVariable left = conv(sd, find(convs, "li" + l), s, context, params);
            SDVariable right = sd.reverse(conv(sd, find(convs, "ri" + l), sd.concat(1, s, img), context, params), 3);
            SDVariable states = diagonal(sd, interleave(left, right),
                    columns() > 1 ? find(convs, "s" + l) : null, params);
            SDVariable[] halves = sd.split(states, 2, 1);
            s = s.add(conv(sd, find(convs, "lo" + l), halves[0], context, params))
                    .add(conv(sd, find(convs, "ro" + l), sd.reverse(halves[1], 3), null, params));
        }
        SDVariable o = conv(sd, find(convs, "o1"), sd.nn().relu(s, 0), context, params);
        return flatten(conv(sd, find(convs, "o2"), sd.nn().relu(o, 0), context, params));
    }

    /** Two directions' pre-activations {@code [batch, 4h, H, W]} as one of 2h states, gate by gate: {@code 8h}. */
    private SDVariable interleave(SDVariable left, SDVariable right) {
        int h = getFilters();
        long[] split = {-1, 4, h, getHeight(), getWidth()};
        return left.getSameDiff().concat(2, left.reshape(split), right.reshape(split))
                .reshape(-1, 8L * h, getHeight(), getWidth());
    }

    /**
     * The recurrence from the top-left corner for both directions at once: skew, steps over the skewed columns,
     * unskew.
     *
     * @param inputToState {@code [batch, 8h, H, W]}, gate-major (see {@link #stateToStateMask})
     * @param stateToState the 2x1 convolution of the previous column; null when there is a single column
     * @return the hidden states {@code [batch, 2h, H, W]}, the left direction's h first
     */
    private SDVariable diagonal(SameDiff sd, SDVariable inputToState, Conv stateToState,
                                Map<String, SDVariable> params) {
        int states = 2 * getFilters();
        int height = getHeight();
        int width = getWidth();
        int cols = columns();
        UnaryOperator<SDVariable> recurrence = stateToState == null ? null
                : PixelLstm.recurrence(sd, params.get("w" + stateToState.id()), stateToState.mask());
        SDVariable[] rows = PixelLstm.split(sd, inputToState, height, 2);
        List<SDVariable> shifted = new ArrayList<>();
        for (int i = 0; i < height; i++) {
            // row i moves i columns to the right: i zeros before it, H - 1 - i after
            shifted.add(height == 1 ? rows[i] : sd.nn().pad(rows[i],
                    sd.constant(Nd4j.createFromArray(new int[][]{{0, 0}, {0, 0}, {0, 0}, {i, height - 1 - i}})), 0.0));
        }
        SDVariable[] columns = PixelLstm.split(sd, PixelLstm.concat(sd, 2, shifted), cols, 3);
        List<SDVariable> hidden = new ArrayList<>();
        SDVariable state = null;
        SDVariable cell = null;
        for (int c = 0; c < cols; c++) {
            SDVariable pre = columns[c];
            if (c > 0) {
                pre = pre.add(recurrence.apply(state));
            }
            SDVariable[] next = PixelLstm.step(sd, pre, cell, states);
            state = next[0];
            cell = next[1];
            hidden.add(state);
        }
        SDVariable[] skewedRows = PixelLstm.split(sd, PixelLstm.concat(sd, 3, hidden), height, 2);
        List<SDVariable> unskewed = new ArrayList<>();
        for (int i = 0; i < height; i++) {
            unskewed.add(height == 1 ? skewedRows[i] : skewedRows[i].get(SDIndex.all(), SDIndex.all(), SDIndex.all(),
                    SDIndex.interval(i, i + width)));
        }
        return PixelLstm.concat(sd, 2, unskewed);
    }

    /** As {@link PixelLayer}, but with the forget gates' biases at 1 in both directions. */
    @Override
    public void initializeParameters(Map<String, INDArray> params) {
        super.initializeParameters(params);
        for (int l = 1; l <= layers; l++) {
            PixelLstm.openForgetGates(params.get("bli" + l), getFilters());
            PixelLstm.openForgetGates(params.get("bri" + l), getFilters());
        }
    }

    /** Number of Diagonal BiLSTM layers L. */
    public int getLayers() {
        return layers;
    }

    public void setLayers(int layers) {
        this.layers = layers;
    }
}
