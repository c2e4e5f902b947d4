package org.chainrule.models.pixelcnn;

import com.typesafe.config.Config;
import org.chainrule.models.DensityModel;
import org.chainrule.models.Described;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.NllOutputLoss;
import org.chainrule.models.TrainingRecipe;
import org.chainrule.models.conditionals.OutputFamily;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.LossLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;

/**
 * An image model whose conditionals all come from one masked network ({@link PixelLayer}): an autoregressive density
 * over images in raster order, colour channels R, G, B within a pixel. Four networks share this spec, differing only
 * in their layer ({@link Network}): the PixelCNN, the Gated PixelCNN and the PixelRNNs Row LSTM and Diagonal BiLSTM.
 * The event shape is {@code [H, W]} or {@code [H, W, C]} (channels last, as the data pipeline stores images); values
 * are 0/1 ({@code levels = 2}, Bernoulli conditionals) or the integers 0..K-1 (K-way softmax, e.g. 256 for 8-bit
 * images).
 *
 * <p>Training view: the layer outputs each example's exact NLL, followed by a {@link NllOutputLoss} layer; features
 * are {@code [x | one-hot label]}, labels {@code [batch, 1]} zeros. There is a single structure
 * ({@code variantCount() = 1}). The density is a {@link PixelCnnDensity}.
 *
 * @param network       which network
 * @param eventShape    {@code [H, W]} or {@code [H, W, C]}
 * @param levels        values per sub-pixel (2: binary, Bernoulli; K: K-way softmax)
 * @param filters       width of the feature maps (h for the PixelCNN and PixelRNNs, p for the Gated PixelCNN); a
 *                      multiple of C
 * @param depth         residual blocks (PixelCNN, 0 allowed) or layers (the others, at least 1)
 * @param outputFilters maps of the hidden 1x1 output layer; a multiple of C
 * @param contextSize   number of classes of a conditional model (one-hot labels); 0 for an unconditional one
 */
