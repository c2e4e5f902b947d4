package org.chainrule.models;

import java.util.SplittableRandom;

/**
 * The order in which an autoregressive model generates the dimensions of an event, as a value: {@code raster}
 * (dimension 0 first, the flattened event's own order) or one seeded random permutation, written as its seed. A
 * random first ordering lets the early conditionals see scattered context instead of the empty top rows of an image
 * (pytorch-made's default; it trains MADE on MNIST markedly faster than raster order).
 */
public final class Ordering {
    /** The name of the raster ordering. */
    public static final String RASTER = "raster";
    /** The seed of the permutation the setting {@code random} names. */
    public static final long RANDOM_SEED = 1;

    private Ordering() {
    }

    /**
     * The model's first ordering from a setting: {@code raster}, {@code random} (the permutation of seed
     * {@link #RANDOM_SEED}) or a whole number (the permutation's seed). Returns {@code raster} or the seed as a decimal
     * string, the form specs store; throws on anything else.
     */
    public static String parse(String setting) {
        String v = setting.trim();
        if (v.equals(RASTER)) {
            return RASTER;
        }
        if (v.equals("random")) {
            return Long.toString(RANDOM_SEED);
        }
        try {
            return Long.toString(Long.parseLong(v));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("an ordering is raster, random or a whole-number seed, got '" + setting
                    + "'");
        }
    }

    /** The {@code ordering} key of a model's settings section, parsed; a bad value is a problem (and raster). */
    public static String read(Section s) {
        String v = s.text("ordering");
        try {
            return parse(v);
        } catch (IllegalArgumentException e) {
            s.problem("ordering", "= " + v + ": " + e.getMessage());
            return RASTER;
        }
    }

    /**
     * The first ordering a stored value names: ordering[t] = the dimension generated t-th.
     *
     * @param first {@code raster} or a seed, as {@link #parse} returns
     */
    public static int[] first(int dim, String first) {
        return first.equals(RASTER) ? identity(dim) : shuffled(dim, Seeds.derive(Long.parseLong(first), 0, 0));
    }

    /** A Fisher-Yates shuffle of 0..dim-1 driven by one seed. */
    public static int[] shuffled(int dim, long seed) {
        int[] o = identity(dim);
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = dim - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = o[i];
            o[i] = o[j];
            o[j] = t;
        }
        return o;
    }

    private static int[] identity(int dim) {
        int[] o = new int[dim];
        for (int d = 0; d < dim; d++) {
            o[d] = d;
        }
        return o;
    }
}
