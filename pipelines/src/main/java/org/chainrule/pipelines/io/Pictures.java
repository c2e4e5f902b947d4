package org.chainrule.pipelines.io;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.Rectangle;
import java.awt.RenderingHints;
import java.awt.geom.AffineTransform;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Line2D;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * PNG pictures for reports: grids of sample images and line charts of training curves. Pure java.awt/javax.imageio
 * so it runs on cluster nodes without a display; callers that have none should start the JVM with
 * {@code -Djava.awt.headless=true}. Only the logical font "SansSerif" is used because it is the one font every JDK
 * maps to something installed.
 */
public final class Pictures {
    /** Fixed rather than scaled: the gap only has to separate cells, and a scaled gap would eat large grids. */
    static final int GAP = 2;
    static final int MAX_SIDE = 16384;
    static final Color GAP_GRAY = new Color(128, 128, 128);
    static final Color NAN_MAGENTA = new Color(255, 0, 255);
    /** Tableau-like palette: distinguishable for most colour-blind readers and on both screen and paper. */
    static final Color[] PALETTE = {
            new Color(31, 119, 180), new Color(255, 127, 14), new Color(44, 160, 44), new Color(214, 39, 40),
            new Color(148, 103, 189), new Color(140, 86, 75), new Color(227, 119, 194), new Color(127, 127, 127),
            new Color(188, 189, 34), new Color(23, 190, 207)};
    /** Above this many points per series markers would merge into a thick smear, so only the line is drawn. */
    private static final int MAX_MARKED_POINTS = 100;
    private static final Font TITLE_FONT = new Font("SansSerif", Font.BOLD, 14);
    private static final Font LABEL_FONT = new Font("SansSerif", Font.PLAIN, 12);
    private static final Font TICK_FONT = new Font("SansSerif", Font.PLAIN, 11);

    private Pictures() {
    }

    /**
     * Draws images side by side as a PNG grid, each cell separated by a {@value #GAP}-pixel mid-gray gap that also
     * runs around the border. The picture is {@code cols * width * scale + (cols + 1) * GAP} wide and
     * {@code rows * height * scale + (rows + 1) * GAP} high, where {@code cols = min(columns, images.length)} (so a
     * short list does not leave an empty gray strip) and {@code rows = ceil(images.length / cols)}.
     *
     * @param images   one image per entry, row-major, {@code height * width * channels} values in [0, 1]; values
     *                 outside are clamped and NaN is drawn magenta so broken samples stand out
     * @param channels 1 (grayscale, 0 = black, 1 = white) or 3 (RGB, channel-last: {@code (r * width + c) * 3 + ch})
     * @param columns  images per row, at least 1
     * @param scale    each pixel becomes a {@code scale x scale} block, at least 1
     * @return PNG bytes
     * @throws IllegalArgumentException on empty or mis-sized images, non-positive sizes, channels other than 1 or 3,
     *                                  or a picture wider or higher than {@value #MAX_SIDE} pixels
     */
    public static byte[] imageGrid(float[][] images, int height, int width, int channels, int columns, int scale) {
        if (images == null || images.length == 0) throw new IllegalArgumentException("images must not be empty");
        if (height <= 0 || width <= 0 || columns <= 0 || scale <= 0) {
            throw new IllegalArgumentException("height, width, columns and scale must be positive, got height="
                    + height + " width=" + width + " columns=" + columns + " scale=" + scale);
        }
        if (channels != 1 && channels != 3) throw new IllegalArgumentException("channels must be 1 or 3, got " + channels);
        long expected = (long) height * width * channels;
        for (int i = 0; i < images.length; i++) {
            if (images[i] == null || images[i].length != expected) {
                throw new IllegalArgumentException("image " + i + " has " + (images[i] == null ? "no" : images[i].length)
                        + " values, expected " + height + "*" + width + "*" + channels + "=" + expected);
            }
        }
        int cols = Math.min(columns, images.length);
        int rows = (images.length + cols - 1) / cols;
        // long arithmetic: a silly scale must produce this message, not an int overflow or an OutOfMemoryError.
        long cellW = (long) width * scale, cellH = (long) height * scale;
        long picW = cols * cellW + (cols + 1L) * GAP, picH = rows * cellH + (rows + 1L) * GAP;
        if (picW > MAX_SIDE || picH > MAX_SIDE) {
            throw new IllegalArgumentException("grid would be " + picW + "x" + picH + " px, more than " + MAX_SIDE
                    + " in a direction; use fewer columns/images or a smaller scale");
        }
        BufferedImage img = new BufferedImage((int) picW, (int) picH, BufferedImage.TYPE_INT_RGB);
        int[] row = new int[(int) picW];
        java.util.Arrays.fill(row, GAP_GRAY.getRGB());
        for (int y = 0; y < picH; y++) img.setRGB(0, y, (int) picW, 1, row, 0, (int) picW);
        for (int i = 0; i < images.length; i++) {
            int x0 = GAP + (i % cols) * (int) (cellW + GAP), y0 = GAP + (i / cols) * (int) (cellH + GAP);
            float[] im = images[i];
            for (int r = 0; r < height; r++) {
                for (int c = 0; c < width; c++) {
                    int base = (r * width + c) * channels, rgb;
                    if (channels == 1) {
                        rgb = Float.isNaN(im[base]) ? NAN_MAGENTA.getRGB() : gray(level(im[base]));
                    } else if (Float.isNaN(im[base]) || Float.isNaN(im[base + 1]) || Float.isNaN(im[base + 2])) {
                        rgb = NAN_MAGENTA.getRGB();
                    } else {
                        rgb = 0xFF000000 | level(im[base]) << 16 | level(im[base + 1]) << 8 | level(im[base + 2]);
                    }
                    for (int dy = 0; dy < scale; dy++) {
                        for (int dx = 0; dx < scale; dx++) img.setRGB(x0 + c * scale + dx, y0 + r * scale + dy, rgb);
                    }
                }
            }
        }
        return png(img);
    }

