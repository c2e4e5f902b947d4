package org.chainrule.models.vae;

import org.chainrule.models.Seeds;
import org.chainrule.models.conditionals.Bernoulli;
import org.chainrule.models.flows.Flows;
import org.chainrule.models.flows.PlanarFlow;
import org.chainrule.models.flows.Transform;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.samediff.SDLayerParams;
import org.deeplearning4j.nn.conf.layers.samediff.SameDiffLayer;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.autodiff.samediff.SDIndex;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A whole {@link VaeSpec} as one SameDiff layer: input {@code [x | eps]} ({@code [batch, D + L]}), output each example's
 * negative single-sample ELBO {@code [batch, 1]} for {@link org.chainrule.models.NllOutputLoss}.
 *
 * <p>The graph: encoder MLP {@code h = act(... act(x W + b))}; linear heads from h give {@code mu}, {@code logVar}
 * ({@code [batch, L]}) and, for step k, the amortised planar parameters {@code u_k}, {@code w_k} ({@code [batch, L]})
 * and {@code b_k} ({@code [batch, 1]}); {@code z0 = mu + exp(logVar / 2) eps}; the K steps are
 * {@link PlanarFlow#forward} itself, whose formulas broadcast per-row parameters (so the invertibility constraint
 * {@code w.u_hat > -1} holds for every example); the decoder MLP gives Bernoulli logits of x. Since
 * {@code (z0 - mu) / sigma = eps} exactly, {@code log q0(z0 | x) = -sum_j (log(2 pi) + logVar_j + eps_j^2) / 2}.
 *
 * <p>Parameter names hold letters and digits only (DL4J's updater splits keys on underscores): encoder layer l
 * {@code encW<l>, encB<l>}; heads {@code muW, muB, lvW, lvB}; planar step k {@code fuW<k>, fuB<k>, fwW<k>, fwB<k>,
 * fbW<k>, fbB<k>}; decoder layer l {@code decW<l>, decB<l>}, the last one producing the logits.
 *
 * <p>Every field has bean accessors: DL4J and dl4j-spark rebuild layers from JSON on executors, and a field without
 * them would silently come back empty.
 */
public class VaeLayer extends SameDiffLayer {
    private int dim;
    private int latent;
    private int flowSteps;
    private int[] encoderHidden = new int[0];
    private int[] decoderHidden = new int[0];
    private String activation = "tanh";

    /**
     * Scale of the flow heads' initial weights relative to Xavier: each step starts close to one shared near-identity
     * planar map (its biases, from {@link PlanarFlow#initialize}), and the per-example part grows in training.
     */
    static final double FLOW_HEAD_SCALE = 0.1;

    private static final long FLOW_INIT_SEED = 0x76616546L;

    /** For JSON deserialization. */
    public VaeLayer() {
    }

    public VaeLayer(VaeSpec spec) {
        this.dim = spec.dim();
        this.latent = spec.latent();
        this.flowSteps = spec.flowSteps();
        this.encoderHidden = spec.encoderHidden();
        this.decoderHidden = spec.decoderHidden();
        this.activation = spec.activation();
    }

    static String encoderWeight(int l) {
        return "encW" + l;
    }

    static String encoderBias(int l) {
        return "encB" + l;
    }

    static String decoderWeight(int l) {
        return "decW" + l;
    }

    static String decoderBias(int l) {
        return "decB" + l;
    }

    /** Head weight of planar parameter {@code p} (u, w or b) of step k. */
    static String flowWeight(String p, int k) {
        return "f" + p + "W" + k;
    }

    static String flowBias(String p, int k) {
        return "f" + p + "B" + k;
    }

    static final String MU_W = "muW";
    static final String MU_B = "muB";
    static final String LOGVAR_W = "lvW";
    static final String LOGVAR_B = "lvB";

    private int encoderOut() {
        return encoderHidden.length == 0 ? dim : encoderHidden[encoderHidden.length - 1];
    }

    @Override
    public SDVariable defineLayer(SameDiff sd, SDVariable layerInput, Map<String, SDVariable> paramTable,
                                  SDVariable inputMask) {
        SDVariable x = layerInput.get(SDIndex.all(), SDIndex.interval(0, dim));
        SDVariable eps = layerInput.get(SDIndex.all(), SDIndex.interval(dim, dim + latent));
        long[] latentShape = {latent};

        SDVariable h = x;
        for (int l = 0; l < encoderHidden.length; l++) {
            h = act(sd, dense(h, paramTable, encoderWeight(l), encoderBias(l)));
        }
        SDVariable mu = dense(h, paramTable, MU_W, MU_B);
        SDVariable logVar = dense(h, paramTable, LOGVAR_W, LOGVAR_B);
        SDVariable z = mu.add(sd.math().exp(logVar.mul(0.5)).mul(eps));
        // log q0(z0 | x): the Gaussian at z0 = mu + sigma eps, where (z0 - mu) / sigma is eps itself
        SDVariable logQ0 = Flows.sumPerExample(logVar.add(eps.mul(eps)), latentShape).mul(-0.5)
                .sub(0.5 * latent * Math.log(2 * Math.PI));

        SDVariable logDet = null;
        PlanarFlow planar = new PlanarFlow(latent);
        for (int k = 0; k < flowSteps; k++) {
            Map<String, SDVariable> p = new LinkedHashMap<>();
            for (String name : new String[]{"u", "w", "b"}) {
                p.put(name, dense(h, paramTable, flowWeight(name, k), flowBias(name, k)));
            }
            Transform.Flowed f = planar.forward(sd, z, p);
            z = f.value();
            logDet = logDet == null ? f.logAbsDet() : logDet.add(f.logAbsDet());
        }

        SDVariable logPrior = Flows.sumPerExample(z.mul(z), latentShape).mul(-0.5)
                .sub(0.5 * latent * Math.log(2 * Math.PI));
        SDVariable g = z;
        for (int l = 0; l < decoderHidden.length; l++) {
            g = act(sd, dense(g, paramTable, decoderWeight(l), decoderBias(l)));
        }
        SDVariable logits = dense(g, paramTable, decoderWeight(decoderHidden.length), decoderBias(decoderHidden.length));
        SDVariable nllX = new Bernoulli().nll(sd, logits, x, dim).reshape(-1);

        // -(log p(x|z_K) + log N(z_K) - log q0(z0|x) + sum_k log|det df_k|)
        SDVariable negElbo = nllX.sub(logPrior).add(logQ0);
        if (logDet != null) {
            negElbo = negElbo.sub(logDet);
        }
        return negElbo.reshape(-1, 1);
    }

    private static SDVariable dense(SDVariable in, Map<String, SDVariable> params, String weight, String bias) {
        return in.mmul(params.get(weight)).add(params.get(bias));
    }

    private SDVariable act(SameDiff sd, SDVariable z) {
        return activation.equals("relu") ? sd.nn().relu(z, 0) : sd.math().tanh(z);
    }

    @Override
    public void defineParameters(SDLayerParams params) {
        params.clear();
        int in = dim;
        for (int l = 0; l < encoderHidden.length; l++) {
            params.addWeightParam(encoderWeight(l), in, encoderHidden[l]);
            params.addBiasParam(encoderBias(l), 1, encoderHidden[l]);
            in = encoderHidden[l];
        }
        params.addWeightParam(MU_W, in, latent);
        params.addBiasParam(MU_B, 1, latent);
        params.addWeightParam(LOGVAR_W, in, latent);
        params.addBiasParam(LOGVAR_B, 1, latent);
        for (int k = 0; k < flowSteps; k++) {
            for (String name : new String[]{"u", "w", "b"}) {
                int width = name.equals("b") ? 1 : latent;
                params.addWeightParam(flowWeight(name, k), in, width);
                params.addBiasParam(flowBias(name, k), 1, width);
            }
        }
        in = latent;
        for (int l = 0; l <= decoderHidden.length; l++) {
            int out = l < decoderHidden.length ? decoderHidden[l] : dim;
            params.addWeightParam(decoderWeight(l), in, out);
            params.addBiasParam(decoderBias(l), 1, out);
            in = out;
        }
    }

    /**
     * Xavier weights and zero biases (so q0 starts at N(mu(x), I) and the decoder at p = 1/2), except the planar heads:
     * their biases get {@link PlanarFlow#initialize}'s near-identity values and their weights a small Xavier draw
     * ({@link #FLOW_HEAD_SCALE}).
     */
    @Override
    public void initializeParameters(Map<String, INDArray> params) {
        int in = dim;
        for (int l = 0; l < encoderHidden.length; l++) {
            xavier(params.get(encoderWeight(l)), in, encoderHidden[l]);
            params.get(encoderBias(l)).assign(0);
            in = encoderHidden[l];
        }
        xavier(params.get(MU_W), in, latent);
        params.get(MU_B).assign(0);
        xavier(params.get(LOGVAR_W), in, latent);
        params.get(LOGVAR_B).assign(0);
        PlanarFlow planar = new PlanarFlow(latent);
        for (int k = 0; k < flowSteps; k++) {
            Map<String, INDArray> biases = new LinkedHashMap<>();
            for (String name : new String[]{"u", "w", "b"}) {
                INDArray w = params.get(flowWeight(name, k));
                xavier(w, in, (int) w.columns());
                w.muli(FLOW_HEAD_SCALE);
                biases.put(name, params.get(flowBias(name, k)));
            }
            planar.initialize(biases, Seeds.derive(FLOW_INIT_SEED, k));
        }
        in = latent;
        for (int l = 0; l <= decoderHidden.length; l++) {
            int out = l < decoderHidden.length ? decoderHidden[l] : dim;
            xavier(params.get(decoderWeight(l)), in, out);
            params.get(decoderBias(l)).assign(0);
            in = out;
        }
    }

    private void xavier(INDArray w, int fanIn, int fanOut) {
        initWeights(fanIn, fanOut, WeightInit.XAVIER, w);
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

    public int getLatent() {
        return latent;
    }

    public void setLatent(int latent) {
        this.latent = latent;
    }

    public int getFlowSteps() {
        return flowSteps;
    }

    public void setFlowSteps(int flowSteps) {
        this.flowSteps = flowSteps;
    }

    public int[] getEncoderHidden() {
        return encoderHidden;
    }

    public void setEncoderHidden(int[] encoderHidden) {
        this.encoderHidden = encoderHidden;
    }

    public int[] getDecoderHidden() {
        return decoderHidden;
    }

    public void setDecoderHidden(int[] decoderHidden) {
        this.decoderHidden = decoderHidden;
    }

    /** Hidden activation of both MLPs: {@code tanh} or {@code relu}. */
    public String getActivation() {
        return activation;
    }

    public void setActivation(String activation) {
        this.activation = activation;
    }
}
