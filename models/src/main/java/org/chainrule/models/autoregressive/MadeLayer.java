package org.chainrule.models.autoregressive;

import org.chainrule.models.HashedDropout;
import org.chainrule.models.Ordering;
import org.nd4j.shade.jackson.annotation.JsonInclude;
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
import org.nd4j.linalg.factory.Nd4j;

import java.util.Map;

/**
 * The whole MADE as one SameDiff layer: masked dense layers (ReLU hidden units) producing the logits of every
 * conditional, for one of {@code variants} mask sets.
 *
 * <p>Input is {@code [batch, D + C + 1]}: the event, its context (C = {@code contextSize}, usually 0), and a column
 * holding the mask-set index of the minibatch (read from row 0), so the data pipeline, not worker state, decides which
 * connectivity a step trains. With dropout a last column holds the step's dropout key (row 0; 0 = off), and every
 * hidden layer's units are masked by {@link HashedDropout}. Masks are multiplied into the weights once per step, not per example.
 *
 * <p>The binary, unconditional MADE outputs its D logits ({@code [batch, D]}) for {@code BernoulliLogitLoss}. With
 * another output family or a context, the output layer has D * P units (P parameters per dimension, dimension d owning
 * columns d*P .. d*P+P-1, each masked like d), the context reaches every layer through unmasked weights {@code C<l>},
 * and the layer itself outputs the exact per-example NLL {@code [batch, 1]} (see {@link MadeSpec}).
 *
 * <p>Every field has bean accessors: DL4J and dl4j-spark rebuild layers from JSON on executors, and a field without
 * them would silently come back empty.
 */
public class MadeLayer extends SameDiffLayer {
    private int dim;
    private int[] hidden = new int[0];
    private int variants = 1;
    private boolean orderAgnostic;
    private long maskSeed;
    /** Null for the raster ordering, so the JSON of raster layers stays what it was before orderings. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    private String ordering;
    private boolean direct;
    // defaults = the binary unconditional model, which is what a layer saved before these fields existed is
    private String family = "bernoulli";
    private int levels = 2;
    private int components;
    private int contextSize;
    /** Dropout rate on the hidden units while training; 0 in layers saved before it existed. */
    private double dropout;

    /** Parameter name of the direct input-to-output weights. */
    static final String DIRECT = "Wd";

    /** For JSON deserialization. */
    public MadeLayer() {
    }

    public MadeLayer(MadeSpec spec) {
        this.dim = spec.dim();
        this.hidden = spec.hidden().clone();
        this.variants = spec.variantCount();
        this.orderAgnostic = spec.orderAgnostic();
        this.maskSeed = spec.maskSeed();
        this.ordering = spec.ordering().equals(Ordering.RASTER) ? null : spec.ordering();
        this.direct = spec.direct();
        this.family = spec.family().name();
        this.levels = spec.family().levels();
        this.components = spec.family().components();
        this.contextSize = spec.contextSize();
        this.dropout = spec.dropout();
        this.weightInit = WeightInit.XAVIER;
    }

    /** The conditionals' family (named so that JSON does not mistake it for a property). */
    OutputFamily outputFamily() {
        return OutputFamily.of(family, levels, components);
    }

    /** Whether this layer outputs the per-example NLL rather than Bernoulli logits (see {@link MadeSpec#nllOutput}). */
    boolean nllOutput() {
        return !family.equals("bernoulli") || contextSize > 0;
    }

    private int paramsPerDim() {
        return outputFamily().paramsPerDim();
    }

    static String weightName(int l) {
        return "W" + l;
    }

    static String biasName(int l) {
        return "b" + l;
    }

    /** Name of the unmasked context weights into weight layer {@code l}'s outputs. */
    static String contextName(int l) {
        return "C" + l;
    }

