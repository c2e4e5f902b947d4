package org.chainrule.models.nade;

import org.chainrule.models.Described;
import org.chainrule.models.TrainingRecipe;
import com.typesafe.config.Config;
import org.chainrule.models.DensityModel;
import org.chainrule.models.HashedDropout;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.NllOutputLoss;
import org.chainrule.models.Ordering;
import org.chainrule.models.Seeds;
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
import java.util.List;
import java.util.Map;

/**
 * A NADE (Larochelle &amp; Murray 2011, "The Neural Autoregressive Distribution Estimator"): one hidden layer whose
 * weights are shared across all conditionals, h_i = act(c + sum_{j&lt;i} W[:, o_j] x_{o_j}), and the parameters of
 * p(x_{o_i} | x_{o_&lt;i}) from V[o_i] h_i + b[o_i]. The shared running sum makes the whole likelihood cost O(D H).
 *
 * <p>The conditional family is any {@link OutputFamily}: Bernoulli gives the original NADE, categorical a NADE over
 * K-valued data, and a Gaussian mixture RNADE (Uria, Murray &amp; Larochelle 2013, "RNADE: The real-valued neural
 * autoregressive density-estimator", which used ReLU hidden units).
 *
 * <p>With {@code orderings} K &gt; 1 the model is trained over K input orderings at once, as in the order-agnostic
 * NADE (Uria, Murray &amp; Larochelle 2014, "A Deep and Tractable Density Estimator"): ordering 0 is the natural
 * order, ordering k &gt; 0 a random permutation drawn from {@code (orderSeed, k)}. Each observed dimension then also
 * adds a learned column U[:, j] to the hidden pre-activation, so the hidden units know which dimensions are observed;
 * the minibatch's ordering is chosen by the data schedule (the variant column of the features). The test density is
 * the uniform mixture over the K orderings, which costs K forward passes per row.
 *
 * <p>With {@code contextSize} &gt; 0 it is a conditional NADE p(x | y): the context y adds Wc^T y to the hidden
 * pre-activation and Vc^T y to every output parameter. Features are laid out {@code [x | y | variant]}.
 *
 * @param eventShape  shape of one event; D = product
 * @param family      distribution family of each conditional
 * @param hidden      hidden units H
 * @param activation  {@code sigmoid} (NADE) or {@code relu} (RNADE)
 * @param orderings   number of orderings K trained over (the variant count); K &gt; 1 adds the mask input
 * @param orderSeed   seed of orderings 1..K-1
 * @param contextSize length of the conditioning vector; 0 for an unconditional model
 * @param ordering    ordering 0: {@code raster} or the seed of a random permutation ({@link Ordering})
 * @param dropout     the rate of dropout on the hidden units while training (0 = none; one mask per example and
 *                    step, shared by all D conditionals; {@link HashedDropout})
 */
