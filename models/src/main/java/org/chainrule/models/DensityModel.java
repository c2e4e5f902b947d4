package org.chainrule.models;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A normalized probability density (or mass function) over a fixed event shape.
 *
 * <p>Inputs are flattened events, shape {@code [batch, eventSize()]}, in the same row-major order the data pipeline
 * writes them. All log-likelihoods are natural-log (nats) per example; bits/dim is derived in one place,
 * {@link Units#bitsPerDim(double, long)}.
 */
public interface DensityModel {

    /** Shape of one event, e.g. {@code [28, 28]} for an MNIST digit or {@code [D]} for a vector. */
    long[] eventShape();

    /** Number of scalar dimensions in one event: the product of {@link #eventShape()}. */
    default int eventSize() {
        long n = 1;
        for (long s : eventShape()) {
            n *= s;
        }
        return Math.toIntExact(n);
    }

    /**
     * Exact per-example log-likelihood.
     *
     * @param x events, shape {@code [batch, eventSize()]}
     * @return {@code log p(x)} in nats, shape {@code [batch]}, double precision; never a batch sum
     */
    INDArray logProb(INDArray x);

    /**
     * Draws one sample per seed. Row {@code i} depends only on {@code seeds[i]} (and the model), so the same seed gives
     * the same sample whichever executor or batch draws it.
     *
     * @return samples, shape {@code [seeds.length, eventSize()]}
     */
    INDArray sample(long[] seeds);

    /** Draws {@code n} samples whose per-row seeds are derived from one root seed by {@link Seeds#derive}. */
    default INDArray sample(int n, long seed) {
        long[] seeds = new long[n];
        for (int i = 0; i < n; i++) {
            seeds[i] = Seeds.derive(seed, i);
        }
        return sample(seeds);
    }

    /** Length of the conditioning vector this density takes; 0 when unconditional. */
    default int contextSize() {
        return 0;
    }

    /**
     * Exact per-example log-likelihood of x given its context, for conditional models.
     *
     * @param context {@code [batch, contextSize()]}, or null for an unconditional model
     */
    default INDArray logProb(INDArray x, INDArray context) {
        if (context != null) {
            throw new UnsupportedOperationException(getClass().getSimpleName() + " is not a conditional model");
        }
        return logProb(x);
    }

    /**
     * Completes partial events (image completion): the first {@code known} values of each row, in the model's
     * generation order (raster order, and the colour channels of a pixel in turn), are kept, and the rest are drawn
     * from p(rest | known, context) with the same seeding as {@link #sample(long[], INDArray, double)}. Models that
     * cannot condition on a prefix say so.
     *
     * @param partial {@code [seeds.length, eventSize()]}; values after the first {@code known} are ignored
     */
    default INDArray complete(INDArray partial, int known, long[] seeds, INDArray context, double temperature) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " cannot complete partial events");
    }

    /**
     * Draws one sample per seed given each row's context, at a sampling temperature (1 = the model itself; lower is
     * sharper). Models that do not support a temperature other than 1 say so.
     *
     * @param context {@code [seeds.length, contextSize()]}, or null for an unconditional model
     */
    default INDArray sample(long[] seeds, INDArray context, double temperature) {
        if (context != null) {
            throw new UnsupportedOperationException(getClass().getSimpleName() + " is not a conditional model");
        }
        if (temperature != 1.0) {
            throw new UnsupportedOperationException(getClass().getSimpleName() + " samples only at temperature 1");
        }
        return sample(seeds);
    }
}
