package org.chainrule.models;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A density over real vectors in their original units, given a model of the standardized values z = (x - mean) / std:
 * log p(x) = log p_z(z) - sum_d log std_d (the Jacobian of the scaling), and samples are mapped back by x = mean + std z.
 * Likelihoods reported through this class are therefore comparable with any other density of the same raw data.
 */
public final class Standardized implements DensityModel {
    private final DensityModel inner;
    private final INDArray mean;
    private final INDArray std;
    private final double logJacobian;

    public Standardized(DensityModel inner, double[] mean, double[] std) {
        if (mean.length != inner.eventSize() || std.length != mean.length) {
            throw new IllegalArgumentException("standardization has " + mean.length + " columns, the model "
                    + inner.eventSize());
        }
        double lj = 0;
        for (double s : std) {
            if (!(s > 0) || Double.isInfinite(s)) {
                throw new IllegalArgumentException("standard deviations must be positive and finite, got " + s);
            }
            lj += Math.log(s);
        }
        this.inner = inner;
        this.mean = Nd4j.createFromArray(mean).reshape(1, mean.length);
        this.std = Nd4j.createFromArray(std).reshape(1, std.length);
        this.logJacobian = lj;
    }

    /** The model of the standardized values. */
    public DensityModel inner() {
        return inner;
    }

    /** (x - mean) / std, in the precision of x. */
    public INDArray standardize(INDArray x) {
        return x.castTo(DataType.DOUBLE).subRowVector(mean).divRowVector(std).castTo(x.dataType());
    }

    @Override
    public long[] eventShape() {
        return inner.eventShape();
    }

    @Override
    public int contextSize() {
        return inner.contextSize();
    }

    @Override
    public INDArray logProb(INDArray x) {
        return logProb(x, null);
    }

    @Override
    public INDArray logProb(INDArray x, INDArray context) {
        INDArray z = standardize(x);
        INDArray lp = context == null && inner.contextSize() == 0 ? inner.logProb(z) : inner.logProb(z, context);
        return lp.castTo(DataType.DOUBLE).subi(logJacobian);
    }

    @Override
    public INDArray sample(long[] seeds) {
        return sample(seeds, null, 1.0);
    }

    @Override
    public INDArray sample(long[] seeds, INDArray context, double temperature) {
        INDArray z = inner.sample(seeds, context, temperature);
        return z.castTo(DataType.DOUBLE).mulRowVector(std).addRowVector(mean).castTo(z.dataType());
    }
}
