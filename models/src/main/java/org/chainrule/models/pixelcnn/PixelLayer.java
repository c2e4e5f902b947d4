package org.chainrule.models.pixelcnn;

import org.chainrule.models.conditionals.Bernoulli;
import org.chainrule.models.conditionals.Categorical;
import org.chainrule.models.conditionals.OutputFamily;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.samediff.SDLayerParams;
import org.deeplearning4j.nn.conf.layers.samediff.SameDiffLayer;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.autodiff.samediff.SDIndex;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.List;
import java.util.Map;

/**
 * What the PixelCNN layers share: a whole image model as one SameDiff layer whose output is each example's exact NLL
 * {@code [batch, 1]} (for {@link org.chainrule.models.NllOutputLoss}).
 *
 * <p>Input is {@code [batch, D + K]}: the event, flattened row-major over {@code [H, W, C]} (channels last, as the
 * data pipeline stores images), then the one-hot class label when the model is conditional (K = {@code contextSize}).
 * Inside, the event becomes an NCHW image scaled to [0, 1] (x / (levels - 1)); the network maps it to logits
 * {@code [batch, C * P, H, W]} whose channel {@code c * P + q} is logit q of colour c, and those are laid out as
 * {@link OutputFamily} expects, sub-pixel d = (i W + j) C + c owning columns {@code d * P .. d * P + P - 1}. The NLL is
 * the family's own SameDiff expression, so training, scoring and the sampler's Java conditionals share one definition.
 *
 * <p>Subclasses list their convolutions ({@link #convolutions()}) and wire them ({@link #logits}); parameters,
 * initialisation and shapes follow from that list. Parameter names are {@code w<id>} (kernel, {@code [kH, kW, in,
 * out]}), {@code b<id>} (bias, {@code [out]}) and {@code c<id>} (class-label weights, {@code [K, out]}): no
 * underscores, which DL4J's updater would split on.
 *
 * <p>Every field has bean accessors: DL4J and dl4j-spark rebuild layers from JSON, and a field without them would
 * silently come back empty.
 */
public abstract class PixelLayer extends SameDiffLayer {
    private int height;
    private int width;
    private int channels = 1;
    private int levels = 2;
    private int contextSize;
    private int filters;
    private int outputFilters;

    /** For JSON deserialization. */
    protected PixelLayer() {
    }

    protected PixelLayer(long[] eventShape, int levels, int filters, int outputFilters, int contextSize) {
        this.height = Math.toIntExact(eventShape[0]);
        this.width = Math.toIntExact(eventShape[1]);
        this.channels = eventShape.length == 3 ? Math.toIntExact(eventShape[2]) : 1;
        this.levels = levels;
        this.filters = filters;
        this.outputFilters = outputFilters;
        this.contextSize = contextSize;
        this.weightInit = WeightInit.RELU;
    }

    /**
     * One convolution of the network.
     *
     * @param id    parameter name suffix
     * @param mask  {@code [kH, kW, in, out]}
     * @param bias  whether it has a bias {@code b<id>}
     * @param label whether a conditional model adds a class-label bias {@code c<id>} to its output
     */
    protected record Conv(String id, INDArray mask, boolean bias, boolean label) {
        long in() {
            return mask.size(2);
        }

        long out() {
            return mask.size(3);
        }
    }

    /** Every convolution of the network, in order. */
    protected abstract List<Conv> convolutions();

    /**
     * The logits of every sub-pixel's conditional for a batch of events, laid out as {@link OutputFamily} expects.
     * Used by {@link #defineLayer} (then the NLL), by the sampler and by tests (gradients of single logits).
     *
     * @param x       events {@code [batch, D]} (integer-valued floats)
     * @param context one-hot labels {@code [batch, K]}, or null for an unconditional model
     * @param params  parameters by name (as DL4J's parameter table, or constants / variables of another graph)
     * @return {@code [batch, D * P]}
     */
    public abstract SDVariable logits(SameDiff sd, SDVariable x, SDVariable context, Map<String, SDVariable> params);

    /** The conditionals' family: Bernoulli for binary data, categorical (softmax) for more levels. */
    public OutputFamily outputFamily() {
        return levels == 2 ? new Bernoulli() : new Categorical(levels);
    }

    /** Event size D = H W C. */
    public int dim() {
        return height * width * channels;
    }

    @Override
    public SDVariable defineLayer(SameDiff sd, SDVariable layerInput, Map<String, SDVariable> paramTable,
                                  SDVariable inputMask) {
        int d = dim();
        SDVariable x = contextSize == 0 ? layerInput : layerInput.get(SDIndex.all(), SDIndex.interval(0, d));
        SDVariable context = contextSize == 0 ? null
                : layerInput.get(SDIndex.all(), SDIndex.interval(d, d + contextSize));
        return outputFamily().nll(sd, logits(sd, x, context, paramTable), x, d);
    }

