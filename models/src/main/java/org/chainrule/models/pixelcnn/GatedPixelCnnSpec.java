package org.chainrule.models.pixelcnn;

import com.typesafe.config.Config;

import java.util.Map;

/**
 * A Gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN Decoders"): {@code layers}
 * gated layers, each a vertical and a horizontal stack joined by a down-shifted 1x1 link, so the receptive field has
 * no blind spot; optionally conditioned on a class label through a per-label bias in every gate (see
 * {@link GatedPixelCnnLayer}). Single-channel and colour images alike.
 *
 * @param eventShape    {@code [H, W]} or {@code [H, W, C]}
 * @param levels        values per sub-pixel (2: binary, Bernoulli; K: K-way softmax)
 * @param filters       p: maps of each stack (each gate has 2p pre-activations); a multiple of C
 * @param layers        L >= 1 gated layers (the first with 7-wide kernels and mask A, the rest 3-wide and mask B)
 * @param outputFilters maps of the hidden 1x1 output layer; a multiple of C
 * @param contextSize   number of classes of the conditional model (one-hot labels); 0 for an unconditional one
 */
public record GatedPixelCnnSpec(long[] eventShape, int levels, int filters, int layers, int outputFilters,
                                int contextSize) implements PixelSpec {

    /** The model type name. */
    public static final String TYPE = "gated-pixelcnn";

    public GatedPixelCnnSpec {
        eventShape = PixelSpec.checked(eventShape, levels, filters, outputFilters, contextSize);
        if (layers < 1) {
            throw new IllegalArgumentException("a Gated PixelCNN needs at least one layer, got " + layers);
        }
    }

    /** An unconditional Gated PixelCNN whose output layer has 2p maps. */
    public static GatedPixelCnnSpec of(long[] eventShape, int levels, int filters, int layers) {
        return new GatedPixelCnnSpec(eventShape, levels, filters, layers, 2 * filters, 0);
    }

    /** The same model conditioned on a one-hot class label of {@code classes} values (0: unconditional). */
    public GatedPixelCnnSpec withContext(int classes) {
        return new GatedPixelCnnSpec(eventShape, levels, filters, layers, outputFilters, classes);
    }

    /** The same model with another width of the hidden output layer. */
    public GatedPixelCnnSpec withOutputFilters(int outputFilters) {
        return new GatedPixelCnnSpec(eventShape, levels, filters, layers, outputFilters, contextSize);
    }

    /** Reads the map written by {@link #toMap()}; {@code outputFilters} and {@code contextSize} may be missing. */
    public static GatedPixelCnnSpec fromConfig(Config c) {
        Described d = Described.read(c, "layers");
        return new GatedPixelCnnSpec(d.eventShape(), d.levels(), d.filters(), d.depth(), d.outputFilters(), d.contextSize());
    }

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public GatedPixelCnnLayer layer() {
        return new GatedPixelCnnLayer(this);
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
        return o instanceof GatedPixelCnnSpec s && toMap().equals(s.toMap());
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
