package org.chainrule.pipelines.data;

import java.io.Serializable;

/**
 * One prepared example: its stable row id within the split, its label (-1 when none) and its values, one unsigned byte
 * per dimension in row-major event order.
 */
public record Example(long rowId, int label, byte[] x) implements Serializable {

    /** Orders examples by row id (serializable, for Spark's {@code takeOrdered}). */
    public static final java.util.Comparator<Example> BY_ROW_ID =
            (java.util.Comparator<Example> & Serializable) (a, b) -> Long.compare(a.rowId(), b.rowId());

    /** Value of dimension {@code d} as an int in [0, 255]. */
    public int value(int d) {
        return x[d] & 0xFF;
    }
}
