package org.chainrule.models.pixelcnn;

import com.typesafe.config.Config;
import org.chainrule.models.DensityModel;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.NllOutputLoss;
import org.chainrule.models.conditionals.OutputFamily;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.LossLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Adam;

import java.util.Arrays;
import java.util.Map;

/**
 * What {@link PixelCnnSpec} and {@link GatedPixelCnnSpec} share: an autoregressive density over images in raster
 * order, colour channels R, G, B within a pixel, whose conditionals all come from one masked convolutional network
 * ({@link PixelLayer}). The event shape is {@code [H, W]} or {@code [H, W, C]} (channels last, as the data pipeline
 * stores images); values are 0/1 ({@code levels = 2}, Bernoulli conditionals) or the integers 0..K-1 (K-way softmax,
 * e.g. 256 for 8-bit images).
 *
 * <p>Training view: the {@link PixelLayer} outputs each example's exact NLL, followed by a {@link NllOutputLoss}
 * layer; features are {@code [x | one-hot label]}, labels {@code [batch, 1]} zeros. There is a single structure
 * ({@code variantCount() = 1}). The density is a {@link PixelCnnDensity}.
 */
public interface PixelSpec extends ModelSpec {

    /** Values per sub-pixel: 2 for binary images (Bernoulli), K for K-level images (softmax). */
    @Override
    int levels();

    /** Width of the network's feature maps (h for PixelCNN, p for Gated PixelCNN); a multiple of the channels. */
    int filters();

    /** Width of the hidden 1x1 layer before the output; a multiple of the channels. */
    int outputFilters();

    /** A fresh training layer for this spec. */
    PixelLayer layer();

    /** Image height H. */
    default int height() {
        return Math.toIntExact(eventShape()[0]);
    }

    /** Image width W. */
    default int width() {
        return Math.toIntExact(eventShape()[1]);
    }

    /** Colour channels C (1 for an {@code [H, W]} event). */
    default int channels() {
        long[] s = eventShape();
        return s.length == 3 ? Math.toIntExact(s[2]) : 1;
    }

    /**
     * The widest feature maps per image: twice the larger of the hidden maps, the output layer's maps and the logits
     * (C x levels), over every pixel. A 256-level image's logits alone are 256 x H x W floats per row.
     */
    @Override
    default long activationElementsPerRow() {
        long maps = Math.max(Math.max(filters(), outputFilters()), (long) channels() * Math.max(2, levels()));
        return 2 * maps * height() * width();
    }

    /** Event size D = H W C. */
    default int dim() {
        return height() * width() * channels();
    }

    /** The conditionals' family: Bernoulli for binary images, categorical otherwise. */
    default OutputFamily family() {
        return layer().outputFamily();
    }

    @Override
    default String valueType() {
        return family().valueType();
    }

    @Override
    default int variantCount() {
        return 1;
    }

    @Override
    default MultiLayerConfiguration trainingConfiguration(Optimization opt) {
        return new NeuralNetConfiguration.Builder()
                .seed(opt.seed())
                .dataType(DataType.FLOAT)
                .updater(new Adam(opt.learningRate()))
                .list()
                .layer(layer())
                .layer(new LossLayer.Builder(new NllOutputLoss()).activation(Activation.IDENTITY).build())
                .setInputType(InputType.feedForward((long) dim() + contextSize()))
                .build();
    }

    @Override
    default INDArray trainingFeatures(INDArray x, int variant) {
        return trainingFeatures(x, null, variant);
    }

    /** {@code [x | context]}: the event and, for a conditional model, its one-hot label. */
    @Override
    default INDArray trainingFeatures(INDArray x, INDArray context, int variant) {
        if (variant != 0) {
            throw new IllegalArgumentException("a " + type() + " model has one variant, got " + variant);
        }
        if (x.rank() != 2 || x.columns() != dim()) {
            throw new IllegalArgumentException("expected [batch, " + dim() + "] events, got "
                    + Arrays.toString(x.shape()));
        }
        int k = contextSize();
        if (k == 0 && context != null) {
            throw new IllegalArgumentException("a " + type() + " model is unconditional but was given a context");
        }
        if (k > 0 && (context == null || context.rows() != x.rows() || context.columns() != k)) {
            throw new IllegalArgumentException("a conditional " + type() + " model needs a [" + x.rows() + ", " + k
                    + "] context, got " + (context == null ? "none" : Arrays.toString(context.shape())));
        }
        if (k == 0) {
            return x.castTo(DataType.FLOAT).dup();
        }
        INDArray f = Nd4j.create(DataType.FLOAT, x.rows(), (long) dim() + k);
        f.get(NDArrayIndex.all(), NDArrayIndex.interval(0, dim())).assign(x);
        f.get(NDArrayIndex.all(), NDArrayIndex.interval(dim(), dim() + k)).assign(context);
        return f;
    }

