package org.chainrule.models.flows;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A radial flow (Rezende &amp; Mohamed 2015, "Variational Inference with Normalizing Flows", section 4.1 and appendix
 * A.2): {@code f(x) = x + beta h(alpha, r) (x - z0)} with {@code r = |x - z0|} and {@code h = 1 / (alpha + r)}, over
 * vectors {@code [batch, D]}: it contracts (beta &lt; 0) or expands (beta &gt; 0) space radially around z0. The
 * Jacobian is a scaled identity plus a rank-one term along the ray, so
 * {@code log |det J| = (D - 1) log(1 + beta h) + log(1 + beta h + beta h'(r) r)}, {@code h' = -1 / (alpha + r)^2}.
 *
 * <p><b>Invertibility.</b> f is invertible iff {@code beta >= -alpha}. The raw parameters are constrained as
 * {@code alpha = softplus(alphaRaw) > 0} and {@code beta = -alpha + softplus(betaRaw)}, so
 * {@code c = alpha + beta = softplus(betaRaw) >= 0}. In terms of c both factors of the determinant are ratios of
 * non-negative terms, {@code 1 + beta h = (c + r) / (alpha + r)} and
 * {@code 1 + beta h + beta h' r = (r (r + 2 alpha) + c alpha) / (alpha + r)^2}, which is how they are computed (no
 * cancellation as beta approaches -alpha). The softplus is the overflow-free one, so any raw value is finite.
 *
 * <p><b>Inverse</b> in closed form: f keeps the ray from z0, and along it {@code r_out = r (c + r) / (alpha + r)}, so r
 * is the non-negative root of {@code r^2 + (c - r_out) r - alpha r_out = 0} (the roots' product is
 * {@code -alpha r_out <= 0}), taken in the cancellation-free form for either sign of {@code r_out - c}; then
 * {@code x = z - beta (z - z0) / (c + r)}. To keep r, {@code sqrt}'s gradient and every log finite at
 * {@code x = z0}, r is computed as {@code sqrt(|x - z0|^2 + 1e-30)} in both directions (a change of at most 1e-15).
 *
 * <p>Parameters may arrive per row ({@code z0 [batch, D]}, {@code alphaRaw}, {@code betaRaw} {@code [batch, 1]}) for
 * amortised flows: every formula broadcasts per row.
 *
 * @param dim the event length D
 */
public record RadialFlow(long dim) implements Transform {
    private static final long serialVersionUID = 1L;

    /** Added to the squared radius so that r &gt; 0 (see the class comment). */
    static final double RADIUS_FLOOR_SQUARED = 1e-30;

    public RadialFlow {
        if (dim < 1) {
            throw new IllegalArgumentException("a radial flow needs dim >= 1, got " + dim);
        }
    }

    @Override
    public long[] inputShape() {
        return new long[]{dim};
    }

    /** {@code z0}: {@code [1, D]}; {@code alphaRaw}, {@code betaRaw}: {@code [1, 1]} (or per row, see the class). */
    @Override
    public Map<String, long[]> parameterShapes() {
        Map<String, long[]> m = new LinkedHashMap<>();
        m.put("z0", new long[]{1, dim});
        m.put("alphaRaw", new long[]{1, 1});
        m.put("betaRaw", new long[]{1, 1});
        return m;
    }

    /**
     * Near the identity: {@code z0 ~ N(0, I)} (where standardised data or a latent live), {@code alpha = 1}, and
     * {@code betaRaw = alphaRaw + N(0, 0.05^2)}, so beta starts within a few hundredths of 0.
     */
    @Override
    public void initialize(Map<String, INDArray> params, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        INDArray z0 = params.get("z0");
        for (int i = 0; i < dim; i++) {
            z0.putScalar(0, i, PlanarFlow.gaussian(rng));
        }
        params.get("alphaRaw").assign(PlanarFlow.IDENTITY_WU);
        params.get("betaRaw").assign(PlanarFlow.IDENTITY_WU + 0.05 * PlanarFlow.gaussian(rng));
    }

    @Override
    public Flowed forward(SameDiff sd, SDVariable x, Map<String, SDVariable> params) {
        Constrained c = constrain(sd, params);
        SDVariable diff = x.sub(c.z0);
        SDVariable r = radius(sd, diff);
        SDVariable z = x.add(diff.mul(c.beta.div(c.alpha.add(r))));
        return new Flowed(z, logAbsDet(sd, r, c));
    }

    @Override
    public Flowed inverse(SameDiff sd, SDVariable z, Map<String, SDVariable> params) {
        Constrained c = constrain(sd, params);
        SDVariable y = z.sub(c.z0);
        SDVariable rOut = radius(sd, y);
        // r^2 + (c - rOut) r - alpha rOut = 0, non-negative root: (B + D)/2 for B >= 0, 2 alpha rOut / (D - B) for
        // B < 0, with B = rOut - c and D = sqrt(B^2 + 4 alpha rOut); both branches are evaluated, so the unused one
        // gets a denominator of at least 1 rather than a possible 0.
        SDVariable bq = rOut.sub(c.c);
        SDVariable alphaROut = c.alpha.mul(rOut);
        SDVariable disc = sd.math().sqrt(bq.mul(bq).add(alphaROut.mul(4.0)));
        SDVariable nonNeg = bq.gte(0.0).castTo(z.dataType());
        SDVariable rPlus = bq.add(disc).mul(0.5);
        SDVariable rMinus = alphaROut.mul(2.0).div(disc.sub(bq).add(nonNeg));
        SDVariable r = nonNeg.mul(rPlus).add(nonNeg.rsub(1.0).mul(rMinus));
        SDVariable x = z.sub(y.mul(c.beta.div(c.c.add(r))));
        // minus the forward log-determinant at the returned x
        return new Flowed(x, logAbsDet(sd, radius(sd, x.sub(c.z0)), c).neg());
    }

    private record Constrained(SDVariable z0, SDVariable alpha, SDVariable beta, SDVariable c) {
    }

    private static Constrained constrain(SameDiff sd, Map<String, SDVariable> params) {
        SDVariable alpha = PlanarFlow.softplus(sd, params.get("alphaRaw"));
        SDVariable c = PlanarFlow.softplus(sd, params.get("betaRaw"));
        return new Constrained(params.get("z0"), alpha, c.sub(alpha), c);
    }

    /** {@code sqrt(|v|^2 + 1e-30)} per row: {@code [batch, 1]}. */
    private SDVariable radius(SameDiff sd, SDVariable v) {
        return sd.math().sqrt(PlanarFlow.rowSum(v.mul(v), dim).add(RADIUS_FLOOR_SQUARED));
    }

    /** {@code (D-1) log((c + r)/(alpha + r)) + log(r (r + 2 alpha) + c alpha) - 2 log(alpha + r)}: {@code [batch]}. */
    private SDVariable logAbsDet(SameDiff sd, SDVariable r, Constrained c) {
        SDVariable logDenom = sd.math().log(c.alpha.add(r));
        SDVariable radialFactor = r.mul(r.add(c.alpha.mul(2.0))).add(c.c.mul(c.alpha));
        SDVariable logDet = sd.math().log(radialFactor).sub(logDenom.mul(2.0));
        if (dim > 1) {
            logDet = logDet.add(sd.math().log(c.c.add(r)).sub(logDenom).mul(dim - 1));
        }
        return logDet.reshape(-1);
    }

    @Override
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("kind", "radial");
        m.put("dim", dim);
        return m;
    }
}
