package org.chainrule.models.deepnade;

import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.samediff.SDLayerParams;
import org.deeplearning4j.nn.conf.layers.samediff.SameDiffLayer;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.autodiff.samediff.SDIndex;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Map;

/**
 * The whole deep NADE / NADE-k training objective as one SameDiff layer (see {@link DeepNadeSpec}): input
 * {@code [batch, 2D]} = events x then observed mask m; output {@code [batch, 1]} = each row's order-agnostic weighted
 * NLL, D / (D - o) * sum over unobserved d of softplus((1 - 2 x_d) z_d), z the last iteration's logits. SameDiff
 * differentiates through all k iterations (the unrolled inference of Raiko et al. 2014).
 *
 * <p>The first layer's weights are split into a part for the values ({@link #VALUE_WEIGHTS}) and one for the mask
 * ({@link #MASK_WEIGHTS}): the same map as one weight on the concatenation [v | m], but the mask's term m Wm + b0 is
 * computed once and shared by the k iterations, here and in {@link DeepNade}'s forward, which mirrors this graph.
 *
 * <p>Every field has bean accessors: DL4J and dl4j-spark rebuild layers from JSON on executors, and a field without
 * them would silently come back empty.
 */
public class DeepNadeLayer extends SameDiffLayer {
    /** The learned fill-in of unobserved values before the first iteration: v_0 = m x + (1 - m) sigmoid(a). */
    static final String FILL = "a";
    /** First layer weights applied to the current values v, {@code [D, H1]}. */
    static final String VALUE_WEIGHTS = "Wv";
    /** First layer weights applied to the mask m, {@code [D, H1]}. */
    static final String MASK_WEIGHTS = "Wm";
    /** Output weights, {@code [H_L, D]}. */
    static final String OUTPUT_WEIGHTS = "V";
    /** Output bias, {@code [1, D]}. */
    static final String OUTPUT_BIAS = "c";

    private int dim;
    private int[] hidden = new int[0];
    private int iterations = 1;
    private boolean intermediateLoss;

    /** For JSON deserialization. */
    public DeepNadeLayer() {
    }

    public DeepNadeLayer(DeepNadeSpec spec) {
        this.dim = spec.dim();
        this.hidden = spec.hidden().clone();
        this.iterations = spec.iterations();
        this.intermediateLoss = spec.intermediateLoss();
        this.weightInit = WeightInit.XAVIER;
    }

    /** Weights of hidden layer l >= 1 (from layer l - 1), {@code [H_l, H_{l+1}]} in 0-based widths. */
    static String weightName(int l) {
        return "W" + l;
    }

    /** Bias of hidden layer l (0-based), {@code [1, H_l]}. */
    static String biasName(int l) {
        return "b" + l;
    }

    @Override
    public SDVariable defineLayer(SameDiff sd, SDVariable layerInput, Map<String, SDVariable> paramTable,
                                  SDVariable inputMask) {
        SDVariable x = layerInput.get(SDIndex.all(), SDIndex.interval(0, dim));
        SDVariable m = layerInput.get(SDIndex.all(), SDIndex.interval(dim, 2 * dim));
        SDVariable free = m.rsub(1.0);
        SDVariable known = x.mul(m);
        // D / (D - o); the max guards a row with nothing to predict (never drawn in training) against 0/0
        SDVariable weight = sd.math().clipByValue(free.sum(true, 1), 1.0, dim).rdiv(dim);
        SDVariable sign = x.mul(-2.0).add(1.0);
        SDVariable maskTerm = m.mmul(paramTable.get(MASK_WEIGHTS)).add(paramTable.get(biasName(0)));
        SDVariable v = known.add(free.mul(sd.nn().sigmoid(paramTable.get(FILL))));
        SDVariable loss = null;
        for (int t = 0; t < iterations; t++) {
            SDVariable h = sd.nn().relu(v.mmul(paramTable.get(VALUE_WEIGHTS)).add(maskTerm), 0);
            for (int l = 1; l < hidden.length; l++) {
                h = sd.nn().relu(h.mmul(paramTable.get(weightName(l))).add(paramTable.get(biasName(l))), 0);
            }
            SDVariable z = h.mmul(paramTable.get(OUTPUT_WEIGHTS)).add(paramTable.get(OUTPUT_BIAS));
            boolean last = t == iterations - 1;
            if (last || intermediateLoss) {
                SDVariable nll = softplus(sd, sign.mul(z)).mul(free).sum(true, 1).mul(weight);
                loss = loss == null ? nll : loss.add(nll);
            }
            if (!last) {
                v = known.add(free.mul(sd.nn().sigmoid(z)));
            }
        }
        return intermediateLoss && iterations > 1 ? loss.div(iterations) : loss;
    }

    /** log(1 + exp(z)) = max(z, 0) + log(1 + exp(-|z|)): finite in float32 for any z. */
    private static SDVariable softplus(SameDiff sd, SDVariable z) {
        SDVariable tail = sd.math().log(sd.math().exp(sd.math().abs(z).neg()).add(1.0));
        return sd.nn().relu(z, 0).add(tail);
    }

    @Override
    public void defineParameters(SDLayerParams params) {
        params.clear();
        params.addBiasParam(FILL, 1, dim);
        params.addWeightParam(VALUE_WEIGHTS, dim, hidden[0]);
        params.addWeightParam(MASK_WEIGHTS, dim, hidden[0]);
        params.addBiasParam(biasName(0), 1, hidden[0]);
        for (int l = 1; l < hidden.length; l++) {
            params.addWeightParam(weightName(l), hidden[l - 1], hidden[l]);
            params.addBiasParam(biasName(l), 1, hidden[l]);
        }
        params.addWeightParam(OUTPUT_WEIGHTS, hidden[hidden.length - 1], dim);
        params.addBiasParam(OUTPUT_BIAS, 1, dim);
    }

    @Override
    public void initializeParameters(Map<String, INDArray> params) {
        WeightInit init = weightInit == null ? WeightInit.XAVIER : weightInit;
        params.get(FILL).assign(0);
        // fan-in of the first layer is the concatenation [v | m]: 2D
        initWeights(2 * dim, hidden[0], init, params.get(VALUE_WEIGHTS));
        initWeights(2 * dim, hidden[0], init, params.get(MASK_WEIGHTS));
        for (int l = 0; l < hidden.length; l++) {
            params.get(biasName(l)).assign(0);
            if (l > 0) {
                initWeights(hidden[l - 1], hidden[l], init, params.get(weightName(l)));
            }
        }
        initWeights(hidden[hidden.length - 1], dim, init, params.get(OUTPUT_WEIGHTS));
        params.get(OUTPUT_BIAS).assign(0);
    }

    @Override
    public InputType getOutputType(int layerIndex, InputType inputType) {
        return InputType.feedForward(1);
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

    public int getIterations() {
        return iterations;
    }

    public void setIterations(int iterations) {
        this.iterations = iterations;
    }

    public boolean isIntermediateLoss() {
        return intermediateLoss;
    }

    public void setIntermediateLoss(boolean intermediateLoss) {
        this.intermediateLoss = intermediateLoss;
    }
}
