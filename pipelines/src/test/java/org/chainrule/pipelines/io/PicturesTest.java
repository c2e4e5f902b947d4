package org.chainrule.pipelines.io;

import org.junit.jupiter.api.Test;

import javax.imageio.ImageIO;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Arrays;
import java.util.LinkedHashMap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PicturesTest {
    private static final int WHITE = 0xFFFFFF, BLACK = 0x000000, GRAY = 0x808080;

    private static BufferedImage decode(byte[] png) throws IOException {
        BufferedImage img = ImageIO.read(new ByteArrayInputStream(png));
        assertNotNull(img, "bytes are not a decodable PNG");
        return img;
    }

    private static int rgb(BufferedImage img, int x, int y) {
        return img.getRGB(x, y) & 0xFFFFFF;
    }

    private static float[] filled(int n, float v) {
        float[] a = new float[n];
        Arrays.fill(a, v);
        return a;
    }

    @Test
    void sideBySidePlacesPicturesLeftToRightOnWhite() throws IOException {
        float[] black = filled(4, 0f);
        byte[] small = Pictures.imageGrid(new float[][]{black}, 2, 2, 1, 1, 1); // 6x6: gray gap around black
        byte[] tall = Pictures.imageGrid(new float[][]{black, black}, 2, 2, 1, 1, 2); // 8x14
        BufferedImage both = decode(Pictures.sideBySide(small, tall));
        assertEquals(6 + 8, both.getWidth());
        assertEquals(14, both.getHeight());
        assertEquals(Color.BLACK.getRGB(), both.getRGB(2, 2)); // the first picture's pixel
        assertEquals(Color.WHITE.getRGB(), both.getRGB(2, 10)); // below the shorter picture
        assertEquals(Color.BLACK.getRGB(), both.getRGB(6 + 2, 2)); // the second picture starts at x = 6
        assertThrows(IllegalArgumentException.class, () -> Pictures.sideBySide(new byte[]{1, 2, 3}));
    }

    @Test
    void gridSizeFollowsTheFormula() throws IOException {
        float[][] five = new float[5][];
        Arrays.fill(five, filled(3 * 4, 0.5f));
        // 2 columns, 3 rows of 4x3-pixel images at scale 3, with a 2-pixel gap between and around the cells.
        BufferedImage img = decode(Pictures.imageGrid(five, 3, 4, 1, 2, 3));
        assertEquals(2 * 4 * 3 + 3 * 2, img.getWidth());
        assertEquals(3 * 3 * 3 + 4 * 2, img.getHeight());

        // Fewer images than columns: the grid shrinks to the images there are.
        BufferedImage narrow = decode(Pictures.imageGrid(Arrays.copyOf(five, 3), 3, 4, 1, 8, 1));
        assertEquals(3 * 4 + 4 * 2, narrow.getWidth());
        assertEquals(3 + 2 * 2, narrow.getHeight());
    }

    @Test
    void grayscalePixelsAndGaps() throws IOException {
        float[] black = filled(16, 0f);
        black[5] = 2f; // clamped to white: row 1, column 1
        float[][] images = {filled(16, 1f), black, filled(16, Float.NaN)};
        BufferedImage img = decode(Pictures.imageGrid(images, 4, 4, 1, 3, 2));
        assertEquals(GRAY, rgb(img, 0, 0), "border");
        assertEquals(WHITE, rgb(img, 2, 2), "first pixel of the white image");
        assertEquals(WHITE, rgb(img, 9, 9), "last pixel of the white image");
        assertEquals(GRAY, rgb(img, 10, 5), "gap between cells");
        assertEquals(GRAY, rgb(img, 11, 5), "gap between cells");
        assertEquals(BLACK, rgb(img, 12, 2), "first pixel of the black image");
        assertEquals(WHITE, rgb(img, 12 + 2, 2 + 2), "clamped pixel at scale 2");
        assertEquals(WHITE, rgb(img, 12 + 3, 2 + 3), "clamped pixel at scale 2");
        assertEquals(BLACK, rgb(img, 12 + 4, 2 + 3), "next pixel");
        assertEquals(0xFF00FF, rgb(img, 22, 2), "NaN is magenta");
        assertEquals(GRAY, rgb(img, img.getWidth() - 1, img.getHeight() - 1), "border");
    }

    @Test
    void rgbChannelsAreChannelLast() throws IOException {
        int h = 2, w = 3;
        float[] red = new float[h * w * 3];
        for (int p = 0; p < h * w; p++) red[p * 3] = 1f;
        float[] mixed = new float[h * w * 3];
        mixed[(0 * w + 1) * 3 + 1] = 1f; // row 0, column 1: green
        mixed[(1 * w + 2) * 3 + 2] = 1f; // row 1, column 2: blue
        mixed[(1 * w + 0) * 3] = 1f;     // row 1, column 0: yellow
        mixed[(1 * w + 0) * 3 + 1] = 1f;
        BufferedImage img = decode(Pictures.imageGrid(new float[][]{red, mixed}, h, w, 3, 1, 1));
        assertEquals(w + 4, img.getWidth());
        assertEquals(2 * h + 6, img.getHeight());
        for (int r = 0; r < h; r++) {
            for (int c = 0; c < w; c++) assertEquals(0xFF0000, rgb(img, 2 + c, 2 + r), "red image");
        }
        int y0 = 2 + h + 2;
        assertEquals(BLACK, rgb(img, 2, y0));
        assertEquals(0x00FF00, rgb(img, 3, y0));
        assertEquals(0xFFFF00, rgb(img, 2, y0 + 1));
        assertEquals(0x0000FF, rgb(img, 4, y0 + 1));
    }

    @Test
    void gridRejectsBadArguments() {
        float[][] one = {filled(4, 0f)};
        assertThrows(IllegalArgumentException.class, () -> Pictures.imageGrid(new float[0][], 2, 2, 1, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> Pictures.imageGrid(one, 2, 3, 1, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> Pictures.imageGrid(new float[][]{filled(4, 0f), filled(3, 0f)}, 2, 2, 1, 2, 1));
        assertThrows(IllegalArgumentException.class, () -> Pictures.imageGrid(one, 0, 2, 1, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> Pictures.imageGrid(one, 2, -2, 1, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> Pictures.imageGrid(one, 2, 2, 1, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> Pictures.imageGrid(one, 2, 2, 1, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> Pictures.imageGrid(new float[][]{filled(8, 0f)}, 2, 2, 2, 1, 1));
        IllegalArgumentException big = assertThrows(IllegalArgumentException.class,
                () -> Pictures.imageGrid(one, 2, 2, 1, 1, 10_000));
        assertTrue(big.getMessage().contains("16384"), big.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Pictures.imageGrid(one, 2, 2, 1, 1, Integer.MAX_VALUE));
    }

    private static boolean hasColour(BufferedImage img, Color c, int x0, int y0, int x1, int y1) {
        for (int y = Math.max(0, y0); y <= Math.min(img.getHeight() - 1, y1); y++) {
            for (int x = Math.max(0, x0); x <= Math.min(img.getWidth() - 1, x1); x++) {
                if (rgb(img, x, y) == (c.getRGB() & 0xFFFFFF)) return true;
            }
        }
        return false;
    }

    @Test
    void lineChartDrawsEverySeriesWhereTheDataIs() throws IOException {
        int n = 20;
        double[] epochs = new double[n], train = new double[n], valid = new double[n];
        for (int i = 0; i < n; i++) {
            epochs[i] = i + 1;
            train[i] = 100 + 50 * Math.exp(-i / 4.0);
            valid[i] = 125 + 40 * Math.exp(-i / 5.0); // above train everywhere, so no marker hides another
        }
        valid[7] = Double.NaN;
        LinkedHashMap<String, double[]> series = new LinkedHashMap<>();
        series.put("train NLL", train);
        series.put("valid NLL", valid);
        BufferedImage img = decode(Pictures.lineChart("MADE on MNIST", "epoch", "nats", epochs, series, 640, 400));
        assertEquals(640, img.getWidth());
        assertEquals(400, img.getHeight());
        assertEquals(WHITE, rgb(img, 1, 1), "white background");

        Graphics2D g = new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB).createGraphics();
        Pictures.Plot p = Pictures.layout(g, "MADE on MNIST", "epoch", "nats", epochs, series, 640, 400);
        g.dispose();
        // Points away from the top-right legend; each marker's centre must be in its series colour.
        for (int i : new int[]{0, 5, 12, 19}) {
            int tx = (int) Math.round(p.px(epochs[i])), ty = (int) Math.round(p.py(train[i]));
            assertTrue(hasColour(img, Pictures.PALETTE[0], tx - 1, ty - 1, tx + 1, ty + 1), "train point " + i);
            int vx = (int) Math.round(p.px(epochs[i])), vy = (int) Math.round(p.py(valid[i]));
            assertTrue(hasColour(img, Pictures.PALETTE[1], vx - 1, vy - 1, vx + 1, vy + 1), "valid point " + i);
        }
        // The y range is the data range plus 5%, so the extremes sit inside the plot area.
        double lo = train[n - 1], hi = valid[0];
        assertEquals(lo - 0.05 * (hi - lo), p.ylo(), 1e-9);
        assertEquals(hi + 0.05 * (hi - lo), p.yhi(), 1e-9);
    }

    @Test
    void nanOnlyAndSinglePointSeriesStillDraw() throws IOException {
        double[] x = {1, 2, 3, 4};
        LinkedHashMap<String, double[]> series = new LinkedHashMap<>();
        series.put("nothing", new double[]{Double.NaN, Double.NaN, Double.NaN, Double.NaN});
        series.put("lonely", new double[]{Double.NaN, 2.5, Double.POSITIVE_INFINITY, Double.NaN});
        BufferedImage img = decode(Pictures.lineChart(null, null, null, x, series, 200, 150));
        assertEquals(200, img.getWidth());
        assertEquals(150, img.getHeight());
        Graphics2D g = img.createGraphics();
        Pictures.Plot p = Pictures.layout(g, null, null, null, x, series, 200, 150);
        g.dispose();
        int px = (int) Math.round(p.px(2)), py = (int) Math.round(p.py(2.5));
        assertTrue(hasColour(img, Pictures.PALETTE[1], px - 1, py - 1, px + 1, py + 1), "marker of the single point");

        LinkedHashMap<String, double[]> allNan = new LinkedHashMap<>();
        allNan.put("nan", new double[]{Double.NaN, Double.NaN, Double.NaN, Double.NaN});
        assertEquals(300, decode(Pictures.lineChart("t", "x", "y", x, allNan, 300, 200)).getWidth());
        assertEquals(300, decode(Pictures.lineChart("t", "x", "y", x, new LinkedHashMap<>(), 300, 200)).getWidth());
    }

    @Test
    void lineChartRejectsBadArguments() {
        LinkedHashMap<String, double[]> ok = new LinkedHashMap<>();
        ok.put("a", new double[]{1, 2});
        LinkedHashMap<String, double[]> shortSeries = new LinkedHashMap<>(ok);
        shortSeries.put("b", new double[]{1});
        double[] x = {0, 1};
        assertThrows(IllegalArgumentException.class, () -> Pictures.lineChart("t", "x", "y", new double[0], new LinkedHashMap<>(), 300, 200));
        assertThrows(IllegalArgumentException.class, () -> Pictures.lineChart("t", "x", "y", x, shortSeries, 300, 200));
        assertThrows(IllegalArgumentException.class, () -> Pictures.lineChart("t", "x", "y", x, ok, 199, 200));
        assertThrows(IllegalArgumentException.class, () -> Pictures.lineChart("t", "x", "y", x, ok, 300, 149));
    }

    @Test
    void ticksAreRoundNumbers() {
        assertArrayEquals(new double[]{5, 10, 15, 20}, Pictures.ticks(0.4, 20.6), 1e-12);
        assertArrayEquals(new double[]{0.2, 0.4, 0.6, 0.8, 1.0}, Pictures.ticks(0.1, 1.05), 1e-12);
        assertArrayEquals(new double[]{100, 110, 120, 130, 140, 150}, Pictures.ticks(97.5, 152.5), 1e-12);
    }
}
