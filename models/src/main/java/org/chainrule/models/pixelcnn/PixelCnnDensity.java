package org.chainrule.models.pixelcnn;

import org.chainrule.models.GraphDensity;
import org.chainrule.models.Seeds;
import org.chainrule.models.conditionals.OutputFamily;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * A trained PixelCNN or Gated PixelCNN as a density. The exact log-likelihood is the training network's own output
 * ({@link GraphDensity}); this class adds two ancestral samplers that draw each pixel in raster order and each colour
 * channel in R, G, B order from its conditional:
 * <ul>
 *   <li>{@link #sample(long[], INDArray, double)}, the default, is cached ({@link CachedSampler}, after Ramachandran
 *       et al. 2017, "Fast Generation for Convolutional Autoregressive Models"): it computes every activation of the
 *       network once, when the last sub-pixel it depends on has been drawn, in plain Java on the masked weights, so a
 *       sample costs one forward pass (PixelCNN and Gated PixelCNN; the PixelRNNs have no cached sampler and
 *       {@code sample} runs the naive loop for them);</li>
 *   <li>{@link #sampleNaive} is the loop of the papers: for each sub-pixel, run the whole network on the image drawn
 *       so far. The network is a SameDiff graph of {@link PixelLayer#logits} with the trained parameters as
 *       constants, so its conditionals are the very logits whose NLL was trained. It is kept as the reference the
 *       cached sampler is tested against.</li>
 * </ul>
 * Both draw sub-pixel d of row i with seed {@code Seeds.derive(seeds[i], 1, d)} through the same
 * {@link OutputFamily#sample} code, from logits that agree to float rounding, so they give the same samples (see
 * {@link CachedSampler} for the residual risk of a rounding-level difference flipping a draw). A row depends only on
 * its seed and label. A temperature T divides the logits ({@link OutputFamily#sample}).
 */
public final class PixelCnnDensity extends GraphDensity {
    /** Floats of one feature map of all rows sampled together: bounds the memory of a pass for large images. */
    private static final long MAP_BUDGET = 1L << 22;

    private final PixelSpec pixel;
    private final OutputFamily family;
    private final int dim;
    private final int perDim;
    private final int contextSize;
    private final SameDiff graph;
    private final String logitsName;
    private final int chunk;
    private final CachedSampler cached;

    /** Snapshot of a network built by {@code spec.trainingConfiguration} (its parameters are copied). */
    public PixelCnnDensity(PixelSpec spec, MultiLayerNetwork network) {
        super(spec, network);
        this.pixel = spec;
        PixelLayer layer = spec.layer();
        this.family = layer.outputFamily();
        this.dim = spec.dim();
        this.perDim = family.paramsPerDim();
        this.contextSize = spec.contextSize();
        this.graph = SameDiff.create();
        SDVariable x = graph.placeHolder("x", DataType.FLOAT, -1, dim);
        SDVariable context = contextSize == 0 ? null
                : graph.placeHolder("context", DataType.FLOAT, -1, contextSize);
        Map<String, SDVariable> params = new HashMap<>();
        network.getLayer(0).paramTable().forEach((name, value) -> params.put(name, graph.constant(name, value.dup())));
        this.logitsName = layer.logits(graph, x, context, params).name();
        long perRow = (long) spec.height() * spec.width() * layer.widestMap();
        this.chunk = (int) Math.max(1, Math.min(4096, MAP_BUDGET / perRow));
        this.cached = CachedSampler.supports(layer) ? CachedSampler.of(layer, network.getLayer(0).paramTable()) : null;
    }

    public PixelSpec spec() {
        return pixel;
    }

    /**
     * The logits of every sub-pixel's conditional given the rest of the image (each depends only on the sub-pixels
     * before it), laid out as {@link OutputFamily} expects: sub-pixel d = (i W + j) C + c owns columns
     * {@code d * P .. d * P + P - 1}.
     *
     * @param x       events {@code [batch, D]}
     * @param context {@code [batch, contextSize]}, or null for an unconditional model
     * @return {@code [batch, D * P]} float
     */
    public synchronized INDArray logits(INDArray x, INDArray context) {
        if (x.rank() != 2 || x.columns() != dim) {
            throw new IllegalArgumentException("expected [batch, " + dim + "] events, got "
                    + Arrays.toString(x.shape()));
        }
        checkContext(context, x.rows());
        Map<String, INDArray> feed = new HashMap<>();
        feed.put("x", x.castTo(DataType.FLOAT));
        if (context != null) {
            feed.put("context", context.castTo(DataType.FLOAT));
        }
        return graph.output(feed, logitsName).get(logitsName);
    }

    /** The values of an array in row-major order, as a fresh float array. */
    static float[] flat(INDArray a) {
        return a.castTo(DataType.FLOAT).dup('c').data().asFloat();
    }

    @Override
    public INDArray sample(long[] seeds) {
        return sample(seeds, null, 1.0);
    }

    /**
     * Cached ancestral sampling ({@link CachedSampler}): one forward pass per sample, in plain Java on one thread.
     *
     * @return {@code [seeds.length, D]} float, integer values in [0, levels)
     */
    @Override
    public INDArray sample(long[] seeds, INDArray context, double temperature) {
        return draw(null, 0, seeds, context, temperature);
    }

    /**
     * Image completion with the cached sampler: the first {@code known} sub-pixels (raster order, colour channels in
     * turn) are taken from {@code partial}, the rest drawn exactly as {@link #sample(long[], INDArray, double)} draws
     * them (with {@code known = 0} the two are the same).
     */
    @Override
    public INDArray complete(INDArray partial, int known, long[] seeds, INDArray context, double temperature) {
        if (known < 0 || known > dim) {
            throw new IllegalArgumentException("known must be in [0, " + dim + "], got " + known);
        }
        if (partial.rows() != seeds.length || partial.columns() != dim) {
            throw new IllegalArgumentException("partial events must be [" + seeds.length + ", " + dim + "], got "
                    + Arrays.toString(partial.shape()));
        }
        return draw(flat(partial), known, seeds, context, temperature);
    }

    private INDArray draw(float[] given, int known, long[] seeds, INDArray context, double temperature) {
        if (cached == null) {
            return naive(given, known, seeds, context, temperature);
        }
        checkSampling(seeds, context, temperature);
        int n = seeds.length;
        if (n == 0) {
            return Nd4j.create(DataType.FLOAT, 0, dim);
        }
        float[] contexts = context == null ? null : flat(context);
        CachedSampler.Pass pass = cached.pass();
        float[] out = new float[n * dim];
        for (int i = 0; i < n; i++) {
            long seed = seeds[i];
            float[] c = contexts == null ? null : Arrays.copyOfRange(contexts, i * contextSize, (i + 1) * contextSize);
            int row = i;
            float[] x = pass.run(c, (d, p, offset) -> d < known ? given[row * dim + d]
                    : (float) family.sample(p, offset, Seeds.derive(seed, 1, d), temperature));
            System.arraycopy(x, 0, out, i * dim, dim);
        }
        return Nd4j.create(out, new long[]{n, dim}, DataType.FLOAT);
    }

    /**
     * The naive ancestral sampler: for each sub-pixel, the whole network on the image drawn so far (rows in chunks,
     * each pass batched over the chunk). The same samples as {@link #sample(long[], INDArray, double)}, D passes
     * slower; kept as its reference.
     *
     * @return {@code [seeds.length, D]} float, integer values in [0, levels)
     */
    public INDArray sampleNaive(long[] seeds, INDArray context, double temperature) {
        return naive(null, 0, seeds, context, temperature);
    }

    /** The naive loop, keeping the first {@code known} values of {@code given} (flat rows) when it is not null. */
    private INDArray naive(float[] given, int known, long[] seeds, INDArray context, double temperature) {
        checkSampling(seeds, context, temperature);
        int n = seeds.length;
        if (n == 0) {
            return Nd4j.create(DataType.FLOAT, 0, dim);
        }
        float[] out = new float[n * dim];
        int stride = dim * perDim;
        for (int from = 0; from < n; from += chunk) {
            int rows = Math.min(chunk, n - from);
            INDArray c = context == null ? null
                    : context.get(NDArrayIndex.interval(from, from + rows), NDArrayIndex.all());
            float[] x = new float[rows * dim];
            for (int i = 0; given != null && i < rows; i++) {
                System.arraycopy(given, (from + i) * dim, x, i * dim, known);
            }
            for (int d = known; d < dim; d++) {
                // flat copies: INDArray.toFloatMatrix goes row by row through native calls, far slower than a pass
                float[] p = flat(logits(Nd4j.create(x, new long[]{rows, dim}, DataType.FLOAT), c));
                for (int i = 0; i < rows; i++) {
                    x[i * dim + d] = (float) family.sample(p, i * stride + d * perDim,
                            Seeds.derive(seeds[from + i], 1, d), temperature);
                }
            }
            System.arraycopy(x, 0, out, from * dim, rows * dim);
        }
        return Nd4j.create(out, new long[]{n, dim}, DataType.FLOAT);
    }

    /**
     * The cached sampler's logits of one event, each computed as during sampling but with the event's own value
     * taken for every sub-pixel instead of a draw: {@code [D * P]}, laid out as {@link #logits}. For tests, which
     * hold them to the graph's.
     *
     * @param x       one event {@code [D]}
     * @param context its label {@code [contextSize]}, or null for an unconditional model
     */
    float[] cachedLogits(float[] x, float[] context) {
        if (x.length != dim || (context == null) != (contextSize == 0)
                || (context != null && context.length != contextSize)) {
            throw new IllegalArgumentException("expected an event of " + dim + " values and a context of "
                    + contextSize);
        }
        float[] logits = new float[dim * perDim];
        if (cached == null) {
            throw new IllegalStateException("no cached sampler for a " + pixel.type());
        }
        cached.pass().run(context, (d, p, offset) -> {
            System.arraycopy(p, offset, logits, d * perDim, perDim);
            return x[d];
        });
        return logits;
    }

    private void checkSampling(long[] seeds, INDArray context, double temperature) {
        checkContext(context, seeds.length);
        if (!(temperature > 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be positive and finite, got " + temperature);
        }
    }
}
