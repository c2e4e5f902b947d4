package org.chainrule.models.pixelpp;

import org.chainrule.models.HashedDropout;
import org.nd4j.shade.jackson.annotation.JsonInclude;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.samediff.SDLayerParams;
import org.deeplearning4j.nn.conf.layers.samediff.SameDiffLayer;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.autodiff.samediff.SDIndex;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.enums.PadMode;
import org.nd4j.enums.WeightsFormat;
import org.nd4j.linalg.api.ops.impl.layers.convolution.config.Conv2DConfig;
import org.nd4j.linalg.api.ops.impl.layers.convolution.config.PaddingMode;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A PixelCNN++ network (Salimans et al. 2017) as one SameDiff layer: images in, either each example's exact NLL
 * ({@code [batch, 1]}, the training view) or every pixel's mixture parameters ({@code [batch, H W P]}, the sampler's
 * view), from the same graph.
 *
 * <p><b>Causality by shifting, not masking.</b> Two streams, as in the paper (and van den Oord et al. 2016's gated
 * PixelCNN, which removed the blind spot): the "up" stream u sees only rows strictly above a pixel, the "up-left"
 * stream ul sees those rows and the pixels to its left in its own row. A <em>down-shifted</em> convolution with a
 * kH x kW kernel (kW odd) pads kH - 1 rows on top and (kW - 1) / 2 columns each side, so output (i, j) reads input
 * rows i-kH+1..i and columns j-(kW-1)/2..j+(kW-1)/2; a <em>down-right-shifted</em> one pads kW - 1 columns on the left
 * instead, reading columns j-kW+1..j. Only the first layer needs a real shift (pad one row on top or one column on the
 * left and drop the last): u_0 = downshift(downconv_2x3(x)), ul_0 = downshift(downconv_1x3(x)) +
 * rightshift(downrightconv_2x1(x)), after which u(i, j) depends on rows &lt; i and ul(i, j) on pixels before (i, j)
 * in raster order. Every later convolution keeps it so: u's 2x3 ones read u at rows i-1..i only, ul's 2x2 ones read
 * ul at (i-1..i, j-1..j), and ul's 1x1 link reads u at (i, j).
 * A pixel's own channels are never visible to its parameters: the channel dependence lives in the likelihood
 * ({@link DiscretizedLogisticMixture}), which conditions on whole pixels. As in the paper the input gets a channel of
 * ones, so the zero padding is distinguishable from a zero-valued pixel.
 *
 * <p><b>Gated resnet layers</b> ({@code resnetLayers} of them, each updating u then ul): with concat_elu(x) =
 * elu(concat(x, -x)) over channels, c = conv(concat_elu(x)) (+ nin(concat_elu(u)) for ul, its link to the up stream),
 * c = conv(concat_elu(c)) with 2F outputs split into (a, b), and x + a * sigmoid(b); u uses 2x3 down-shifted and ul 2x2
 * down-right-shifted convolutions. The output is nin(elu(ul)), a 1x1 convolution to the P mixture parameters.
 * With dropout (the paper's, between the two convolutions of each block), the input's last column holds the step's
 * dropout key ({@link HashedDropout}: row 0; 0 = off), and concat_elu(c) is masked unit by unit before the second
 * convolution. A mask depends on the key, the example and the unit, never on pixel values, so causality holds.
 *
 * <p><b>Simplifications against the paper</b>, for small images and a CPU: no U-net (no strided down-sampling,
 * transposed-convolution up-sampling or the down pass with its skip connections: one pass of {@code resnetLayers}
 * gated resnet layers at full resolution), no dropout, no weight normalization or data-dependent initialization
 * (Xavier initialization). Polyak averaging of the parameters is the training recipe's ({@code train.ema}).
 *
 * <p>Every field has bean accessors: DL4J and dl4j-spark rebuild layers from JSON, and a field without them would
 * silently come back empty. Parameter names avoid underscores (the updater splits keys on them).
 */
public class PixelCnnPpLayer extends SameDiffLayer {
    private int height;
    private int width;
    private int channels;
    private int levels;
    private int filters;
    private int resnetLayers;
    private int components;
    private boolean parameterOutput;
    /** Dropout rate inside the gated resnet layers while training; 0 in layers saved before it existed. */
    private double dropout;

    /** For JSON deserialization. */
    public PixelCnnPpLayer() {
    }

    /**
     * @param parameterOutput false: the training view (per-example NLL); true: every pixel's mixture parameters
     */
    public PixelCnnPpLayer(PixelCnnPpSpec spec, boolean parameterOutput) {
        this.height = spec.height();
        this.width = spec.width();
        this.channels = spec.channels();
        this.levels = spec.levels();
        this.filters = spec.filters();
        this.resnetLayers = spec.resnetLayers();
        this.components = spec.components();
        this.parameterOutput = parameterOutput;
        this.dropout = spec.dropout();
        this.weightInit = WeightInit.XAVIER;
    }

    /** The pixel likelihood (named so that JSON does not mistake it for a property). */
    DiscretizedLogisticMixture likelihood() {
        return new DiscretizedLogisticMixture(channels, components, levels);
    }

    /** One convolution's kernel and its padding (top, left, right; never bottom: nothing reads below). */
    private record Conv(String name, int kH, int kW, int in, int out, int top, int left, int right) {
        static Conv down(String name, int kH, int kW, int in, int out) {
            return new Conv(name, kH, kW, in, out, kH - 1, (kW - 1) / 2, (kW - 1) / 2);
        }

        static Conv downRight(String name, int kH, int kW, int in, int out) {
            return new Conv(name, kH, kW, in, out, kH - 1, kW - 1, 0);
        }

        static Conv nin(String name, int in, int out) {
            return new Conv(name, 1, 1, in, out, 0, 0, 0);
        }

        String weight() {
            return name + "W";
        }

        String bias() {
            return name + "b";
        }
    }

    /** Every convolution of the network, in a fixed order (the parameter layout). */
    private List<Conv> convolutions() {
        int f = filters;
        int in = channels + 1;
        List<Conv> convs = new ArrayList<>();
        convs.add(Conv.down("inU", 2, 3, in, f));
        convs.add(Conv.down("inUl", 1, 3, in, f));
        convs.add(Conv.downRight("inL", 2, 1, in, f));
        for (int r = 0; r < resnetLayers; r++) {
            convs.add(Conv.down("r" + r + "uA", 2, 3, 2 * f, f));
            convs.add(Conv.down("r" + r + "uB", 2, 3, 2 * f, 2 * f));
            convs.add(Conv.downRight("r" + r + "lA", 2, 2, 2 * f, f));
            convs.add(Conv.nin("r" + r + "lU", 2 * f, f));
            convs.add(Conv.downRight("r" + r + "lB", 2, 2, 2 * f, 2 * f));
        }
        convs.add(Conv.nin("out", f, likelihood().paramsPerPixel()));
        return convs;
    }

    private Map<String, Conv> convolutionsByName() {
        Map<String, Conv> byName = new LinkedHashMap<>();
        for (Conv c : convolutions()) {
            byName.put(c.name(), c);
        }
        return byName;
    }

    @Override
    public SDVariable defineLayer(SameDiff sd, SDVariable layerInput, Map<String, SDVariable> paramTable,
                                  SDVariable inputMask) {
        SDVariable image = layerInput;
        SDVariable key = null;
        if (dropout > 0) {
            int d = height * width * channels;
            image = layerInput.get(SDIndex.all(), SDIndex.interval(0, d));
            key = layerInput.get(SDIndex.interval(0, 1), SDIndex.interval(d, d + 1));
        }
        SDVariable params = parameters(sd, image, key, paramTable);
        if (parameterOutput) {
            return params;
        }
        return likelihood().nll(sd, params, image, height * width);
    }

    /**
     * The mixture parameters of every pixel.
     *
     * @param input raw values 0..L-1, {@code [batch, H W C]} row-major over [H, W, C]
     * @param paramTable this layer's parameters as variables
     * @return {@code [batch, H W P]}, pixel i W + j owning columns (i W + j) P .. + P - 1
     */
    public SDVariable parameters(SameDiff sd, SDVariable input, Map<String, SDVariable> paramTable) {
        return parameters(sd, input, null, paramTable);
    }

    /** {@link #parameters(SameDiff, SDVariable, Map)} with dropout keyed by {@code key} ({@code [1, 1]}; null: none). */
    SDVariable parameters(SameDiff sd, SDVariable input, SDVariable key, Map<String, SDVariable> paramTable) {
        Map<String, Conv> convs = convolutionsByName();
        SDVariable image = input.reshape(-1, height, width, channels).permute(0, 3, 1, 2);   // NCHW
        SDVariable scaled = image.mul(2.0 / (levels - 1)).sub(1.0);
        // a ones map [B, 1, H, W]: channel 0 picked by a one-hot column (any single-output op on the input will do)
        SDVariable first = channels == 1 ? input
                : input.reshape(-1, channels).mmul(sd.constant(Nd4j.zeros(input.dataType(), channels, 1).putScalar(0, 1)));
        SDVariable x = sd.concat(1, scaled, sd.onesLike(first).reshape(-1, 1, height, width));

        SDVariable u = downShift(sd, conv(sd, x, convs.get("inU"), paramTable));
        SDVariable ul = downShift(sd, conv(sd, x, convs.get("inUl"), paramTable))
                .add(rightShift(sd, conv(sd, x, convs.get("inL"), paramTable)));
        for (int r = 0; r < resnetLayers; r++) {
            String p = "r" + r;
            u = gatedResnet(sd, u, null, convs.get(p + "uA"), null, convs.get(p + "uB"), paramTable,
                    key, 2 * r);
            ul = gatedResnet(sd, ul, u, convs.get(p + "lA"), convs.get(p + "lU"), convs.get(p + "lB"), paramTable,
                    key, 2 * r + 1);
        }
        SDVariable out = conv(sd, sd.nn().elu(ul), convs.get("out"), paramTable);          // [B, P, H, W]
        int perPixel = likelihood().paramsPerPixel();
        return out.permute(0, 2, 3, 1).reshape(-1, (long) height * width * perPixel);
    }

    /**
     * x + a * sigmoid(b) with (a, b) = conv2(dropout(concat_elu(conv1(concat_elu(x)) [+ nin(concat_elu(link))]))):
     * the paper's gated resnet block. Dropout is keyed by {@code key} (null: none); block {@code block} (2 r for
     * layer r's up stream, 2 r + 1 for its up-left one) owns units block 2F H W .. + 2F H W - 1, channel-major.
     */
    private SDVariable gatedResnet(SameDiff sd, SDVariable x, SDVariable link, Conv first, Conv linkConv, Conv second,
                                   Map<String, SDVariable> paramTable, SDVariable key, int block) {
        SDVariable c = conv(sd, concatElu(sd, x), first, paramTable);
        if (link != null) {
            c = c.add(conv(sd, concatElu(sd, link), linkConv, paramTable));
        }
        SDVariable hidden = concatElu(sd, c);                                                // [B, 2F, H, W]
        if (key != null) {
            int maps = 2 * filters;
            int units = maps * height * width;
            hidden = hidden.mul(HashedDropout.mask(sd, "ppDropout" + block, key, hidden, (long) block * units, units,
                    dropout).reshape(-1, maps, height, width));
        }
        SDVariable[] ab = sd.split(conv(sd, hidden, second, paramTable), 2, 1);
        return x.add(ab[0].mul(sd.nn().sigmoid(ab[1])));
    }

    /** concat_elu(x) = elu(concat(x, -x)) over channels: keeps both signs' information, doubling the channels. */
    static SDVariable concatElu(SameDiff sd, SDVariable x) {
        return sd.nn().elu(sd.concat(1, x, x.neg()));
    }

    /** A convolution with the padding of {@code c} (then no padding inside the op): output H x W, like the input. */
    private static SDVariable conv(SameDiff sd, SDVariable x, Conv c, Map<String, SDVariable> paramTable) {
        SDVariable padded = x;
        if (c.top() + c.left() + c.right() > 0) {
            INDArray pad = Nd4j.createFromArray(new int[][]{{0, 0}, {0, 0}, {c.top(), 0}, {c.left(), c.right()}});
            padded = sd.nn().pad(x, sd.constant(pad), PadMode.CONSTANT, 0.0);
        }
        Conv2DConfig config = Conv2DConfig.builder().kH(c.kH()).kW(c.kW()).sH(1).sW(1).pH(0).pW(0).dH(1).dW(1)
                .paddingMode(PaddingMode.VALID).dataFormat(Conv2DConfig.NCHW).weightsFormat(WeightsFormat.YXIO)
                .build();
        return sd.cnn().conv2d(padded, paramTable.get(c.weight()), paramTable.get(c.bias()), config);
    }

    /** Moves an NCHW map one row down (a zero row on top, the last row dropped). */
    private SDVariable downShift(SameDiff sd, SDVariable x) {
        INDArray pad = Nd4j.createFromArray(new int[][]{{0, 0}, {0, 0}, {1, 0}, {0, 0}});
        return sd.nn().pad(x, sd.constant(pad), PadMode.CONSTANT, 0.0)
                .get(SDIndex.all(), SDIndex.all(), SDIndex.interval(0, height), SDIndex.all());
    }

    /** Moves an NCHW map one column right (a zero column on the left, the last column dropped). */
    private SDVariable rightShift(SameDiff sd, SDVariable x) {
        INDArray pad = Nd4j.createFromArray(new int[][]{{0, 0}, {0, 0}, {0, 0}, {1, 0}});
        return sd.nn().pad(x, sd.constant(pad), PadMode.CONSTANT, 0.0)
                .get(SDIndex.all(), SDIndex.all(), SDIndex.all(), SDIndex.interval(0, width));
    }

    @Override
    public void defineParameters(SDLayerParams params) {
        params.clear();
        for (Conv c : convolutions()) {
            params.addWeightParam(c.weight(), c.kH(), c.kW(), c.in(), c.out());
            params.addBiasParam(c.bias(), c.out());
        }
    }

    @Override
    public void initializeParameters(Map<String, INDArray> params) {
        WeightInit init = weightInit == null ? WeightInit.XAVIER : weightInit;
        for (Conv c : convolutions()) {
            int taps = c.kH() * c.kW();
            initWeights(taps * c.in(), taps * c.out(), init, params.get(c.weight()));
            params.get(c.bias()).assign(0);
        }
    }

    @Override
    public InputType getOutputType(int layerIndex, InputType inputType) {
        return InputType.feedForward(parameterOutput
                ? (long) height * width * likelihood().paramsPerPixel() : 1);
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

    public int getFilters() {
        return filters;
    }

    public void setFilters(int filters) {
        this.filters = filters;
    }

    public int getResnetLayers() {
        return resnetLayers;
    }

    public void setResnetLayers(int resnetLayers) {
        this.resnetLayers = resnetLayers;
    }

    public int getComponents() {
        return components;
    }

    public void setComponents(int components) {
        this.components = components;
    }

    /** Whether the layer outputs the mixture parameters (the sampler's view) instead of the NLL. */
    public boolean isParameterOutput() {
        return parameterOutput;
    }

    public void setParameterOutput(boolean parameterOutput) {
        this.parameterOutput = parameterOutput;
    }

    /** Dropout rate inside the gated resnet layers while training (omitted from the JSON when 0, as before it existed). */
    @JsonInclude(JsonInclude.Include.NON_DEFAULT)
    public double getDropout() {
        return dropout;
    }

    public void setDropout(double dropout) {
        this.dropout = dropout;
    }
}
