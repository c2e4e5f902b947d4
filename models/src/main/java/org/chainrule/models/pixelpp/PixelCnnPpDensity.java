package org.chainrule.models.pixelpp;

import org.chainrule.models.GraphDensity;
import org.chainrule.models.Seeds;
import org.chainrule.models.Units;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A trained PixelCNN++ (Salimans et al. 2017) as a density. The exact log-likelihood is the training network's own
 * output ({@link GraphDensity}); this class adds the mixture parameters of every pixel (the same layer with
 * {@code parameterOutput} set, holding a copy of the trained parameters) and the naive ancestral sampler.
 *
 * <p>Sampling walks the pixels in raster order: one forward pass over the whole batch of partly drawn images per
 * pixel (H W passes in all; the paper's sampler does the same), then each row draws that pixel's C channels together
 * ({@link DiscretizedLogisticMixture#sample}) with seed {@code Seeds.derive(rowSeed, pixel)}. Pixels not yet drawn
 * hold 0, which no earlier pixel's parameters can see. A row's draws use only its own seed and its own forward pass
 * (convolutions never mix rows), so row i depends only on seeds[i].
 *
 * <p>A model trained with dropout is scored by its network without the dropout ops (which drop nothing at scoring):
 * same parameters, the events alone as input.
 */
public final class PixelCnnPpDensity extends GraphDensity {
    private final PixelCnnPpSpec pixel;
    private final DiscretizedLogisticMixture mixture;
    private final MultiLayerNetwork parameterNetwork;

    /** Snapshot of a network built by {@code spec.trainingConfiguration} (its parameters are copied). */
    public PixelCnnPpDensity(PixelCnnPpSpec spec, MultiLayerNetwork network) {
        super(spec.withDropout(0), withoutDropout(spec, network));
        this.pixel = spec;
        this.mixture = spec.mixture();
        this.parameterNetwork = new MultiLayerNetwork(spec.parameterConfiguration());
        parameterNetwork.init();
        INDArray trained = network.params();
        if (trained.length() != parameterNetwork.numParams()) {
            throw new IllegalArgumentException("network has " + trained.length() + " parameters, a " + spec
                    + " needs " + parameterNetwork.numParams());
        }
        parameterNetwork.setParams(trained.dup());
    }

    public PixelCnnPpSpec spec() {
        return pixel;
    }

    /** The training network itself without dropout; a copy without the dropout ops (same parameters) with it. */
    private static MultiLayerNetwork withoutDropout(PixelCnnPpSpec spec, MultiLayerNetwork network) {
        if (spec.dropout() == 0) {
            return network;
        }
        MultiLayerConfiguration conf = MultiLayerConfiguration.fromJson(network.getLayerWiseConfigurations().toJson());
        ((PixelCnnPpLayer) conf.getConf(0).getLayer()).setDropout(0);
        MultiLayerNetwork plain = new MultiLayerNetwork(conf);
        plain.init(network.params().dup(), false);
        return plain;
    }

    /**
     * The mixture parameters of every pixel, each a function of the pixels before it only.
     *
     * @param x events {@code [batch, H W C]}
     * @return {@code [batch, H W P]} float, pixel n owning columns n P .. n P + P - 1
     */
    public synchronized INDArray params(INDArray x) {
        return parameterNetwork.output(pixel.events(x), false);
    }

    /**
     * log p(pixel n | earlier pixels) of every pixel, from {@link #params} and the plain-Java likelihood the sampler
     * draws from; their row sums are the graph's {@link #logProb}.
     *
     * @return {@code [batch, H W]} double
     */
    public INDArray pixelLogProbs(INDArray x) {
        float[][] p = params(x).toFloatMatrix();
        float[][] xs = x.castTo(DataType.FLOAT).toFloatMatrix();
        int n = pixel.pixels();
        int perPixel = mixture.paramsPerPixel();
        int c = pixel.channels();
        double[][] out = new double[xs.length][n];
        for (int i = 0; i < xs.length; i++) {
            for (int k = 0; k < n; k++) {
                out[i][k] = mixture.logProb(p[i], k * perPixel, xs[i], k * c);
            }
        }
        return Nd4j.create(out);
    }

    /** Bits per sub-pixel of each event: -log2 p(x) / (H W C) (see {@link Units#bitsPerDim}). */
    public INDArray bitsPerDim(INDArray x) {
        double[] lp = logProb(x).toDoubleVector();
        double[] bits = new double[lp.length];
        for (int i = 0; i < lp.length; i++) {
            bits[i] = Units.bitsPerDim(-lp[i], pixel.dim());
        }
        return Nd4j.createFromArray(bits);
    }

    @Override
    public INDArray sample(long[] seeds) {
        return sample(seeds, null, 1.0);
    }

    /**
     * Ancestral sampling at a temperature: see {@link DiscretizedLogisticMixture#sample} (mixing logits / T, logistic
     * scales * T).
     *
     * @return {@code [seeds.length, H W C]} float, values 0..L-1
     */
    @Override
    public INDArray sample(long[] seeds, INDArray context, double temperature) {
        return draw(new float[seeds.length][pixel.dim()], 0, seeds, context, temperature);
    }

    /** Keeps the first {@code known} values (whole pixels: a multiple of the channel count) and draws the rest. */
    @Override
    public INDArray complete(INDArray partial, int known, long[] seeds, INDArray context, double temperature) {
        int c = pixel.channels();
        if (known < 0 || known > pixel.dim() || known % c != 0) {
            throw new IllegalArgumentException("a PixelCNN++ completes whole pixels: known must be a multiple of " + c
                    + " in [0, " + pixel.dim() + "], got " + known);
        }
        if (partial.rows() != seeds.length || partial.columns() != pixel.dim()) {
            throw new IllegalArgumentException("partial events must be [" + seeds.length + ", " + pixel.dim()
                    + "], got " + java.util.Arrays.toString(partial.shape()));
        }
        float[][] x = new float[seeds.length][pixel.dim()];
        float[][] given = partial.castTo(DataType.FLOAT).toFloatMatrix();
        for (int i = 0; i < seeds.length; i++) {
            System.arraycopy(given[i], 0, x[i], 0, known);
        }
        return draw(x, known / c, seeds, context, temperature);
    }

    /** Draws pixels {@code from} .. end into {@code x} in raster order. */
    private INDArray draw(float[][] x, int from, long[] seeds, INDArray context, double temperature) {
        checkContext(context, seeds.length);
        if (!(temperature > 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be positive and finite, got " + temperature);
        }
        if (seeds.length == 0) {
            return Nd4j.create(DataType.FLOAT, 0, pixel.dim());
        }
        int c = pixel.channels();
        int perPixel = mixture.paramsPerPixel();
        for (int n = from; n < pixel.pixels(); n++) {
            float[][] p = params(Nd4j.create(x)).toFloatMatrix();
            for (int i = 0; i < seeds.length; i++) {
                mixture.sample(p[i], n * perPixel, Seeds.derive(seeds[i], n), temperature, x[i], n * c);
            }
        }
        return Nd4j.create(x);
    }
}
