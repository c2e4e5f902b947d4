package org.chainrule.models.pixelcnn;

import org.nd4j.autodiff.samediff.SDIndex;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.enums.WeightsFormat;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.layers.convolution.config.Conv2DConfig;
import org.nd4j.linalg.api.ops.impl.layers.convolution.config.PaddingMode;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.List;
import java.util.function.UnaryOperator;

import static org.chainrule.models.pixelcnn.MaskedConvolution.blocks;

/**
 * The LSTM step that the PixelRNN layers ({@link RowLstmLayer}, {@link DiagonalBiLstmLayer}) apply to a row or a
 * column of pre-activations at a time (van den Oord, Kalchbrenner and Kavukcuoglu 2016, "Pixel Recurrent Neural
 * Networks", section 3.1, equation 3):
 * <pre>
 *   [o, f, i, g] = [sigmoid, sigmoid, sigmoid, tanh](K_ss * h_prev + K_is * x)
 *   c = f . c_prev + i . g,    h = o . tanh(c)
 * </pre>
 * The 4h pre-activation channels are the gates o, f, i, g in that order, h each.
 */
final class PixelLstm {
    private PixelLstm() {
    }

    /**
     * The state-to-state convolution that every step of one recurrence applies to the previous state: a same-padded
     * stride-1 NCHW convolution (as {@link MaskedConvolution#conv}) whose mask is multiplied into the weights once,
     * not once per step, and not at all when it keeps every tap.
     *
     * @param weight {@code [kH, kW, h, 4h]}
     * @param mask   the weight's shape, 0/1
     */
    static UnaryOperator<SDVariable> recurrence(SameDiff sd, SDVariable weight, INDArray mask) {
        Conv2DConfig conf = Conv2DConfig.builder()
                .kH(mask.size(0)).kW(mask.size(1)).sH(1).sW(1).dH(1).dW(1).pH(0).pW(0)
                .paddingMode(PaddingMode.SAME).dataFormat(Conv2DConfig.NCHW).weightsFormat(WeightsFormat.YXIO)
                .build();
        boolean full = mask.minNumber().doubleValue() == 1.0;
        SDVariable masked = full ? weight : weight.mul(sd.constant(mask.castTo(weight.dataType())));
        return state -> sd.cnn().conv2d(state, masked, conf);
    }

    /**
     * One step.
     *
     * @param pre  pre-activations {@code [batch, 4h, ...]}
     * @param cell the previous cell state {@code [batch, h, ...]}, or null for the first step (c = 0): the forget gate
     *             is then not built at all, since DL4J's backward pass breaks on an op whose output nothing reads
     * @return the hidden state and the cell state
     */
    static SDVariable[] step(SameDiff sd, SDVariable pre, SDVariable cell, int h) {
        // one split op when all four gates are used (fewer ops per step: a recurrence has hundreds of steps)
        SDVariable[] q = cell == null ? new SDVariable[]{gate(pre, 0, h), null, gate(pre, 2, h), gate(pre, 3, h)}
                : sd.split(pre, 4, 1);
        SDVariable o = sd.nn().sigmoid(q[0]);
        SDVariable i = sd.nn().sigmoid(q[2]);
        SDVariable g = sd.math().tanh(q[3]);
        SDVariable c = cell == null ? i.mul(g) : sd.nn().sigmoid(q[1]).mul(cell).add(i.mul(g));
        return new SDVariable[]{o.mul(sd.math().tanh(c)), c};
    }

    /** Gate q (0 = o, 1 = f, 2 = i, 3 = g) of 4-D pre-activations. */
    private static SDVariable gate(SDVariable pre, int q, int h) {
        return pre.get(SDIndex.all(), SDIndex.interval(q * h, (q + 1) * h), SDIndex.all(), SDIndex.all());
    }

    /**
     * {@code x} cut into {@code n} equal parts along {@code axis}, each keeping the axis (size 1 for n rows). One split
     * op, not n slices: the gradient of a slice is a zero array of the whole input's size, so slicing a map row by
     * row costs O(H) full maps in the backward pass where a split costs one.
     */
    static SDVariable[] split(SameDiff sd, SDVariable x, int n, int axis) {
        return n == 1 ? new SDVariable[]{x} : sd.split(x, n, axis);
    }

    /** The parts concatenated along {@code axis}. */
    static SDVariable concat(SameDiff sd, int axis, List<SDVariable> parts) {
        return parts.size() == 1 ? parts.get(0) : sd.concat(axis, parts.toArray(new SDVariable[0]));
    }

    /** Colour groups of the 4h gate pre-activations: the state's groups once per gate o, f, i, g. */
    static int[] gateGroups(int h, int colours) {
        int[] state = blocks(h, colours);
        int[] g = new int[4 * h];
        for (int q = 0; q < 4; q++) {
            System.arraycopy(state, 0, g, q * h, h);
        }
        return g;
    }

    /**
     * Sets the forget gates' part of a 4h bias to 1, so that early in training a cell keeps what earlier steps wrote
     * (Gers, Schmidhuber and Cummins 2000, "Learning to Forget").
     */
    static void openForgetGates(INDArray bias, int h) {
        bias.reshape(-1).get(NDArrayIndex.interval(h, 2 * h)).assign(1.0);
    }
}
