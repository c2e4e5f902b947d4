package org.chainrule.models.pixelcnn;

import com.typesafe.config.Config;

import java.util.Map;

/**
 * A PixelRNN with Row LSTM layers (van den Oord, Kalchbrenner and Kavukcuoglu 2016, "Pixel Recurrent Neural
 * Networks", section 3.1): a 7x7 mask-A convolution, {@code layers} residual Row LSTM layers that run down the image
 * a row at a time, and two masked 1x1 layers to the logits of every sub-pixel (see {@link RowLstmLayer}). Like a
 * PixelCNN, the likelihood is exact in one pass (the rows' recurrence is unrolled in the graph, so the image height
 * should stay small, e.g. 28) and sampling is ancestral, one pass per sub-pixel ({@link PixelCnnDensity}).
 *
 * @param eventShape    {@code [H, W]} or {@code [H, W, C]}
 * @param levels        values per sub-pixel (2: binary, Bernoulli; K: K-way softmax)
 * @param filters       h, the LSTM state size: the residual stream has 2h maps, the gates 4h; a multiple of C
 * @param layers        L >= 1 Row LSTM layers
 * @param outputFilters maps of the hidden 1x1 output layer; a multiple of C
 * @param contextSize   number of classes of the conditional model (one-hot labels); 0 for an unconditional one
 */
public record RowLstmSpec(long[] eventShape, int levels, int filters, int layers, int outputFilters,
                          int contextSize) implements PixelSpec {

    /** The model type name. */
    public static final String TYPE = "row-lstm";

    public RowLstmSpec {
        eventShape = PixelSpec.checked(eventShape, levels, filters, outputFilters, contextSize);
        if (layers < 1) {
            throw new IllegalArgumentException("a Row LSTM needs at least one layer, got " + layers);
        }
    }

    /** An unconditional Row LSTM whose output layer is as wide as the residual stream (2h). */
    public static RowLstmSpec of(long[] eventShape, int levels, int filters, int layers) {
        return new RowLstmSpec(eventShape, levels, filters, layers, 2 * filters, 0);
    }

    /** The same model conditioned on a one-hot class label of {@code classes} values (0: unconditional). */
    public RowLstmSpec withContext(int classes) {
        return new RowLstmSpec(eventShape, levels, filters, layers, outputFilters, classes);
    }

    /** The same model with another width of the hidden output layer. */
    public RowLstmSpec withOutputFilters(int outputFilters) {
        return new RowLstmSpec(eventShape, levels, filters, layers, outputFilters, contextSize);
    }

    /** Reads the map written by {@link #toMap()}; {@code outputFilters} and {@code contextSize} may be missing. */
    public static RowLstmSpec fromConfig(Config c) {
        Described d = Described.read(c, "layers");
        return new RowLstmSpec(d.eventShape(), d.levels(), d.filters(), d.depth(), d.outputFilters(), d.contextSize());
    }

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public RowLstmLayer layer() {
        return new RowLstmLayer(this);
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
        return o instanceof RowLstmSpec s && toMap().equals(s.toMap());
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
