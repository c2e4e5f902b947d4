package org.chainrule.models.flows;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigRenderOptions;
import org.chainrule.models.DensityModel;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.NllOutputLoss;
import org.chainrule.models.Seeds;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.LossLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A normalizing flow as a model: a learned {@link Transform} from data to a standard normal latent, plus the fixed
 * pre-processing that turns the data into what the transform sees. The density is
 * {@code log p(x) = log N(f(x); 0, I) + log |det df/dx|}, every pre-processing Jacobian included, so likelihoods are
 * always in the units of the data as stored.
 *
 * <p>Discrete data ({@code levels} L &gt; 0, e.g. 8-bit pixels) is dequantized uniformly (Uria et al. 2013; Theis et
 * al. 2016): the flow models y = (x + u) / L with u ~ U[0, 1)^D, and since {@code P(x) = E_u p(x + u)}, the reported
 * {@code E_u log p(x + u)} is a lower bound on the discrete log-likelihood (Jensen), in nats of the discrete data:
 * the 1/L scaling contributes {@code -D log L}. Evaluation averages {@code evalSamples} noise draws inside the log
 * (still a bound, tighter with more draws), with noise fixed by the row's values so a score is reproducible.
 * Optionally y goes through the logit pre-transform of RealNVP/MAF, {@code logit(a + (1 - 2a) y)}, whose
 * log-Jacobian is counted too. Real-valued data (L = 0) enters as the pipeline standardized it.
 *
 * @param type        family name shown to users: {@code maf}, {@code iaf}, {@code realnvp}, {@code glow},
 *                    {@code planar}, {@code radial}
 * @param eventShape  shape of one event as the dataset stores it; the transform may view it as another shape with
 *                    the same number of elements (e.g. [28, 28] as [1, 28, 28])
 * @param transform   the learned map from (pre-processed) data to latent
 * @param levels      values per dimension of discrete data (dequantized), 0 for real-valued data
 * @param logitAlpha  the logit pre-transform's a in (0, 0.5), or 0 for none (discrete data only)
 * @param evalSamples dequantization noise draws per row when scoring (log-mean-exp), at least 1
 */