public record PixelSpec(Network network, long[] eventShape, int levels, int filters, int depth, int outputFilters,
                        int contextSize) implements ModelSpec {

    /** The networks, with their {@code model.type} name and the key their depth is saved under. */
    public enum Network {
        /** van den Oord, Kalchbrenner and Kavukcuoglu 2016, sections 3.4-3.5: mask A, residual blocks. */
        PIXELCNN("pixelcnn", "blocks", 0, PixelCnnLayer::new),
        /** van den Oord et al. 2016, "Conditional Image Generation with PixelCNN Decoders": no blind spot. */
        GATED_PIXELCNN("gated-pixelcnn", "layers", 1, GatedPixelCnnLayer::new),
        /** PixelRNN, section 3.1: LSTM layers running down the image a row at a time. */
        ROW_LSTM("row-lstm", "layers", 1, RowLstmLayer::new),
        /** PixelRNN, section 3.2: LSTMs sweeping the diagonals from both top corners. */
        DIAGONAL_BILSTM("diagonal-bilstm", "layers", 1, DiagonalBiLstmLayer::new);

        private final String type;
        private final String depthKey;
        private final int minDepth;
        private final Function<PixelSpec, PixelLayer> layer;

        Network(String type, String depthKey, int minDepth, Function<PixelSpec, PixelLayer> layer) {
            this.type = type;
            this.depthKey = depthKey;
            this.minDepth = minDepth;
            this.layer = layer;
        }

        /** The {@code model.type} name. */
        public String type() {
            return type;
        }

        /** What the depth counts, as a settings and saved-spec key: {@code blocks} or {@code layers}. */
        public String depthKey() {
            return depthKey;
        }

        /** The least depth the network takes. */
        public int minDepth() {
            return minDepth;
        }

        /** The network of a type name. */
        public static Network of(String type) {
            for (Network n : values()) {
                if (n.type.equals(type)) {
                    return n;
                }
            }
            throw new IllegalArgumentException("not a pixel network type: " + type);
        }
    }

    public PixelSpec {
        if (network == null) {
            throw new IllegalArgumentException("a PixelSpec needs a network");
        }
        if (eventShape == null || (eventShape.length != 2 && eventShape.length != 3)) {
            throw new IllegalArgumentException("a " + network.type + " needs an [H, W] or [H, W, C] event shape, got "
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
        if (depth < network.minDepth) {
            throw new IllegalArgumentException("a " + network.type + " needs " + network.depthKey + " >= "
                    + network.minDepth + ", got " + depth);
        }
        eventShape = eventShape.clone();
    }

    /** An unconditional model of the network whose output layer has 2 x filters maps. */
    public static PixelSpec of(Network network, long[] eventShape, int levels, int filters, int depth) {
        return new PixelSpec(network, eventShape, levels, filters, depth, 2 * filters, 0);
    }

    /** A PixelCNN with {@code blocks} residual blocks. */
    public static PixelSpec pixelCnn(long[] eventShape, int levels, int filters, int blocks) {
        return of(Network.PIXELCNN, eventShape, levels, filters, blocks);
    }

    /** A Gated PixelCNN of {@code layers} gated layers. */
    public static PixelSpec gated(long[] eventShape, int levels, int filters, int layers) {
        return of(Network.GATED_PIXELCNN, eventShape, levels, filters, layers);
    }

    /** A Row LSTM PixelRNN of {@code layers} layers. */
    public static PixelSpec rowLstm(long[] eventShape, int levels, int filters, int layers) {
        return of(Network.ROW_LSTM, eventShape, levels, filters, layers);
    }

    /** A Diagonal BiLSTM PixelRNN of {@code layers} layers. */
    public static PixelSpec diagonalBiLstm(long[] eventShape, int levels, int filters, int layers) {
        return of(Network.DIAGONAL_BILSTM, eventShape, levels, filters, layers);
    }

    /** The same model conditioned on a one-hot class label of {@code classes} values (0: unconditional). */
    public PixelSpec withContext(int classes) {
        return new PixelSpec(network, eventShape, levels, filters, depth, outputFilters, classes);
    }

    /** The same model with another width of the hidden output layer. */
    public PixelSpec withOutputFilters(int outputFilters) {
        return new PixelSpec(network, eventShape, levels, filters, depth, outputFilters, contextSize);
    }

    @Override
    public String type() {
        return network.type;
    }

    /** A fresh training layer for this spec. */
    public PixelLayer layer() {
        return network.layer.apply(this);
    }

    /** Image height H. */
    public int height() {
        return Math.toIntExact(eventShape[0]);
    }

    /** Image width W. */
    public int width() {
        return Math.toIntExact(eventShape[1]);
    }

    /** Colour channels C (1 for an {@code [H, W]} event). */
    public int channels() {
        return eventShape.length == 3 ? Math.toIntExact(eventShape[2]) : 1;
    }

    /** Event size D = H W C. */
    public int dim() {
        return height() * width() * channels();
    }

    /**
     * The widest feature maps per image: twice the larger of the hidden maps, the output layer's maps and the logits
     * (C x levels), over every pixel. A 256-level image's logits alone are 256 x H x W floats per row.
     */
    @Override
    public long activationElementsPerRow() {
        long maps = Math.max(Math.max(filters, outputFilters), (long) channels() * Math.max(2, levels));
        return 2 * maps * height() * width();
    }

    /** The conditionals' family: Bernoulli for binary images, categorical otherwise. */
    public OutputFamily family() {
        return layer().outputFamily();
    }

    @Override
    public String valueType() {
        return family().valueType();
    }

    @Override
    public int variantCount() {
        return 1;
    }

    @Override
    public MultiLayerConfiguration trainingConfiguration(TrainingRecipe recipe) {
        return recipe.base()
                .list()
                .layer(layer())
                .layer(new LossLayer.Builder(new NllOutputLoss()).activation(Activation.IDENTITY).build())
                .setInputType(InputType.feedForward((long) dim() + contextSize))
                .build();
    }

    @Override
    public INDArray trainingFeatures(INDArray x, int variant) {
        return trainingFeatures(x, null, variant);
    }

    /** {@code [x | context]}: the event and, for a conditional model, its one-hot label. */
    @Override
    public INDArray trainingFeatures(INDArray x, INDArray context, int variant) {
        if (variant != 0) {
            throw new IllegalArgumentException("a " + type() + " model has one variant, got " + variant);
        }
        if (x.rank() != 2 || x.columns() != dim()) {
            throw new IllegalArgumentException("expected [batch, " + dim() + "] events, got "
                    + Arrays.toString(x.shape()));
        }
        int k = contextSize;
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
    public INDArray trainingLabels(INDArray x) {
        return Nd4j.zeros(DataType.FLOAT, x.rows(), 1);
    }

    @Override
    public DensityModel densityOf(MultiLayerNetwork network) {
        return new PixelCnnDensity(this, network);
    }

    /**
     * Keys: type, eventShape, levels, filters, the depth under its network's key ({@code blocks} or {@code layers}),
     * outputFilters, contextSize.
     */
    @Override
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", network.type);
        m.put("eventShape", Arrays.stream(eventShape).boxed().toList());
        m.put("levels", levels);
        m.put("filters", filters);
        m.put(network.depthKey, depth);
        m.put("outputFilters", outputFilters);
        m.put("contextSize", contextSize);
        return m;
    }

    /** Reads the map written by {@link #toMap()}; {@code outputFilters} (2 x filters) and {@code contextSize} (0) may be missing. */
    public static PixelSpec fromConfig(Config c) {
        Network n = Network.of(c.getString("type"));
        int filters = c.getInt("filters");
        return new PixelSpec(n, c.getLongList("eventShape").stream().mapToLong(Long::longValue).toArray(),
                c.getInt("levels"), filters, c.getInt(n.depthKey),
                c.hasPath("outputFilters") ? c.getInt("outputFilters") : 2 * filters,
                c.hasPath("contextSize") ? c.getInt("contextSize") : 0);
    }

    @Override
    public long[] eventShape() {
        return eventShape.clone();
    }

    /** Equal when the saved descriptions are ({@link Described#sameDescription}). */
    @Override
    public boolean equals(Object o) {
        return Described.sameDescription(this, o);
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
