package org.chainrule.models;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Dropout (Srivastava et al. 2014) inside a SameDiff layer, with masks that are a function of a per-step key instead
 * of a random generator's state.
 *
 * <p>DL4J runs a SameDiff layer's graph twice per step, once forward for the loss and once again, forward and
 * backward, for the gradients; a random op would draw two different masks, so the gradient would not be that of the
 * loss. Here unit j of example i in a minibatch keyed {@code k} is kept when {@code hash(k, i, offset + j) >= rate}
 * (inverted dropout: kept units are scaled by {@code 1 / (1 - rate)}, so nothing changes at evaluation). The key
 * comes with the minibatch's features (its own column), derived from the training run's seed and the global step,
 * so a step's masks are the same on any worker, after a resume, and in both of DL4J's passes. Key 0, which every
 * scoring path feeds, turns dropout off.
 *
 * <p>The hash works on 31-bit integers held in 64-bit ones (ND4J's integer multiply, and, xor and shifts are exact;
 * its integer modulo is not, so there is none): {@code h(h(h(k) ^ i) ^ (offset + j))}, where h is an xor-shift-multiply
 * mixer (xor with the value shifted right, times an odd constant modulo 2^31, twice, and a last xor-shift). Units are
 * dropped when {@code h / (2^31 - 1) < rate}. {@link #kept} computes the same function in Java.
 */
public final class HashedDropout {
    /** Largest key (keys are 1 .. MAX_KEY; 0 = no dropout). Exact in the float features column. */
    public static final long MAX_KEY = (1L << 23) - 1;
    /** Units per example that masks can address (offsets of all masked layers together stay below this). */
    public static final long MAX_UNITS = 1L << 30;
    private static final long LOW31 = (1L << 31) - 1;
    private static final long[] MULTIPLIERS = {0x7feb352dL, 0x046ca68bL};
    private static final int[] SHIFTS = {16, 15, 16};

    private HashedDropout() {
    }

    /** The key of a training step from its seed: 1 .. {@link #MAX_KEY}. */
    public static long key(long stepSeed) {
        return 1 + Math.floorMod(stepSeed, MAX_KEY);
    }

    /**
     * Training features with the step's key in their last column (the key column), when {@code rate > 0}; the
     * features as they are otherwise.
     */
    public static INDArray keyed(INDArray features, double rate, long stepSeed) {
        if (rate > 0) {
            features.getColumn(features.columns() - 1).assign(key(stepSeed));
        }
        return features;
    }

    /** Whether unit {@code unit} of example {@code row} is kept under key {@code key} at dropout rate {@code rate}. */
    public static boolean kept(long key, long row, long unit, double rate) {
        long x = mix(mix(mix(key) ^ row) ^ unit);
        return (float) x / (float) LOW31 >= (float) rate;
    }

    /** The mixer h on 31-bit values. */
    static long mix(long x) {
        x &= LOW31;
        for (int r = 0; r < MULTIPLIERS.length; r++) {
            x ^= x >> SHIFTS[r];
            x = (x * MULTIPLIERS[r]) & LOW31;
        }
        return x ^ (x >> SHIFTS[SHIFTS.length - 1]);
    }

    /**
     * The mask {@code [batch, width]} of units {@code offset .. offset + width - 1}: 0 for dropped units and
     * {@code 1 / (1 - rate)} for kept ones when {@code key > 0}, all ones when it is 0.
     *
     * @param key       the minibatch's key, a float {@code [1, 1]} (or scalar) variable holding an integer
     * @param batchLike any float {@code [batch, n]} variable, for the batch size
     */
    public static SDVariable mask(SameDiff sd, String name, SDVariable key, SDVariable batchLike, long offset,
                                  int width, double rate) {
        if (offset < 0 || offset + width > MAX_UNITS) {
            throw new IllegalArgumentException("dropout units " + offset + " .. " + (offset + width) + " outside [0, "
                    + MAX_UNITS + ")");
        }
        // row i as 0 .. batch-1 (not a cumulative sum of ones: ND4J 1.0.0-M2.1's cumsum op leaks native memory)
        SDVariable rows = sd.range(sd.constant(name + "From", Nd4j.scalar(DataType.LONG, 0L)),
                sd.sizeAt(batchLike, 0).castTo(DataType.LONG), sd.constant(name + "By", Nd4j.scalar(DataType.LONG, 1L)),
                DataType.LONG).reshape(-1, 1);                                                       // [batch, 1]
        INDArray units = Nd4j.arange(offset, offset + width).castTo(DataType.LONG).reshape(1, width);
        SDVariable k = key.reshape(1, 1).castTo(DataType.LONG);
        SDVariable perRow = mix(sd, name + "Row", sd.bitwise().xor(mix(sd, name + "Key", k), rows));
        SDVariable x = mix(sd, name + "Unit", sd.bitwise().xor(perRow, sd.constant(name + "Units", units)));
        SDVariable u = x.castTo(DataType.FLOAT).div(sd.constant(name + "Scale", Nd4j.scalar(DataType.FLOAT,
                (float) LOW31)));
        SDVariable keep = sd.gte(u, rate).castTo(batchLike.dataType()).mul(1.0 / (1.0 - rate));
        SDVariable on = sd.gt(key.reshape(1, 1), 0).castTo(batchLike.dataType());        // [1, 1]: 0 or 1
        return keep.sub(1.0).mul(on).add(1.0);
    }

    /** The mixer h in the graph, elementwise on a LONG variable of 31-bit values. */
    private static SDVariable mix(SameDiff sd, String name, SDVariable x) {
        SDVariable low = sd.constant(name + "Low", Nd4j.scalar(DataType.LONG, LOW31));
        x = sd.bitwise().and(x, low);
        for (int r = 0; r < MULTIPLIERS.length; r++) {
            x = sd.bitwise().xor(x, sd.bitwise().rightShift(x, sd.constant(name + "Shift" + r,
                    Nd4j.scalar(DataType.LONG, SHIFTS[r]))));
            x = sd.bitwise().and(x.mul(sd.constant(name + "Times" + r, Nd4j.scalar(DataType.LONG, MULTIPLIERS[r]))),
                    low);
        }
        int last = SHIFTS.length - 1;
        return sd.bitwise().xor(x, sd.bitwise().rightShift(x, sd.constant(name + "Shift" + last,
                Nd4j.scalar(DataType.LONG, SHIFTS[last]))));
    }

    /** Checks a dropout rate setting: in [0, 1). */
    public static double checkRate(double rate) {
        if (!(rate >= 0 && rate < 1)) {
            throw new IllegalArgumentException("dropout must be in [0, 1), got " + rate);
        }
        return rate;
    }
}
