package org.chainrule.models.vae;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The VAE's quantities recomputed in plain Java (double precision) from a trained network's parameters, without the
 * layer's graph or {@code PlanarFlow}: the single-sample ELBO term by term, the decoder, and the exact marginal
 * {@code p(x) = integral p(x | z) N(z; 0, I) dz} by quadrature over a 2-D latent grid. Tests hold the model to these.
 */
final class VaeReference {
    private final VaeSpec spec;
    private final MultiLayerNetwork net;

    VaeReference(VaeSpec spec, MultiLayerNetwork net) {
        this.spec = spec;
        this.net = net;
    }

    private INDArray param(String name) {
        return net.getLayer(0).getParam(name).castTo(DataType.DOUBLE).dup();
    }

    private INDArray dense(INDArray in, String weight, String bias) {
        return in.mmul(param(weight)).addiRowVector(param(bias));
    }

    private INDArray act(INDArray z) {
        return spec.activation().equals("relu") ? Transforms.relu(z, true) : Transforms.tanh(z, true);
    }

    private static double softplus(double a) {
        return Math.max(a, 0) + Math.log1p(Math.exp(-Math.abs(a)));
    }

    /** Bernoulli logits of latent codes {@code [n, L]}. */
    INDArray decoderLogits(INDArray z) {
        INDArray g = z.castTo(DataType.DOUBLE);
        int n = spec.decoderHidden().length;
        for (int l = 0; l < n; l++) {
            g = act(dense(g, VaeLayer.decoderWeight(l), VaeLayer.decoderBias(l)));
        }
        return dense(g, VaeLayer.decoderWeight(n), VaeLayer.decoderBias(n));
    }

    /**
     * The single-sample ELBO {@code log p(x|z_K) + log N(z_K) - log q0(z0|x) + sum_k log|det df_k|} of each row of
     * features {@code [x | eps]}.
     */
    double[] logWeights(INDArray features) {
        return logWeights(features, null);
    }