    /** Ignored by the NLL-output network: {@code [batch, 1]} zeros. */
    @Override
    default INDArray trainingLabels(INDArray x) {
        return Nd4j.zeros(DataType.FLOAT, x.rows(), 1);
    }

    @Override
    default DensityModel densityOf(MultiLayerNetwork network) {
        return new PixelCnnDensity(this, network);
    }

    /** Reads a {@code pixelcnn} or {@code gated-pixelcnn} spec written by its {@code toMap()}. */
    static PixelSpec fromConfig(Config c) {
        String type = c.getString("type");
        return switch (type) {
            case PixelCnnSpec.TYPE -> PixelCnnSpec.fromConfig(c);
            case GatedPixelCnnSpec.TYPE -> GatedPixelCnnSpec.fromConfig(c);
            default -> throw new IllegalArgumentException("not a PixelCNN type: " + type);
        };
    }

    /**
     * The description every pixel network's {@code toMap} writes: type, eventShape, levels, filters, the depth under
     * its own key ({@code blocks} or {@code layers}), outputFilters, contextSize.
     */
    static Map<String, Object> describe(String type, long[] eventShape, int levels, int filters, String depthKey,
                                        int depth, int outputFilters, int contextSize) {
        Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("type", type);
        m.put("eventShape", java.util.Arrays.stream(eventShape).boxed().toList());
        m.put("levels", levels);
        m.put("filters", filters);
        m.put(depthKey, depth);
        m.put("outputFilters", outputFilters);
        m.put("contextSize", contextSize);
        return m;
    }

    /** The fields of a {@link #describe} map ({@code outputFilters} defaults to 2 x filters, contextSize to 0). */
    record Described(long[] eventShape, int levels, int filters, int depth, int outputFilters, int contextSize) {
        static Described read(Config c, String depthKey) {
            int filters = c.getInt("filters");
            return new Described(c.getLongList("eventShape").stream().mapToLong(Long::longValue).toArray(),
                    c.getInt("levels"), filters, c.getInt(depthKey),
                    c.hasPath("outputFilters") ? c.getInt("outputFilters") : 2 * filters,
                    c.hasPath("contextSize") ? c.getInt("contextSize") : 0);
        }
    }

    /** Checks what both specs require; returns the event shape's copy. */
    static long[] checked(long[] eventShape, int levels, int filters, int outputFilters, int contextSize) {
        if (eventShape == null || (eventShape.length != 2 && eventShape.length != 3)) {
            throw new IllegalArgumentException("a PixelCNN needs an [H, W] or [H, W, C] event shape, got "
                    + Arrays.toString(eventShape));
        }
        for (long s : eventShape) {
            if (s < 1 || s > 4096) {
                throw new IllegalArgumentException("bad event shape " + Arrays.toString(eventShape));
            }
        }
        long c = eventShape.length == 3 ? eventShape[2] : 1;
        if (levels < 2 || levels > 256) {
            throw new IllegalArgumentException("levels must be in 2..256, got " + levels);
        }
        if (filters < 1 || filters % c != 0) {
            throw new IllegalArgumentException("filters must be a positive multiple of the " + c
                    + " channels, got " + filters);
        }
        if (outputFilters < 1 || outputFilters % c != 0) {
            throw new IllegalArgumentException("outputFilters must be a positive multiple of the " + c
                    + " channels, got " + outputFilters);
        }
        if (contextSize < 0) {
            throw new IllegalArgumentException("contextSize must be >= 0, got " + contextSize);
        }
        return eventShape.clone();
    }
}
