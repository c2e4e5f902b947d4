package org.chainrule.models.flows;

import com.typesafe.config.Config;
import org.chainrule.models.Seeds;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A fixed reordering of a vector's dimensions, {@code z_i = x_order[i]}, with log-determinant 0 (a permutation
 * matrix has determinant +-1). Between autoregressive layers (MAF, IAF, Papamakarios et al. 2017) it changes which
 * dimensions come first, so that across layers every dimension is conditioned on every other.
 *
 * <p>Applied as a product with the constant permutation matrix (exact in floating point for finite inputs, and
 * {@code mmul} has a reliable gradient in SameDiff on every batch size); fine for the few hundred dimensions that
 * autoregressive flows handle.
 */
public final class Permutation extends DescribedTransform {
    private static final long serialVersionUID = 1L;
    private final int[] order;

    /** {@code order} must be a permutation of {@code 0..dim-1}. */
    public Permutation(int dim, int[] order) {
        if (order.length != dim) {
            throw new IllegalArgumentException("order has " + order.length + " entries, not " + dim);
        }
        boolean[] seen = new boolean[dim];
        for (int i : order) {
            if (i < 0 || i >= dim || seen[i]) {
                throw new IllegalArgumentException("not a permutation of 0.." + (dim - 1) + ": "
                        + Arrays.toString(order));
            }
            seen[i] = true;
        }
        this.order = order.clone();
    }

    /** Reverses the dimensions: the last one is generated first in the next autoregressive layer. */
    public static Permutation reverse(int dim) {
        int[] order = new int[dim];
        for (int i = 0; i < dim; i++) {
            order[i] = dim - 1 - i;
        }
        return new Permutation(dim, order);
    }

    /** A uniformly random order (Fisher-Yates), a pure function of the seed. */
    public static Permutation random(int dim, long seed) {
        int[] order = new int[dim];
        for (int i = 0; i < dim; i++) {
            order[i] = i;
        }
        SplittableRandom r = new SplittableRandom(Seeds.derive(seed, 0));
        for (int i = dim - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        return new Permutation(dim, order);
    }

    /** order[i] = the input dimension that becomes output i. */
    public int[] order() {
        return order.clone();
    }

    @Override
    public long[] inputShape() {
        return new long[]{order.length};
    }

    @Override
    public Map<String, long[]> parameterShapes() {
        return Map.of();
    }

    @Override
    public void initialize(Map<String, INDArray> params, long seed) {
    }

    @Override
    public Flowed forward(SameDiff sd, SDVariable x, Map<String, SDVariable> params) {
        return new Flowed(x.mmul(matrix(sd, x, false)), Flows.zeroLogDet(x, inputShape()));
    }

    @Override
    public Flowed inverse(SameDiff sd, SDVariable z, Map<String, SDVariable> params) {
        return new Flowed(z.mmul(matrix(sd, z, true)), Flows.zeroLogDet(z, inputShape()));
    }

    /** P with {@code (x P)_i = x_order[i]} (P[order[i], i] = 1), or its transpose for the inverse. */
    private SDVariable matrix(SameDiff sd, SDVariable like, boolean transpose) {
        int d = order.length;
        double[][] p = new double[d][d];
        for (int i = 0; i < d; i++) {
            if (transpose) {
                p[i][order[i]] = 1;
            } else {
                p[order[i]][i] = 1;
            }
        }
        return sd.constant(org.nd4j.linalg.factory.Nd4j.create(p).castTo(like.dataType()));
    }

    @Override
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("kind", "permutation");
        m.put("dim", order.length);
        List<Integer> o = new ArrayList<>();
        for (int i : order) {
            o.add(i);
        }
        m.put("order", o);
        return m;
    }

    /** Reads {@link #toMap()} back. */
    static Permutation fromConfig(Config c) {
        return new Permutation(c.getInt("dim"), c.getIntList("order").stream().mapToInt(Integer::intValue).toArray());
    }
}
