package org.chainrule.models;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * The likelihood of a model whose training network outputs each example's exact NLL (see {@link NllOutputLoss}):
 * scoring runs that same network, once per connectivity variant, and takes the log-mean-exp over variants (the
 * ensemble density, exactly normalized because each variant is). Scoring and training therefore cannot disagree.
 * Subclasses add the sampler. The network is a private copy: later training does not leak in.
 */
public abstract class GraphDensity implements DensityModel {
    /** Elements one scoring activation may hold (64 MB of floats); see {@link ModelSpec#activationElementsPerRow}. */
    public static final long SCORING_ELEMENTS = 16L << 20;

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
    public INDArray logProb(INDArray x, INDArray context) {
        return logProbInSlices(x, context, rowsPerPass(spec.activationElementsPerRow(), SCORING_ELEMENTS));
    }

    /**
     * Rows per network pass so that an activation of {@code elementsPerRow} per row holds at most {@code budget}
     * elements (at least one row); unlimited when {@code elementsPerRow} is 0.
     */
    public static int rowsPerPass(long elementsPerRow, long budget) {
        return elementsPerRow <= 0 ? Integer.MAX_VALUE : (int) Math.max(1, Math.min(Integer.MAX_VALUE, budget / elementsPerRow));
    }

    /** {@link #logProb(INDArray, INDArray)} with the rows scored {@code rowsPerPass} at a time. */
    public synchronized INDArray logProbInSlices(INDArray x, INDArray context, int rowsPerPass) {
        checkContext(context, x.rows());
        if (rowsPerPass < 1) {
            throw new IllegalArgumentException("rowsPerPass must be at least 1, got " + rowsPerPass);
        }
        long n = x.rows();
        int k = spec.variantCount();
        INDArray all = Nd4j.create(DataType.DOUBLE, n, k);
        for (long from = 0; from < n; from += rowsPerPass) {
            long to = Math.min(n, from + rowsPerPass);
            boolean whole = from == 0 && to == n;
            INDArray xs = whole ? x : x.get(NDArrayIndex.interval(from, to), NDArrayIndex.all());
            INDArray cs = context == null || whole ? context : context.get(NDArrayIndex.interval(from, to), NDArrayIndex.all());
            for (int v = 0; v < k; v++) {
                INDArray nll = network.output(spec.trainingFeatures(xs, cs, v), false);
                all.get(NDArrayIndex.interval(from, to), NDArrayIndex.point(v))
                        .assign(nll.reshape(-1).castTo(DataType.DOUBLE).neg());
            }
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
