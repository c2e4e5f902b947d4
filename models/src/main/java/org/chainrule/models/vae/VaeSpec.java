package org.chainrule.models.vae;

import org.chainrule.models.Described;
import org.chainrule.models.TrainingRecipe;
import com.typesafe.config.Config;
import org.chainrule.models.DensityModel;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.NllOutputLoss;
import org.chainrule.models.Seeds;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.LossLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.LongFunction;

/**
 * A variational autoencoder (Kingma &amp; Welling 2014) over binary events whose approximate posterior is refined by
 * amortised planar flows, as in Rezende &amp; Mohamed 2015, "Variational Inference with Normalizing Flows" (sections 4
 * and 6.2).
 *
 * <p>Generative model: {@code z ~ N(0, I_L)}, {@code x_d | z ~ Bernoulli(sigmoid(decoder(z)_d))}, the decoder an MLP.
 * Inference model: an encoder MLP maps x to the mean and log-variance of a diagonal Gaussian {@code q0(z0 | x)} and to
 * the parameters {@code u_k, w_k, b_k} of K planar maps (one set per example: the flow is amortised), and
 * {@code z_K = f_K(...f_1(z0))}. By the change of variables,
 * {@code log q_K(z_K | x) = log q0(z0 | x) - sum_k log |det df_k/dz|}, so one draw gives the single-sample ELBO
 * {@code log p(x | z_K) + log N(z_K; 0, I) - log q0(z0 | x) + sum_k log |det df_k/dz|}, which the training network
 * outputs (negated) per example. K = 0 is the plain VAE.
 *
 * <p><b>Noise without SameDiff's RNG.</b> The reparametrisation {@code z0 = mu + exp(logVar / 2) eps} takes its
 * {@code eps ~ N(0, I_L)} from the network input: {@link #trainingFeatures} appends eps drawn in Java from a seed
 * derived from the minibatch's variant index (so {@link #variantCount()} is 2^30, as for the dequantization noise of a
 * flow), which gives every minibatch fresh noise and keeps runs reproducible. Scoring draws its noise from each row's
 * own values, so a row's score does not depend on its batch.
 *
 * <p><b>The likelihood is an estimate.</b> {@link VaeDensity#logProb} is the importance-weighted bound of Burda et al.
 * 2016 ("Importance Weighted Autoencoders"), {@code log (1/S) sum_s w_s} with {@code S = evalSamples} draws
 * {@code w_s = p(x, z_K^s) / q_K(z_K^s | x)}: its exponential is an unbiased estimate of p(x), and its expectation a
 * lower bound on log p(x) that tightens as S grows (S = 1 is the ELBO).
 *
 * @param eventShape    shape of one binary event; D = product
 * @param encoderHidden hidden widths of the encoder MLP (may be empty)
 * @param decoderHidden hidden widths of the decoder MLP (may be empty)
 * @param latent        latent size L
 * @param flowSteps     number K of amortised planar steps (0: a plain VAE)
 * @param evalSamples   importance samples S per row when scoring, at least 1
 * @param activation    hidden activation of both MLPs: {@code tanh} or {@code relu}
 */
