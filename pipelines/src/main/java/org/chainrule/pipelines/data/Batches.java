package org.chainrule.pipelines.data;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/** Turns examples into dense ND4J matrices, one allocation per batch (no per-value objects). */
public final class Batches {
    private Batches() {
    }

    /** {@code [examples.size(), dims]} float matrix of the examples' values (one unsigned byte per value). */
    public static INDArray matrix(List<Example> examples, int dims) {
        return matrix(examples, dims, false);
    }

    /**
     * {@code [examples.size(), dims]} float matrix of the examples' values: one unsigned byte per value, or, for real
     * data, float32 little-endian.
     */
    public static INDArray matrix(List<Example> examples, int dims, boolean real) {
        float[] buf = new float[examples.size() * dims];
        for (int i = 0; i < examples.size(); i++) {
            byte[] x = examples.get(i).x();
            int base = i * dims;
            if (real) {
                ByteBuffer.wrap(x).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(buf, base, dims);
            } else {
                for (int d = 0; d < dims; d++) {
                    buf[base + d] = x[d] & 0xFF;
                }
            }
        }
        return Nd4j.create(buf, new long[]{examples.size(), dims}, DataType.FLOAT);
    }

    /**
     * One-hot rows of the examples' labels, {@code [examples.size(), classes]}: the context of a class-conditional
     * model. A missing (-1) or out-of-range label fails, naming the row.
     */
    public static INDArray oneHotLabels(List<Example> examples, int classes) {
        float[] buf = new float[examples.size() * classes];
        for (int i = 0; i < examples.size(); i++) {
            int label = examples.get(i).label();
            if (label < 0 || label >= classes) {
                throw new IllegalArgumentException("row_id " + examples.get(i).rowId() + ": label " + label
                        + (label < 0 ? " (none)" : "") + " but the conditional model knows classes 0.." + (classes - 1));
            }
            buf[i * classes + label] = 1f;
        }
        return Nd4j.create(buf, new long[]{examples.size(), classes}, DataType.FLOAT);
    }

    /** One-hot rows of given labels, {@code [labels.length, classes]}. */
    public static INDArray oneHot(int[] labels, int classes) {
        INDArray out = Nd4j.zeros(DataType.FLOAT, labels.length, classes);
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= classes) {
                throw new IllegalArgumentException("label " + labels[i] + " outside 0.." + (classes - 1));
            }
            out.putScalar(i, labels[i], 1f);
        }
        return out;
    }
}
