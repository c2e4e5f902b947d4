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
 * ({@link GraphDensity}); this class adds the naive ancestral sampler of the papers: for each pixel in raster order and
 * each colour channel in R, G, B order, run the whole network on the image drawn so far and draw that sub-pixel from
 * its conditional. The network is a SameDiff graph of {@link PixelLayer#logits} with the trained parameters as
 * constants, so the sampler's conditionals are the very logits whose NLL was trained.
 *
 * <p>Sub-pixel d of row i is drawn with seed {@code Seeds.derive(seeds[i], 1, d)}; rows are computed together in
 * chunks (sized so that one feature map of a chunk stays near 16 MB) but never mix, since a convolution acts on each
 * image alone, so a row depends only on its seed and label. A temperature T divides the logits
 * ({@link OutputFamily#sample}).
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

    /** @return {@code [seeds.length, D]} float, integer values in [0, levels) */
    @Override
    public INDArray sample(long[] seeds, INDArray context, double temperature) {
        checkContext(context, seeds.length);
        if (!(temperature > 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be positive and finite, got " + temperature);
        }
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
            for (int d = 0; d < dim; d++) {
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
}