public record NadeSpec(long[] eventShape, OutputFamily family, int hidden, String activation, int orderings,
                       long orderSeed, int contextSize, String ordering, double dropout) implements ModelSpec {

    /** Hidden activations this model supports. */
    public static final List<String> ACTIVATIONS = List.of("sigmoid", "relu");

    public NadeSpec {
        ordering = Ordering.parse(ordering == null ? Ordering.RASTER : ordering);
        if (family == null) {
            throw new IllegalArgumentException("a NADE needs an output family");
        }
        if (hidden < 1) {
            throw new IllegalArgumentException("hidden must be >= 1, got " + hidden);
        }
        if (!ACTIVATIONS.contains(activation)) {
            throw new IllegalArgumentException("activation must be one of " + ACTIVATIONS + ", got " + activation);
        }
        if (orderings < 1) {
            throw new IllegalArgumentException("orderings must be >= 1, got " + orderings);
        }
        if (contextSize < 0) {
            throw new IllegalArgumentException("contextSize must be >= 0, got " + contextSize);
        }
        HashedDropout.checkRate(dropout);
        eventShape = eventShape.clone();
        long n = 1;
        for (long s : eventShape) {
            if (s < 1) {
                throw new IllegalArgumentException("event shape must be positive, got " + Arrays.toString(eventShape));
            }
            n *= s;
        }
        Math.toIntExact(n);
    }

    /** A NADE without dropout. */
    public NadeSpec(long[] eventShape, OutputFamily family, int hidden, String activation, int orderings,
                    long orderSeed, int contextSize, String ordering) {
        this(eventShape, family, hidden, activation, orderings, orderSeed, contextSize, ordering, 0);
    }

    /** A NADE whose ordering 0 is the raster order. */
    public NadeSpec(long[] eventShape, OutputFamily family, int hidden, String activation, int orderings,
                    long orderSeed, int contextSize) {
        this(eventShape, family, hidden, activation, orderings, orderSeed, contextSize, Ordering.RASTER);
    }

    /** An unconditional NADE with sigmoid hidden units in the natural ordering. */
    public static NadeSpec of(long[] eventShape, OutputFamily family, int hidden) {
        return new NadeSpec(eventShape, family, hidden, "sigmoid", 1, 0L, 0);
    }

    /** The same model trained over {@code k} orderings drawn from {@code seed} (order-agnostic when k &gt; 1). */
    public NadeSpec withOrderings(int k, long seed) {
        return new NadeSpec(eventShape, family, hidden, activation, k, seed, contextSize, ordering, dropout);
    }

    /** The same model conditioned on a context vector of length {@code size}. */
    public NadeSpec withContext(int size) {
        return new NadeSpec(eventShape, family, hidden, activation, orderings, orderSeed, size, ordering, dropout);
    }

    /** The same model with another hidden activation. */
    public NadeSpec withActivation(String act) {
        return new NadeSpec(eventShape, family, hidden, act, orderings, orderSeed, contextSize, ordering, dropout);
    }

    /** The same model with another ordering 0 ({@code raster}, or a permutation's seed: see {@link Ordering}). */
    public NadeSpec withOrdering(String first) {
        return new NadeSpec(eventShape, family, hidden, activation, orderings, orderSeed, contextSize, first, dropout);
    }

    /** The same model with dropout at rate {@code rate} on its hidden units while training. */
    public NadeSpec withDropout(double rate) {
        return new NadeSpec(eventShape, family, hidden, activation, orderings, orderSeed, contextSize, ordering, rate);
    }

    /** Reads the map written by {@link #toMap()}. */
    public static NadeSpec fromConfig(Config c) {
        long[] shape = c.getLongList("eventShape").stream().mapToLong(Long::longValue).toArray();
        OutputFamily family = OutputFamily.of(c.getString("output"), c.getInt("levels"), c.getInt("components"));
        return new NadeSpec(shape, family, c.getInt("hidden"),
                c.hasPath("activation") ? c.getString("activation") : "sigmoid",
                c.hasPath("orderings") ? c.getInt("orderings") : 1,
                c.hasPath("orderSeed") ? c.getLong("orderSeed") : 0L,
                c.hasPath("contextSize") ? c.getInt("contextSize") : 0,
                c.hasPath("ordering") ? c.getString("ordering") : Ordering.RASTER,
                c.hasPath("dropout") ? c.getDouble("dropout") : 0);
    }

    @Override
    public String type() {
        return "nade";
    }

    /** Event dimension D. */
    public int dim() {
        long n = 1;
        for (long s : eventShape) {
            n *= s;
        }
        return Math.toIntExact(n);
    }

    /**
     * Ordering {@code k}: ordering[t] = the dimension generated t-th. Ordering 0 is the model's first ordering (raster,
     * or a seeded permutation); ordering k &gt; 0 is a Fisher-Yates shuffle driven by
     * {@code Seeds.derive(orderSeed, k, 0)} (the same derivation as the MADE's mask-set orderings), so it is a pure
     * function of the spec.
     */
    public int[] ordering(int k) {
        if (k < 0 || k >= orderings) {
            throw new IllegalArgumentException("ordering " + k + " outside [0, " + orderings + ")");
        }
        return ordering(dim(), ordering, orderSeed, k);
    }

    static int[] ordering(int dim, String first, long seed, int k) {
        return k == 0 ? Ordering.first(dim, first) : Ordering.shuffled(dim, Seeds.derive(seed, k, 0));
    }

    @Override
    public String valueType() {
        return family.valueType();
    }

    @Override
    public int levels() {
        return family.levels();
    }

    @Override
    public int variantCount() {
        return orderings;
    }

    /** The running sums and hidden units: {@code [D, H]} per row. */
    @Override
    public long activationElementsPerRow() {
        return (long) dim() * hidden;
    }

    /**
     * One {@link NadeLayer} computing each example's exact NLL, then a {@link NllOutputLoss}: the score is the mean NLL
     * in nats and SameDiff differentiates the whole likelihood.
     */
    @Override
    public MultiLayerConfiguration trainingConfiguration(TrainingRecipe recipe) {
        return recipe.base()
                .list()
                .layer(new NadeLayer(this))
                .layer(new LossLayer.Builder(new NllOutputLoss()).activation(Activation.IDENTITY).build())
                .setInputType(InputType.feedForward(featureWidth()))
                .build();
    }

    /** Width of the training features: D + contextSize + 1 (the ordering column), + 1 with dropout (its key). */
    public long featureWidth() {
        return dim() + (long) contextSize + 1 + (dropout > 0 ? 1 : 0);
    }

    @Override
    public INDArray trainingFeatures(INDArray x, int variant) {
        return trainingFeatures(x, null, variant);
    }

    @Override
    public INDArray trainingFeatures(INDArray x, INDArray context, int variant) {
        if (variant < 0 || variant >= orderings) {
            throw new IllegalArgumentException("variant " + variant + " outside [0, " + orderings + ")");
        }
        int d = dim();
        if (x.rank() != 2 || x.columns() != d) {
            throw new IllegalArgumentException("expected events [batch, " + d + "], got " + Arrays.toString(x.shape()));
        }
        if (contextSize == 0 && context != null) {
            throw new IllegalArgumentException("a nade model is unconditional but was given a context");
        }
        if (contextSize > 0 && (context == null || context.rows() != x.rows() || context.columns() != contextSize)) {
            throw new IllegalArgumentException("a conditional nade needs a [" + x.rows() + ", " + contextSize
                    + "] context, got " + (context == null ? "none" : Arrays.toString(context.shape())));
        }
        INDArray f = Nd4j.create(DataType.FLOAT, x.rows(), featureWidth());
        f.get(NDArrayIndex.all(), NDArrayIndex.interval(0, d)).assign(x);
        if (contextSize > 0) {
            f.get(NDArrayIndex.all(), NDArrayIndex.interval(d, d + contextSize)).assign(context);
        }
        f.getColumn(d + contextSize).assign(variant);
        return f;
    }

    /** With dropout, the key column holds the step's key ({@link HashedDropout#key}). */
    @Override
    public INDArray trainingFeatures(INDArray x, INDArray context, int variant, long stepSeed) {
        return HashedDropout.keyed(trainingFeatures(x, context, variant), dropout, stepSeed);
    }

    /** Zeros {@code [batch, 1]}: the network's output is the NLL itself. */
    @Override
    public INDArray trainingLabels(INDArray x) {
        return Nd4j.zeros(DataType.FLOAT, x.rows(), 1);
    }

    @Override
    public DensityModel densityOf(MultiLayerNetwork network) {
        return new Nade(this, network);
    }

    @Override
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", type());
        m.put("eventShape", Arrays.stream(eventShape).boxed().toList());
        m.put("output", family.name());
        m.put("levels", family.levels());
        m.put("components", family.components());
        m.put("hidden", hidden);
        m.put("activation", activation);
        m.put("orderings", orderings);
        m.put("orderSeed", orderSeed);
        if (!ordering.equals(Ordering.RASTER)) {
            m.put("ordering", ordering); // absent: raster, as every model saved before orderings were a setting
        }
        m.put("contextSize", contextSize);
        if (dropout > 0) {
            m.put("dropout", dropout); // absent: none, as every model saved before dropout was a setting
        }
        return m;
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