    /**
     * Draws a line chart, e.g. loss curves with {@code x} = epoch and one series per split: white background, axes
     * with about five round-numbered ticks each, one colour and small point markers per series, a legend, a title and
     * axis labels. Non-finite values are left out, breaking the line; an isolated point still shows as a marker. The y
     * axis spans the finite data with 5% padding (or +-5% of the value, +-1 for zero, when all values are equal).
     *
     * @param title    drawn on top; null means none
     * @param xLabel   x axis label; null means none
     * @param yLabel   y axis label; null means none
     * @param x        abscissae shared by all series, non-empty
     * @param series   name to values, each of {@code x.length}; insertion order fixes colour and legend order
     * @param widthPx  picture width, at least 200
     * @param heightPx picture height, at least 150
     * @return PNG bytes
     * @throws IllegalArgumentException on empty {@code x}, a series of the wrong length, or a too small picture
     */
    public static byte[] lineChart(String title, String xLabel, String yLabel, double[] x,
                                   LinkedHashMap<String, double[]> series, int widthPx, int heightPx) {
        checkChart(x, series, widthPx, heightPx);
        BufferedImage img = new BufferedImage(widthPx, heightPx, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        try {
            Plot p = layout(g, title, xLabel, yLabel, x, series, widthPx, heightPx);
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, widthPx, heightPx);
            Rectangle a = p.area();
            g.setFont(TICK_FONT);
            FontMetrics fm = g.getFontMetrics();
            double[] xt = ticks(p.xlo(), p.xhi()), yt = ticks(p.ylo(), p.yhi());
            for (double t : xt) {
                int px = (int) Math.round(p.px(t));
                g.setColor(new Color(230, 230, 230));
                g.drawLine(px, a.y, px, a.y + a.height);
                g.setColor(Color.BLACK);
                g.drawLine(px, a.y + a.height, px, a.y + a.height + 4);
                String s = format(t, xt);
                g.drawString(s, px - fm.stringWidth(s) / 2, a.y + a.height + 6 + fm.getAscent());
            }
            for (double t : yt) {
                int py = (int) Math.round(p.py(t));
                g.setColor(new Color(230, 230, 230));
                g.drawLine(a.x, py, a.x + a.width, py);
                g.setColor(Color.BLACK);
                g.drawLine(a.x - 4, py, a.x, py);
                String s = format(t, yt);
                g.drawString(s, a.x - 6 - fm.stringWidth(s), py + fm.getAscent() / 2 - 1);
            }
            g.setColor(Color.BLACK);
            g.drawRect(a.x, a.y, a.width, a.height);
            g.setFont(TITLE_FONT);
            fm = g.getFontMetrics();
            if (title != null) g.drawString(title, (widthPx - fm.stringWidth(title)) / 2, 8 + fm.getAscent());
            g.setFont(LABEL_FONT);
            fm = g.getFontMetrics();
            if (xLabel != null) {
                g.drawString(xLabel, a.x + (a.width - fm.stringWidth(xLabel)) / 2, heightPx - 6 - fm.getDescent());
            }
            if (yLabel != null) {
                AffineTransform saved = g.getTransform();
                g.rotate(-Math.PI / 2);
                // After rotating, (u, v) lands at (v, -u): u runs up the picture, v to the right.
                g.drawString(yLabel, -(a.y + (a.height + fm.stringWidth(yLabel)) / 2), 6 + fm.getAscent());
                g.setTransform(saved);
            }
            g.setClip(a.x, a.y, a.width + 1, a.height + 1);
            g.setStroke(new BasicStroke(2f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND));
            int k = 0;
            for (double[] ys : series.values()) {
                g.setColor(PALETTE[k++ % PALETTE.length]);
                Path2D.Double path = new Path2D.Double();
                boolean pen = false;
                for (int i = 0; i < x.length; i++) {
                    boolean ok = Double.isFinite(x[i]) && Double.isFinite(ys[i]);
                    if (ok && pen) path.lineTo(p.px(x[i]), p.py(ys[i]));
                    else if (ok) path.moveTo(p.px(x[i]), p.py(ys[i]));
                    pen = ok;
                }
                g.draw(path);
                for (int i = 0; i < x.length; i++) {
                    if (!Double.isFinite(x[i]) || !Double.isFinite(ys[i])) continue;
                    boolean isolated = (i == 0 || !Double.isFinite(ys[i - 1]) || !Double.isFinite(x[i - 1]))
                            && (i == x.length - 1 || !Double.isFinite(ys[i + 1]) || !Double.isFinite(x[i + 1]));
                    // Isolated points have no line, so they always need a marker to be visible at all.
                    if (x.length <= MAX_MARKED_POINTS || isolated) {
                        g.fill(new Ellipse2D.Double(p.px(x[i]) - 3, p.py(ys[i]) - 3, 6, 6));
                    }
                }
            }
            g.setClip(null);
            legend(g, series, x, p);
        } finally {
            g.dispose();
        }
        return png(img);
    }

