package org.chainrule.models.sequence;

import org.chainrule.models.Described;
import org.chainrule.models.TrainingRecipe;
import com.typesafe.config.Config;
import org.chainrule.models.DensityModel;
import org.chainrule.models.ModelSpec;
import org.deeplearning4j.nn.conf.GradientNormalization;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.LSTM;
import org.deeplearning4j.nn.conf.layers.RnnOutputLayer;
import org.deeplearning4j.nn.conf.layers.recurrent.SimpleRnn;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A character-level recurrent language model over fixed-length sequences of T character indices in [0, V): p(x) =
 * prod_t p(x_t | x_{&lt;t}), with x_0 conditioned on a start token. The network reads the previous character (one-hot,
 * with an extra start channel) and predicts the next one with a softmax, as in Graves 2013 ("Generating Sequences With
 * Recurrent Neural Networks") and Karpathy's char-rnn; {@code char-lstm} uses LSTM cells (Hochreiter and Schmidhuber
 * 1997), {@code char-rnn} plain tanh recurrent cells (Elman 1990), kept as the baseline that shows what the gates buy.
 *
 * <p>The recurrence makes the model causal by construction: the state that predicts x_t has only seen the start token
 * and x_{&lt;t}. Every conditional is a softmax over V values, so the product is exactly normalized over V^T sequences.
 *
 * <p>The training loss is DL4J's MCXENT on the softmax output, summed over the T steps and averaged over the
 * minibatch: the mean NLL per sequence in nats, like every other model here.
 *
 * @param type           {@code char-lstm} or {@code char-rnn}
 * @param eventShape     {@code [T]}: sequence length
 * @param vocabularySize V, the number of distinct characters (2..256); data values are 0..V-1
 * @param hidden         widths of the stacked recurrent layers (at least one)
 * @param gradientClip   element-wise gradient clipping threshold (each gradient entry is clipped to [-c, c] before
 *                       the Adam step, as char-rnn does, so one exploding step through time cannot wreck the weights);
 *                       0 turns clipping off
 */
