package org.chainrule.models.autoregressive;

import org.chainrule.models.Ordering;
import org.chainrule.models.Seeds;

import java.util.SplittableRandom;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;


/**
 * The connectivity of one MADE mask set (Germain et al. 2015, section 4): degrees for the inputs (their position in
 * the ordering, 1..D) and for every hidden unit, and the binary masks they imply.
 *
 * <p>Hidden unit k of layer l gets a degree m_l(k) drawn uniformly from [min m_{l-1}, D-1]; a hidden weight is kept
 * iff m_l(k) >= m_{l-1}(k'), an output weight iff m_0(d) > m_L(k). So output d only sees inputs strictly before d in
 * the ordering. With no hidden layer the single output mask is strictly triangular in the ordering: an FVSBN.
 *
 * @param ordering ordering[t] = the input dimension generated t-th
 * @param degrees  degrees[0] = input degrees (length D), degrees[l] = degrees of hidden layer l
 */
public record MadeMasks(int[] ordering, int[][] degrees) {

    /** The mask set for variant {@code index} of a model whose first ordering is the raster order. */
    public static MadeMasks of(int dim, int[] hidden, boolean orderAgnostic, long seed, int index) {
        return of(dim, hidden, Ordering.RASTER, orderAgnostic, seed, index);
    }

    /**
     * The mask set for variant {@code index}: every variant uses the first ordering ({@link Ordering#first}) except,
     * when {@code orderAgnostic}, variants after the first, which draw their own permutation from {@code seed}; every
     * variant draws its own hidden degrees from {@code seed}.
     *
     * @param first {@code raster} or the seed of a random first ordering (see {@link Ordering#parse})
     */
    public static MadeMasks of(int dim, int[] hidden, String first, boolean orderAgnostic, long seed, int index) {
        int[] ordering = orderAgnostic && index > 0 ? Ordering.shuffled(dim, Seeds.derive(seed, index, 0))
                : Ordering.first(dim, first);
        int[][] degrees = new int[hidden.length + 1][];
        degrees[0] = new int[dim];
        for (int t = 0; t < dim; t++) {
            degrees[0][ordering[t]] = t + 1;
        }
        for (int l = 0; l < hidden.length; l++) {
            SplittableRandom r = new SplittableRandom(Seeds.derive(seed, index, l + 1));
            int lo = Math.min(min(degrees[l]), Math.max(dim - 1, 0));
            int hi = Math.max(dim - 1, 0);
            degrees[l + 1] = new int[hidden[l]];
            for (int k = 0; k < hidden[l]; k++) {
                degrees[l + 1][k] = lo + r.nextInt(hi - lo + 1);
            }
        }
        return new MadeMasks(ordering, degrees);
    }

    /** Number of weight layers (hidden layers + 1). */
    public int layerCount() {
        return degrees.length;
    }

    /**
     * The 0/1 mask of weight layer {@code l}, shape {@code [nIn, nOut]}; the last layer maps to the outputs and is
     * strict.
     */
    public INDArray mask(int l, DataType type) {
        int[] in = degrees[l];
        boolean output = l == degrees.length - 1;
        int[] out = output ? degrees[0] : degrees[l + 1];
        float[] m = new float[in.length * out.length];
        for (int i = 0; i < in.length; i++) {
            for (int k = 0; k < out.length; k++) {
                boolean keep = output ? out[k] > in[i] : out[k] >= in[i];
                m[i * out.length + k] = keep ? 1f : 0f;
            }
        }
        return Nd4j.create(m, new long[]{in.length, out.length}, DataType.FLOAT).castTo(type);
    }

    /**
     * The mask of direct input-to-output connections, {@code [D, D]}: input i feeds output d iff i comes strictly
     * before d in this mask set's ordering.
     */
    public INDArray directMask(DataType type) {
        int[] deg = degrees[0];
        float[] m = new float[deg.length * deg.length];
        for (int i = 0; i < deg.length; i++) {
            for (int d = 0; d < deg.length; d++) {
                m[i * deg.length + d] = deg[d] > deg[i] ? 1f : 0f;
            }
        }
        return Nd4j.create(m, new long[]{deg.length, deg.length}, DataType.FLOAT).castTo(type);
    }

    private static int min(int[] a) {
        int m = Integer.MAX_VALUE;
        for (int v : a) {
            m = Math.min(m, v);
        }
        return a.length == 0 ? 0 : m;
    }
}
