package org.chainrule.models.autoregressive;

import com.typesafe.config.Config;
import org.chainrule.models.BernoulliLogitLoss;
import org.chainrule.models.DensityModel;
import org.chainrule.models.ModelSpec;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.LossLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A MADE over binary vectors (Germain et al. 2015, "MADE: Masked Autoencoder for Distribution Estimation"), or, with
 * no hidden layer, an FVSBN (fully visible sigmoid belief net: logistic autoregression, Frey 1998).
 *
 * @param type          {@code made} or {@code fvsbn}
 * @param eventShape    shape of one event; D = product
 * @param hidden        hidden layer widths (empty for FVSBN)
 * @param variants      number of mask sets trained over (connectivity-agnostic training when > 1)
 * @param orderAgnostic whether mask sets other than the first also draw a random input ordering
 * @param maskSeed      seed of the hidden degrees and orderings
 * @param direct        add direct input-to-output connections: an FVSBN term x (W_d * M_d) with a strictly
 *                      triangular mask in each mask set's ordering, added to the hidden path's logits
 */
public record MadeSpec(String type, long[] eventShape, int[] hidden, int variants, boolean orderAgnostic,
                       long maskSeed, boolean direct) implements ModelSpec {

    public MadeSpec {
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
        eventShape = eventShape.clone();
        hidden = hidden.clone();
    }

    /** A MADE with the given hidden widths and mask sets. */
    public static MadeSpec made(long[] eventShape, int[] hidden, int variants, boolean orderAgnostic, long maskSeed) {
        return new MadeSpec("made", eventShape, hidden, variants, orderAgnostic, maskSeed, false);
    }

    /** The same MADE with (or without) direct input-to-output connections. */
    public MadeSpec withDirect(boolean direct) {
        return new MadeSpec(type, eventShape, hidden, variants, orderAgnostic, maskSeed, direct);
    }

    /** An FVSBN in the natural ordering. */
    public static MadeSpec fvsbn(long[] eventShape) {
        return new MadeSpec("fvsbn", eventShape, new int[0], 1, false, 0L, false);
    }

    /** Reads the map written by {@link #toMap()}. */
    public static MadeSpec fromConfig(Config c) {
        long[] shape = c.getLongList("eventShape").stream().mapToLong(Long::longValue).toArray();
        if (c.getString("type").equals("fvsbn")) {
            return fvsbn(shape);
        }
        int[] hidden = c.getIntList("hidden").stream().mapToInt(Integer::intValue).toArray();
        return made(shape, hidden, c.getInt("variants"), c.getBoolean("orderAgnostic"), c.getLong("maskSeed"))
                .withDirect(c.hasPath("direct") && c.getBoolean("direct"));
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
        return MadeMasks.of(dim(), hidden, orderAgnostic, maskSeed, k);
    }

    /** Bernoulli conditionals: the data must be binary. */
    @Override
    public String valueType() {
        return "binary";
    }

    @Override
    public int variantCount() {
        return variants;
    }

    @Override
    public MultiLayerConfiguration trainingConfiguration(Optimization opt) {
        return new NeuralNetConfiguration.Builder()
                .seed(opt.seed())
                .dataType(DataType.FLOAT)
                .updater(new Adam(opt.learningRate()))
                .list()
                .layer(new MadeLayer(this))
                // exact Bernoulli NLL from logits, summed over D and averaged over the minibatch: mean NLL in nats
                .layer(new LossLayer.Builder(new BernoulliLogitLoss()).activation(Activation.IDENTITY).build())
                .setInputType(InputType.feedForward(dim() + 1L))
                .build();
    }

    @Override
    public INDArray trainingFeatures(INDArray x, int variant) {
        if (variant < 0 || variant >= variants) {
            throw new IllegalArgumentException("variant " + variant + " outside [0, " + variants + ")");
        }
        INDArray f = Nd4j.create(DataType.FLOAT, x.rows(), dim() + 1L);
        f.get(org.nd4j.linalg.indexing.NDArrayIndex.all(), org.nd4j.linalg.indexing.NDArrayIndex.interval(0, dim()))
                .assign(x);
        f.getColumn(dim()).assign(variant);
        return f;
    }

    @Override
    public INDArray trainingLabels(INDArray x) {
        return x.castTo(DataType.FLOAT);
    }

    @Override
    public DensityModel densityOf(MultiLayerNetwork network) {
        List<INDArray> weights = new ArrayList<>();
        List<INDArray> biases = new ArrayList<>();
        for (int l = 0; l <= hidden.length; l++) {
            weights.add(network.getLayer(0).getParam(MadeLayer.weightName(l)).dup());
            biases.add(network.getLayer(0).getParam(MadeLayer.biasName(l)).dup());
        }
        INDArray directWeights = direct ? network.getLayer(0).getParam(MadeLayer.DIRECT).dup() : null;
        return new Made(this, weights, biases, directWeights);
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

    @Override
    public boolean equals(Object o) {
        return o instanceof MadeSpec s && type.equals(s.type) && Arrays.equals(eventShape, s.eventShape)
                && Arrays.equals(hidden, s.hidden) && variants == s.variants && orderAgnostic == s.orderAgnostic
                && maskSeed == s.maskSeed && direct == s.direct;
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
