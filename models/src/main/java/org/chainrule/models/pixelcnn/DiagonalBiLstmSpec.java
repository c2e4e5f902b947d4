package org.chainrule.models.pixelcnn;

import com.typesafe.config.Config;

import java.util.Map;

/**
 * A PixelRNN with Diagonal BiLSTM layers (van den Oord, Kalchbrenner and Kavukcuoglu 2016, "Pixel Recurrent Neural
 * Networks", section 3.2): a 7x7 mask-A convolution, {@code layers} residual Diagonal BiLSTM layers, each two LSTMs
 * that sweep the image's diagonals from the top-left and the top-right corner, and two masked 1x1 layers to the
 * logits of every sub-pixel (see {@link DiagonalBiLstmLayer}). Every conditional sees the whole context. The
 * likelihood is exact in one pass (the W + H - 1 diagonals are unrolled in the graph, once per layer, so images
 * should stay small, e.g. 28x28) and sampling is ancestral, one pass per sub-pixel ({@link PixelCnnDensity}).
 *
 * @param eventShape    {@code [H, W]} or {@code [H, W, C]}
 * @param levels        values per sub-pixel (2: binary, Bernoulli; K: K-way softmax)
 * @param filters       h, the LSTM state size: the residual stream has 2h maps, the gates 4h; a multiple of C
 * @param layers        L >= 1 Diagonal BiLSTM layers
 * @param outputFilters maps of the hidden 1x1 output layer; a multiple of C
 * @param contextSize   number of classes of the conditional model (one-hot labels); 0 for an unconditional one
 */
public record DiagonalBiLstmSpec(long[] eventShape, int levels, int filters, int layers, int outputFilters,
                                 int contextSize) implements PixelSpec {

    /** The model type name. */
    public static final String TYPE = "diagonal-bilstm";

    public DiagonalBiLstmSpec {
        eventShape = PixelSpec.checked(eventShape, levels, filters, outputFilters, contextSize);
        if (layers < 1) {
            throw new IllegalArgumentException("a Diagonal BiLSTM needs at least one layer, got " + layers);
        }
    }

    /** An unconditional Diagonal BiLSTM whose output layer is as wide as the residual stream (2h). */
    public static DiagonalBiLstmSpec of(long[] eventShape, int levels, int filters, int layers) {
        return new DiagonalBiLstmSpec(eventShape, levels, filters, layers, 2 * filters, 0);
    }

    /** The same model conditioned on a one-hot class label of {@code classes} values (0: unconditional). */
    public DiagonalBiLstmSpec withContext(int classes) {
        return new DiagonalBiLstmSpec(eventShape, levels, filters, layers, outputFilters, classes);
    }

    /** The same model with another width of the hidden output layer. */
    public DiagonalBiLstmSpec withOutputFilters(int outputFilters) {
        return new DiagonalBiLstmSpec(eventShape, levels, filters, layers, outputFilters, contextSize);
    }

    /** Reads the map written by {@link #toMap()}; {@code outputFilters} and {@code contextSize} may be missing. */
    public static DiagonalBiLstmSpec fromConfig(Config c) {
        Described d = Described.read(c, "layers");
        return new DiagonalBiLstmSpec(d.eventShape(), d.levels(), d.filters(), d.depth(), d.outputFilters(), d.contextSize());
    }

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public DiagonalBiLstmLayer layer() {
        return new DiagonalBiLstmLayer(this);
    }

    /** Keys: type, eventShape, levels, filters, layers, outputFilters, contextSize. */
    @Override
    public Map<String, Object> toMap() {
        return PixelSpec.describe(TYPE, eventShape, levels, filters, "layers", layers, outputFilters, contextSize);
    }

    @Override
    public long[] eventShape() {
        return eventShape.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DiagonalBiLstmSpec s && toMap().equals(s.toMap());
    }

    @Override
    public int hashCode() {
        return toMap().hashCode();
    }

    @Override
    public String toString() {
        return toMap().toString();
    }
}
