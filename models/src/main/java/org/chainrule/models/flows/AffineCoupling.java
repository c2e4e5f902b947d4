package org.chainrule.models.flows;

import com.typesafe.config.Config;
import org.chainrule.models.Seeds;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.enums.WeightsFormat;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.layers.convolution.config.Conv2DConfig;
import org.nd4j.linalg.api.ops.impl.layers.convolution.config.PaddingMode;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The affine coupling layer of RealNVP (Dinh, Sohl-Dickstein and Bengio 2017, "Density estimation using Real NVP").
 * A binary mask splits the event into a conditioning part A and a transformed part B:
 * <pre>
 *   y_A = x_A,    y_B = x_B * exp(s(x_A)) + t(x_A),    log |det dy/dx| = sum over B of s(x_A)
 * </pre>
 * The Jacobian is triangular with diagonal 1 on A and {@code exp(s)} on B, so the log-determinant is exact and cheap
 * and the inverse {@code x_B = (y_B - t(y_A)) * exp(-s(y_A))} needs only one more pass of the conditioner, which
 * itself never has to be inverted.
 *
 * <p><b>Masks.</b> For vectors {@code [batch, D]}: {@code "alternate"} (A = indices {@code i} with
 * {@code i % 2 == parity}) and {@code "halves"} (A = the first {@code D/2} indices for parity 0, the rest for
 * parity 1). For images {@code [batch, C, H, W]}: {@code "checkerboard"} (A = pixels with
 * {@code (h + w) % 2 == parity}, in every channel) and {@code "channel"} (A = channels {@code [0, C/2)} for parity
 * 0, {@code [C/2, C)} for parity 1). Stacking couplings of alternating parity lets every entry be transformed.
 *
 * <p><b>One code path: the mask-multiply formulation</b> of the paper (section 3.4). With {@code b} the 0/1 mask of
 * A, the conditioner reads {@code b * x} and its raw outputs are multiplied by {@code 1 - b}, so
 * {@code y = x * exp(s) + t} with {@code s = t = 0} on A. This serves all four masks without any slicing (ND4J's
 * strided-slice backprop is fragile on 1-row batches) and keeps the output in the input's layout. For the channel
 * mask it costs a little: the conditioner's first layer sees the B half as zeros and its heads also compute the
 * (discarded) A half, roughly twice the necessary work of a conditioner on the A half alone; the per-channel scale
 * entries of the A channels are likewise unused (they get zero gradient).
 *
 * <p><b>Conditioner.</b> Vectors: an MLP on {@code b * x} with ReLU hidden layers of the given widths and two linear
 * heads to {@code D} (raw s and raw t; together the paper's single output layer of width 2D). Images: a small
 * convolutional net (NCHW, same padding): the first hidden layer is a 3x3 convolution, further hidden layers 1x1
 * convolutions, all with ReLU, and two 3x3 heads to {@code C} channels (raw s and raw t, together 2C channels);
 * hidden {@code {h, h}} is conv3x3(h) - ReLU - conv1x1(h) - ReLU - conv3x3(2C), the paper's structure made small.
 * An empty hidden list gives a linear (vectors) or single-convolution (images) conditioner.
 *
 * <p><b>Stable scale.</b> {@code "tanh"}: {@code s = scale * tanh(raw_s)} with a learned scale per dimension
 * ({@code [1, D]}) or per channel ({@code [1, C, 1, 1]}), RealNVP's choice, so {@code |s| <= |scale|} whatever the
 * input. {@code "sigmoid"}: Glow's {@code exp(s) = sigmoid(raw_s + 2)} (Kingma and Dhariwal 2018), so the forward map
 * only contracts B, here floored at {@link #SIGMOID_FLOOR} so that the inverse's expansion is bounded too
 * ({@code |s| <= log(1 / SIGMOID_FLOOR)}).
 *
 * <p><b>Initialisation.</b> Hidden weights He-normal, biases zero, both heads zero, scale one: the coupling starts as
 * the identity for {@code "tanh"}; for {@code "sigmoid"} it starts as Glow's does, a uniform contraction of B by
 * {@code sigmoid(2) ~ 0.881} with zero shift. With zero heads only the heads get a gradient at the first step.
 *
 * <p>Parameters: {@code w<i>, b<i>} for hidden layer {@code i}, {@code ws, bs, wt, bt} for the heads, and
 * {@code scale} (tanh only). Dense weights are {@code [in, out]} with biases {@code [1, out]}; convolution kernels
 * {@code [kH, kW, in, out]} (YXIO) with biases {@code [out]}.
 */
public final class AffineCoupling extends DescribedTransform {
    private static final long serialVersionUID = 1L;

    /** Mask names for vectors {@code [D]}. */
    public static final List<String> VECTOR_MASKS = List.of("alternate", "halves");
    /** Mask names for images {@code [C, H, W]}. */
    public static final List<String> IMAGE_MASKS = List.of("checkerboard", "channel");
    /** Scale parametrisations. */
    public static final List<String> SCALE_TYPES = List.of("tanh", "sigmoid");

    /**
     * Lower bound of {@code exp(s)} in the sigmoid parametrisation: {@code exp(s) = eps + (1 - eps) sigmoid(raw + 2)}.
     * Glow's form without it lets the inverse expand without bound (to infinity for raw scales below about -700 in
     * double, -90 in float); with it both directions stay finite for any finite input, at a change of at most 1e-4
     * in the scale.
     */
    public static final double SIGMOID_FLOOR = 1e-4;

    private final long[] shape;
    private final String mask;
    private final int parity;
    private final int[] hidden;
    private final String scaleType;

    /**
     * @param shape     event shape, {@code [D]} or {@code [C, H, W]}
     * @param mask      {@code "alternate"} / {@code "halves"} for vectors, {@code "checkerboard"} / {@code "channel"}
     *                  for images
     * @param parity    0 or 1: which half of the mask is the conditioning part A (see the class comment)
     * @param hidden    hidden widths (vectors) or channel counts (images), possibly empty
     * @param scaleType {@code "tanh"} or {@code "sigmoid"}
     */
    public AffineCoupling(long[] shape, String mask, int parity, int[] hidden, String scaleType) {
        this.shape = shape.clone();
        this.mask = mask;
        this.parity = parity;
        this.hidden = hidden.clone();
        this.scaleType = scaleType;
        if (parity != 0 && parity != 1) {
            throw new IllegalArgumentException("coupling parity must be 0 or 1, got " + parity);
        }
        if (!SCALE_TYPES.contains(scaleType)) {
            throw new IllegalArgumentException("unknown coupling scaleType '" + scaleType + "'; known: " + SCALE_TYPES);
        }
        for (int h : hidden) {
            if (h < 1) {
                throw new IllegalArgumentException("hidden sizes must be positive: " + Arrays.toString(hidden));
            }
        }
        if (shape.length == 1) {
            if (!VECTOR_MASKS.contains(mask)) {
                throw new IllegalArgumentException("mask '" + mask + "' is not one for vectors " + VECTOR_MASKS);
            }
            if (shape[0] < 2) {
                throw new IllegalArgumentException("a coupling needs at least 2 dimensions, got " + shape[0]);
            }
        } else if (shape.length == 3) {
            if (!IMAGE_MASKS.contains(mask)) {
                throw new IllegalArgumentException("mask '" + mask + "' is not one for images " + IMAGE_MASKS);
            }
            if (mask.equals("channel") && shape[0] < 2) {
                throw new IllegalArgumentException("a channel mask needs at least 2 channels, got " + shape[0]);
            }
            if (mask.equals("checkerboard") && shape[1] * shape[2] < 2) {
                throw new IllegalArgumentException("a checkerboard mask needs at least 2 pixels, got "
                        + shape[1] + "x" + shape[2]);
            }
        } else {
            throw new IllegalArgumentException("a coupling takes [D] or [C, H, W] events, got "
                    + Arrays.toString(shape));
        }
    }

    /** A vector coupling: {@code mask} is {@code "alternate"} or {@code "halves"}. */
    public static AffineCoupling vector(int dim, String mask, int parity, int[] hidden, String scaleType) {
        return new AffineCoupling(new long[]{dim}, mask, parity, hidden, scaleType);
    }

    /**
     * An image coupling with RealNVP's conditioner shape conv3x3(h) - ReLU - conv1x1(h) - ReLU - conv3x3(2C):
     * {@code mask} is {@code "checkerboard"} or {@code "channel"}.
     */
    public static AffineCoupling image(long[] chw, String mask, int parity, int hiddenChannels, String scaleType) {
        return new AffineCoupling(chw, mask, parity, new int[]{hiddenChannels, hiddenChannels}, scaleType);
    }

    /** Reads the description {@link #toMap()} wrote. */
    public static AffineCoupling fromConfig(Config c) {
        return new AffineCoupling(Transforms.shape(c, "shape"), c.getString("mask"), c.getInt("parity"),
                c.getIntList("hidden").stream().mapToInt(Integer::intValue).toArray(), c.getString("scaleType"));
    }

    private boolean isImage() {
        return shape.length == 3;
    }

    @Override
    public long[] inputShape() {
        return shape.clone();
    }

    public String mask() {
        return mask;
    }

    public int parity() {
        return parity;
    }

    /**
     * The 0/1 mask of the conditioning part A over one event, shaped like the event: 1 where the entry passes
     * unchanged and feeds the conditioner, 0 where it is transformed.
     */
    public INDArray conditioningMask(DataType type) {
        INDArray m = Nd4j.zeros(type, shape);
        if (!isImage()) {
            long d = shape[0];
            for (long i = 0; i < d; i++) {
                boolean a = mask.equals("alternate") ? i % 2 == parity : (i < d / 2) == (parity == 0);
                m.putScalar(i, a ? 1 : 0);
            }
        } else {
            long c = shape[0], h = shape[1], w = shape[2];
            for (long ci = 0; ci < c; ci++) {
                for (long hi = 0; hi < h; hi++) {
                    for (long wi = 0; wi < w; wi++) {
                        boolean a = mask.equals("checkerboard") ? (hi + wi) % 2 == parity
                                : (ci < c / 2) == (parity == 0);
                        m.putScalar(new long[]{ci, hi, wi}, a ? 1 : 0);
                    }
                }
            }
        }
        return m;
    }

    @Override
    public Map<String, long[]> parameterShapes() {
        Map<String, long[]> m = new LinkedHashMap<>();
        long in = shape[0];
        for (int i = 0; i < hidden.length; i++) {
            long k = i == 0 ? 3 : 1;
            m.put("w" + i, isImage() ? new long[]{k, k, in, hidden[i]} : new long[]{in, hidden[i]});
            m.put("b" + i, isImage() ? new long[]{hidden[i]} : new long[]{1, hidden[i]});
            in = hidden[i];
        }
        for (String head : new String[]{"s", "t"}) {
            m.put("w" + head, isImage() ? new long[]{3, 3, in, shape[0]} : new long[]{in, shape[0]});
            m.put("b" + head, isImage() ? new long[]{shape[0]} : new long[]{1, shape[0]});
        }
        if (scaleType.equals("tanh")) {
            m.put("scale", isImage() ? new long[]{1, shape[0], 1, 1} : new long[]{1, shape[0]});
        }
        return m;
    }

    @Override
    public void initialize(Map<String, INDArray> params, long seed) {
        SplittableRandom r = new SplittableRandom(Seeds.derive(seed, 0));
        for (int i = 0; i < hidden.length; i++) {
            INDArray w = params.get("w" + i);
            long fanIn = w.length() / w.size(w.rank() - 1);
            double std = Math.sqrt(2.0 / fanIn);
            double[] v = new double[(int) w.length()];
            for (int j = 0; j < v.length; j++) {
                v[j] = std * r.nextGaussian();
            }
            w.assign(Nd4j.create(v, w.shape(), w.dataType()));
            params.get("b" + i).assign(0);
        }
        for (String name : new String[]{"ws", "bs", "wt", "bt"}) {
            params.get(name).assign(0);
        }
        if (scaleType.equals("tanh")) {
            params.get("scale").assign(1);
        }
    }

    @Override
    public Flowed forward(SameDiff sd, SDVariable x, Map<String, SDVariable> params) {
        SDVariable[] st = scaleAndShift(sd, x, params);
        SDVariable y = x.mul(sd.math().exp(st[0])).add(st[1]);
        return new Flowed(y, Flows.sumPerExample(st[0], shape));
    }

    @Override
    public Flowed inverse(SameDiff sd, SDVariable z, Map<String, SDVariable> params) {
        // z_A = x_A, so the conditioner sees the same input as in the forward pass
        SDVariable[] st = scaleAndShift(sd, z, params);
        SDVariable x = z.sub(st[1]).mul(sd.math().exp(st[0].neg()));
        return new Flowed(x, Flows.sumPerExample(st[0], shape).neg());
    }

    /** {@code s} and {@code t}, zero on A, from the A part of {@code v}. */
    private SDVariable[] scaleAndShift(SameDiff sd, SDVariable v, Map<String, SDVariable> p) {
        INDArray a = conditioningMask(v.dataType()).reshape(oneBatch(shape));
        SDVariable keep = sd.constant(a);
        SDVariable change = sd.constant(a.rsub(1.0));
        SDVariable h = v.mul(keep);
        for (int i = 0; i < hidden.length; i++) {
            h = sd.nn().relu(layer(sd, h, p.get("w" + i), p.get("b" + i), i == 0 ? 3 : 1), 0.0);
        }
        SDVariable rawS = layer(sd, h, p.get("ws"), p.get("bs"), 3);
        SDVariable rawT = layer(sd, h, p.get("wt"), p.get("bt"), 3);
        SDVariable s = scaleType.equals("tanh")
                ? sd.math().tanh(rawS).mul(p.get("scale"))
                : sd.math().log(sd.nn().sigmoid(rawS.add(2.0)).mul(1 - SIGMOID_FLOOR).add(SIGMOID_FLOOR));
        return new SDVariable[]{s.mul(change), rawT.mul(change)};
    }

    static long[] oneBatch(long[] shape) {
        long[] s = new long[shape.length + 1];
        s[0] = 1;
        System.arraycopy(shape, 0, s, 1, shape.length);
        return s;
    }

    /** A dense layer (vectors) or a same-padded stride-1 NCHW convolution of size k (images). */
    private SDVariable layer(SameDiff sd, SDVariable h, SDVariable w, SDVariable b, int k) {
        if (!isImage()) {
            return h.mmul(w).add(b);
        }
        Conv2DConfig conf = Conv2DConfig.builder().kH(k).kW(k).sH(1).sW(1).dH(1).dW(1).pH(0).pW(0)
                .paddingMode(PaddingMode.SAME).dataFormat(Conv2DConfig.NCHW).weightsFormat(WeightsFormat.YXIO)
                .build();
        return sd.cnn().conv2d(h, w, b, conf);
    }

    @Override
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("kind", "affine-coupling");
        List<Long> s = new ArrayList<>();
        for (long v : shape) {
            s.add(v);
        }
        m.put("shape", s);
        m.put("mask", mask);
        m.put("parity", parity);
        List<Integer> hs = new ArrayList<>();
        for (int v : hidden) {
            hs.add(v);
        }
        m.put("hidden", hs);
        m.put("scaleType", scaleType);
        return m;
    }
}
