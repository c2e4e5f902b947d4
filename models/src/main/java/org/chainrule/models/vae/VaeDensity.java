package org.chainrule.models.vae;

import org.chainrule.models.DensityModel;
import org.chainrule.models.LogMath;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.Random;

/**
 * A trained {@link VaeSpec} as a density. Scoring runs the training network itself on {@code [x | eps]} rows (so it
 * cannot disagree with training): each row's S importance draws go through the network together, and
 * {@link #logProb} is the IWAE estimate {@code log mean_s w_s} (see {@link VaeSpec} for what it estimates). Sampling
 * is ancestral: {@code z ~ N(0, T^2 I)}, then the decoder (in plain Java, double precision, on a copy of its
 * parameters) and one Bernoulli draw per dimension. A private snapshot: later training does not leak in.
 */
public final class VaeDensity implements DensityModel {
    /** Network rows per scoring pass: draws of a batch are stacked until about this many. */
    private static final int ROWS_PER_PASS = 4096;

    private final VaeSpec spec;
    private final MultiLayerNetwork network;
    private final INDArray[] decoderWeights;
    private final INDArray[] decoderBiases;

    VaeDensity(VaeSpec spec, MultiLayerNetwork network) {
        this.spec = spec;
        this.network = network.clone();
        int layers = spec.decoderHidden().length + 1;
        decoderWeights = new INDArray[layers];
        decoderBiases = new INDArray[layers];
        Layer layer = this.network.getLayer(0);
        for (int l = 0; l < layers; l++) {
            decoderWeights[l] = layer.getParam(VaeLayer.decoderWeight(l)).castTo(DataType.DOUBLE).dup();
            decoderBiases[l] = layer.getParam(VaeLayer.decoderBias(l)).castTo(DataType.DOUBLE).dup();
        }
    }

    public VaeSpec spec() {
        return spec;
    }

    @Override
    public long[] eventShape() {
        return spec.eventShape();
    }

    /**
     * The IWAE estimate of {@code log p(x)} with {@code spec.evalSamples()} draws per row, noise fixed by the row's
     * values: not exact (see {@link VaeSpec#likelihoodCaveat()}).
     *
     * @return {@code [batch]} nats, double precision
     */
    @Override
    public INDArray logProb(INDArray x) {
        return importanceEstimate(x, spec.evalSamples());
    }

    /** The IWAE estimate {@code log (1/S) sum_s w_s} with {@code samples} draws per row (S = 1: the ELBO draw). */
    public INDArray importanceEstimate(INDArray x, int samples) {
        INDArray w = logWeights(x, samples);
        return samples == 1 ? w.getColumn(0).dup() : LogMath.logMeanExp(w);
    }

    /**
     * The ELBO estimate: the mean over {@code spec.evalSamples()} draws of the single-sample ELBO
     * {@code log w_s} (the same draws as {@link #logProb}, which is never below it, by Jensen's inequality).
     */
    public INDArray elbo(INDArray x) {
        return logWeights(x, spec.evalSamples()).mean(1);
    }

    /**
     * Log importance weights {@code log w_s = log p(x, z_K^s) - log q_K(z_K^s | x)} (each a single-sample ELBO) of
     * draws {@code s = 0 .. samples-1}, computed by the training network. Draw s of a row is the same for any number
     * of draws and any batch.
     *
     * @return {@code [batch, samples]}, double precision
     */
    public synchronized INDArray logWeights(INDArray x, int samples) {
        if (samples < 1) {
            throw new IllegalArgumentException("need at least one draw, got " + samples);
        }
        long rows = x.rows();
        INDArray all = Nd4j.create(DataType.DOUBLE, rows, samples);
        if (rows == 0) {
            return all;
        }
        int perPass = (int) Math.max(1, Math.min(samples, ROWS_PER_PASS / rows));
        long width = spec.dim() + (long) spec.latent();
        for (int s0 = 0; s0 < samples; s0 += perPass) {
            int n = Math.min(perPass, samples - s0);
            INDArray features = Nd4j.create(DataType.FLOAT, n * rows, width);
            for (int j = 0; j < n; j++) {
                features.get(NDArrayIndex.interval(j * rows, (j + 1) * rows), NDArrayIndex.all())
                        .assign(spec.evalFeatures(x, s0 + j));
            }
            INDArray negElbo = network.output(features, false).reshape(n, rows).castTo(DataType.DOUBLE);
            all.get(NDArrayIndex.all(), NDArrayIndex.interval(s0, s0 + n)).assign(negElbo.transpose().neg());
        }
        return all;
    }

    @Override
    public INDArray sample(long[] seeds) {
        return sample(seeds, null, 1.0);
    }

    /**
     * One event per seed: {@code z ~ N(0, T^2 I_L)}, decoder logits, then {@code x_d ~ Bernoulli(sigmoid(logit_d / T))},
     * all from one {@code java.util.Random} seeded by the row's seed (L Gaussians, then D uniforms), so row i depends
     * only on {@code seeds[i]}. As T goes to 0 this is the decoder's mode at z = 0.
     *
     * @return {@code [seeds.length, D]} float, 0/1
     */
    @Override
    public INDArray sample(long[] seeds, INDArray context, double temperature) {
        if (context != null) {
            throw new UnsupportedOperationException("a vae is unconditional but was given a context");
        }
        if (!(temperature > 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be positive and finite, got " + temperature);
        }
        int d = spec.dim();
        int l = spec.latent();
        if (seeds.length == 0) {
            return Nd4j.create(DataType.FLOAT, 0, d);
        }
        Random[] rngs = new Random[seeds.length];
        double[][] z = new double[seeds.length][l];
        for (int i = 0; i < seeds.length; i++) {
            rngs[i] = new Random(seeds[i]);
            for (int j = 0; j < l; j++) {
                z[i][j] = temperature * rngs[i].nextGaussian();
            }
        }
        double[][] logits = decoderLogits(Nd4j.create(z)).toDoubleMatrix();
        float[][] out = new float[seeds.length][d];
        for (int i = 0; i < seeds.length; i++) {
            for (int j = 0; j < d; j++) {
                out[i][j] = rngs[i].nextDouble() < LogMath.sigmoid(logits[i][j] / temperature) ? 1f : 0f;
            }
        }
        return Nd4j.create(out);
    }

    /**
     * The decoder's Bernoulli logits of latent codes, in double precision from the trained parameters.
     *
     * @param z {@code [n, L]}
     * @return {@code [n, D]}
     */
    public INDArray decoderLogits(INDArray z) {
        if (z.rank() != 2 || z.columns() != spec.latent()) {
            throw new IllegalArgumentException("expected [n, " + spec.latent() + "] latent codes, got "
                    + java.util.Arrays.toString(z.shape()));
        }
        INDArray h = z.castTo(DataType.DOUBLE);
        int last = decoderWeights.length - 1;
        for (int l = 0; l <= last; l++) {
            h = h.mmul(decoderWeights[l]).addiRowVector(decoderBiases[l]);
            if (l < last) {
                h = spec.activation().equals("relu") ? Transforms.relu(h, false) : Transforms.tanh(h, false);
            }
        }
        return h;
    }
}
