package org.chainrule.models.flows;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A planar flow (Rezende &amp; Mohamed 2015, "Variational Inference with Normalizing Flows", section 4.1 and appendix
 * A.1): {@code f(x) = x + u_hat tanh(w.x + b)} over vectors {@code [batch, D]}, which bends space along one hyperplane.
 * Its Jacobian is a rank-one update of the identity, so by the matrix determinant lemma
 * {@code log |det J| = log |1 + (w.u_hat) (1 - tanh^2(w.x + b))|}, O(D) per example.
 *
 * <p><b>Invertibility.</b> f is invertible iff {@code w.u_hat >= -1}; a free {@code u} would let training break that.
 * As in the paper's appendix, u is reparametrised: {@code u_hat = u + (m(w.u) - w.u) w / |w|^2} with
 * {@code m(a) = -1 + softplus(a)}, so {@code w.u_hat = m(w.u) > -1} for every value of the parameters. Written as
 * {@code m(a) - a = softplus(-a) - 1}, with an overflow-free softplus, it is finite for any {@code w.u} in float32.
 * The log-determinant uses {@code 1 + (w.u_hat) sech^2 = tanh^2 + softplus(w.u) sech^2}, a sum of non-negative
 * terms (no cancellation when {@code w.u_hat} is near -1), plus {@link #LOG_EPSILON} inside the log so that the
 * single singular point of the limit {@code w.u -> -infinity} (at {@code w.x + b = 0}) gives a finite value.
 *
 * <p><b>Inverse.</b> There is no closed form, but f moves x only along u_hat, so it reduces to one scalar equation:
 * with {@code s = w.z + b}, the pre-activation {@code a = w.x + b} solves {@code a + m tanh(a) = s}
 * ({@code m = w.u_hat}), monotone in a; then {@code x = z - u_hat tanh(a)}. The equation is odd in (a, s), so
 * {@link #INVERSE_ITERATIONS} Newton steps solve it for {@code A = |a|}, {@code t = |s|} from the start
 * {@code A0 = max(0, t - m)}, unrolled in the graph. The start is on the safe side of the root: for {@code m >= 0}
 * the function {@code g(A) = A + m tanh(A) - t} is concave on {@code A >= 0} and {@code A0 <= A*} (as
 * {@code A* = t - m tanh A* >= t - m}); for {@code -1 < m < 0} it is convex and {@code A0 = t - m >= A*}. Newton's
 * iterates from that side of a monotone concave (convex) function move monotonically towards the root and never
 * overshoot, so no bracket bookkeeping is needed (each iterate is also clamped at 0 and the slope kept above 1e-30).
 *
 * @param dim the event length D
 */
public record PlanarFlow(long dim) implements Transform {
    private static final long serialVersionUID = 1L;

    /**
     * Newton steps unrolled by {@link #inverse}. Convergence is quadratic except when {@code 1 + w.u_hat} is tiny and
     * {@code |a|} is small, where the slope of g vanishes like {@code A^2} and Newton first shrinks the error by 2/3
     * per step until {@code A^2} is below {@code 1 + w.u_hat}. Over a dense grid of {@code w.u in [-20, 1e5]}
     * ({@code 1 + w.u_hat >= 2e-9}) and {@code |s| in [0, 1e7]}, 30 steps reach the double-precision root to 1e-11
     * relative (the limit set by the conditioning of the equation); 40 leave a margin. For still smaller
     * {@code 1 + w.u_hat} the map is numerically singular at {@code a = 0} and no method recovers a there to better
     * than about the cube root of the rounding error; the iteration still drives the residual down.
     */
    public static final int INVERSE_ITERATIONS = 40;

    /** Added inside the log of the log-determinant; below double resolution relative to 1, and keeps it finite. */
    public static final double LOG_EPSILON = 1e-12;

    /** ln(e - 1): softplus of it is 1, so {@code w.u = ln(e - 1)} gives {@code u_hat = 0}, the identity. */
    static final double IDENTITY_WU = Math.log(Math.E - 1);

    public PlanarFlow {
        if (dim < 1) {
            throw new IllegalArgumentException("a planar flow needs dim >= 1, got " + dim);
        }
    }

    @Override
    public long[] inputShape() {
        return new long[]{dim};
    }

    /**
     * {@code u}, {@code w}: {@code [1, D]}; {@code b}: {@code [1, 1]}. Each may instead arrive with a leading batch
     * dimension ({@code [batch, D]}, {@code [batch, 1]}) for amortised flows: every formula broadcasts per row.
     */
    @Override
    public Map<String, long[]> parameterShapes() {
        Map<String, long[]> m = new LinkedHashMap<>();
        m.put("u", new long[]{1, dim});
        m.put("w", new long[]{1, dim});
        m.put("b", new long[]{1, 1});
        return m;
    }

    /**
     * Near the identity: {@code w ~ N(0, 1/D)} per entry (|w| about 1), {@code b = 0}, and u parallel to w with
     * {@code w.u = ln(e - 1)}, where u_hat vanishes, plus N(0, 0.05^2) noise so that every parameter has a gradient
     * from the first step.
     */
    @Override
    public void initialize(Map<String, INDArray> params, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        double[] w = new double[(int) dim];
        double norm2 = 0;
        for (int i = 0; i < dim; i++) {
            w[i] = gaussian(rng) / Math.sqrt(dim);
            norm2 += w[i] * w[i];
        }
        INDArray u = params.get("u");
        INDArray wp = params.get("w");
        for (int i = 0; i < dim; i++) {
            wp.putScalar(0, i, w[i]);
            u.putScalar(0, i, IDENTITY_WU * w[i] / norm2 + 0.05 * gaussian(rng));
        }
        params.get("b").assign(0.0);
    }

    static double gaussian(SplittableRandom rng) {
        double u1 = 1.0 - rng.nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * rng.nextDouble());
    }

    @Override
    public Flowed forward(SameDiff sd, SDVariable x, Map<String, SDVariable> params) {
        Constrained c = constrain(sd, params);
        SDVariable a = preActivation(x, c);
        SDVariable z = x.add(c.uHat.mul(sd.math().tanh(a)));
        return new Flowed(z, logAbsDet(sd, a, c));
    }

    @Override
    public Flowed inverse(SameDiff sd, SDVariable z, Map<String, SDVariable> params) {
        Constrained c = constrain(sd, params);
        SDVariable s = preActivation(z, c);                   // w.z + b = a + m tanh(a)
        SDVariable t = sd.math().abs(s);
        SDVariable m = c.softplusWu.sub(1.0);                   // w.u_hat
        SDVariable big = sd.nn().relu(t.sub(m), 0);             // start A0 = max(0, t - m)
        for (int k = 0; k < INVERSE_ITERATIONS; k++) {
            SDVariable th = sd.math().tanh(big);
            SDVariable th2 = th.mul(th);
            SDVariable g = big.add(m.mul(th)).sub(t);
            SDVariable slope = th2.add(c.softplusWu.mul(th2.rsub(1.0)));  // 1 + m sech^2, cancellation-free
            big = sd.nn().relu(big.sub(g.div(slope.add(1e-30))), 0);
        }
        SDVariable a = sd.math().sign(s).mul(big);
        SDVariable x = z.sub(c.uHat.mul(sd.math().tanh(a)));
        // minus the forward log-determinant at the returned x
        return new Flowed(x, logAbsDet(sd, preActivation(x, c), c).neg());
    }

    /** u_hat and softplus(w.u) (= 1 + w.u_hat), per row when the parameters are per row. */
    private record Constrained(SDVariable uHat, SDVariable w, SDVariable b, SDVariable softplusWu) {
    }

    private Constrained constrain(SameDiff sd, Map<String, SDVariable> params) {
        SDVariable u = params.get("u");
        SDVariable w = params.get("w");
        SDVariable wu = rowSum(w.mul(u), dim);
        SDVariable wNorm2 = rowSum(w.mul(w), dim);
        // m(w.u) - w.u = softplus(-w.u) - 1
        SDVariable shift = softplus(sd, wu.neg()).sub(1.0).div(wNorm2);
        SDVariable uHat = u.add(w.mul(shift));
        return new Constrained(uHat, w, params.get("b"), softplus(sd, wu));
    }

    /** {@code w.x + b}: {@code [batch, 1]}. */
    private SDVariable preActivation(SDVariable x, Constrained c) {
        return rowSum(c.w.mul(x), dim).add(c.b);
    }

    /** {@code log(tanh^2 a + softplus(w.u) sech^2 a + eps)} = {@code log |1 + w.u_hat sech^2 a|}: {@code [batch]}. */
    private static SDVariable logAbsDet(SameDiff sd, SDVariable a, Constrained c) {
        SDVariable th = sd.math().tanh(a);
        SDVariable th2 = th.mul(th);
        SDVariable det = th2.add(c.softplusWu.mul(th2.rsub(1.0))).add(LOG_EPSILON);
        return sd.math().log(det).reshape(-1);
    }

    /**
     * Sum over the event axis keeping it ({@code [n, D]} to {@code [n, 1]}); a 1-wide row is returned as it is, since
     * ND4J M2.1's reductions over a length-1 axis fail inside SameDiff.
     */
    static SDVariable rowSum(SDVariable v, long dim) {
        return dim == 1 ? v : v.sum(true, 1);
    }

    /** log(1 + exp(a)) = max(a, 0) + log(1 + exp(-|a|)), finite for any a (ND4J's softplus overflows). */
    static SDVariable softplus(SameDiff sd, SDVariable a) {
        SDVariable tail = sd.math().log(sd.math().exp(sd.math().abs(a).neg()).add(1.0));
        return sd.nn().relu(a, 0).add(tail);
    }

    @Override
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("kind", "planar");
        m.put("dim", dim);
        return m;
    }
}
