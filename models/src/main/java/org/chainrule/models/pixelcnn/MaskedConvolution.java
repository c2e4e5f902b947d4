package org.chainrule.models.pixelcnn;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.enums.WeightsFormat;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.layers.convolution.config.Conv2DConfig;
import org.nd4j.linalg.api.ops.impl.layers.convolution.config.PaddingMode;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Masked convolutions, the device that makes a convolutional network autoregressive over pixels (van den Oord,
 * Kalchbrenner and Kavukcuoglu 2016, "Pixel Recurrent Neural Networks", section 3.4).
 *
 * <p>A mask is a constant 0/1 array of a kernel's shape, {@code [kH, kW, in, out]} (ND4J's YXIO layout), multiplied
 * into the weights once per step; the convolution then runs as an ordinary same-padded stride-1 NCHW convolution, so a
 * masked weight contributes exactly zero to the output and to every gradient. Zero padding adds nothing either.
 *
 * <p>Colour: with C colour channels, every feature map is split into C groups in R, G, B order (the group of a feature
 * is given per layer as an {@code int[]}), and at the kernel centre (the current pixel) output group g may read input
 * group h only when h &lt; g (mask A, the first layer: a sub-pixel never sees itself) or h &lt;= g (mask B, every later
 * layer: a feature of group g may read features of group g, which by induction saw only earlier sub-pixels). Off the
 * centre a tap sees every channel of a pixel that precedes the current one in raster order or none of a later one.
 */
public final class MaskedConvolution {
    private MaskedConvolution() {
    }

    /** Which kernel taps a mask keeps, by their offset (dy, dx) from the kernel centre. */
    public enum Kind {
        /** Rows above, the same row to the left, and at the centre the strictly earlier colour groups. */
        A,
        /** As A, but at the centre also the output's own group. */
        B,
        /**
         * Rows above and the whole current row (dy &lt;= 0), every channel: the vertical stack of Gated PixelCNN, which
         * may see the current row because it reaches the output only through a down-shift.
         */
        VERTICAL,
        /**
         * Rows strictly above (dy &lt; 0), every channel. A 3x1 kernel of this kind has one live tap, the pixel
         * directly above: a 1x1 convolution of the map shifted down by one row.
         */
        ABOVE
    }

    /**
     * Colour groups of {@code n} features split into {@code colours} consecutive blocks (R first).
     *
     * @throws IllegalArgumentException if {@code n} is not a multiple of {@code colours}
     */
    public static int[] blocks(int n, int colours) {
        if (n % colours != 0) {
            throw new IllegalArgumentException(n + " features cannot be split into " + colours + " colour groups");
        }
        int[] g = new int[n];
        for (int f = 0; f < n; f++) {
            g[f] = f / (n / colours);
        }
        return g;
    }

    /**
     * Colour groups of a gate's pre-activation of {@code 2p} features: the two halves (the tanh and the sigmoid
     * inputs) are each split into blocks, so feature f and feature f + p, which the gate multiplies, share a group.
     */
    public static int[] gateBlocks(int p, int colours) {
        int[] half = blocks(p, colours);
        int[] g = new int[2 * p];
        for (int f = 0; f < p; f++) {
            g[f] = half[f];
            g[f + p] = half[f];
        }
        return g;
    }

    /** Every feature in group 0: no colour structure (single-channel images, or maps that carry none). */
    public static int[] oneGroup(int n) {
        return new int[n];
    }

    /**
     * The mask of a {@code kH x kW} kernel (both odd, so the centre is a tap) from features of the given input groups
     * to features of the given output groups.
     *
     * @return {@code [kH, kW, in, out]}, 0/1
     */
    public static INDArray mask(int kH, int kW, int[] inGroups, int[] outGroups, Kind kind, DataType type) {
        if (kH % 2 == 0 || kW % 2 == 0) {
            throw new IllegalArgumentException("masked kernels need odd sizes, got " + kH + "x" + kW);
        }
        int in = inGroups.length;
        int out = outGroups.length;
        float[] m = new float[kH * kW * in * out];
        for (int r = 0; r < kH; r++) {
            for (int c = 0; c < kW; c++) {
                int dy = r - kH / 2;
                int dx = c - kW / 2;
                for (int i = 0; i < in; i++) {
                    for (int o = 0; o < out; o++) {
                        if (allowed(kind, dy, dx, inGroups[i], outGroups[o])) {
                            m[((r * kW + c) * in + i) * out + o] = 1f;
                        }
                    }
                }
            }
        }
        return Nd4j.create(m, new long[]{kH, kW, in, out}, DataType.FLOAT).castTo(type);
    }

    /** Whether the tap at offset (dy, dx) may carry input group {@code in} to output group {@code out}. */
    static boolean allowed(Kind kind, int dy, int dx, int in, int out) {
        return switch (kind) {
            case A -> dy < 0 || (dy == 0 && dx < 0) || (dy == 0 && dx == 0 && in < out);
            case B -> dy < 0 || (dy == 0 && dx < 0) || (dy == 0 && dx == 0 && in <= out);
            case VERTICAL -> dy <= 0;
            case ABOVE -> dy < 0;
        };
    }

    /**
     * A same-padded stride-1 NCHW convolution with the mask multiplied into the weights.
     *
     * @param input  {@code [batch, in, H, W]}
     * @param weight {@code [kH, kW, in, out]}, the mask's shape
     * @param bias   {@code [out]}, or null
     */
    public static SDVariable conv(SameDiff sd, SDVariable input, SDVariable weight, SDVariable bias, INDArray mask) {
        Conv2DConfig conf = Conv2DConfig.builder()
                .kH(mask.size(0)).kW(mask.size(1)).sH(1).sW(1).dH(1).dW(1).pH(0).pW(0)
                .paddingMode(PaddingMode.SAME).dataFormat(Conv2DConfig.NCHW).weightsFormat(WeightsFormat.YXIO)
                .build();
        SDVariable masked = weight.mul(sd.constant(mask.castTo(weight.dataType())));
        return bias == null ? sd.cnn().conv2d(input, masked, conf) : sd.cnn().conv2d(input, masked, bias, conf);
    }

    /** Live inputs per output unit of a mask, averaged over outputs: the fan-in that initialisation should scale by. */
    static double fanIn(INDArray mask) {
        return Math.max(1.0, mask.sumNumber().doubleValue() / mask.size(3));
    }
}
