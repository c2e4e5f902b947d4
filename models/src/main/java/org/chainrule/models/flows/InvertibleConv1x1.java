package org.chainrule.models.flows;

import com.typesafe.config.Config;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The invertible 1x1 convolution of Glow (Kingma &amp; Dhariwal 2018, "Glow: Generative Flow with Invertible 1x1
 * Convolutions", section 3.2): every pixel's channel vector is multiplied by the same learned {@code C x C} matrix,
 * {@code y = W x}. It generalises the fixed channel permutations that RealNVP puts between coupling layers, so the
 * flow learns which channels to mix instead of being told.
 *
 * <p>{@code W} is kept in the paper's LU form, {@code W = P L (U + diag(sign(s) * exp(logAbsS)))}: {@code P} a fixed
 * permutation, {@code L} unit lower-triangular (parameter {@code lower}, of which only the strictly-lower part is
 * used), {@code U} strictly upper-triangular (parameter {@code upper}, strictly-upper part used), {@code sign(s)}
 * fixed and {@code logAbsS} learned. This makes {@code log |det W| = sum(logAbsS)} cost O(C) instead of a
 * determinant, and keeps the map invertible by construction: {@code det W = det P * det L * det U'} =
 * {@code (+-1) * 1 * prod(sign(s_i) exp(logAbsS_i))}, and no {@code exp} is ever zero, so no parameter values make
 * {@code W} singular. A pixel grid of {@code H * W} positions multiplies the log-determinant by {@code H * W}.
 *
 * <p>{@code P} and {@code sign(s)} come, at construction, from the LU decomposition (partial pivoting) of a random
 * orthogonal matrix drawn from the seed, and the initial parameters are that decomposition's factors, so {@code W}
 * starts as a random rotation (log-determinant 0), as in the paper. Both are written by {@link #toMap()}, so a rebuilt
 * transform uses exactly the same ones.
 *
 * <p>An event is {@code [C, H, W]} (an image) or {@code [D]} (a vector: then this is a learned invertible linear map,
 * useful between autoregressive or coupling layers, with {@code log |det| = sum(logAbsS)}). The parameters are shared
 * by the whole batch (no leading batch dimension).
 */
public final class InvertibleConv1x1 extends DescribedTransform {
    private static final long serialVersionUID = 1L;

    private final int channels;
    private final long[] shape;
    private final long seed;
    /** Column {@code i} of {@code P} is the unit vector {@code e_permutation[i]}: {@code P[permutation[i]][i] = 1}. */
    private final int[] permutation;
    /** {@code sign(s_i)}, each +1 or -1. */
    private final int[] signs;

    /**
     * @param channels number of channels {@code C} (the first entry of {@code shape})
     * @param shape    event shape, {@code [C, H, W]} or {@code [C]}
     * @param seed     draws the random rotation whose LU factors fix {@code P} and {@code sign(s)} and give the
     *                 initial parameters
     */
    public InvertibleConv1x1(int channels, long[] shape, long seed) {
        this(channels, shape, seed, null, null);
    }

    /** Rebuilds a transform with the permutation and signs a previous {@link #toMap()} recorded. */
    InvertibleConv1x1(int channels, long[] shape, long seed, int[] permutation, int[] signs) {
        if (channels < 1 || (shape.length != 1 && shape.length != 3) || shape[0] != channels
                || Arrays.stream(shape).anyMatch(s -> s < 1)) {
            throw new IllegalArgumentException("invertible 1x1 convolution needs shape [C] or [C, H, W] with C = "
                    + channels + ", got " + Arrays.toString(shape));
        }
        this.channels = channels;
        this.shape = shape.clone();
        this.seed = seed;
        if (permutation == null) {
            Decomposition d = decompose(channels, seed);
            this.permutation = d.permutation;
            this.signs = d.signs;
        } else {
            checkPermutation(permutation, channels);
            if (signs.length != channels || Arrays.stream(signs).anyMatch(s -> s != 1 && s != -1)) {
                throw new IllegalArgumentException("signs must be " + channels + " values of +1 or -1, got "
                        + Arrays.toString(signs));
            }
            this.permutation = permutation.clone();
            this.signs = signs.clone();
        }
    }

    /** Reads the map {@link #toMap()} wrote (used by {@link Transforms#fromConfig}). */
    static InvertibleConv1x1 fromConfig(Config c) {
        return new InvertibleConv1x1(c.getInt("channels"), Transforms.shape(c, "shape"), c.getLong("seed"),
                c.getIntList("permutation").stream().mapToInt(Integer::intValue).toArray(),
                c.getIntList("signs").stream().mapToInt(Integer::intValue).toArray());
    }

    private static void checkPermutation(int[] p, int n) {
        boolean[] seen = new boolean[n];
        if (p.length != n) {
            throw new IllegalArgumentException("permutation must have " + n + " entries, got " + Arrays.toString(p));
        }
        for (int v : p) {
            if (v < 0 || v >= n || seen[v]) {
                throw new IllegalArgumentException("not a permutation of 0.." + (n - 1) + ": " + Arrays.toString(p));
            }
            seen[v] = true;
        }
    }

    @Override
    public long[] inputShape() {
        return shape.clone();
    }

    public int channels() {
        return channels;
    }

    public long seed() {
        return seed;
    }

    /** The fixed permutation: {@code P[permutation()[i]][i] = 1}. */
    public int[] permutation() {
        return permutation.clone();
    }

    /** The fixed signs of the diagonal of {@code U'}, each +1 or -1. */
    public int[] signs() {
        return signs.clone();
    }

    /** Spatial positions per channel: {@code H * W} for images, 1 for vectors. */
    public long spatialSize() {
        return Flows.size(shape) / channels;
    }

    @Override
    public Map<String, long[]> parameterShapes() {
        Map<String, long[]> m = new LinkedHashMap<>();
        m.put("lower", new long[]{channels, channels});
        m.put("upper", new long[]{channels, channels});
        m.put("logAbsS", new long[]{1, channels});
        return m;
    }

    /**
     * The LU factors of this transform's random rotation, so {@code W} starts orthogonal. They depend on the
     * construction seed only (that is what fixed {@code P} and {@code sign(s)}); the {@code seed} argument is unused.
     * Entries outside the used triangles are set to zero.
     *
     * @throws IllegalStateException if the recorded permutation or signs are not the ones the seed gives (a
     *                               hand-edited map), since the factors would then not assemble a rotation
     */
    @Override
    public void initialize(Map<String, INDArray> params, long seed) {
        Decomposition d = decompose(channels, this.seed);
        if (!Arrays.equals(d.permutation, permutation) || !Arrays.equals(d.signs, signs)) {
            throw new IllegalStateException("the recorded permutation/signs are not those of seed " + this.seed);
        }
        INDArray lower = params.get("lower");
        INDArray upper = params.get("upper");
        INDArray logAbsS = params.get("logAbsS");
        lower.assign(Nd4j.createFromArray(d.lower).castTo(lower.dataType()));
        upper.assign(Nd4j.createFromArray(d.upper).castTo(upper.dataType()));
        logAbsS.assign(Nd4j.createFromArray(new double[][]{d.logAbsS}).castTo(logAbsS.dataType()));
    }

    /** The graph's constant matrices, in the input's data type. */
    private SDVariable constant(SameDiff sd, double[][] values, DataType type) {
        return sd.constant(Nd4j.createFromArray(values).castTo(type));
    }

    private double[][] permutationMatrix(boolean transposed) {
        double[][] p = new double[channels][channels];
        for (int i = 0; i < channels; i++) {
            if (transposed) {
                p[i][permutation[i]] = 1;
            } else {
                p[permutation[i]][i] = 1;
            }
        }
        return p;
    }

    private double[][] identity() {
        double[][] e = new double[channels][channels];
        for (int i = 0; i < channels; i++) {
            e[i][i] = 1;
        }
        return e;
    }

    /** 1 strictly below (lower) or strictly above (upper) the diagonal, 0 elsewhere. */
    private double[][] strictMask(boolean lower) {
        double[][] m = new double[channels][channels];
        for (int i = 0; i < channels; i++) {
            for (int j = 0; j < channels; j++) {
                m[i][j] = (lower ? i > j : i < j) ? 1 : 0;
            }
        }
        return m;
    }

    /** {@code L} (unit lower-triangular) and {@code U'} (upper-triangular with diagonal sign * exp(logAbsS)). */
    private SDVariable[] factors(SameDiff sd, Map<String, SDVariable> params, DataType type) {
        SDVariable eye = constant(sd, identity(), type);
        SDVariable l = params.get("lower").mul(constant(sd, strictMask(true), type)).add(eye);
        double[][] signRow = new double[1][channels];
        for (int i = 0; i < channels; i++) {
            signRow[0][i] = signs[i];
        }
        // eye * [1, C] row puts the row on the diagonal
        SDVariable diagonal = eye.mul(sd.math().exp(params.get("logAbsS")).mul(constant(sd, signRow, type)));
        SDVariable u = params.get("upper").mul(constant(sd, strictMask(false), type)).add(diagonal);
        return new SDVariable[]{l, u};
    }

    /** Multiplies every pixel's channel vector by {@code m}: rows of x times {@code m^T}. */
    private SDVariable perPixel(SDVariable x, SDVariable m) {
        SDVariable mt = m.permute(1, 0);
        if (shape.length == 1) {
            return x.mmul(mt);
        }
        long h = shape[1];
        long w = shape[2];
        return x.permute(0, 2, 3, 1).reshape(-1, channels).mmul(mt).reshape(-1, h, w, channels).permute(0, 3, 1, 2);
    }

    /** {@code H * W * sum(logAbsS)}, one copy per example of the batch. */
    private SDVariable logDet(SDVariable batch, SDVariable logAbsS) {
        return Flows.sumPerExample(logAbsS, new long[]{channels}).mul((double) spatialSize())
                .add(Flows.zeroLogDet(batch, shape));
    }

    @Override
    public Flowed forward(SameDiff sd, SDVariable x, Map<String, SDVariable> params) {
        DataType type = x.dataType();
        SDVariable[] lu = factors(sd, params, type);
        SDVariable w = constant(sd, permutationMatrix(false), type).mmul(lu[0]).mmul(lu[1]);
        return new Flowed(perPixel(x, w), logDet(x, params.get("logAbsS")));
    }

    /**
     * {@code x = W^-1 z} with {@code W^-1 = U'^-1 L^-1 P^T}, the triangular inverses by triangular solves against the
     * identity (exact to rounding; no general matrix inversion). Meant for sampling, not for differentiation: the
     * triangular solve defines no gradient of its own in ND4J's Java op.
     */
    @Override
    public Flowed inverse(SameDiff sd, SDVariable z, Map<String, SDVariable> params) {
        DataType type = z.dataType();
        SDVariable[] lu = factors(sd, params, type);
        SDVariable lInverse = sd.linalg().triangularSolve(lu[0], constant(sd, identity(), type), true, false);
        SDVariable luInverse = sd.linalg().triangularSolve(lu[1], lInverse, false, false);
        SDVariable wInverse = luInverse.mmul(constant(sd, permutationMatrix(true), type));
        return new Flowed(perPixel(z, wInverse), logDet(z, params.get("logAbsS")).neg());
    }

    /**
     * {@code kind = "invconv1x1"}, {@code channels}, {@code shape}, {@code seed}, {@code permutation} and
     * {@code signs}.
     */
    @Override
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("kind", "invconv1x1");
        m.put("channels", channels);
        List<Long> s = new ArrayList<>();
        for (long v : shape) {
            s.add(v);
        }
        m.put("shape", s);
        m.put("seed", seed);
        m.put("permutation", Arrays.stream(permutation).boxed().toList());
        m.put("signs", Arrays.stream(signs).boxed().toList());
        return m;
    }

    /** The LU factors of a random rotation {@code Q = P L U}: what fixes P and sign(s) and seeds the parameters. */
    private record Decomposition(int[] permutation, int[] signs, double[][] lower, double[][] upper,
                                 double[] logAbsS) {
    }

    /** LU decomposition, with partial pivoting, of the random rotation drawn from the seed. */
    private static Decomposition decompose(int n, long seed) {
        double[][] m = randomRotation(n, seed);
        int[] pivot = new int[n];
        for (int i = 0; i < n; i++) {
            pivot[i] = i;
        }
        // in place: afterwards row i of m holds L's multipliers left of the diagonal and U's row from it on, and
        // L U = rows pivot[0], pivot[1], ... of the rotation
        for (int c = 0; c < n; c++) {
            int p = c;
            for (int r = c + 1; r < n; r++) {
                if (Math.abs(m[r][c]) > Math.abs(m[p][c])) {
                    p = r;
                }
            }
            double[] row = m[c];
            m[c] = m[p];
            m[p] = row;
            int t = pivot[c];
            pivot[c] = pivot[p];
            pivot[p] = t;
            for (int r = c + 1; r < n; r++) {
                double f = m[r][c] / m[c][c];
                m[r][c] = f;
                for (int k = c + 1; k < n; k++) {
                    m[r][k] -= f * m[c][k];
                }
            }
        }
        double[][] lower = new double[n][n];
        double[][] upper = new double[n][n];
        int[] signs = new int[n];
        double[] logAbsS = new double[n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                if (j < i) {
                    lower[i][j] = m[i][j];
                } else if (j > i) {
                    upper[i][j] = m[i][j];
                }
            }
            signs[i] = m[i][i] < 0 ? -1 : 1;
            logAbsS[i] = Math.log(Math.abs(m[i][i]));
        }
        // rows pivot[i] of Q are row i of L U, so Q = P L U with P[pivot[i]][i] = 1
        return new Decomposition(pivot, signs, lower, upper, logAbsS);
    }

    /**
     * A random orthogonal matrix: the Q of a Householder QR decomposition of a matrix of standard normals, its
     * columns' signs chosen so that R has a positive diagonal (which makes Q uniformly distributed over the
     * orthogonal group).
     */
    static double[][] randomRotation(int n, long seed) {
        Random random = new Random(seed);
        double[][] a = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                a[i][j] = random.nextGaussian();
            }
        }
        double[][] q = new double[n][n];
        for (int i = 0; i < n; i++) {
            q[i][i] = 1;
        }
        for (int k = 0; k < n - 1; k++) {
            double norm = 0;
            for (int i = k; i < n; i++) {
                norm += a[i][k] * a[i][k];
            }
            norm = Math.sqrt(norm);
            if (norm == 0) {
                continue;
            }
            // reflect column k onto -sign(a_kk) |a| e_k (the sign that avoids cancellation)
            double[] v = new double[n];
            for (int i = k; i < n; i++) {
                v[i] = a[i][k];
            }
            v[k] += a[k][k] >= 0 ? norm : -norm;
            double vv = 0;
            for (int i = k; i < n; i++) {
                vv += v[i] * v[i];
            }
            for (int j = 0; j < n; j++) {
                double dot = 0;
                for (int i = k; i < n; i++) {
                    dot += v[i] * a[i][j];
                }
                double f = 2 * dot / vv;
                for (int i = k; i < n; i++) {
                    a[i][j] -= f * v[i];
                }
            }
            for (int i = 0; i < n; i++) {
                double dot = 0;
                for (int j = k; j < n; j++) {
                    dot += q[i][j] * v[j];
                }
                double f = 2 * dot / vv;
                for (int j = k; j < n; j++) {
                    q[i][j] -= f * v[j];
                }
            }
        }
        for (int k = 0; k < n; k++) {
            if (a[k][k] < 0) {
                for (int i = 0; i < n; i++) {
                    q[i][k] = -q[i][k];
                }
            }
        }
        return q;
    }
}
