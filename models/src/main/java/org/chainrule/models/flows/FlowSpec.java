package org.chainrule.models.flows;

import org.chainrule.models.Described;
import org.chainrule.models.TrainingRecipe;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigRenderOptions;
import org.chainrule.models.DensityModel;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.NllOutputLoss;
import org.chainrule.models.Seeds;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.LossLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Arrays;
import java.util.LinkedHashMap;
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
 * <p>Two options refine the model ({@link Dequantization}, {@link BaseDistribution}): variational dequantization
 * (Ho et al. 2019, Flow++) learns the noise distribution q(u|x) jointly with the flow, and the reported bound becomes
 * {@code E_q[log p(x + u) - log q(u|x)]}; the network input then carries standard normal noise eps (from which the
 * graph makes u) next to x instead of x + u. A MADE-MoG base (Papamakarios et al. 2017) replaces N(0, I) by a
 * learned autoregressive mixture density over the latent. Their parameters sit in the same layer as the
 * transform's and train with it.
 *
 * @param type        family name shown to users: {@code maf}, {@code iaf}, {@code realnvp}, {@code glow},
 *                    {@code planar}, {@code radial}
 * @param eventShape  shape of one event as the dataset stores it; the transform may view it as another shape with
 *                    the same number of elements (e.g. [28, 28] as [1, 28, 28])
 * @param transform   the learned map from (pre-processed) data to latent
 * @param levels      values per dimension of discrete data (dequantized), 0 for real-valued data
 * @param logitAlpha  the logit pre-transform's a in (0, 0.5), or 0 for none (discrete data only)
 * @param evalSamples dequantization noise draws per row when scoring (log-mean-exp), at least 1
 * @param dequantization how discrete values are dequantized (uniform or variational; discrete data only)
 * @param base        the latent's density (standard normal or MADE-MoG)
 */
