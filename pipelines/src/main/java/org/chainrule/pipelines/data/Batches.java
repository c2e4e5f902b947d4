package org.chainrule.pipelines.data;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
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
        if (examples.isEmpty()) {
            return Nd4j.create(DataType.FLOAT, 0, dims);
        }
        return fill(examples, dims, real, Nd4j.create(DataType.FLOAT, examples.size(), dims));
    }

    /**
     * Writes the examples' values (as {@link #matrix}) into the first rows of {@code target} and returns those rows.
     * Callers that score batch after batch pass the same buffer every time: a fresh multi-megabyte array per batch
     * costs ND4J an allocation and the JVM a humongous on-heap copy, more than converting the values.
     *
     * @param target a float32, row-major {@code [>= examples.size(), dims]} array that owns its whole buffer
     */
    public static INDArray fill(List<Example> examples, int dims, boolean real, INDArray target) {
        int n = examples.size();
        if (target.dataType() != DataType.FLOAT || target.ordering() != 'c' || target.columns() != dims
                || target.rows() < n || target.offset() != 0 || target.data().length() != target.length()) {
            throw new IllegalArgumentException("need a whole float32 row-major [>= " + n + ", " + dims
                    + "] buffer, got " + target.shapeInfoToString());
        }
        FloatBuffer out = target.data().asNio().order(ByteOrder.nativeOrder()).asFloatBuffer();
        float[] row = new float[dims];
        for (Example e : examples) {
            byte[] x = e.x();
            if (real) {
                ByteBuffer.wrap(x).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(row);
            } else {
                for (int d = 0; d < dims; d++) {
                    row[d] = x[d] & 0xFF;
                }
            }
            out.put(row);
        }
        return n == target.rows() ? target : target.get(NDArrayIndex.interval(0, n), NDArrayIndex.all());
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