    /** Plot area and data ranges of a chart; package-private so tests can find where a data point lands. */
    record Plot(Rectangle area, double xlo, double xhi, double ylo, double yhi) {
        double px(double x) {
            return area.x + (x - xlo) / (xhi - xlo) * area.width;
        }

        double py(double y) {
            return area.y + area.height - (y - ylo) / (yhi - ylo) * area.height;
        }
    }

    private static void checkChart(double[] x, Map<String, double[]> series, int widthPx, int heightPx) {
        if (x == null || x.length == 0) throw new IllegalArgumentException("x must not be empty");
        if (series == null) throw new IllegalArgumentException("series must not be null");
        if (widthPx < 200 || heightPx < 150 || widthPx > MAX_SIDE || heightPx > MAX_SIDE) {
            throw new IllegalArgumentException("chart must be between 200x150 and " + MAX_SIDE + "x" + MAX_SIDE
                    + " px, got " + widthPx + "x" + heightPx);
        }
        for (Map.Entry<String, double[]> e : series.entrySet()) {
            if (e.getValue() == null || e.getValue().length != x.length) {
                throw new IllegalArgumentException("series '" + e.getKey() + "' has "
                        + (e.getValue() == null ? "no" : e.getValue().length) + " values, x has " + x.length);
            }
        }
    }

