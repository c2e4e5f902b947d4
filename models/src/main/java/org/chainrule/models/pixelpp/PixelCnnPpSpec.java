package org.chainrule.models.pixelpp;

import org.chainrule.models.Described;
import org.chainrule.models.HashedDropout;
import org.chainrule.models.TrainingRecipe;
import com.typesafe.config.Config;
import org.chainrule.models.DensityModel;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.NllOutputLoss;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
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

/**
 * A PixelCNN++ (Salimans, Karpathy, Chen and Kingma 2017, "PixelCNN++: Improving the PixelCNN with Discretized
 * Logistic Mixture Likelihood and Other Modifications") over images with L levels per sub-pixel: p(x) = prod over
 * pixels in raster order of p(pixel | earlier pixels), each pixel a {@link DiscretizedLogisticMixture} whose
 * parameters come from a shifted-convolution network ({@link PixelCnnPpLayer}, which lists the simplifications against
 * the paper). The likelihood is exact; the training network outputs each example's NLL ({@link NllOutputLoss}).
 *
 * <p>Events are the data pipeline's rows: {@code [H, W]} (grey, C = 1) or {@code [H, W, C]} (channels last), row-major,
 * values the integers 0..L-1.
 *
 * @param eventShape   {@code [H, W]} or {@code [H, W, C]}
 * @param levels       L, values per sub-pixel (256 for 8-bit images; 2 for binary ones)
 * @param filters      F, feature maps of each stream
 * @param resnetLayers gated resnet layers (each updates both streams)
 * @param components   M, logistic mixture components per pixel
 * @param dropout      the rate of dropout inside each gated resnet layer while training, as in the paper (0 = none;
 *                     {@link HashedDropout})
 */