    /**
     * As {@link #logWeights(INDArray)}, also writing into {@code scale} (when not null) each row's sum of the absolute
     * values of every term and intermediate that enters it: what the float32 rounding of the network scales with.
     */
    double[] logWeights(INDArray features, double[] scale) {
        double[] sc = scale == null ? new double[(int) features.rows()] : scale;
        int d = spec.dim();
        int l = spec.latent();
        double[][] f = features.castTo(DataType.DOUBLE).toDoubleMatrix();
        int rows = f.length;
        double[][] xs = new double[rows][d];
        double[][] eps = new double[rows][l];
        for (int i = 0; i < rows; i++) {
            System.arraycopy(f[i], 0, xs[i], 0, d);
            System.arraycopy(f[i], d, eps[i], 0, l);
        }
        INDArray h = Nd4j.create(xs);
        for (int k = 0; k < spec.encoderHidden().length; k++) {
            h = act(dense(h, VaeLayer.encoderWeight(k), VaeLayer.encoderBias(k)));
        }
        double[][] mu = dense(h, VaeLayer.MU_W, VaeLayer.MU_B).toDoubleMatrix();
        double[][] logVar = dense(h, VaeLayer.LOGVAR_W, VaeLayer.LOGVAR_B).toDoubleMatrix();
        double[][] z = new double[rows][l];
        double[] out = new double[rows];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < l; j++) {
                double sigma = Math.exp(0.5 * logVar[i][j]);
                z[i][j] = mu[i][j] + sigma * eps[i][j];
                // log N(z0; mu, sigma^2), written with z0 and mu (not eps) as an independent check
                double r = (z[i][j] - mu[i][j]) / sigma;
                out[i] -= -0.5 * Math.log(2 * Math.PI) - Math.log(sigma) - 0.5 * r * r;
                sc[i] += Math.abs(mu[i][j]) + Math.abs(logVar[i][j]) + sigma * Math.abs(eps[i][j]) + r * r;
            }
        }
        for (int k = 0; k < spec.flowSteps(); k++) {
            double[][] u = dense(h, VaeLayer.flowWeight("u", k), VaeLayer.flowBias("u", k)).toDoubleMatrix();
            double[][] w = dense(h, VaeLayer.flowWeight("w", k), VaeLayer.flowBias("w", k)).toDoubleMatrix();
            double[][] b = dense(h, VaeLayer.flowWeight("b", k), VaeLayer.flowBias("b", k)).toDoubleMatrix();
            for (int i = 0; i < rows; i++) {
                // Rezende & Mohamed 2015, appendix A.1: u_hat = u + (m(w.u) - w.u) w / |w|^2, m(a) = -1 + softplus(a)
                double wu = dot(w[i], u[i]);
                double norm2 = dot(w[i], w[i]);
                double[] uHat = new double[l];
                for (int j = 0; j < l; j++) {
                    uHat[j] = u[i][j] + (-1 + softplus(wu) - wu) * w[i][j] / norm2;
                }
                double a = dot(w[i], z[i]) + b[i][0];
                double t = Math.tanh(a);
                sc[i] += Math.abs(a) + Math.abs(wu) + dot(uHat, uHat) + norm2;
                // det(I + u_hat psi^T) = 1 + psi.u_hat with psi = (1 - tanh^2 a) w
                out[i] += Math.log(Math.abs(1 + (1 - t * t) * dot(w[i], uHat)));
                for (int j = 0; j < l; j++) {
                    z[i][j] += uHat[j] * t;
                }
            }
        }
        double[][] logits = decoderLogits(Nd4j.create(z)).toDoubleMatrix();
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < l; j++) {
                out[i] += -0.5 * Math.log(2 * Math.PI) - 0.5 * z[i][j] * z[i][j];
                sc[i] += z[i][j] * z[i][j];
            }
            for (int j = 0; j < d; j++) {
                sc[i] += Math.abs(logits[i][j]);
                // log sigmoid(+-logit) = -softplus(-+logit), without rounding sigmoid to 0 or 1 first
                out[i] -= softplus(xs[i][j] > 0.5 ? -logits[i][j] : logits[i][j]);
            }
        }
        return out;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    /**
     * The exact marginal {@code p(x)} of each row of {@code x} for a 2-D latent, by the midpoint rule on
     * {@code [-R, R]^2} with step h (R = 6.5: the prior's mass outside the square is below {@code 4 Phi(-6.5)}, about
     * 1e-10). For an integrand as smooth as a Gaussian of width s the rule's relative error is of order
     * {@code exp(-2 pi^2 s^2 / h^2)} (the first aliased Fourier mode): negligible for posteriors wider than a few h.
     */
    double[] marginal(INDArray x, double h) {
        if (spec.latent() != 2) {
            throw new IllegalArgumentException("quadrature is for a 2-D latent");
        }
        double r = 6.5;
        int n = (int) Math.round(2 * r / h);
        double[][] grid = new double[n * n][2];
        for (int i0 = 0; i0 < n; i0++) {
            for (int i1 = 0; i1 < n; i1++) {
                grid[i0 * n + i1][0] = -r + (i0 + 0.5) * h;
                grid[i0 * n + i1][1] = -r + (i1 + 0.5) * h;
            }
        }
        double[] logits = decoderLogits(Nd4j.create(grid)).dup('c').data().asDouble();
        double[][] xs = x.castTo(DataType.DOUBLE).toDoubleMatrix();
        int d = spec.dim();
        double[] p = new double[xs.length];
        for (int g = 0; g < grid.length; g++) {
            double z0 = grid[g][0];
            double z1 = grid[g][1];
            double logPrior = -0.5 * (z0 * z0 + z1 * z1) - Math.log(2 * Math.PI) + 2 * Math.log(h);
            int off = g * d;
            for (int j = 0; j < d; j++) {
                logPrior -= softplus(logits[off + j]);
            }
            for (int row = 0; row < xs.length; row++) {
                double s = logPrior;
                for (int j = 0; j < d; j++) {
                    if (xs[row][j] > 0.5) {
                        s += logits[off + j];
                    }
                }
                p[row] += Math.exp(s);
            }
        }
        return p;
    }
}
