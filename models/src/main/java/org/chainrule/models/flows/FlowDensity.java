package org.chainrule.models.flows;

import org.chainrule.models.DensityModel;
import org.chainrule.models.LogMath;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.Map;

/**
 * The density of a trained flow: scoring runs the training graph (so it cannot disagree with training), sampling
 * draws z from the base per seed ({@link BaseDistribution#sample}: N(0, T^2 I), or the MADE-MoG dimension by
 * dimension) and runs the transform's inverse with the same parameter values, then undoes the pre-processing; it
 * never needs a variational dequantizer's q. A private snapshot of the parameters: later training does not leak in.
 */
public final class FlowDensity implements DensityModel, org.chainrule.models.Latent {
    private final FlowSpec spec;
    private final MultiLayerNetwork network;
    private transient SameDiff inverseGraph;
    private transient SameDiff forwardGraph;

    FlowDensity(FlowSpec spec, MultiLayerNetwork network) {
        this.spec = spec;
        this.network = network.clone();
    }

    @Override
    public long[] eventShape() {
        return spec.eventShape();
    }

    /**
     * Exact {@code log p(x)} for real data; for discrete data the dequantization bound
     * {@code log mean_k p(x + u_k) / q(u_k | x)} over {@code evalSamples} fixed noise draws (q = 1 for uniform
     * dequantization; see {@link FlowSpec}).
     */
    @Override
    public synchronized INDArray logProb(INDArray x) {
        if (spec.levels() == 0) {
            return network.output(spec.trainingFeatures(x, 0), false).reshape(-1).castTo(DataType.DOUBLE).neg();
        }
        int k = spec.evalSamples();
        long rows = x.rows();
        INDArray all = Nd4j.create(DataType.DOUBLE, rows, k);
        // draws go through the network together, as many rows per pass as a scoring batch of about 4096 holds
        int perPass = (int) Math.max(1, Math.min(k, 4096 / Math.max(1, rows)));
        for (int s0 = 0; s0 < k; s0 += perPass) {
            int n = Math.min(perPass, k - s0);
            INDArray features = Nd4j.create(DataType.FLOAT, n * rows, spec.featureWidth());
            for (int j = 0; j < n; j++) {
                features.get(NDArrayIndex.interval(j * rows, (j + 1) * rows), NDArrayIndex.all())
                        .assign(spec.evalFeatures(x, s0 + j));
            }
            INDArray nll = network.output(features, false).reshape(n, rows).castTo(DataType.DOUBLE);
            all.get(NDArrayIndex.all(), NDArrayIndex.interval(s0, s0 + n)).assign(nll.transpose().neg());
        }
        return k == 1 ? all.getColumn(0).dup() : LogMath.logMeanExp(all);
    }

    @Override
    public INDArray sample(long[] seeds) {
        return sample(seeds, null, 1.0);
    }

    @Override
    public synchronized INDArray sample(long[] seeds, INDArray context, double temperature) {
        if (context != null) {
            throw new UnsupportedOperationException("a " + spec.type() + " flow is unconditional but was given a context");
        }
        if (!(temperature > 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be positive and finite, got " + temperature);
        }
        return decode(spec.base().sample(FlowLayer.parameters(network), spec.dim(), seeds, temperature));
    }

    /**
     * The latent code of each row: the forward map of the pre-processed events (discrete data dequantized with the
     * row's first scoring noise draw, through q under variational dequantization), flattened to {@code [batch, D]}.
     */
    @Override
    public synchronized INDArray encode(INDArray x) {
        INDArray features = spec.levels() == 0 ? spec.trainingFeatures(x, 0) : spec.evalFeatures(x, 0);
        if (forwardGraph == null) {
            SameDiff sd = SameDiff.create();
            SDVariable in = sd.placeHolder("x", DataType.FLOAT, -1, spec.featureWidth());
            Map<String, SDVariable> p = constants(sd);
            sd.identity("z", spec.transform().forward(sd, spec.transformInput(sd, in, p).value(), p).value());
            forwardGraph = sd;
        }
        return forwardGraph.output(Map.of("x", features), "z").get("z").reshape(x.rows(), spec.dim());
    }

    /** The inverse map of latent codes, with the pre-processing undone. */
    @Override
    public synchronized INDArray decode(INDArray z) {
        long[] shape = FlowSpec.withBatch(spec.transform().outputShape());
        shape[0] = z.rows();
        INDArray y = inverseGraph().output(Map.of("z", z.castTo(DataType.FLOAT).reshape(shape)), "x").get("x");
        return spec.postprocess(y);
    }

    private Map<String, SDVariable> constants(SameDiff sd) {
        Map<String, SDVariable> p = new java.util.LinkedHashMap<>();
        FlowLayer.parameters(network).forEach((name, value) -> p.put(name, sd.constant("p_" + name, value.dup())));
        return p;
    }

    /** The inverse map as a graph over constants, built once. */
    private SameDiff inverseGraph() {
        if (inverseGraph == null) {
            SameDiff sd = SameDiff.create();
            SDVariable z = sd.placeHolder("z", DataType.FLOAT, FlowSpec.withBatch(spec.transform().outputShape()));
            sd.identity("x", spec.transform().inverse(sd, z, constants(sd)).value());
            inverseGraph = sd;
        }
        return inverseGraph;
    }
}