public record FlowSpec(String type, long[] eventShape, Transform transform, int levels, double logitAlpha,
                       int evalSamples) implements ModelSpec {

    /** Family names a flow can be configured as. */
    public static final List<String> TYPES = List.of("maf", "iaf", "realnvp", "glow", "planar", "radial");

    private static final long EVAL_NOISE_SEED = 0x5eed_f10e_d0d0L;

    public FlowSpec {
        if (!TYPES.contains(type)) {
            throw new IllegalArgumentException("flow type must be one of " + TYPES + ", got " + type);
        }
        eventShape = eventShape.clone();
        if (Flows.size(transform.inputShape()) != Flows.size(eventShape)
                || Flows.size(transform.outputShape()) != Flows.size(eventShape)) {
            throw new IllegalArgumentException("the " + type + " transform maps " + Arrays.toString(transform.inputShape())
                    + " to " + Arrays.toString(transform.outputShape()) + " but events are "
                    + Arrays.toString(eventShape));
        }
        if (levels < 0 || levels == 1) {
            throw new IllegalArgumentException("levels must be 0 (real data) or at least 2, got " + levels);
        }
        if (logitAlpha < 0 || logitAlpha >= 0.5 || (logitAlpha > 0 && levels == 0)) {
            throw new IllegalArgumentException("logit alpha must be in [0, 0.5), and only for discrete data; got "
                    + logitAlpha);
        }
        if (evalSamples < 1) {
            throw new IllegalArgumentException("evalSamples must be >= 1, got " + evalSamples);
        }
    }

    /** Event dimension D. */
    public int dim() {
        return Math.toIntExact(Flows.size(eventShape));
    }

    @Override
    public long[] eventShape() {
        return eventShape.clone();
    }

    @Override
    public String valueType() {
        return levels == 0 ? "real" : levels == 2 ? "binary" : "uint8";
    }

    @Override
    public int levels() {
        return levels;
    }

    /** Discrete data draws fresh dequantization noise per minibatch; the variant index is its seed. */
    @Override
    public int variantCount() {
        return levels == 0 ? 1 : 1 << 30;
    }

    @Override
    public MultiLayerConfiguration trainingConfiguration(Optimization opt) {
        return new NeuralNetConfiguration.Builder()
                .seed(opt.seed())
                .dataType(DataType.FLOAT)
                .updater(new Adam(opt.learningRate()))
                .list()
                .layer(new FlowLayer(this))
                .layer(new LossLayer.Builder(new NllOutputLoss()).activation(Activation.IDENTITY).build())
                .setInputType(InputType.feedForward(dim()))
                .build();
    }

    /** The events, dequantized with noise seeded by {@code variant} when the data is discrete. */
    @Override
    public INDArray trainingFeatures(INDArray x, int variant) {
        if (variant < 0 || variant >= variantCount()) {
            throw new IllegalArgumentException("variant " + variant + " outside [0, " + variantCount() + ")");
        }
        if (levels == 0) {
            return x.castTo(DataType.FLOAT);
        }
        SplittableRandom r = new SplittableRandom(Seeds.derive(EVAL_NOISE_SEED, variant, 1));
        return dequantize(x, row -> r);
    }

    @Override
    public INDArray trainingLabels(INDArray x) {
        return Nd4j.zeros(DataType.FLOAT, x.rows(), 1);
    }

    /**
     * Adds u ~ U[0, 1) to every value of discrete events; each row's noise comes from {@code rowNoise}. Values must be
     * integers in [0, levels).
     */
    INDArray dequantize(INDArray x, java.util.function.LongFunction<SplittableRandom> rowNoise) {
        int d = dim();
        float[] v = x.castTo(DataType.FLOAT).dup('c').data().asFloat();
        for (int i = 0; i < x.rows(); i++) {
            SplittableRandom r = rowNoise.apply(i);
            for (int j = 0; j < d; j++) {
                float value = v[i * d + j];
                if (!(value >= 0 && value <= levels - 1) || value != Math.rint(value)) {
                    throw new IllegalArgumentException("row " + i + ", column " + j + ": value " + value
                            + " is not an integer in [0, " + (levels - 1) + "] as this " + type + " flow expects");
                }
                // strictly inside [x, x + 1): keeps y = (x + u) / L below 1, so the logit stays finite
                v[i * d + j] = value + (float) Math.min(r.nextDouble(), 1.0 - 1e-6);
            }
        }
        return Nd4j.create(v, new long[]{x.rows(), d}, 'c');
    }

    /**
     * Dequantization noise for scoring draw {@code k}: fixed by the row's values, so the same row gets the same
     * bound in any batch or executor.
     */
    INDArray evalFeatures(INDArray x, int k) {
        INDArray f = x.castTo(DataType.FLOAT).dup('c');
        int d = dim();
        float[] all = f.data().asFloat();
        return dequantize(f, i -> {
            int h = Arrays.hashCode(Arrays.copyOfRange(all, (int) i * d, (int) (i + 1) * d));
            return new SplittableRandom(Seeds.derive(EVAL_NOISE_SEED, h, k));
        });
    }

    /**
     * The pre-processing in the graph: dequantized values {@code [batch, D]} to the transform's input, with its
     * log-Jacobian per example (scaling by 1/L and the logit; 0 for real data).
     */
    Transform.Flowed preprocess(SameDiff sd, SDVariable x) {
        long[] shape = transform.inputShape();
        SDVariable v = x.reshape(withBatch(shape));
        if (levels == 0) {
            return new Transform.Flowed(v, Flows.zeroLogDet(v, shape));
        }
        double d = dim();
        SDVariable y = v.div(levels);
        SDVariable logDet = Flows.zeroLogDet(v, shape).add(-d * Math.log(levels));
        if (logitAlpha > 0) {
            SDVariable s = y.mul(1 - 2 * logitAlpha).add(logitAlpha);
            SDVariable logS = sd.math().log(s);
            SDVariable log1mS = sd.math().log(s.rsub(1.0));
            logDet = logDet.add(d * Math.log(1 - 2 * logitAlpha)).sub(Flows.sumPerExample(logS.add(log1mS), shape));
            y = logS.sub(log1mS);
        }
        return new Transform.Flowed(y, logDet);
    }

    /** Undoes {@link #preprocess} on sampled transform inputs and rounds discrete data down to its value. */
    INDArray postprocess(INDArray y) {
        INDArray v = y.castTo(DataType.DOUBLE).reshape(y.size(0), dim()).dup();
        if (levels == 0) {
            return v;
        }
        if (logitAlpha > 0) {
            v = org.nd4j.linalg.ops.transforms.Transforms.sigmoid(v, false).subi(logitAlpha).divi(1 - 2 * logitAlpha);
        }
        v.muli(levels);
        org.nd4j.linalg.ops.transforms.Transforms.floor(v, false);
        return org.nd4j.linalg.ops.transforms.Transforms.max(org.nd4j.linalg.ops.transforms.Transforms.min(v, levels - 1,
                false), 0, false);
    }

    /** Each example's NLL {@code [batch, 1]} in the training graph: -(log N(z) + log-Jacobians). */
    SDVariable nll(SameDiff sd, SDVariable x, Map<String, SDVariable> params) {
        Transform.Flowed pre = preprocess(sd, x);
        Transform.Flowed f = transform.forward(sd, pre.value(), params);
        long[] out = transform.outputShape();
        SDVariable z = f.value();
        SDVariable logBase = Flows.sumPerExample(z.mul(z), out).mul(-0.5).sub(0.5 * dim() * Math.log(2 * Math.PI));
        return logBase.add(f.logAbsDet()).add(pre.logAbsDet()).neg().reshape(-1, 1);
    }

    /**
     * Data-dependent initialisation (Glow's actnorm) from a batch of training events, applied to a freshly built
     * network before training starts; a no-op for transforms without it.
     */
    @Override
    public void initializeFromData(MultiLayerNetwork network, INDArray x) {
        INDArray features = levels == 0 ? x.castTo(DataType.FLOAT) : evalFeatures(x, 0);
        SameDiff sd = SameDiff.create();
        SDVariable in = sd.placeHolder("in", DataType.FLOAT, -1, dim());
        SDVariable y = sd.identity("pre", preprocess(sd, in).value());
        INDArray pre = sd.output(Map.of("in", features), y.name()).get(y.name());
        transform.initializeFromData(FlowLayer.parameters(network), pre);
    }

    @Override
    public String likelihoodCaveat() {
        if (levels == 0) {
            return null;
        }
        return "a lower bound on the log-probability of the discrete values: uniform dequantization, log mean_k p(x + u_k)"
                + " over " + evalSamples + " noise draw(s) u_k ~ U[0,1)^D fixed per row (E_u p(x + u) = P(x), so the bound"
                + " tightens with more draws)" + (logitAlpha > 0 ? "; the logit pre-transform's Jacobian is included" : "");
    }

    @Override
    public DensityModel densityOf(MultiLayerNetwork network) {
        return new FlowDensity(this, network);
    }

    static long[] withBatch(long[] shape) {
        long[] s = new long[shape.length + 1];
        s[0] = -1;
        System.arraycopy(shape, 0, s, 1, shape.length);
        return s;
    }

    @Override
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", type);
        m.put("eventShape", Arrays.stream(eventShape).boxed().toList());
        m.put("levels", levels);
        m.put("logitAlpha", logitAlpha);
        m.put("evalSamples", evalSamples);
        m.put("transform", transform.toMap());
        return m;
    }

    /** Reads the map written by {@link #toMap()}. */
    public static FlowSpec fromConfig(Config c) {
        return new FlowSpec(c.getString("type"), Transforms.shape(c, "eventShape"),
                Transforms.fromConfig(c.getConfig("transform")), c.getInt("levels"), c.getDouble("logitAlpha"),
                c.getInt("evalSamples"));
    }

    /** The spec as one JSON string (how the training layer carries it through DL4J's configuration JSON). */
    String toJson() {
        return ConfigFactory.parseMap(toMap()).root().render(ConfigRenderOptions.concise());
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof FlowSpec s && s.toMap().equals(toMap());
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
