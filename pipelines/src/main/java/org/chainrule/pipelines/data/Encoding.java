package org.chainrule.pipelines.data;

import org.chainrule.models.Seeds;

import java.io.Serializable;
import java.util.List;

/**
 * Validates raw values of one record and encodes them as one byte per dimension.
 *
 * <p>Integer data is integers 0..maxValue in every mode: a value outside that range, or one that is not a whole number
 * (12.5), makes the record bad; nothing is rounded or clipped. Binarization modes: {@code stochastic} sets bit d with
 * probability v/maxValue using a uniform drawn from (seed, split, file, row, d), so the same input gives the same bits
 * on every run and any partitioning; {@code threshold} sets it when v/maxValue >= 0.5; {@code none} keeps integer
 * values 0..maxValue (maxValue <= 255) and, for maxValue = 1, demands that they are already binary.
 *
 * @param width    values per record (product of the event shape)
 * @param maxValue largest legal raw value (255 for MNIST pixels)
 * @param binarize {@code stochastic}, {@code threshold} or {@code none}
 * @param seed     root seed of stochastic binarization
 * @param real     real-valued data: any finite value, stored as float32 (binarize must be none; max-value unused)
 */
public record Encoding(int width, double maxValue, String binarize, long seed, boolean real) implements Serializable {
    public static final List<String> MODES = List.of("stochastic", "threshold", "none");

    /** Integer-valued data (optionally binarized). */
    public Encoding(int width, double maxValue, String binarize, long seed) {
        this(width, maxValue, binarize, seed, false);
    }

    public Encoding {
        if (real && !binarize.equals("none")) {
            throw new IllegalArgumentException("real-valued data cannot be binarized (set binarize = none)");
        }
        if (!MODES.contains(binarize)) {
            throw new IllegalArgumentException("binarize must be one of " + MODES + ", got " + binarize);
        }
        if (!(maxValue > 0)) {
            throw new IllegalArgumentException("max-value must be positive, got " + maxValue);
        }
        if (!real && binarize.equals("none") && (maxValue > 255 || maxValue != Math.rint(maxValue))) {
            throw new IllegalArgumentException("binarize = none stores integers 0..255; max-value " + maxValue
                    + " does not fit");
        }
    }

    /** The value type of encoded records: {@code binary} (0/1), {@code uint8} or {@code real}. */
    public String valueType() {
        return real ? "real" : binarize.equals("none") && maxValue > 1 ? "uint8" : "binary";
    }

    /** Values per dimension of the encoded data: 2 when binary, max-value + 1 for integers, 0 for real data. */
    public int levels() {
        return real ? 0 : valueType().equals("binary") ? 2 : (int) maxValue + 1;
    }

    /** Encodes one record's raw values, value d coming from column d of the file. */
    public SourceRecord encode(SourceFile f, long row, double[] values, int label) {
        return encode(f, row, values, label, null);
    }

    /**
     * Encodes one record's raw values, or explains why it is rejected, naming the file column of the first bad value:
     * {@code columns[d]} (0-based) is the column value d came from, or null when it is column d.
     */
    public SourceRecord encode(SourceFile f, long row, double[] values, int label, int[] columns) {
        if (values.length != width) {
            return SourceRecord.bad(f, row, -1, "expected " + width + " values, found " + values.length);
        }
        SourceRecord r = real ? encodeReal(f, row, values, label) : encodeInteger(f, row, values, label);
        return r.ok() || columns == null || r.column() < 0 ? r : SourceRecord.bad(f, row, columns[r.column()], r.error());
    }

    private SourceRecord encodeInteger(SourceFile f, long row, double[] values, int label) {
        byte[] x = new byte[width];
        long rowSeed = Seeds.derive(Seeds.derive(seed, f.split().hashCode()), f.index(), row);
        for (int d = 0; d < width; d++) {
            double v = values[d];
            if (!Double.isFinite(v)) {
                return SourceRecord.bad(f, row, d, "value is " + v);
            }
            if (v < 0 || v > maxValue) {
                return SourceRecord.bad(f, row, d, "value " + v + " outside [0, " + maxValue + "]");
            }
            if (v != Math.rint(v)) {
                return SourceRecord.bad(f, row, d, maxValue == 1 && binarize.equals("none")
                        ? "non-binary value " + v + " for a binary dataset (a Bernoulli model needs 0 or 1)"
                        : "non-integer value " + v + " (integer data holds whole numbers 0.." + (long) maxValue
                        + "; value-type = real keeps fractions)");
            }
            switch (binarize) {
                case "stochastic" -> x[d] = (byte) (Seeds.uniform(Seeds.derive(rowSeed, d)) < v / maxValue ? 1 : 0);
                case "threshold" -> x[d] = (byte) (v / maxValue >= 0.5 ? 1 : 0);
                default -> x[d] = (byte) (int) v;
            }
        }
        return SourceRecord.good(f, row, label, x);
    }

    private SourceRecord encodeReal(SourceFile f, long row, double[] values, int label) {
        java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate(4 * width).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int d = 0; d < width; d++) {
            float v = (float) values[d];
            if (!Float.isFinite(v)) {
                return SourceRecord.bad(f, row, d, Double.isFinite(values[d]) ? "value " + values[d]
                        + " does not fit in float32" : "value is " + values[d]);
            }
            buf.putFloat(v);
        }
        return SourceRecord.good(f, row, label, buf.array());
    }
}