    /** The events as an NCHW image scaled to [0, 1]. */
    protected SDVariable image(SDVariable x) {
        SDVariable scaled = levels == 2 ? x : x.mul(1.0 / (levels - 1));
        return scaled.reshape(-1, height, width, channels).permute(0, 3, 1, 2);
    }

    /** NCHW logits {@code [batch, C * P, H, W]} (channel c * P + q = logit q of colour c) as {@code [batch, D * P]}. */
    protected SDVariable flatten(SDVariable logits) {
        int p = outputFamily().paramsPerDim();
        return logits.reshape(-1, channels, p, height, width).permute(0, 3, 4, 1, 2).reshape(-1, (long) dim() * p);
    }

    /**
     * Convolution {@code id} of the list, with its class-label bias when the model is conditional: a learned vector
     * per label added to every position, which depends on no pixel and so leaves the masks' causality intact.
     */
    protected SDVariable conv(SameDiff sd, Conv conv, SDVariable input, SDVariable context,
                              Map<String, SDVariable> params) {
        SDVariable y = MaskedConvolution.conv(sd, input, params.get("w" + conv.id()),
                conv.bias() ? params.get("b" + conv.id()) : null, conv.mask());
        if (context != null && conv.label()) {
            y = y.add(context.mmul(params.get("c" + conv.id())).reshape(-1, conv.out(), 1, 1));
        }
        return y;
    }

    /** The convolution with the given id. */
    protected Conv find(List<Conv> convs, String id) {
        for (Conv c : convs) {
            if (c.id().equals(id)) {
                return c;
            }
        }
        throw new IllegalStateException("no convolution " + id);
    }

    @Override
    public void defineParameters(SDLayerParams params) {
        params.clear();
        for (Conv c : convolutions()) {
            params.addWeightParam("w" + c.id(), c.mask().shape());
            if (c.bias()) {
                params.addBiasParam("b" + c.id(), c.out());
            }
        }
        for (Conv c : convolutions()) {
            if (contextSize > 0 && c.label()) {
                params.addWeightParam("c" + c.id(), contextSize, c.out());
            }
        }
    }

    /** He-normal kernels scaled by the masked fan-in (a masked kernel has fewer live inputs); zero biases, labels. */
    @Override
    public void initializeParameters(Map<String, INDArray> params) {
        for (Conv c : convolutions()) {
            int fanIn = (int) Math.round(MaskedConvolution.fanIn(c.mask()));
            initWeights(fanIn, (int) c.out(), WeightInit.RELU, params.get("w" + c.id()));
            if (c.bias()) {
                params.get("b" + c.id()).assign(0);
            }
            if (contextSize > 0 && c.label()) {
                params.get("c" + c.id()).assign(0);
            }
        }
    }

    /** The widest feature map of the network, in channels: what one image costs in memory per map. */
    public int widestMap() {
        long w = 1;
        for (Conv c : convolutions()) {
            w = Math.max(w, Math.max(c.in(), c.out()));
        }
        return Math.toIntExact(w);
    }

    /** Colour groups of the event's own channels (channel c is group c). */
    protected int[] inputGroups() {
        return MaskedConvolution.blocks(channels, channels);
    }

    /** Colour groups of the output logits (P logits per colour). */
    protected int[] outputGroups() {
        return MaskedConvolution.blocks(channels * outputFamily().paramsPerDim(), channels);
    }

    protected INDArray mask(int kH, int kW, int[] in, int[] out, MaskedConvolution.Kind kind) {
        return MaskedConvolution.mask(kH, kW, in, out, kind, DataType.FLOAT);
    }

    @Override
    public InputType getOutputType(int layerIndex, InputType inputType) {
        return InputType.feedForward(1);
    }

    @Override
    public void setNIn(InputType inputType, boolean override) {
        // fixed by the spec
    }

    public int getHeight() {
        return height;
    }

    public void setHeight(int height) {
        this.height = height;
    }

    public int getWidth() {
        return width;
    }

    public void setWidth(int width) {
        this.width = width;
    }

    public int getChannels() {
        return channels;
    }

    public void setChannels(int channels) {
        this.channels = channels;
    }

    public int getLevels() {
        return levels;
    }

    public void setLevels(int levels) {
        this.levels = levels;
    }

    public int getContextSize() {
        return contextSize;
    }

    public void setContextSize(int contextSize) {
        this.contextSize = contextSize;
    }

    public int getFilters() {
        return filters;
    }

    public void setFilters(int filters) {
        this.filters = filters;
    }

    public int getOutputFilters() {
        return outputFilters;
    }

    public void setOutputFilters(int outputFilters) {
        this.outputFilters = outputFilters;
    }
}
