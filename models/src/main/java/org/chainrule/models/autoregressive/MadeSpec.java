package org.chainrule.models.autoregressive;

import org.chainrule.models.Described;
import org.chainrule.models.TrainingRecipe;
import com.typesafe.config.Config;
import org.chainrule.models.BernoulliLogitLoss;
import org.chainrule.models.DensityModel;
import org.chainrule.models.HashedDropout;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.NllOutputLoss;
import org.chainrule.models.Ordering;
import org.chainrule.models.conditionals.Bernoulli;
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
import java.util.Map;

/**
 * A MADE (Germain et al. 2015, "MADE: Masked Autoencoder for Distribution Estimation"), or, with no hidden layer, an
 * FVSBN (fully visible sigmoid belief net: logistic autoregression, Frey 1998).
 *
 * <p>The plain model is over binary vectors: Bernoulli conditionals, trained on logits with
 * {@link BernoulliLogitLoss} and scored by {@link MadeDensity}'s BLAS forward pass. Two extensions share the same
 * masks:
 * <ul>
 *   <li>another {@link OutputFamily} (categorical, Gaussian, Gaussian mixture as in RNADE): the output layer emits
 *       {@code P = family.paramsPerDim()} values per dimension, all P masked like that dimension's single logit;</li>
 *   <li>a conditioning context, p(x | c), as in the conditional MADE of Papamakarios et al. 2017 ("Masked
 *       Autoregressive Flow for Density Estimation"): c feeds every hidden layer and the outputs through unmasked
 *       weights, which keeps every conditional a function of c and the preceding x only, so each p(. | c) stays
 *       exactly normalized.</li>
 * </ul>
 * Either extension makes the training network output each example's exact NLL ({@link NllOutputLoss}), which
 * {@link MadeDensity} scores with; the binary, unconditional model is built exactly as before.
 *
 * @param type          {@code made} or {@code fvsbn}
 * @param eventShape    shape of one event; D = product
 * @param hidden        hidden layer widths (empty for FVSBN)
 * @param variants      number of mask sets trained over (connectivity-agnostic training when > 1)
 * @param orderAgnostic whether mask sets other than the first also draw a random input ordering
 * @param maskSeed      seed of the hidden degrees and orderings
 * @param direct        add direct input-to-output connections: an FVSBN term x (W_d * M_d) with a strictly
 *                      triangular mask in each mask set's ordering, added to the hidden path's logits
 * @param family        distribution family of every conditional ({@link Bernoulli} for the binary model)
 * @param contextSize   length of the conditioning vector; 0 for an unconditional model
 * @param ordering      the first mask set's ordering: {@code raster} or the seed of a random permutation
 *                      ({@link Ordering})
 * @param dropout       the rate of dropout on the hidden units while training (0 = none; {@link HashedDropout})
 */