    /** Places the plot area so that tick labels, title and axis labels fit around it; arguments already checked. */
    static Plot layout(Graphics2D g, String title, String xLabel, String yLabel, double[] x,
                       Map<String, double[]> series, int widthPx, int heightPx) {
        // A little x padding keeps the first and last markers off the frame.
        double[] xr = range(List.of(x), 0.03);
        double[] yr = range(new ArrayList<>(series.values()), 0.05);
        FontMetrics tick = g.getFontMetrics(TICK_FONT), label = g.getFontMetrics(LABEL_FONT);
        int labelW = 0;
        double[] yt = ticks(yr[0], yr[1]);
        for (double t : yt) labelW = Math.max(labelW, tick.stringWidth(format(t, yt)));
        int left = 6 + (yLabel == null ? 0 : label.getHeight() + 4) + labelW + 8;
        int top = title == null ? 12 : 16 + g.getFontMetrics(TITLE_FONT).getHeight();
        int bottom = 6 + tick.getHeight() + 6 + (xLabel == null ? 0 : label.getHeight() + 4);
        // Half a tick label of room on the right, so the last x tick label is not cut off at the edge.
        int right = 16 + tick.stringWidth(format(xr[1], ticks(xr[0], xr[1]))) / 2;
        Rectangle area = new Rectangle(left, top, Math.max(10, widthPx - left - right),
                Math.max(10, heightPx - top - bottom));
        return new Plot(area, xr[0], xr[1], yr[0], yr[1]);
    }

    /** Finite min/max of all arrays, padded by {@code pad} of the span; [0, 1] when nothing is finite. */
    private static double[] range(List<double[]> arrays, double pad) {
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        for (double[] a : arrays) {
            for (double v : a) {
                if (Double.isFinite(v)) {
                    lo = Math.min(lo, v);
                    hi = Math.max(hi, v);
                }
            }
        }
        if (lo > hi) return new double[]{0, 1};
        double d = hi > lo ? pad * (hi - lo) : lo == 0 ? 1 : 0.05 * Math.abs(lo);
        return new double[]{lo - d, hi + d};
    }

