package org.chainrule.pipelines.data;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.List;

/** Turns examples into dense ND4J matrices, one allocation per batch (no per-value objects). */
public final class Batches {
    private Batches() {
    }

    /** {@code [examples.size(), dims]} float matrix of the examples' values. */
    public static INDArray matrix(List<Example> examples, int dims) {
        float[] buf = new float[examples.size() * dims];
        for (int i = 0; i < examples.size(); i++) {
            byte[] x = examples.get(i).x();
            int base = i * dims;
            for (int d = 0; d < dims; d++) {
                buf[base + d] = x[d] & 0xFF;
            }
        }
        return Nd4j.create(buf, new long[]{examples.size(), dims}, DataType.FLOAT);
    }
}
