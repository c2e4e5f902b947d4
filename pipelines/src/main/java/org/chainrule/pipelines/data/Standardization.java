package org.chainrule.pipelines.data;

import org.apache.spark.api.java.JavaRDD;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Per-column mean and standard deviation of real-valued training records, in one distributed pass (sums of
 * deviations from a first-row shift, so large offsets do not cancel catastrophically). A constant column gets std 1
 * (it cannot be standardized) and is listed in the manifest details.
 */
final class Standardization {
    private Standardization() {
    }

    /** {mean, std} over the given records; notes constant columns in {@code details}. */
    static double[][] of(JavaRDD<SourceRecord> train, int width, Map<String, Object> details) {
        SourceRecord first = train.first();
        double[] shift = decode(first.x(), width);
        double[] acc = train.treeAggregate(new double[2 * width + 1], (a, r) -> {
            double[] v = decode(r.x(), width);
            for (int d = 0; d < width; d++) {
                double z = v[d] - shift[d];
                a[d] += z;
                a[width + d] += z * z;
            }
            a[2 * width] += 1;
            return a;
        }, (a, b) -> {
            for (int i = 0; i < a.length; i++) {
                a[i] += b[i];
            }
            return a;
        });
        double n = acc[2 * width];
        double[] mean = new double[width];
        double[] std = new double[width];
        List<Integer> constant = new ArrayList<>();
        for (int d = 0; d < width; d++) {
            double m = acc[d] / n;
            double var = n > 1 ? (acc[width + d] - n * m * m) / (n - 1) : 0;
            mean[d] = shift[d] + m;
            std[d] = Math.sqrt(Math.max(var, 0));
            if (!(std[d] > 1e-12 * Math.max(1, Math.abs(mean[d])))) {
                std[d] = 1;
                constant.add(d + 1);
            }
        }
        details.put("standardization", "per column over the " + (long) n + " training rows: z = (x - mean) / std");
        details.put("constantColumns", constant);
        return new double[][]{mean, std};
    }

    static double[] decode(byte[] x, int width) {
        ByteBuffer b = ByteBuffer.wrap(x).order(ByteOrder.LITTLE_ENDIAN);
        double[] v = new double[width];
        for (int d = 0; d < width; d++) {
            v[d] = b.getFloat();
        }
        return v;
    }
}
