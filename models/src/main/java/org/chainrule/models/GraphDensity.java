package org.chainrule.models;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The likelihood of a model whose training network outputs each example's exact NLL (see {@link NllOutputLoss}):
 * scoring runs that same network, once per connectivity variant, and takes the log-mean-exp over variants (the
 * ensemble density, exactly normalized because each variant is). Scoring and training therefore cannot disagree.
 * Subclasses add the sampler. The network is a private copy: later training does not leak in.
 */
public abstract class GraphDensity implements DensityModel {
    protected final ModelSpec spec;
    private final MultiLayerNetwork network;

    protected GraphDensity(ModelSpec spec, MultiLayerNetwork network) {
        this.spec = spec;
        this.network = network.clone();
    }

    @Override
    public long[] eventShape() {
        return spec.eventShape();
    }

    @Override
    public int contextSize() {
        return spec.contextSize();
    }

    @Override
    public INDArray logProb(INDArray x) {
        return logProb(x, null);
    }

    @Override
    public synchronized INDArray logProb(INDArray x, INDArray context) {
        checkContext(context, x.rows());
        int k = spec.variantCount();
        INDArray all = Nd4j.create(DataType.DOUBLE, x.rows(), k);
        for (int v = 0; v < k; v++) {
            INDArray nll = network.output(spec.trainingFeatures(x, context, v), false);
            all.getColumn(v).assign(nll.reshape(-1).castTo(DataType.DOUBLE).neg());
        }
        return k == 1 ? all.getColumn(0).dup() : LogMath.logMeanExp(all);
    }

    /** Checks a context matrix against the model: present with the right width exactly when it is conditional. */
    protected void checkContext(INDArray context, long rows) {
        int c = spec.contextSize();
        if (c == 0 && context != null) {
            throw new IllegalArgumentException("a " + spec.type() + " model is unconditional but was given a context");
        }
        if (c > 0 && (context == null || context.rows() != rows || context.columns() != c)) {
            throw new IllegalArgumentException("a conditional " + spec.type() + " model needs a [" + rows + ", " + c
                    + "] context, got " + (context == null ? "none" : java.util.Arrays.toString(context.shape())));
        }
    }
}