public record CharRnnSpec(String type, long[] eventShape, int vocabularySize, int[] hidden, double gradientClip)
        implements ModelSpec {

    /** Default element-wise gradient clipping threshold. */
    public static final double DEFAULT_GRADIENT_CLIP = 5.0;

    public CharRnnSpec {
        if (!type.equals("char-lstm") && !type.equals("char-rnn")) {
            throw new IllegalArgumentException("CharRnnSpec type must be char-lstm or char-rnn, got " + type);
        }
        if (eventShape.length != 1 || eventShape[0] < 1 || eventShape[0] > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("a character sequence has shape [T] with T >= 1, got "
                    + Arrays.toString(eventShape));
        }
        if (vocabularySize < 2 || vocabularySize > 256) {
            throw new IllegalArgumentException("vocabulary size must be 2..256, got " + vocabularySize);
        }
        if (hidden.length == 0) {
            throw new IllegalArgumentException("a recurrent model needs at least one hidden layer");
        }
        for (int h : hidden) {
            if (h < 1) {
                throw new IllegalArgumentException("hidden widths must be >= 1, got " + Arrays.toString(hidden));
            }
        }
        if (!(gradientClip >= 0) || Double.isInfinite(gradientClip)) {
            throw new IllegalArgumentException("gradient clip must be >= 0 and finite, got " + gradientClip);
        }
        eventShape = eventShape.clone();
        hidden = hidden.clone();
    }

    /** An LSTM language model over sequences of {@code length} characters from a vocabulary of V. */
    public static CharRnnSpec lstm(int length, int vocabularySize, int... hidden) {
        return new CharRnnSpec("char-lstm", new long[]{length}, vocabularySize, hidden, DEFAULT_GRADIENT_CLIP);
    }

    /** A plain (tanh) recurrent language model over sequences of {@code length} characters from a vocabulary of V. */
    public static CharRnnSpec rnn(int length, int vocabularySize, int... hidden) {
        return new CharRnnSpec("char-rnn", new long[]{length}, vocabularySize, hidden, DEFAULT_GRADIENT_CLIP);
    }

    /** The same model with another gradient clipping threshold (0 = none). */
    public CharRnnSpec withGradientClip(double clip) {
        return new CharRnnSpec(type, eventShape, vocabularySize, hidden, clip);
    }

    /** Reads the map written by {@link #toMap()}. */
    public static CharRnnSpec fromConfig(Config c) {
        long[] shape = c.getLongList("eventShape").stream().mapToLong(Long::longValue).toArray();
        int[] hidden = c.getIntList("hidden").stream().mapToInt(Integer::intValue).toArray();
        double clip = c.hasPath("gradientClip") ? c.getDouble("gradientClip") : DEFAULT_GRADIENT_CLIP;
        return new CharRnnSpec(c.getString("type"), shape, c.getInt("vocabularySize"), hidden, clip);
    }

    /** Sequence length T. */
    public int length() {
        return (int) eventShape[0];
    }

    /** Input channels: one per character plus the start token, which is channel V. */
    public int inputChannels() {
        return vocabularySize + 1;
    }

    /** Character indices are stored as unsigned bytes. */
    @Override
    public String valueType() {
        return "uint8";
    }

    @Override
    public int levels() {
        return vocabularySize;
    }

    /** One fixed structure: the left-to-right order. */
    @Override
    public int variantCount() {
        return 1;
    }

    @Override
    public MultiLayerConfiguration trainingConfiguration(TrainingRecipe recipe) {
        NeuralNetConfiguration.Builder base = recipe.base()
                .weightInit(WeightInit.XAVIER);
        if (gradientClip > 0) {
            base.gradientNormalization(GradientNormalization.ClipElementWiseAbsoluteValue)
                    .gradientNormalizationThreshold(gradientClip);
        }
        NeuralNetConfiguration.ListBuilder list = base.list();
        int in = inputChannels();
        for (int h : hidden) {
            // tanh explicitly: DL4J's layer default activation is sigmoid, which is not the cell nonlinearity we want
            list.layer(type.equals("char-lstm")
                    ? new LSTM.Builder().nIn(in).nOut(h).activation(Activation.TANH).build()
                    : new SimpleRnn.Builder().nIn(in).nOut(h).activation(Activation.TANH).build());
            in = h;
        }
        return list.layer(new RnnOutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
                        .activation(Activation.SOFTMAX).nIn(in).nOut(vocabularySize).build())
                .setInputType(InputType.recurrent(inputChannels()))
                .build();
    }

    /**
     * The network input: at step t the previous character, one-hot over V + 1 channels, with the start token (channel
     * V) at step 0, i.e. one-hot of [START, x_0, ..., x_{T-2}].
     *
     * @param x character indices {@code [batch, T]}
     * @return {@code [batch, V + 1, T]} (NCW, DL4J's recurrent layout), float
     */
    @Override
    public INDArray trainingFeatures(INDArray x, int variant) {
        if (variant != 0) {
            throw new IllegalArgumentException("a " + type + " model has one variant, got " + variant);
        }
        int[][] idx = indices(x);
        int n = idx.length;
        int t = length();
        int c = inputChannels();
        float[] f = new float[n * c * t];
        for (int i = 0; i < n; i++) {
            f[(i * c + vocabularySize) * t] = 1f;
            for (int s = 1; s < t; s++) {
                f[(i * c + idx[i][s - 1]) * t + s] = 1f;
            }
        }
        return Nd4j.create(f, new long[]{n, c, t}, DataType.FLOAT);
    }

    /**
     * The targets: one-hot of x_t at every step t.
     *
     * @param x character indices {@code [batch, T]}
     * @return {@code [batch, V, T]}, float
     */
    @Override
    public INDArray trainingLabels(INDArray x) {
        int[][] idx = indices(x);
        int n = idx.length;
        int t = length();
        float[] f = new float[n * vocabularySize * t];
        for (int i = 0; i < n; i++) {
            for (int s = 0; s < t; s++) {
                f[(i * vocabularySize + idx[i][s]) * t + s] = 1f;
            }
        }
        return Nd4j.create(f, new long[]{n, vocabularySize, t}, DataType.FLOAT);
    }

    /**
     * The events as integer indices, checked: {@code [batch, T]} of whole numbers in [0, V).
     *
     * @throws IllegalArgumentException on a wrong shape or a value that is not a character index
     */
    public int[][] indices(INDArray x) {
        if (x.rank() != 2 || x.columns() != length()) {
            throw new IllegalArgumentException("expected character sequences [batch, " + length() + "], got "
                    + Arrays.toString(x.shape()));
        }
        int n = Math.toIntExact(x.rows());
        int t = length();
        double[] v = n == 0 ? new double[0] : x.castTo(DataType.DOUBLE).dup('c').data().asDouble();
        int[][] out = new int[n][t];
        for (int i = 0; i < n; i++) {
            for (int s = 0; s < t; s++) {
                double d = v[i * t + s];
                int k = (int) d;
                if (k != d || k < 0 || k >= vocabularySize) {
                    throw new IllegalArgumentException("value " + d + " at row " + i + ", step " + s
                            + " is not a character index in [0, " + vocabularySize + ")");
                }
                out[i][s] = k;
            }
        }
        return out;
    }

    @Override
    public DensityModel densityOf(MultiLayerNetwork network) {
        return new CharRnnDensity(this, network);
    }

    @Override
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", type);
        m.put("eventShape", Arrays.stream(eventShape).boxed().toList());
        m.put("vocabularySize", vocabularySize);
        m.put("hidden", Arrays.stream(hidden).boxed().toList());
        m.put("gradientClip", gradientClip);
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