public record PixelCnnPpSpec(long[] eventShape, int levels, int filters, int resnetLayers, int components,
                             double dropout) implements ModelSpec {

    /** The model type name. */
    public static final String TYPE = "pixelcnn++";

    public PixelCnnPpSpec {
        if (eventShape.length != 2 && eventShape.length != 3) {
            throw new IllegalArgumentException("a pixelcnn++ models [H, W] or [H, W, C] images, got "
                    + Arrays.toString(eventShape));
        }
        long n = 1;
        for (long s : eventShape) {
            if (s < 1) {
                throw new IllegalArgumentException("image dimensions must be >= 1, got " + Arrays.toString(eventShape));
            }
            n *= s;
        }
        if (n > Integer.MAX_VALUE / 64) {
            throw new IllegalArgumentException("image too large: " + Arrays.toString(eventShape));
        }
        if (levels < 2 || levels > 65536) {
            throw new IllegalArgumentException("levels must be in 2..65536, got " + levels);
        }
        if (filters < 1 || resnetLayers < 0 || components < 1) {
            throw new IllegalArgumentException("need filters >= 1, resnetLayers >= 0 and components >= 1, got "
                    + filters + ", " + resnetLayers + ", " + components);
        }
        HashedDropout.checkRate(dropout);
        if (dropout > 0 && resnetLayers == 0) {
            throw new IllegalArgumentException("dropout applies inside gated resnet layers; this pixelcnn++ has none");
        }
        if (dropout > 0 && 4L * resnetLayers * filters * n / (eventShape.length == 3 ? eventShape[2] : 1)
                > HashedDropout.MAX_UNITS) {
            throw new IllegalArgumentException("too many units for dropout: " + resnetLayers + " layers of 2 x "
                    + filters + " maps of " + Arrays.toString(eventShape));
        }
        eventShape = eventShape.clone();
    }

    /** A model without dropout. */
    public PixelCnnPpSpec(long[] eventShape, int levels, int filters, int resnetLayers, int components) {
        this(eventShape, levels, filters, resnetLayers, components, 0);
    }

    /** A model over 8-bit images. */
    public static PixelCnnPpSpec of(long[] eventShape, int filters, int resnetLayers, int components) {
        return new PixelCnnPpSpec(eventShape, 256, filters, resnetLayers, components);
    }

    /** The same model for data with {@code levels} values per sub-pixel. */
    public PixelCnnPpSpec withLevels(int levels) {
        return new PixelCnnPpSpec(eventShape, levels, filters, resnetLayers, components, dropout);
    }

    /** The same model with dropout at rate {@code rate} inside its gated resnet layers while training. */
    public PixelCnnPpSpec withDropout(double rate) {
        return new PixelCnnPpSpec(eventShape, levels, filters, resnetLayers, components, rate);
    }

    /**
     * Reads the map written by {@link #toMap()}: {@code eventShape}, {@code filters}, {@code resnetLayers},
     * {@code components}, {@code levels} (256 when missing) and {@code dropout} (0 when missing).
     */
    public static PixelCnnPpSpec fromConfig(Config c) {
        long[] shape = c.getLongList("eventShape").stream().mapToLong(Long::longValue).toArray();
        return new PixelCnnPpSpec(shape, c.hasPath("levels") ? c.getInt("levels") : 256, c.getInt("filters"),
                c.getInt("resnetLayers"), c.getInt("components"), c.hasPath("dropout") ? c.getDouble("dropout") : 0);
    }

    public int height() {
        return (int) eventShape[0];
    }

    public int width() {
        return (int) eventShape[1];
    }

    /** C: 1 for an {@code [H, W]} event shape. */
    public int channels() {
        return eventShape.length == 3 ? (int) eventShape[2] : 1;
    }

    /** H W, the number of pixels (each of C sub-pixels). */
    public int pixels() {
        return height() * width();
    }

    /** The two streams' maps over every pixel, doubled for the gates. */
    @Override
    public long activationElementsPerRow() {
        return 4L * filters * pixels();
    }

    /** D = H W C, the length of an event row. */
    public int dim() {
        return pixels() * channels();
    }

    /** Every pixel's likelihood. */
    public DiscretizedLogisticMixture mixture() {
        return new DiscretizedLogisticMixture(channels(), components, levels);
    }

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public String valueType() {
        return levels == 2 ? "binary" : "uint8";
    }

    @Override
    public int levels() {
        return levels;
    }

    @Override
    public int variantCount() {
        return 1;
    }

    @Override
    public MultiLayerConfiguration trainingConfiguration(TrainingRecipe recipe) {
        return recipe.base()
                .list()
                .layer(new PixelCnnPpLayer(this, false))
                .layer(new LossLayer.Builder(new NllOutputLoss()).activation(Activation.IDENTITY).build())
                .setInputType(InputType.feedForward(featureWidth()))
                .build();
    }

    /** Columns of the training network's input: the event and, with dropout, the step's dropout key. */
    private long featureWidth() {
        return dim() + (dropout > 0 ? 1 : 0);
    }

    /**
     * The sampler's view: the same layer (same parameters, in the same order) outputting every pixel's mixture
     * parameters {@code [batch, H W P]}; load a trained network's {@code params()} into it. It has no dropout (it
     * never trains) and takes the {@link #events} alone.
     */
    public MultiLayerConfiguration parameterConfiguration() {
        return new NeuralNetConfiguration.Builder()
                .dataType(DataType.FLOAT)
                .list()
                .layer(new PixelCnnPpLayer(withDropout(0), true))
                .setInputType(InputType.feedForward(dim()))
                .build();
    }

    /**
     * The events themselves, as floats (the network scales them); with dropout, and a last column holding the step's
     * dropout key, 0 here (no dropout: the evaluation input).
     */
    @Override
    public INDArray trainingFeatures(INDArray x, int variant) {
        if (variant != 0) {
            throw new IllegalArgumentException("a pixelcnn++ has one variant, got " + variant);
        }
        INDArray events = events(x);
        return dropout > 0 ? Nd4j.hstack(events, Nd4j.zeros(DataType.FLOAT, x.rows(), 1)) : events;
    }

    /** With dropout, the key column holds the step's key ({@link HashedDropout#key}). */
    @Override
    public INDArray trainingFeatures(INDArray x, INDArray context, int variant, long stepSeed) {
        return HashedDropout.keyed(trainingFeatures(x, context, variant), dropout, stepSeed);
    }

    /** Checked events {@code [batch, D]} as floats: the sampler's input. */
    INDArray events(INDArray x) {
        if (x.rank() != 2 || x.columns() != dim()) {
            throw new IllegalArgumentException("expected [batch, " + dim() + "] events, got "
                    + Arrays.toString(x.shape()));
        }
        return x.castTo(DataType.FLOAT);
    }

    /** Ignored by the NLL-output loss; {@code [batch, 1]} zeros. */
    @Override
    public INDArray trainingLabels(INDArray x) {
        return Nd4j.zeros(DataType.FLOAT, x.rows(), 1);
    }

    @Override
    public DensityModel densityOf(MultiLayerNetwork network) {
        return new PixelCnnPpDensity(this, network);
    }

    @Override
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", TYPE);
        m.put("eventShape", Arrays.stream(eventShape).boxed().toList());
        m.put("levels", levels);
        m.put("filters", filters);
        m.put("resnetLayers", resnetLayers);
        m.put("components", components);
        if (dropout > 0) {
            m.put("dropout", dropout); // absent: none, as in every model saved before dropout was a setting
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