public record VaeSpec(long[] eventShape, int[] encoderHidden, int[] decoderHidden, int latent, int flowSteps,
                      int evalSamples, String activation) implements ModelSpec {

    /** The model type name. */
    public static final String TYPE = "vae";

    /** Hidden activations the MLPs may use. */
    public static final List<String> ACTIVATIONS = List.of("tanh", "relu");

    private static final long TRAINING_NOISE_SEED = 0x7661_655f_7472_6eL;
    private static final long EVAL_NOISE_SEED = 0x7661_655f_6576_61L;

    public VaeSpec {
        eventShape = eventShape.clone();
        encoderHidden = encoderHidden.clone();
        decoderHidden = decoderHidden.clone();
        if (eventShape.length == 0 || Arrays.stream(eventShape).anyMatch(s -> s < 1)) {
            throw new IllegalArgumentException("event shape must be non-empty and positive, got "
                    + Arrays.toString(eventShape));
        }
        for (int[] widths : List.of(encoderHidden, decoderHidden)) {
            if (Arrays.stream(widths).anyMatch(w -> w < 1)) {
                throw new IllegalArgumentException("hidden widths must be >= 1, got " + Arrays.toString(widths));
            }
        }
        if (latent < 1) {
            throw new IllegalArgumentException("latent size must be >= 1, got " + latent);
        }
        if (flowSteps < 0) {
            throw new IllegalArgumentException("flow steps must be >= 0, got " + flowSteps);
        }
        if (evalSamples < 1) {
            throw new IllegalArgumentException("evalSamples must be >= 1, got " + evalSamples);
        }
        if (!ACTIVATIONS.contains(activation)) {
            throw new IllegalArgumentException("activation must be one of " + ACTIVATIONS + ", got " + activation);
        }
    }

    /** A VAE with tanh hidden units (smooth, so every weight gets a gradient from the first step). */
    public static VaeSpec of(long[] eventShape, int[] encoderHidden, int[] decoderHidden, int latent, int flowSteps,
                             int evalSamples) {
        return new VaeSpec(eventShape, encoderHidden, decoderHidden, latent, flowSteps, evalSamples, "tanh");
    }

    /** The same model with another hidden activation. */
    public VaeSpec withActivation(String activation) {
        return new VaeSpec(eventShape, encoderHidden, decoderHidden, latent, flowSteps, evalSamples, activation);
    }

    /** The same model scored with another number of importance samples (the network is unchanged). */
    public VaeSpec withEvalSamples(int evalSamples) {
        return new VaeSpec(eventShape, encoderHidden, decoderHidden, latent, flowSteps, evalSamples, activation);
    }

    @Override
    public String type() {
        return TYPE;
    }

    /** Event dimension D. */
    public int dim() {
        long n = 1;
        for (long s : eventShape) {
            n *= s;
        }
        return Math.toIntExact(n);
    }

    @Override
    public long[] eventShape() {
        return eventShape.clone();
    }

    @Override
    public int[] encoderHidden() {
        return encoderHidden.clone();
    }

    @Override
    public int[] decoderHidden() {
        return decoderHidden.clone();
    }

    @Override
    public String valueType() {
        return "binary";
    }

    /** Every minibatch draws fresh reparametrisation noise; the variant index is its seed. */
    @Override
    public int variantCount() {
        return 1 << 30;
    }

    @Override
    public MultiLayerConfiguration trainingConfiguration(TrainingRecipe recipe) {
        return recipe.base()
                .list()
                .layer(new VaeLayer(this))
                .layer(new LossLayer.Builder(new NllOutputLoss()).activation(Activation.IDENTITY).build())
                .setInputType(InputType.feedForward((long) dim() + latent))
                .build();
    }

    /** {@code [x | eps]}: the events and one N(0, I_L) draw per row, seeded by {@code variant}. */
    @Override
    public INDArray trainingFeatures(INDArray x, int variant) {
        if (variant < 0 || variant >= variantCount()) {
            throw new IllegalArgumentException("variant " + variant + " outside [0, " + variantCount() + ")");
        }
        SplittableRandom r = new SplittableRandom(Seeds.derive(TRAINING_NOISE_SEED, variant));
        return withNoise(checkBinary(x), row -> r);
    }

    /**
     * Scoring input for importance draw {@code draw}: {@code [x | eps]} with each row's eps seeded by the row's values
     * and the draw index, so a row gets the same draws (and score) in any batch, and draw s is the same whatever the
     * number of draws (an estimate with more draws extends one with fewer).
     */
    public INDArray evalFeatures(INDArray x, int draw) {
        float[] all = checkBinary(x);
        int d = dim();
        return withNoise(all, i -> {
            int h = Arrays.hashCode(Arrays.copyOfRange(all, (int) i * d, (int) (i + 1) * d));
            return new SplittableRandom(Seeds.derive(EVAL_NOISE_SEED, h, draw));
        });
    }

    /** {@code [x | eps]} from row-major events {@code v}, each row's eps drawn from {@code rowNoise}. */
    private INDArray withNoise(float[] v, LongFunction<SplittableRandom> rowNoise) {
        int d = dim();
        int rows = v.length / d;
        int width = d + latent;
        float[] f = new float[rows * width];
        for (int i = 0; i < rows; i++) {
            System.arraycopy(v, i * d, f, i * width, d);
            SplittableRandom r = rowNoise.apply(i);
            for (int j = 0; j < latent; j++) {
                f[i * width + d + j] = (float) r.nextGaussian();
            }
        }
        return Nd4j.create(f, new long[]{rows, width}, 'c');
    }

    /** The events as a row-major float array, after checking that they are {@code [batch, D]} and 0/1. */
    private float[] checkBinary(INDArray x) {
        int d = dim();
        if (x.rank() != 2 || x.columns() != d) {
            throw new IllegalArgumentException("expected [batch, " + d + "] events, got " + Arrays.toString(x.shape()));
        }
        float[] v = x.castTo(DataType.FLOAT).dup('c').data().asFloat();
        for (int k = 0; k < v.length; k++) {
            if (v[k] != 0f && v[k] != 1f) {
                throw new IllegalArgumentException("row " + k / d + ", column " + k % d + ": value " + v[k]
                        + " is not 0 or 1 as this binary VAE expects");
            }
        }
        return v;
    }

    @Override
    public INDArray trainingLabels(INDArray x) {
        return Nd4j.zeros(DataType.FLOAT, x.rows(), 1);
    }

    /**
     * Starts the decoder's output biases at the logits of the per-dimension means of {@code x} (clamped to
     * [1e-3, 1 - 1e-3]), so the first steps learn structure instead of the marginals; the usual VAE initialisation.
     */
    @Override
    public void initializeFromData(MultiLayerNetwork network, INDArray x) {
        double[] mean = checkAndMean(x);
        INDArray bias = network.getLayer(0).getParam(VaeLayer.decoderBias(decoderHidden.length));
        for (int j = 0; j < mean.length; j++) {
            double p = Math.min(Math.max(mean[j], 1e-3), 1 - 1e-3);
            bias.putScalar(0, j, Math.log(p / (1 - p)));
        }
    }

    private double[] checkAndMean(INDArray x) {
        float[] v = checkBinary(x);
        int d = dim();
        double[] mean = new double[d];
        long rows = x.rows();
        for (int k = 0; k < v.length; k++) {
            mean[k % d] += v[k] / (double) rows;
        }
        return mean;
    }

    @Override
    public String likelihoodCaveat() {
        return "an importance-sampled estimate, not the exact log-probability: log mean_s p(x, z_s) / q(z_s | x) over "
                + evalSamples + " draw(s) z_s from the flow-refined encoder q (the IWAE bound of Burda et al. 2016),"
                + " noise fixed per row; its exponential is unbiased for p(x), so it is a lower bound on log p(x) in"
                + " expectation that tightens as the number of draws grows (1 draw: the ELBO)";
    }

    @Override
    public DensityModel densityOf(MultiLayerNetwork network) {
        return new VaeDensity(this, network);
    }

    @Override
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", TYPE);
        m.put("eventShape", Arrays.stream(eventShape).boxed().toList());
        m.put("encoderHidden", Arrays.stream(encoderHidden).boxed().toList());
        m.put("decoderHidden", Arrays.stream(decoderHidden).boxed().toList());
        m.put("latent", latent);
        m.put("flowSteps", flowSteps);
        m.put("evalSamples", evalSamples);
        m.put("activation", activation);
        return m;
    }

    /** Reads the map written by {@link #toMap()}; {@code activation} may be missing (then tanh). */
    public static VaeSpec fromConfig(Config c) {
        if (!c.getString("type").equals(TYPE)) {
            throw new IllegalArgumentException("not a vae spec: type " + c.getString("type"));
        }
        return new VaeSpec(c.getLongList("eventShape").stream().mapToLong(Long::longValue).toArray(),
                c.getIntList("encoderHidden").stream().mapToInt(Integer::intValue).toArray(),
                c.getIntList("decoderHidden").stream().mapToInt(Integer::intValue).toArray(),
                c.getInt("latent"), c.getInt("flowSteps"), c.getInt("evalSamples"),
                c.hasPath("activation") ? c.getString("activation") : "tanh");
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
