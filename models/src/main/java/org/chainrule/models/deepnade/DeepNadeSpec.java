package org.chainrule.models.deepnade;

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
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A deep order-agnostic NADE over binary vectors (Uria, Murray and Larochelle 2014, "A Deep and Tractable Density
 * Estimator"), or with {@code iterations > 1} its iterative variant NADE-k (Raiko, Li, Cho and Bengio 2014, "Iterative
 * Neural Autoregressive Distribution Estimator NADE-k").
 *
 * <p>One network answers every conditional p(x_d | x_O) for any observed subset O: it reads the observed values and
 * the binary mask of O. Starting from v_0 = m x + (1 - m) sigmoid(a), it runs k iterations with shared weights, h =
 * ReLU stack over [v_{t-1} | m], v_t = m x + (1 - m) sigmoid(V h + c): NADE-k's view of NADE as k steps of inference
 * on the missing values. The last iteration's logits are the Bernoulli conditionals of the unobserved dimensions.
 *
 * <p>Training is order-agnostic (Uria et al. 2014, section 3): per row, a uniformly random observed count o in
 * [0, D - 1] and a uniformly random observed subset of that size (the first o dimensions of a random ordering), with
 * loss D / (D - o) * sum over unobserved d of -log p(x_d | x_O), an unbiased estimate of the NLL averaged over all D!
 * orderings. The masks of a minibatch are a pure function of ({@code maskSeed}, variant, row), and the variant is drawn
 * by the pipeline per minibatch, so training is reproducible.
 *
 * <p>Exact likelihood under one ordering needs D network evaluations (each of k iterations) per row, one per prefix;
 * the test density is the uniform mixture over {@code orderings} fixed orderings (see {@link DeepNade}): D * k * K
 * passes per row.
 *
 * @param eventShape       shape of one event; D = product
 * @param hidden           hidden ReLU layer widths (at least one), e.g. {@code [500, 500]}
 * @param iterations       k: 1 is DeepNADE, more is NADE-k; weights are shared across iterations
 * @param orderings        K: the number of fixed orderings the test density is the mixture of (ordering 0 is the
 *                         natural order, the others seeded permutations)
 * @param maskSeed         seed of the training masks and of the test orderings (independent streams)
 * @param intermediateLoss when true (and k > 1), train on the mean of every iteration's order-agnostic loss instead
 *                         of the last one's alone, like the intermediate reconstruction costs Raiko et al. found to
 *                         help; the density always uses the last iteration
 */
public record DeepNadeSpec(long[] eventShape, int[] hidden, int iterations, int orderings, long maskSeed,
                           boolean intermediateLoss) implements ModelSpec {

    /** The model type name. */
    public static final String TYPE = "deep-nade";

    /**
     * The number of training "variants": mask draws. Each minibatch's variant seeds its rows' observed subsets; the
     * space is large so no two minibatches of a run share masks in practice. It is not a number of structures to
     * ensemble over (the test density uses {@code orderings} instead).
     */
    public static final int MASK_DRAWS = 1 << 30;

    public DeepNadeSpec {
        long n = 1;
        for (long s : eventShape) {
            if (s < 1) {
                throw new IllegalArgumentException("event shape entries must be >= 1, got " + Arrays.toString(eventShape));
            }
            n *= s;
        }
        if (n > Integer.MAX_VALUE / 2) {
            throw new IllegalArgumentException("event too large: " + n);
        }
        if (hidden.length == 0) {
            throw new IllegalArgumentException("a deep NADE needs at least one hidden layer");
        }
        for (int h : hidden) {
            if (h < 1) {
                throw new IllegalArgumentException("hidden widths must be >= 1, got " + Arrays.toString(hidden));
            }
        }
        if (iterations < 1) {
            throw new IllegalArgumentException("iterations must be >= 1, got " + iterations);
        }
        if (orderings < 1) {
            throw new IllegalArgumentException("orderings must be >= 1, got " + orderings);
        }
        eventShape = eventShape.clone();
        hidden = hidden.clone();
    }

    /** A DeepNADE (k = 1) with the given hidden widths, tested over {@code orderings} orderings. */
    public static DeepNadeSpec deepNade(long[] eventShape, int[] hidden, int orderings, long maskSeed) {
        return new DeepNadeSpec(eventShape, hidden, 1, orderings, maskSeed, false);
    }

    /** A NADE-k: {@code iterations} shared-weight inference steps. */
    public static DeepNadeSpec nadeK(long[] eventShape, int[] hidden, int iterations, int orderings, long maskSeed) {
        return new DeepNadeSpec(eventShape, hidden, iterations, orderings, maskSeed, false);
    }

    /** The same model trained with (or without) the intermediate iterations' losses. */
    public DeepNadeSpec withIntermediateLoss(boolean on) {
        return new DeepNadeSpec(eventShape, hidden, iterations, orderings, maskSeed, on);
    }

    /** Reads the map written by {@link #toMap()}. */
    public static DeepNadeSpec fromConfig(Config c) {
        if (!c.getString("type").equals(TYPE)) {
            throw new IllegalArgumentException("not a " + TYPE + " spec: " + c.getString("type"));
        }
        long[] shape = c.getLongList("eventShape").stream().mapToLong(Long::longValue).toArray();
        int[] hidden = c.getIntList("hidden").stream().mapToInt(Integer::intValue).toArray();
        return new DeepNadeSpec(shape, hidden,
                c.hasPath("iterations") ? c.getInt("iterations") : 1,
                c.hasPath("orderings") ? c.getInt("orderings") : 1,
                c.hasPath("maskSeed") ? c.getLong("maskSeed") : 0L,
                c.hasPath("intermediateLoss") && c.getBoolean("intermediateLoss"));
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

    /** Bernoulli conditionals: the data must be binary. */
    @Override
    public String valueType() {
        return "binary";
    }

    /** {@link #MASK_DRAWS}: the variant only seeds the training masks. */
    @Override
    public int variantCount() {
        return MASK_DRAWS;
    }

    @Override
    public MultiLayerConfiguration trainingConfiguration(TrainingRecipe recipe) {
        return recipe.base()
                .list()
                .layer(new DeepNadeLayer(this))
                // the layer already outputs each row's weighted NLL; the loss passes it through (mean over the batch)
                .layer(new LossLayer.Builder(new NllOutputLoss()).activation(Activation.IDENTITY).build())
                .setInputType(InputType.feedForward(2L * dim()))
                .build();
    }

    /**
     * The observed-dimension mask of one training row: o ~ Uniform{0..D-1} observed dimensions, a uniformly random
     * subset of that size (a partial Fisher-Yates shuffle: the first o entries of a random ordering), all from
     * {@code Seeds.derive(maskSeed, variant, row)}.
     *
     * @return 1 = observed, 0 = to predict; never all ones
     */
    public boolean[] trainingMask(int variant, long row) {
        int d = dim();
        SplittableRandom r = new SplittableRandom(Seeds.derive(maskSeed, variant, row));
        int observed = r.nextInt(d);
        int[] order = new int[d];
        for (int i = 0; i < d; i++) {
            order[i] = i;
        }
        boolean[] m = new boolean[d];
        for (int i = 0; i < observed; i++) {
            int j = i + r.nextInt(d - i);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
            m[order[i]] = true;
        }
        return m;
    }

    /**
     * Network input {@code [batch, 2D]}: the events, then each row's mask from {@link #trainingMask}(variant, row).
     *
     * @param variant a mask draw in [0, {@link #MASK_DRAWS})
     */
    @Override
    public INDArray trainingFeatures(INDArray x, int variant) {
        if (variant < 0) {
            throw new IllegalArgumentException("variant must be >= 0, got " + variant);
        }
        int d = dim();
        if (x.rank() != 2 || x.columns() != d) {
            throw new IllegalArgumentException("expected events [batch, " + d + "], got " + Arrays.toString(x.shape()));
        }
        int n = Math.toIntExact(x.rows());
        float[] m = new float[n * d];
        for (int i = 0; i < n; i++) {
            boolean[] row = trainingMask(variant, i);
            for (int j = 0; j < d; j++) {
                m[i * d + j] = row[j] ? 1f : 0f;
            }
        }
        return features(x, Nd4j.create(m, new long[]{n, d}, DataType.FLOAT));
    }

    /** The network input for events and an explicit observed mask: {@code [x | m]}, float. */
    public INDArray features(INDArray x, INDArray mask) {
        return Nd4j.hstack(x.castTo(DataType.FLOAT), mask.castTo(DataType.FLOAT));
    }

    /** Zeros {@code [batch, 1]}: the layer output is the loss itself. */
    @Override
    public INDArray trainingLabels(INDArray x) {
        return Nd4j.zeros(DataType.FLOAT, x.rows(), 1);
    }

    /**
     * Test ordering {@code k}: ordering[t] = the dimension generated t-th. Ordering 0 is the natural order; the others
     * are Fisher-Yates permutations seeded from (maskSeed, k), a stream separate from the training masks.
     */
    public int[] ordering(int k) {
        if (k < 0 || k >= orderings) {
            throw new IllegalArgumentException("ordering " + k + " outside [0, " + orderings + ")");
        }
        int d = dim();
        int[] order = new int[d];
        for (int i = 0; i < d; i++) {
            order[i] = i;
        }
        if (k > 0) {
            // index -1 of maskSeed: never a training variant (those are >= 0)
            SplittableRandom r = new SplittableRandom(Seeds.derive(maskSeed, -1L, k));
            for (int i = d - 1; i > 0; i--) {
                int j = r.nextInt(i + 1);
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
        }
        return order;
    }

    @Override
    public DensityModel densityOf(MultiLayerNetwork network) {
        return DeepNade.of(this, network);
    }

    @Override
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", TYPE);
        m.put("eventShape", Arrays.stream(eventShape).boxed().toList());
        m.put("hidden", Arrays.stream(hidden).boxed().toList());
        m.put("iterations", iterations);
        m.put("orderings", orderings);
        m.put("maskSeed", maskSeed);
        m.put("intermediateLoss", intermediateLoss);
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
