package org.chainrule.models.pixelcnn;

import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Fast ancestral sampling for PixelCNN and Gated PixelCNN by caching, after Ramachandran et al. 2017 ("Fast
 * Generation for Convolutional Autoregressive Models"): keep every activation computed so far, and compute each one
 * exactly once, when the last sub-pixel it depends on has been drawn, instead of re-running the whole network for
 * every sub-pixel. The network is evaluated in plain Java arrays on the masked weights (weights times masks, copied
 * once from the trained parameters).
 *
 * <p>Why one pass suffices. Every map of these networks is split into colour groups, and through the masks the
 * activation of group g at position (i, j), in any layer, depends only on the sub-pixels before (i, j, g) in the
 * sampling order: pixels earlier in raster order (all channels) and the channels of (i, j) before g. So walking the
 * sub-pixels in that order and computing, at sub-pixel (i, j, g), group g of position (i, j) in every layer from the
 * layer below finds all its inputs already final: earlier positions were finished when the walk passed them, and at
 * (i, j) a mask-B tap reads groups up to g (computed just before, in this step or earlier steps) and the first layer's
 * mask-A tap reads the drawn channels below g. The logits of (i, j, g) are then those of the graph, and the next
 * sub-pixel can be drawn. Gated PixelCNN's vertical stack is the exception: it sees the whole current row, so row i
 * of it is computed once row i has been drawn; it reaches the horizontal stack only through the down-shifted link,
 * i.e. from row i + 1 on. A whole sample thus costs one forward pass over one image, against D passes (over the whole
 * batch) for the naive loop; and the maps after a ReLU are sparse, so zero inputs are skipped.
 *
 * <p>Arithmetic. Every value is a float, formed in the order of the graph's operations (convolution sum, then its
 * bias, then the class-label bias; residual and link additions as in {@link PixelLayer#logits}); the masked weights
 * are the graph's own products. Only the order of the terms within a convolution's sum, and the last bits of tanh and
 * sigmoid, differ from ND4J's kernels, so the logits agree with the graph's to float rounding (about 1e-6 relative),
 * and the conditionals are drawn by the same {@link org.chainrule.models.conditionals.OutputFamily#sample} code from
 * the same seeds. A draw can therefore differ from the naive sampler's only if its uniform falls within that rounding
 * of a boundary of the conditional's cumulative distribution: of the order of 1e-6 per draw at worst.
 *
 * <p>A sampler holds only immutable weights; {@link #pass()} gives the mutable maps of one image at a time.
 */
abstract class CachedSampler {
    final int height;
    final int width;
    final int channels;
    final int perDim;
    /** The graph's scaling of the event to [0, 1] ({@link PixelLayer#image}): a float multiplication. */
    final float scale;
    final List<Kernel> kernels = new ArrayList<>();

    /** Decides sub-pixel d from its logits at {@code logits[offset .. offset + P)}: a draw or a given value. */
    interface Step {
        float value(int d, float[] logits, int offset);
    }

    private CachedSampler(PixelLayer layer) {
        this.height = layer.getHeight();
        this.width = layer.getWidth();
        this.channels = layer.getChannels();
        this.perDim = layer.outputFamily().paramsPerDim();
        this.scale = layer.getLevels() == 2 ? 1f : (float) (1.0 / (layer.getLevels() - 1));
    }

    /**
     * The cached sampler of a PixelCNN or Gated PixelCNN layer.
     *
     * @param params the trained parameters by name (DL4J's parameter table); they are copied
     */
    /** Whether this layer kind has a cached sampler (PixelCNN and Gated PixelCNN; the PixelRNNs sample naively). */
    static boolean supports(PixelLayer layer) {
        return layer instanceof PixelCnnLayer || layer instanceof GatedPixelCnnLayer;
    }

    static CachedSampler of(PixelLayer layer, Map<String, INDArray> params) {
        if (layer instanceof PixelCnnLayer p) {
            return new Plain(p, params);
        }
        if (layer instanceof GatedPixelCnnLayer g) {
            return new Gated(g, params);
        }
        throw new IllegalArgumentException("no cached sampler for " + layer.getClass().getSimpleName());
    }

    /** Fresh maps for one image at a time (allocated once, reused for many). Not for several threads at once. */
    abstract Pass pass();

    /** A kernel of the layer with the output channels grouped as given, registered for its class-label bias. */
    Kernel kernel(PixelLayer layer, List<PixelLayer.Conv> convs, String id, Map<String, INDArray> params,
                  int[] outGroups) {
        PixelLayer.Conv conv = layer.find(convs, id);
        Kernel k = new Kernel(conv, params, outGroups, layer.getContextSize() > 0 && conv.label(), kernels.size());
        kernels.add(k);
        return k;
    }

    /** A kernel whose output channels form the usual consecutive colour blocks ({@link MaskedConvolution#blocks}). */
    Kernel kernel(PixelLayer layer, List<PixelLayer.Conv> convs, String id, Map<String, INDArray> params) {
        int out = (int) layer.find(convs, id).out();
        return kernel(layer, convs, id, params, MaskedConvolution.blocks(out, layer.getChannels()));
    }

    /** The mutable state of one image: every map the walk has computed so far. */
    abstract class Pass {
        final float[] image = new float[height * width * channels];
        final float[] values = new float[height * width * channels];
        final float[][] labels = new float[kernels.size()][];

        /**
         * Walks the sub-pixels in sampling order: computes each one's logits, then takes its value from the step.
         *
         * @param context the row's one-hot label ({@code [K]}), or null for an unconditional model
         * @return the image's values (levels), row-major over {@code [H, W, C]}; a view reused by the next run
         */
        float[] run(float[] context, Step step) {
            reset();
            for (Kernel k : kernels) {
                labels[k.index] = k.labelBias(context);
            }
            for (int i = 0; i < height; i++) {
                startRow(i);
                for (int j = 0; j < width; j++) {
                    int pos = i * width + j;
                    for (int g = 0; g < channels; g++) {
                        float[] logits = subPixel(i, j, g);
                        int d = pos * channels + g;
                        float v = step.value(d, logits, d * perDim);
                        values[d] = v;
                        image[d] = v * scale;
                    }
                }
            }
            return values;
        }

        /** Clears what a previous image left (nothing would be read before it is written; this keeps it obvious). */
        void reset() {
            Arrays.fill(image, 0f);
            Arrays.fill(values, 0f);
        }

        /** Hook at the start of row i, all earlier rows being drawn. */
        void startRow(int i) {
        }

        /**
         * Computes group g of position (i, j) in every layer.
         *
         * @return the logits map {@code [H, W, C * P]}, laid out as the flat logits of the graph (sub-pixel d at d P)
         */
        abstract float[] subPixel(int i, int j, int g);

        /** Kernel k at (i, j), group g, from map {@code src} into map {@code dst}. */
        void conv(Kernel k, float[] src, boolean relu, int i, int j, int g, float[] dst) {
            k.apply(src, relu, height, width, i, j, g, dst, labels[k.index]);
        }

        float[] map(Kernel k) {
            return new float[height * width * k.out];
        }
    }

    /** PixelCNN ({@link PixelCnnLayer}): the first mask-A layer, the residual blocks, the output head. */
    private static final class Plain extends CachedSampler {
        private final Kernel first;
        private final Kernel[] a;
        private final Kernel[] b;
        private final Kernel[] c;
        private final Kernel o1;
        private final Kernel o2;

        Plain(PixelCnnLayer layer, Map<String, INDArray> params) {
            super(layer);
            List<PixelLayer.Conv> convs = layer.convolutions();
            int blocks = layer.getBlocks();
            first = kernel(layer, convs, "0", params);
            a = new Kernel[blocks];
            b = new Kernel[blocks];
            c = new Kernel[blocks];
            for (int r = 0; r < blocks; r++) {
                a[r] = kernel(layer, convs, (r + 1) + "a", params);
                b[r] = kernel(layer, convs, (r + 1) + "b", params);
                c[r] = kernel(layer, convs, (r + 1) + "c", params);
            }
            o1 = kernel(layer, convs, "o1", params);
            o2 = kernel(layer, convs, "o2", params);
        }

        @Override
        Pass pass() {
            return new Pass() {
                // stream[r]: the residual stream after r blocks; inner maps of each block before their ReLU
                private final float[][] stream = new float[a.length + 1][];
                private final float[][] ta = new float[a.length][];
                private final float[][] tb = new float[a.length][];
                private final float[][] tc = new float[a.length][];
                private final float[] hidden = map(o1);
                private final float[] logits = map(o2);

                {
                    stream[0] = map(first);
                    for (int r = 0; r < a.length; r++) {
                        ta[r] = map(a[r]);
                        tb[r] = map(b[r]);
                        tc[r] = map(c[r]);
                        stream[r + 1] = map(c[r]);
                    }
                }

                @Override
                float[] subPixel(int i, int j, int g) {
                    conv(first, image, false, i, j, g, stream[0]);
                    for (int r = 0; r < a.length; r++) {
                        conv(a[r], stream[r], true, i, j, g, ta[r]);
                        conv(b[r], ta[r], true, i, j, g, tb[r]);
                        conv(c[r], tb[r], true, i, j, g, tc[r]);
                        c[r].add(stream[r], tc[r], (i * width + j), g, stream[r + 1]);
                    }
                    conv(o1, stream[a.length], true, i, j, g, hidden);
                    conv(o2, hidden, true, i, j, g, logits);
                    return logits;
                }
            };
        }
    }

    /**
     * Gated PixelCNN ({@link GatedPixelCnnLayer}): the vertical stack row by row, once a row is drawn; the horizontal
     * stack, its link from the vertical stack's row above, its gates and residuals, and the head per sub-pixel.
     */
    private static final class Gated extends CachedSampler {
        private final int filters;
        private final Kernel[] v;
        private final Kernel[] h;
        private final Kernel[] link;
        private final Kernel[] res;
        private final Kernel o1;
        private final Kernel o2;

        Gated(GatedPixelCnnLayer layer, Map<String, INDArray> params) {
            super(layer);
            List<PixelLayer.Conv> convs = layer.convolutions();
            int layers = layer.getLayers();
            int colours = layer.getChannels();
            filters = layer.getFilters();
            int[] gate = MaskedConvolution.gateBlocks(filters, colours);
            v = new Kernel[layers];
            h = new Kernel[layers];
            link = new Kernel[layers];
            res = new Kernel[layers];
            for (int l = 0; l < layers; l++) {
                // the vertical stack is computed a whole row at a time: one group
                v[l] = kernel(layer, convs, "v" + l, params, MaskedConvolution.oneGroup(2 * filters));
                h[l] = kernel(layer, convs, "h" + l, params, gate);
                // the link's outputs are computed with the horizontal pre-activation's group they are added to
                link[l] = kernel(layer, convs, "l" + l, params, gate);
                res[l] = kernel(layer, convs, "r" + l, params);
            }
            o1 = kernel(layer, convs, "o1", params);
            o2 = kernel(layer, convs, "o2", params);
        }

        @Override
        Pass pass() {
            int layers = v.length;
            return new Pass() {
                private final float[][] vPre = new float[layers][];
                private final float[][] vGate = new float[layers][];
                private final float[][] hPre = new float[layers][];
                private final float[][] linked = new float[layers][];
                private final float[][] hGate = new float[layers][];
                private final float[][] out = new float[layers][];
                // hStack[l]: the horizontal stack's input to layer l (hStack[0] is the image)
                private final float[][] hStack = new float[layers + 1][];
                private final float[] hidden = map(o1);
                private final float[] logits = map(o2);

                {
                    for (int l = 0; l < layers; l++) {
                        vPre[l] = map(v[l]);
                        vGate[l] = new float[height * width * filters];
                        hPre[l] = map(h[l]);
                        linked[l] = map(link[l]);
                        hGate[l] = new float[height * width * filters];
                        out[l] = map(res[l]);
                        hStack[l + 1] = l == 0 ? out[0] : map(res[l]);
                    }
                    hStack[0] = image;
                }

                /** Row i - 1 is drawn: its vertical stack, which rows i and later read through the link. */
                @Override
                void startRow(int i) {
                    if (i == 0) {
                        return;
                    }
                    int row = i - 1;
                    for (int l = 0; l < layers; l++) {
                        float[] src = l == 0 ? image : vGate[l - 1];
                        for (int j = 0; j < width; j++) {
                            conv(v[l], src, false, row, j, 0, vPre[l]);
                            if (l < layers - 1) {
                                int pos = row * width + j;
                                gate(vPre[l], pos * 2 * filters, 0, filters, vGate[l], pos * filters);
                            }
                        }
                    }
                }

                @Override
                float[] subPixel(int i, int j, int g) {
                    int pos = i * width + j;
                    for (int l = 0; l < layers; l++) {
                        conv(h[l], hStack[l], false, i, j, g, hPre[l]);
                        conv(link[l], vPre[l], false, i, j, g, linked[l]);
                        h[l].add(hPre[l], linked[l], pos, g, hPre[l]);
                        int[] r = res[l].ranges[g];
                        for (int k = 0; k < r.length; k += 2) {
                            gate(hPre[l], pos * 2 * filters, r[k], r[k + 1], hGate[l], pos * filters);
                        }
                        conv(res[l], hGate[l], false, i, j, g, out[l]);
                        if (l > 0) {
                            res[l].add(hStack[l], out[l], pos, g, hStack[l + 1]);
                        }
                    }
                    conv(o1, hStack[layers], true, i, j, g, hidden);
                    conv(o2, hidden, true, i, j, g, logits);
                    return logits;
                }

                /** tanh(a) sigmoid(b) for features [lo, hi) of a 2p pre-activation at {@code from}, as float ops. */
                private void gate(float[] pre, int from, int lo, int hi, float[] dst, int to) {
                    for (int f = lo; f < hi; f++) {
                        float t = (float) Math.tanh(pre[from + f]);
                        float s = (float) (1.0 / (1.0 + Math.exp(-pre[from + f + filters])));
                        dst[to + f] = t * s;
                    }
                }
            };
        }
    }

    /**
     * One masked convolution as plain arrays, evaluated at one position for one group of its output channels: the
     * weights are pre-masked, and for each group only the taps and input channels that its mask keeps are visited.
     */
    static final class Kernel {
        final int index;
        final int kH;
        final int kW;
        final int in;
        final int out;
        /** Masked weights, {@code [kH, kW, in, out]} row-major (ND4J's YXIO layout). */
        private final float[] weights;
        private final float[] bias;
        /** Class-label weights {@code [K, out]}, or null. */
        private final float[] label;
        /** Per group: its output channels as [lo, hi) pairs. */
        final int[][] ranges;
        /** Per group: (dy, dx, tap index) of each tap the mask keeps for some output of the group. */
        private final int[][] taps;
        /** Per group and kept tap: the input channels the mask keeps there. */
        private final int[][][] live;

        Kernel(PixelLayer.Conv conv, Map<String, INDArray> params, int[] outGroups, boolean conditional, int index) {
            INDArray maskArray = conv.mask();
            this.index = index;
            this.kH = (int) maskArray.size(0);
            this.kW = (int) maskArray.size(1);
            this.in = (int) maskArray.size(2);
            this.out = (int) maskArray.size(3);
            if (outGroups.length != out) {
                throw new IllegalArgumentException("groups for " + outGroups.length + " of " + out + " outputs");
            }
            float[] mask = PixelCnnDensity.flat(maskArray);
            float[] w = PixelCnnDensity.flat(params.get("w" + conv.id()));
            if (w.length != mask.length) {
                throw new IllegalArgumentException("kernel w" + conv.id() + " has " + w.length + " weights, mask "
                        + mask.length);
            }
            this.weights = new float[w.length];
            for (int k = 0; k < w.length; k++) {
                weights[k] = w[k] * mask[k];
            }
            this.bias = conv.bias() ? PixelCnnDensity.flat(params.get("b" + conv.id())) : null;
            this.label = conditional ? PixelCnnDensity.flat(params.get("c" + conv.id())) : null;
            int groups = Arrays.stream(outGroups).max().orElse(0) + 1;
            this.ranges = new int[groups][];
            this.taps = new int[groups][];
            this.live = new int[groups][][];
            for (int g = 0; g < groups; g++) {
                List<Integer> r = new ArrayList<>();
                for (int o = 0; o < out; o++) {
                    if (outGroups[o] == g && (o == 0 || outGroups[o - 1] != g)) {
                        r.add(o);
                    }
                    if (outGroups[o] == g && (o == out - 1 || outGroups[o + 1] != g)) {
                        r.add(o + 1);
                    }
                }
                ranges[g] = r.stream().mapToInt(Integer::intValue).toArray();
                List<int[]> tapList = new ArrayList<>();
                List<int[]> liveList = new ArrayList<>();
                for (int t = 0; t < kH * kW; t++) {
                    List<Integer> inputs = new ArrayList<>();
                    for (int c = 0; c < in; c++) {
                        boolean kept = false;
                        for (int o = 0; o < out && !kept; o++) {
                            kept = outGroups[o] == g && mask[(t * in + c) * out + o] != 0f;
                        }
                        if (kept) {
                            inputs.add(c);
                        }
                    }
                    if (!inputs.isEmpty()) {
                        tapList.add(new int[]{t / kW - kH / 2, t % kW - kW / 2, t});
                        liveList.add(inputs.stream().mapToInt(Integer::intValue).toArray());
                    }
                }
                taps[g] = tapList.stream().flatMapToInt(Arrays::stream).toArray();
                live[g] = liveList.toArray(new int[0][]);
            }
        }

        /** The class-label bias of one row, {@code context . C} as the graph's matrix product; null if none. */
        float[] labelBias(float[] context) {
            if (label == null || context == null) {
                return null;
            }
            float[] b = new float[out];
            for (int k = 0; k < context.length; k++) {
                float c = context[k];
                if (c != 0f) {
                    for (int o = 0; o < out; o++) {
                        b[o] += c * label[k * out + o];
                    }
                }
            }
            return b;
        }

        /**
         * Group g of the output at (i, j): the zero-padded convolution of {@code src} (ReLU applied on reading when
         * {@code relu}), plus the bias, plus the class-label bias {@code lab} (or none), written into {@code dst}.
         * Zero inputs are skipped: they add exactly nothing.
         */
        void apply(float[] src, boolean relu, int height, int width, int i, int j, int g, float[] dst, float[] lab) {
            int base = (i * width + j) * out;
            int[] r = ranges[g];
            for (int k = 0; k < r.length; k += 2) {
                Arrays.fill(dst, base + r[k], base + r[k + 1], 0f);
            }
            int[] t = taps[g];
            int[][] inputs = live[g];
            for (int n = 0; n < inputs.length; n++) {
                int y = i + t[3 * n];
                int x = j + t[3 * n + 1];
                if (y < 0 || y >= height || x < 0 || x >= width) {
                    continue;
                }
                int from = (y * width + x) * in;
                int tap = t[3 * n + 2] * in;
                for (int c : inputs[n]) {
                    float value = src[from + c];
                    if (value == 0f || (relu && value < 0f)) {
                        continue;
                    }
                    int w = (tap + c) * out;
                    for (int k = 0; k < r.length; k += 2) {
                        for (int o = r[k]; o < r[k + 1]; o++) {
                            dst[base + o] += weights[w + o] * value;
                        }
                    }
                }
            }
            if (bias != null) {
                for (int k = 0; k < r.length; k += 2) {
                    for (int o = r[k]; o < r[k + 1]; o++) {
                        dst[base + o] += bias[o];
                    }
                }
            }
            if (lab != null) {
                for (int k = 0; k < r.length; k += 2) {
                    for (int o = r[k]; o < r[k + 1]; o++) {
                        dst[base + o] += lab[o];
                    }
                }
            }
        }

        /** {@code dst = a + b} over group g's output channels at position {@code pos} of three maps of this width. */
        void add(float[] a, float[] b, int pos, int g, float[] dst) {
            int base = pos * out;
            int[] r = ranges[g];
            for (int k = 0; k < r.length; k += 2) {
                for (int o = base + r[k]; o < base + r[k + 1]; o++) {
                    dst[o] = a[o] + b[o];
                }
            }
        }
    }
}