public record FlowSpec(String type, long[] eventShape, Transform transform, int levels, double logitAlpha,
                       int evalSamples, Dequantization dequantization, BaseDistribution base) implements ModelSpec {

    private static final long EVAL_NOISE_SEED = 0x5eed_f10e_d0d0L;

    public FlowSpec {
        dequantization = dequantization == null ? Dequantization.UNIFORM : dequantization;
        base = base == null ? BaseDistribution.NORMAL : base;
        if (!FlowArchitectures.TYPES.contains(type)) {
            throw new IllegalArgumentException("flow type must be one of " + FlowArchitectures.TYPES + ", got " + type);
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
        if (dequantization.isVariational() && levels == 0) {
            throw new IllegalArgumentException("variational dequantization is for discrete data (levels > 0)");
        }
        Map<String, long[]> names = new LinkedHashMap<>(transform.parameterShapes());
        int d = Math.toIntExact(Flows.size(eventShape));
        for (String name : dequantization.parameterShapes(d).keySet()) {
            if (names.put(name, null) != null) {
                throw new IllegalArgumentException("dequantization parameter " + name + " clashes with the transform's");
            }
        }
        for (String name : base.parameterShapes(d).keySet()) {
            if (names.put(name, null) != null) {
                throw new IllegalArgumentException("base parameter " + name + " clashes with another parameter");
            }
        }
    }

    /** A flow with uniform dequantization and a standard normal base (the spec as it was before these options). */
    public FlowSpec(String type, long[] eventShape, Transform transform, int levels, double logitAlpha,
                    int evalSamples) {
        this(type, eventShape, transform, levels, logitAlpha, evalSamples, Dequantization.UNIFORM,
                BaseDistribution.NORMAL);
    }

    /** This flow with another dequantization. */
    public FlowSpec withDequantization(Dequantization d) {
        return new FlowSpec(type, eventShape, transform, levels, logitAlpha, evalSamples, d, base);
    }

    /** This flow with another base distribution. */
    public FlowSpec withBase(BaseDistribution b) {
        return new FlowSpec(type, eventShape, transform, levels, logitAlpha, evalSamples, dequantization, b);
    }

    /**
     * Every trained parameter of the flow, by name: the transform's, then the variational dequantizer's
     * ({@code dq...}), then the base's ({@code mog...}).
     */
    public Map<String, long[]> parameterShapes() {
        Map<String, long[]> all = new LinkedHashMap<>(transform.parameterShapes());
        all.putAll(dequantization.parameterShapes(dim()));
        all.putAll(base.parameterShapes(dim()));
        return all;
    }

    /** Initial values of {@link #parameterShapes()} (each part initialises its own, from seeds derived from seed). */
    void initialize(Map<String, INDArray> params, long seed) {
        transform.initialize(subset(params, transform.parameterShapes()), seed);
        dequantization.initialize(params, dim(), Seeds.derive(seed, 1, 0x6471));
        base.initialize(params, dim(), Seeds.derive(seed, 2, 0x6d6f67));
    }

    private static <V> Map<String, V> subset(Map<String, V> params, Map<String, long[]> names) {
        Map<String, V> out = new LinkedHashMap<>();
        names.keySet().forEach(n -> out.put(n, params.get(n)));
        return out;
    }

    /**
     * Width of the network input: D (the dequantized or real values), or 2D under variational dequantization (the
     * integer values, then the noise eps that q turns into u).
     */
    public int featureWidth() {
        return dequantization.isVariational() ? 2 * dim() : dim();
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
    public MultiLayerConfiguration trainingConfiguration(TrainingRecipe recipe) {
        return recipe.base()
                .list()
                .layer(new FlowLayer(this))
                .layer(new LossLayer.Builder(new NllOutputLoss()).activation(Activation.IDENTITY).build())
                .setInputType(InputType.feedForward(featureWidth()))
                .build();
    }

    /**
     * The events, dequantized with noise seeded by {@code variant} when the data is discrete (under variational
     * dequantization: the events followed by the standard normal noise).
     */
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
     * The network input for discrete events, each row's noise drawn from {@code rowNoise}: uniform dequantization
     * adds u ~ U[0, 1) to every value; variational dequantization appends eps ~ N(0, I) to the values. Values must
     * be integers in [0, levels).
     */
    INDArray dequantize(INDArray x, java.util.function.LongFunction<SplittableRandom> rowNoise) {
        int d = dim();
        boolean variational = dequantization.isVariational();
        int width = featureWidth();
        float[] v = x.castTo(DataType.FLOAT).dup('c').data().asFloat();
        float[] out = new float[Math.toIntExact(x.rows() * width)];
        for (int i = 0; i < x.rows(); i++) {
            SplittableRandom r = rowNoise.apply(i);
            for (int j = 0; j < d; j++) {
                float value = v[i * d + j];
                if (!(value >= 0 && value <= levels - 1) || value != Math.rint(value)) {
                    throw new IllegalArgumentException("row " + i + ", column " + j + ": value " + value
                            + " is not an integer in [0, " + (levels - 1) + "] as this " + type + " flow expects");
                }
                if (variational) {
                    out[i * width + j] = value;
                    out[i * width + d + j] = (float) r.nextGaussian();
                } else {
                    // strictly inside [x, x + 1): keeps y = (x + u) / L below 1, so the logit stays finite
                    out[i * width + j] = value + (float) Math.min(r.nextDouble(), 1.0 - 1e-6);
                }
            }
        }
        return Nd4j.create(out, new long[]{x.rows(), width}, 'c');
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

    /**
     * The network input {@code [batch, featureWidth()]} to the transform's input, with the per-example log-weight
     * that the pre-processing adds to {@code log p}: the pre-processing log-Jacobians, minus {@code log q(u|x)} under
     * variational dequantization.
     */
    Transform.Flowed transformInput(SameDiff sd, SDVariable features, Map<String, SDVariable> params) {
        if (!dequantization.isVariational()) {
            return preprocess(sd, features);
        }
        int d = dim();
        DataType type = features.dataType();
        INDArray eye = Nd4j.eye(d).castTo(type);
        INDArray zero = Nd4j.zeros(type, d, d);
        // columns picked by products with constant 0/1 matrices: a strided slice's gradient fails on 1-row batches
        SDVariable x = features.mmul(sd.constant(Nd4j.concat(0, eye, zero)));
        SDVariable eps = features.mmul(sd.constant(Nd4j.concat(0, zero, eye)));
        Transform.Flowed q = dequantization.sample(sd, x, eps, levels, d, params);
        Transform.Flowed pre = preprocess(sd, q.value());
        return new Transform.Flowed(pre.value(), pre.logAbsDet().sub(q.logAbsDet()));
    }

    /**
     * Each example's NLL {@code [batch, 1]} in the training graph: -(log p_base(z) + log-Jacobians - log q(u|x)),
     * the negative dequantization bound for discrete data.
     */
    SDVariable nll(SameDiff sd, SDVariable x, Map<String, SDVariable> params) {
        Transform.Flowed pre = transformInput(sd, x, params);
        Transform.Flowed f = transform.forward(sd, pre.value(), params);
        SDVariable logBase = base.logProb(sd, f.value().reshape(-1, dim()), dim(), params);
        return logBase.add(f.logAbsDet()).add(pre.logAbsDet()).neg().reshape(-1, 1);
    }

    /**
     * Data-dependent initialisation (Glow's actnorm) from a batch of training events, applied to a freshly built
     * network before training starts; a no-op for transforms without it.
     */
    @Override
    public void initializeFromData(MultiLayerNetwork network, INDArray x) {
        INDArray features = levels == 0 ? x.castTo(DataType.FLOAT) : evalFeatures(x, 0);
        Map<String, INDArray> params = FlowLayer.parameters(network);
        SameDiff sd = SameDiff.create();
        SDVariable in = sd.placeHolder("in", DataType.FLOAT, -1, featureWidth());
        Map<String, SDVariable> constants = new LinkedHashMap<>();
        params.forEach((name, value) -> constants.put(name, sd.constant("p_" + name, value.dup())));
        SDVariable y = sd.identity("pre", transformInput(sd, in, constants).value());
        INDArray pre = sd.output(Map.of("in", features), y.name()).get(y.name());
        transform.initializeFromData(subset(params, transform.parameterShapes()), pre);
    }

    @Override
    public String likelihoodCaveat() {
        if (levels == 0) {
            return null;
        }
        if (dequantization.isVariational()) {
            return "a lower bound on the log-probability of the discrete values: variational dequantization bound,"
                    + " log mean_k p(x + u_k) / q(u_k | x) over " + evalSamples + " draw(s) u_k from the learned noise"
                    + " distribution q(u|x) (Ho et al. 2019), noise fixed per row (E_q[p(x + u) / q(u | x)] = P(x),"
                    + " so the bound tightens with more draws)"
                    + (logitAlpha > 0 ? "; the logit pre-transform's Jacobian is included" : "");
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
        m.putAll(dequantization.toMap());
        m.putAll(base.toMap());
        m.put("transform", transform.toMap());
        return m;
    }

    /**
     * Reads the map written by {@link #toMap()}; a map without the dequantization or base keys (written before they
     * existed) reads as uniform dequantization and a normal base.
     */
    public static FlowSpec fromConfig(Config c) {
        return new FlowSpec(c.getString("type"), Transforms.shape(c, "eventShape"),
                Transforms.fromConfig(c.getConfig("transform")), c.getInt("levels"), c.getDouble("logitAlpha"),
                c.getInt("evalSamples"), Dequantization.read(c), BaseDistribution.read(c));
    }

    /** The spec as one JSON string (how the training layer carries it through DL4J's configuration JSON). */
    String toJson() {
        return ConfigFactory.parseMap(toMap()).root().render(ConfigRenderOptions.concise());
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