    /** Multiples of a 1/2/5 x 10^k step inside [lo, hi], about five of them, since round numbers read fastest. */
    static double[] ticks(double lo, double hi) {
        double raw = (hi - lo) / 4, mag = Math.pow(10, Math.floor(Math.log10(raw))), m = raw / mag;
        if (!(raw > 0 && Double.isFinite(m))) return new double[0];
        double step = (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * mag;
        long first = (long) Math.ceil(lo / step), last = (long) Math.floor(hi / step);
        double[] t = new double[(int) Math.max(0, last - first + 1)];
        // k * step rather than repeated addition so 0.1 + 0.1 + 0.1 does not drift to 0.30000000000000004.
        for (int i = 0; i < t.length; i++) t[i] = (first + i) * step;
        return t;
    }

    /** Just enough decimals to tell neighbouring ticks apart; scientific notation when those would be unwieldy. */
    private static String format(double v, double[] ticks) {
        double step = ticks.length > 1 ? ticks[1] - ticks[0] : Math.max(Math.abs(v), 1);
        double biggest = ticks.length > 0 ? Math.max(Math.abs(ticks[0]), Math.abs(ticks[ticks.length - 1])) : Math.abs(v);
        if (biggest >= 1e6 || step < 1e-4) return String.format(Locale.ROOT, "%.2e", v);
        int decimals = (int) Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
        return String.format(Locale.ROOT, "%." + decimals + "f", v == 0 ? 0.0 : v);
    }

    /**
     * Legend in whichever plot corner covers the fewest data points, preferring top-right (empty under decreasing
     * loss curves): on small charts a fixed corner can hide the very point a reader is looking for.
     */
    private static void legend(Graphics2D g, Map<String, double[]> series, double[] x, Plot p) {
        if (series.isEmpty()) return;
        g.setFont(TICK_FONT);
        FontMetrics fm = g.getFontMetrics();
        int textW = 0;
        for (String n : series.keySet()) textW = Math.max(textW, fm.stringWidth(String.valueOf(n)));
        Rectangle a = p.area();
        int lineH = fm.getHeight() + 2, w = 34 + textW, h = series.size() * lineH + 8, x0 = 0, y0 = 0, best = -1;
        for (int corner = 0; corner < 4; corner++) {
            int cx = corner % 2 == 0 ? a.x + a.width - w - 8 : a.x + 8, cy = corner < 2 ? a.y + 8 : a.y + a.height - h - 8;
            Rectangle box = new Rectangle(cx - 4, cy - 4, w + 8, h + 8);
            int covered = 0;
            for (double[] ys : series.values()) {
                for (int i = 0; i < x.length; i++) {
                    if (Double.isFinite(x[i]) && Double.isFinite(ys[i]) && box.contains(p.px(x[i]), p.py(ys[i]))) covered++;
                }
            }
            if (best < 0 || covered < best) {
                best = covered;
                x0 = cx;
                y0 = cy;
            }
        }
        g.setColor(new Color(255, 255, 255, 230));
        g.fillRect(x0, y0, w, h);
        g.setColor(Color.GRAY);
        g.setStroke(new BasicStroke(1f));
        g.drawRect(x0, y0, w, h);
        g.setStroke(new BasicStroke(2f));
        int i = 0;
        for (String name : series.keySet()) {
            int cy = y0 + 4 + i * lineH + lineH / 2;
            g.setColor(PALETTE[i++ % PALETTE.length]);
            g.draw(new Line2D.Double(x0 + 6, cy, x0 + 24, cy));
            g.fill(new Ellipse2D.Double(x0 + 12, cy - 3, 6, 6));
            g.setColor(Color.BLACK);
            g.drawString(String.valueOf(name), x0 + 28, cy + fm.getAscent() / 2 - 1);
        }
    }

    private static int level(float v) {
        return Math.round(Math.max(0f, Math.min(1f, v)) * 255f);
    }

    private static int gray(int v) {
        return 0xFF000000 | v << 16 | v << 8 | v;
    }

    /**
     * Places PNG pictures (such as two {@link #lineChart}s) side by side on a white background, top-aligned.
     *
     * @throws IllegalArgumentException when a picture cannot be decoded or the result would be too wide
     */
    public static byte[] sideBySide(byte[]... pngs) {
        List<BufferedImage> images = new ArrayList<>();
        int width = 0, height = 0;
        for (byte[] bytes : pngs) {
            BufferedImage img;
            try {
                img = ImageIO.read(new java.io.ByteArrayInputStream(bytes));
            } catch (IOException e) {
                throw new UncheckedIOException("reading PNG from memory failed", e);
            }
            if (img == null) throw new IllegalArgumentException("not a picture ImageIO reads");
            images.add(img);
            width += img.getWidth();
            height = Math.max(height, img.getHeight());
        }
        if (images.isEmpty() || width > MAX_SIDE) {
            throw new IllegalArgumentException("side by side needs 1.." + MAX_SIDE + " px of pictures, got " + width);
        }
        BufferedImage out = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        try {
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, width, height);
            int x = 0;
            for (BufferedImage img : images) {
                g.drawImage(img, x, 0, null);
                x += img.getWidth();
            }
        } finally {
            g.dispose();
        }
        return png(out);
    }

    /** The PNG encoding of a picture. */
    public static byte[] png(BufferedImage img) {
        try (ByteArrayOutputStream out = new ByteArrayOutputStream()) {
            if (!ImageIO.write(img, "png", out)) throw new IllegalStateException("no PNG writer in this JDK");
            return out.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException("writing PNG to memory failed", e);
        }
    }
}