    /**
     * The mask of weight layer {@code l} with every output column repeated {@code perDim} times, so the P parameters
     * of dimension d see exactly what d's single logit would (identical to {@link MadeMasks#mask} when P = 1).
     */
    static INDArray layerMask(MadeMasks masks, int l, int perDim, DataType type) {
        INDArray m = masks.mask(l, type);
        return l == masks.layerCount() - 1 ? repeatColumns(m, perDim) : m;
    }

    /** The direct-connection mask with its output columns repeated {@code perDim} times. */
    static INDArray directMask(MadeMasks masks, int perDim, DataType type) {
        return repeatColumns(masks.directMask(type), perDim);
    }

    private static INDArray repeatColumns(INDArray m, int times) {
        if (times == 1) {
            return m;
        }
        long rows = m.rows();
        long cols = m.columns();
        return m.reshape(rows, cols, 1).broadcast(rows, cols, times).dup('c').reshape(rows, cols * times);
    }

    private int[] widths() {
        int[] w = new int[hidden.length + 2];
        w[0] = dim;
        System.arraycopy(hidden, 0, w, 1, hidden.length);
        w[w.length - 1] = dim * paramsPerDim();
        return w;
    }

    @Override
    public SDVariable defineLayer(SameDiff sd, SDVariable layerInput, Map<String, SDVariable> paramTable,
                                  SDVariable inputMask) {
        SDVariable h = layerInput.get(SDIndex.all(), SDIndex.interval(0, dim));
        SDVariable context = contextSize == 0 ? null
                : layerInput.get(SDIndex.all(), SDIndex.interval(dim, dim + contextSize));
        SDVariable variant = null;
        if (variants > 1) {
            variant = layerInput.get(SDIndex.point(0), SDIndex.point(dim + contextSize)).castTo(DataType.INT)
                    .reshape(1);
        }
        SDVariable key = dropout > 0
                ? layerInput.get(SDIndex.interval(0, 1), SDIndex.interval(dim + contextSize + 1, dim + contextSize + 2))
                : null;
        int perDim = paramsPerDim();
        SDVariable x = h;
        int[] w = widths();
        long dropoutOffset = 0;
        for (int l = 0; l < w.length - 1; l++) {
            int layer = l;
            SDVariable weight = paramTable.get(weightName(l));
            SDVariable m = maskVariable(sd, "madeMask" + l, variant, w[l], w[l + 1],
                    k -> layerMask(masks(k), layer, perDim, weight.dataType()));
            SDVariable z = h.mmul(weight.mul(m)).add(paramTable.get(biasName(l)));
            if (context != null) {
                z = z.add(context.mmul(paramTable.get(contextName(l)))); // unmasked: c may inform every conditional
            }
            h = l < w.length - 2 ? sd.nn().relu(z, 0) : z;
            if (key != null && l < w.length - 2) {
                h = h.mul(HashedDropout.mask(sd, "madeDropout" + l, key, h, dropoutOffset, w[l + 1], dropout));
                dropoutOffset += w[l + 1];
            }
        }
        if (direct) {
            SDVariable weight = paramTable.get(DIRECT);
            SDVariable m = maskVariable(sd, "madeDirectMask", variant, dim, dim * perDim,
                    k -> directMask(masks(k), perDim, weight.dataType()));
            h = h.add(x.mmul(weight.mul(m)));
        }
        return nllOutput() ? outputFamily().nll(sd, h, x, dim) : h;
    }

    private SDVariable maskVariable(SameDiff sd, String name, SDVariable variant, int nIn, int nOut,
                                    java.util.function.IntFunction<INDArray> maskOf) {
        if (variant == null) {
            return sd.constant(name, maskOf.apply(0));
        }
        INDArray first = maskOf.apply(0);
        INDArray all = Nd4j.create(first.dataType(), variants, nIn, nOut);
        for (int k = 0; k < variants; k++) {
            all.putSlice(k, k == 0 ? first : maskOf.apply(k));
        }
        return sd.gather(sd.constant(name + "s", all), variant, 0).reshape(nIn, nOut);
    }

