package org.chainrule.models.autoregressive;

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
 * <p>Input is {@code [batch, D + 1]}: the event followed by a column holding the mask-set index of the minibatch
 * (read from row 0), so the data pipeline, not worker state, decides which connectivity a step trains. Masks are
 * multiplied into the weights once per step, not per example.
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
    private boolean direct;

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
        this.direct = spec.direct();
        this.weightInit = WeightInit.XAVIER;
    }

    static String weightName(int l) {
        return "W" + l;
    }

    static String biasName(int l) {
        return "b" + l;
    }

    private int[] widths() {
        int[] w = new int[hidden.length + 2];
        w[0] = dim;
        System.arraycopy(hidden, 0, w, 1, hidden.length);
        w[w.length - 1] = dim;
        return w;
    }

    @Override
    public SDVariable defineLayer(SameDiff sd, SDVariable layerInput, Map<String, SDVariable> paramTable,
                                  SDVariable inputMask) {
        SDVariable h = layerInput.get(SDIndex.all(), SDIndex.interval(0, dim));
        SDVariable variant = null;
        if (variants > 1) {
            variant = layerInput.get(SDIndex.point(0), SDIndex.point(dim)).castTo(DataType.INT).reshape(1);
        }
        SDVariable x = h;
        int[] w = widths();
        for (int l = 0; l < w.length - 1; l++) {
            int layer = l;
            SDVariable weight = paramTable.get(weightName(l));
            SDVariable m = maskVariable(sd, "madeMask" + l, variant, w[l], w[l + 1],
                    k -> masks(k).mask(layer, weight.dataType()));
            SDVariable z = h.mmul(weight.mul(m)).add(paramTable.get(biasName(l)));
            h = l < w.length - 2 ? sd.nn().relu(z, 0) : z;
        }
        if (direct) {
            SDVariable weight = paramTable.get(DIRECT);
            SDVariable m = maskVariable(sd, "madeDirectMask", variant, dim, dim,
                    k -> masks(k).directMask(weight.dataType()));
            h = h.add(x.mmul(weight.mul(m)));
        }
        return h;
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
        return MadeMasks.of(dim, hidden, orderAgnostic, maskSeed, k);
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
            params.addWeightParam(DIRECT, dim, dim);
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
    }

    @Override
    public InputType getOutputType(int layerIndex, InputType inputType) {
        return InputType.feedForward(dim);
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
}
