package org.chainrule.pipelines.detect;

import org.apache.spark.sql.api.java.UDF1;
import org.chainrule.pipelines.io.Pictures;
import org.chainrule.pipelines.score.FeatureColumns;
import org.chainrule.pipelines.score.ValueRule;

import java.awt.image.BufferedImage;
import java.awt.image.WritableRaster;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.Deflater;

/**
 * The length in bits of one event under a generic lossless compressor, the L(x) of the complexity score (Serrà et
 * al. 2020): PNG (javax.imageio, Deflate with PNG's row filters) for image-shaped discrete data ([H, W] or
 * [H, W, 1 or 3] with at most 256 levels; binary images as 1-bit PNG), raw Deflate at its best compression otherwise
 * (one byte per discrete value, float32 little-endian per real value). The values compressed are the encoded ones
 * the model sees, so the length measures the same thing the likelihood does. A Spark UDF over
 * {@link FeatureColumns#values()}: null when the row cannot be read (the model's scorer says why).
 */
final class CompressedLength implements UDF1<Object, Double> {
    private final FeatureColumns features;
    private final ValueRule rule;
    private final int dims;
    private final long[] shape;
    private final int levels;

    /**
     * @param shape  the model's event shape
     * @param levels the values' levels (2 for binary), or 0 for real data
     */
    CompressedLength(FeatureColumns features, ValueRule rule, long[] shape, int levels) {
        this.features = features;
        this.rule = rule;
        this.shape = shape.clone();
        this.levels = levels;
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        this.dims = Math.toIntExact(n);
    }

    @Override
    public Double call(Object values) {
        float[] x = new float[dims];
        if (features.read(values, rule, x, 0) != null) {
            return null;
        }
        return (double) bits(x, shape, levels);
    }

    /** The compressor's length of {@code x}, in bits; see the class comment for which compressor. */
    static long bits(float[] x, long[] shape, int levels) {
        boolean image = levels >= 2 && levels <= 256
                && (shape.length == 2 || (shape.length == 3 && (shape[2] == 1 || shape[2] == 3)));
        if (image) {
            return 8L * png(x, (int) shape[0], (int) shape[1], shape.length == 3 ? (int) shape[2] : 1, levels).length;
        }
        byte[] raw;
        if (levels >= 2 && levels <= 256) {
            raw = new byte[x.length];
            for (int i = 0; i < x.length; i++) {
                raw[i] = (byte) Math.round(x[i]);
            }
        } else {
            ByteBuffer b = ByteBuffer.allocate(4 * x.length).order(ByteOrder.LITTLE_ENDIAN);
            for (float v : x) {
                b.putFloat(v);
            }
            raw = b.array();
        }
        return 8L * deflate(raw);
    }

    /** A PNG of an image of integer values 0..levels-1, channel-last; 1-bit for binary grey images. */
    static byte[] png(float[] x, int height, int width, int channels, int levels) {
        int type = channels == 3 ? BufferedImage.TYPE_3BYTE_BGR
                : levels == 2 ? BufferedImage.TYPE_BYTE_BINARY : BufferedImage.TYPE_BYTE_GRAY;
        BufferedImage img = new BufferedImage(width, height, type);
        WritableRaster raster = img.getRaster();
        for (int r = 0; r < height; r++) {
            for (int c = 0; c < width; c++) {
                for (int ch = 0; ch < channels; ch++) {
                    raster.setSample(c, r, ch, Math.round(x[(r * width + c) * channels + ch]));
                }
            }
        }
        return Pictures.png(img);
    }

    /** Bytes of raw Deflate (no zlib header: only the data's own cost) at the best compression. */
    static int deflate(byte[] raw) {
        Deflater d = new Deflater(Deflater.BEST_COMPRESSION, true);
        try {
            d.setInput(raw);
            d.finish();
            byte[] buf = new byte[raw.length + 64];
            int n = 0;
            while (!d.finished()) {
                n += d.deflate(buf);
            }
            return n;
        } finally {
            d.end();
        }
    }
}
