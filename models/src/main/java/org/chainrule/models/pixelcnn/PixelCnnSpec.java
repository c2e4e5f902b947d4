package org.chainrule.models.pixelcnn;

import com.typesafe.config.Config;

import java.util.Map;

/**
 * A PixelCNN (van den Oord, Kalchbrenner and Kavukcuoglu 2016, "Pixel Recurrent Neural Networks"): a 7x7 mask-A
 * convolution, {@code blocks} residual blocks of masked 1x1 - 3x3 - 1x1 convolutions, and two masked 1x1 layers to
 * the logits of every sub-pixel (see {@link PixelCnnLayer}). The likelihood is exact in one pass; sampling is
 * ancestral, with cached activations ({@link PixelCnnDensity}).
 *
 * @param eventShape    {@code [H, W]} or {@code [H, W, C]}
 * @param levels        values per sub-pixel (2: binary, Bernoulli; K: K-way softmax)
 * @param filters       h: the residual stream has 2h maps, the blocks' inner convolutions h; a multiple of C
 * @param blocks        R, the number of residual blocks (0 allowed: the mask-A layer straight to the output)
 * @param outputFilters maps of the hidden 1x1 output layer; a multiple of C
 * @param contextSize   number of classes of the conditional model (one-hot labels); 0 for an unconditional one
 */
public record PixelCnnSpec(long[] eventShape, int levels, int filters, int blocks, int outputFilters,
                           int contextSize) implements PixelSpec {

    /** The model type name. */
    public static final String TYPE = "pixelcnn";

    public PixelCnnSpec {
        eventShape = PixelSpec.checked(eventShape, levels, filters, outputFilters, contextSize);
        if (blocks < 0) {
            throw new IllegalArgumentException("blocks must be >= 0, got " + blocks);
        }
    }

    /** An unconditional PixelCNN whose output layer is as wide as the residual stream (2h). */
    public static PixelCnnSpec of(long[] eventShape, int levels, int filters, int blocks) {
        return new PixelCnnSpec(eventShape, levels, filters, blocks, 2 * filters, 0);
    }

    /** The same model conditioned on a one-hot class label of {@code classes} values (0: unconditional). */
    public PixelCnnSpec withContext(int classes) {
        return new PixelCnnSpec(eventShape, levels, filters, blocks, outputFilters, classes);
    }

    /** The same model with another width of the hidden output layer. */
    public PixelCnnSpec withOutputFilters(int outputFilters) {
        return new PixelCnnSpec(eventShape, levels, filters, blocks, outputFilters, contextSize);
    }

    /** Reads the map written by {@link #toMap()}; {@code outputFilters} and {@code contextSize} may be missing. */
    public static PixelCnnSpec fromConfig(Config c) {
        Described d = Described.read(c, "blocks");
        return new PixelCnnSpec(d.eventShape(), d.levels(), d.filters(), d.depth(), d.outputFilters(), d.contextSize());
    }

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public PixelCnnLayer layer() {
        return new PixelCnnLayer(this);
    }

    /** Keys: type, eventShape, levels, filters, blocks, outputFilters, contextSize. */
    @Override
    public Map<String, Object> toMap() {
        return PixelSpec.describe(TYPE, eventShape, levels, filters, "blocks", blocks, outputFilters, contextSize);
    }

    @Override
    public long[] eventShape() {
        return eventShape.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PixelCnnSpec s && toMap().equals(s.toMap());
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