    private MadeMasks masks(int k) {
        return MadeMasks.of(dim, hidden, ordering == null ? Ordering.RASTER : ordering, orderAgnostic, maskSeed, k);
    }

    @Override
    public void defineParameters(SDLayerParams params) {
        params.clear();
        int[] w = widths();
        for (int l = 0; l < w.length - 1; l++) {
            params.addWeightParam(weightName(l), w[l], w[l + 1]);
            params.addBiasParam(biasName(l), 1, w[l + 1]);
        }
        if (direct) {
            params.addWeightParam(DIRECT, dim, (long) dim * paramsPerDim());
        }
        for (int l = 0; contextSize > 0 && l < w.length - 1; l++) {
            params.addWeightParam(contextName(l), contextSize, w[l + 1]);
        }
    }

    @Override
    public void initializeParameters(Map<String, INDArray> params) {
        int[] w = widths();
        for (int l = 0; l < w.length - 1; l++) {
            params.get(biasName(l)).assign(0);
            initWeights(w[l], w[l + 1], weightInit == null ? WeightInit.XAVIER : weightInit, params.get(weightName(l)));
        }
        if (direct) {
            params.get(DIRECT).assign(0); // starts as the plain MADE; the FVSBN term is learned on top
        }
        for (int l = 0; contextSize > 0 && l < w.length - 1; l++) {
            initWeights(contextSize, w[l + 1], weightInit == null ? WeightInit.XAVIER : weightInit,
                    params.get(contextName(l)));
        }
    }

    @Override
    public InputType getOutputType(int layerIndex, InputType inputType) {
        return InputType.feedForward(nllOutput() ? 1 : dim);
    }

    @Override
    public void setNIn(InputType inputType, boolean override) {
        // fixed by the spec
    }

    public int getDim() {
        return dim;
    }

    public void setDim(int dim) {
        this.dim = dim;
    }

    public int[] getHidden() {
        return hidden;
    }

    public void setHidden(int[] hidden) {
        this.hidden = hidden;
    }

    public int getVariants() {
        return variants;
    }

    public void setVariants(int variants) {
        this.variants = variants;
    }

    public boolean isOrderAgnostic() {
        return orderAgnostic;
    }

    public void setOrderAgnostic(boolean orderAgnostic) {
        this.orderAgnostic = orderAgnostic;
    }

    public boolean isDirect() {
        return direct;
    }

    public void setDirect(boolean direct) {
        this.direct = direct;
    }

    public long getMaskSeed() {
        return maskSeed;
    }

    public void setMaskSeed(long maskSeed) {
        this.maskSeed = maskSeed;
    }

    /** The first mask set's ordering ({@link Ordering}); layers saved before it was a setting are raster. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public String getOrdering() {
        return ordering;
    }

    public void setOrdering(String ordering) {
        this.ordering = ordering == null || ordering.equals(Ordering.RASTER) ? null : ordering;
    }

    /** Output family name ({@link OutputFamily#NAMES}); {@code bernoulli} in layers saved before it existed. */
    public String getFamily() {
        return family;
    }

    public void setFamily(String family) {
        this.family = family;
    }

    /** Values per dimension of a categorical family. */
    public int getLevels() {
        return levels;
    }

    public void setLevels(int levels) {
        this.levels = levels;
    }

    /** Components of a Gaussian mixture family. */
    public int getComponents() {
        return components;
    }

    public void setComponents(int components) {
        this.components = components;
    }

    /** Context width; 0 (unconditional) in layers saved before it existed. */
    public int getContextSize() {
        return contextSize;
    }

    public void setContextSize(int contextSize) {
        this.contextSize = contextSize;
    }

    /** Dropout rate on the hidden units while training (omitted from the JSON when 0, as before it existed). */
    @JsonInclude(JsonInclude.Include.NON_DEFAULT)
    public double getDropout() {
        return dropout;
    }

    public void setDropout(double dropout) {
        this.dropout = dropout;
    }
}