public record MadeSpec(String type, long[] eventShape, int[] hidden, int variants, boolean orderAgnostic,
                       long maskSeed, boolean direct, OutputFamily family, int contextSize, String ordering,
                       double dropout)
        implements ModelSpec {

    public MadeSpec {
        if (family == null) {
            throw new IllegalArgumentException("a MadeSpec needs an output family");
        }
        if (contextSize < 0) {
            throw new IllegalArgumentException("contextSize must be >= 0, got " + contextSize);
        }
        if (!type.equals("made") && !type.equals("fvsbn")) {
            throw new IllegalArgumentException("MadeSpec type must be made or fvsbn, got " + type);
        }
        if (type.equals("fvsbn") && (hidden.length > 0 || variants != 1 || direct)) {
            throw new IllegalArgumentException("an FVSBN has no hidden layer, a single ordering and no extra direct term");
        }
        if (variants < 1) {
            throw new IllegalArgumentException("variants must be >= 1, got " + variants);
        }
        for (int h : hidden) {
            if (h < 1) {
                throw new IllegalArgumentException("hidden widths must be >= 1, got " + Arrays.toString(hidden));
            }
        }
        if (dropout > 0 && hidden.length == 0) {
            throw new IllegalArgumentException("dropout applies to hidden units; a " + type + " has none");
        }
        HashedDropout.checkRate(dropout);
        eventShape = eventShape.clone();
        hidden = hidden.clone();
        ordering = Ordering.parse(ordering == null ? Ordering.RASTER : ordering);
    }

    /** A model without dropout. */
    public MadeSpec(String type, long[] eventShape, int[] hidden, int variants, boolean orderAgnostic, long maskSeed,
                    boolean direct, OutputFamily family, int contextSize, String ordering) {
        this(type, eventShape, hidden, variants, orderAgnostic, maskSeed, direct, family, contextSize, ordering, 0);
    }

    /** A model in the raster ordering. */
    public MadeSpec(String type, long[] eventShape, int[] hidden, int variants, boolean orderAgnostic, long maskSeed,
                    boolean direct, OutputFamily family, int contextSize) {
        this(type, eventShape, hidden, variants, orderAgnostic, maskSeed, direct, family, contextSize, Ordering.RASTER);
    }

    /** The binary, unconditional model (Bernoulli conditionals, no context). */
    public MadeSpec(String type, long[] eventShape, int[] hidden, int variants, boolean orderAgnostic, long maskSeed,
                    boolean direct) {
        this(type, eventShape, hidden, variants, orderAgnostic, maskSeed, direct, new Bernoulli(), 0);
    }

    /** A MADE with the given hidden widths and mask sets. */
    public static MadeSpec made(long[] eventShape, int[] hidden, int variants, boolean orderAgnostic, long maskSeed) {
        return new MadeSpec("made", eventShape, hidden, variants, orderAgnostic, maskSeed, false);
    }

    /** The same MADE with (or without) direct input-to-output connections. */
    public MadeSpec withDirect(boolean direct) {
        return new MadeSpec(type, eventShape, hidden, variants, orderAgnostic, maskSeed, direct, family, contextSize,
                ordering, dropout);
    }

    /**
     * The same model with another conditional family: categorical for K-valued data, Gaussian or a Gaussian mixture
     * for real data (an FVSBN becomes the matching linear autoregression: softmax, or Gaussian with linear means).
     */
    public MadeSpec withFamily(OutputFamily family) {
        return new MadeSpec(type, eventShape, hidden, variants, orderAgnostic, maskSeed, direct, family, contextSize,
                ordering, dropout);
    }

    /** The same model conditioned on a context vector of the given length (0: unconditional). */
    public MadeSpec withContext(int contextSize) {
        return new MadeSpec(type, eventShape, hidden, variants, orderAgnostic, maskSeed, direct, family, contextSize,
                ordering, dropout);
    }

    /** The same model with another first ordering ({@code raster}, or a permutation's seed: see {@link Ordering}). */
    public MadeSpec withOrdering(String ordering) {
        return new MadeSpec(type, eventShape, hidden, variants, orderAgnostic, maskSeed, direct, family, contextSize,
                ordering, dropout);
    }

    /** The same model with dropout at rate {@code rate} on its hidden units while training. */
    public MadeSpec withDropout(double rate) {
        return new MadeSpec(type, eventShape, hidden, variants, orderAgnostic, maskSeed, direct, family, contextSize,
                ordering, rate);
    }

    /** An FVSBN in the natural ordering. */
    public static MadeSpec fvsbn(long[] eventShape) {
        return new MadeSpec("fvsbn", eventShape, new int[0], 1, false, 0L, false);
    }

    /**
     * Reads the map written by {@link #toMap()}. Keys added after the first release ({@code direct}, {@code family},
     * {@code levels}, {@code components}, {@code contextSize}, {@code ordering}) may be missing: a model saved before them is the binary,
     * unconditional one, and keeps loading as such.
     */
    public static MadeSpec fromConfig(Config c) {
        long[] shape = c.getLongList("eventShape").stream().mapToLong(Long::longValue).toArray();
        OutputFamily family = c.hasPath("family")
                ? OutputFamily.of(c.getString("family"), c.hasPath("levels") ? c.getInt("levels") : 0,
                c.hasPath("components") ? c.getInt("components") : 0)
                : new Bernoulli();
        int contextSize = c.hasPath("contextSize") ? c.getInt("contextSize") : 0;
        MadeSpec base;
        if (c.getString("type").equals("fvsbn")) {
            base = fvsbn(shape);
        } else {
            int[] hidden = c.getIntList("hidden").stream().mapToInt(Integer::intValue).toArray();
            base = made(shape, hidden, c.getInt("variants"), c.getBoolean("orderAgnostic"), c.getLong("maskSeed"))
                    .withDirect(c.hasPath("direct") && c.getBoolean("direct"));
        }
        return base.withFamily(family).withContext(contextSize)
                .withOrdering(c.hasPath("ordering") ? c.getString("ordering") : Ordering.RASTER)
                .withDropout(c.hasPath("dropout") ? c.getDouble("dropout") : 0);
    }

    /** Event dimension D. */
    public int dim() {
        long n = 1;
        for (long s : eventShape) {
            n *= s;
        }
        return Math.toIntExact(n);
    }

    /** The mask set of variant {@code k}. */
    public MadeMasks masks(int k) {
        return MadeMasks.of(dim(), hidden, ordering, orderAgnostic, maskSeed, k);
    }

    /** The data type the family is a distribution over: {@code binary}, {@code uint8} or {@code real}. */
    @Override
    public String valueType() {
        return family.valueType();
    }

    /** Values per dimension from the family (2 binary, K categorical, 0 real). */
    @Override
    public int levels() {
        return family.levels();
    }

    /**
     * Whether the training network outputs each example's NLL (any family but Bernoulli, or any conditional model)
     * instead of the Bernoulli logits of the original binary MADE.
     */
    public boolean nllOutput() {
        return !(family instanceof Bernoulli) || contextSize > 0;
    }

    @Override
    public int variantCount() {
        return variants;
    }

    @Override
    public MultiLayerConfiguration trainingConfiguration(TrainingRecipe recipe) {
        // binary: exact Bernoulli NLL from logits, summed over D and averaged over the minibatch: mean NLL in nats;
        // otherwise the MADE layer already outputs each example's NLL
        LossLayer loss = nllOutput()
                ? new LossLayer.Builder(new NllOutputLoss()).activation(Activation.IDENTITY).build()
                : new LossLayer.Builder(new BernoulliLogitLoss()).activation(Activation.IDENTITY).build();
        return recipe.base()
                .list()
                .layer(new MadeLayer(this))
                .layer(loss)
                .setInputType(InputType.feedForward(featureWidth()))
                .build();
    }

    @Override
    public INDArray trainingFeatures(INDArray x, int variant) {
        return trainingFeatures(x, null, variant);
    }

    /** Columns of the network input: the event, the context, the variant and, with dropout, the dropout key. */
    private long featureWidth() {
        return dim() + contextSize + 1L + (dropout > 0 ? 1 : 0);
    }

    /**
     * {@code [x | context | variant]}: the event, its context (if conditional), and the mask-set index column; with
     * dropout, a last column holding the step's dropout key, 0 here (no dropout: the evaluation input).
     */
    @Override
    public INDArray trainingFeatures(INDArray x, INDArray context, int variant) {
        if (variant < 0 || variant >= variants) {
            throw new IllegalArgumentException("variant " + variant + " outside [0, " + variants + ")");
        }
        if (contextSize == 0 && context != null) {
            throw new IllegalArgumentException("a " + type + " model is unconditional but was given a context");
        }
        if (contextSize > 0 && (context == null || context.rows() != x.rows() || context.columns() != contextSize)) {
            throw new IllegalArgumentException("a conditional " + type + " model needs a [" + x.rows() + ", "
                    + contextSize + "] context, got "
                    + (context == null ? "none" : Arrays.toString(context.shape())));
        }
        INDArray f = Nd4j.create(DataType.FLOAT, x.rows(), featureWidth());
        f.get(NDArrayIndex.all(), NDArrayIndex.interval(0, dim())).assign(x);
        if (contextSize > 0) {
            f.get(NDArrayIndex.all(), NDArrayIndex.interval(dim(), dim() + contextSize)).assign(context);
        }
        f.getColumn(dim() + contextSize).assign(variant);
        return f;
    }

    /** With dropout, the key column holds the step's key ({@link HashedDropout#key}). */
    @Override
    public INDArray trainingFeatures(INDArray x, INDArray context, int variant, long stepSeed) {
        return HashedDropout.keyed(trainingFeatures(x, context, variant), dropout, stepSeed);
    }

    /** The binary model's labels are the events themselves; an NLL-output network ignores its {@code [batch, 1]} zeros. */
    @Override
    public INDArray trainingLabels(INDArray x) {
        return nllOutput() ? Nd4j.zeros(DataType.FLOAT, x.rows(), 1) : x.castTo(DataType.FLOAT);
    }

    @Override
    public DensityModel densityOf(MultiLayerNetwork network) {
        return new MadeDensity(this, network);
    }

    @Override
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", type);
        m.put("eventShape", Arrays.stream(eventShape).boxed().toList());
        m.put("hidden", Arrays.stream(hidden).boxed().toList());
        m.put("variants", variants);
        m.put("orderAgnostic", orderAgnostic);
        m.put("maskSeed", maskSeed);
        m.put("direct", direct);
        m.put("family", family.name());
        m.put("levels", family.levels());
        m.put("components", family.components());
        m.put("contextSize", contextSize);
        if (!ordering.equals(Ordering.RASTER)) {
            m.put("ordering", ordering); // absent: raster, as every model saved before orderings were a setting
        }
        if (dropout > 0) {
            m.put("dropout", dropout); // absent: none, as every model saved before dropout was a setting
        }
        return m;
    }

    @Override
    public long[] eventShape() {
        return eventShape.clone();
    }

    @Override
    public int[] hidden() {
        return hidden.clone();
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
