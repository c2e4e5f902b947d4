package org.chainrule.pipelines.data;

import org.chainrule.models.Seeds;

import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The input perturbation of Ren et al. 2019 ("Likelihood ratios for out-of-distribution detection"): each encoded
 * value is, with probability {@code fraction} (their mu), replaced by a value drawn uniformly from all the data's
 * values (for binary data: the bit is flipped, which a uniform draw among the other value amounts to). A model
 * trained on data perturbed this way (the background model) learns the population-level statistics but not the
 * semantics, so the ratio of the two likelihoods cancels the former. The draws depend only on the seed and the
 * record's place (split, file, row, value), so the same copy comes out on every run and cluster.
 *
 * @param fraction the probability mu of perturbing each value, in [0, 1]; 0 = no perturbation
 * @param seed     root seed of the draws
 */
public record Perturbation(double fraction, long seed) implements Serializable {
    public Perturbation {
        if (!(fraction >= 0 && fraction <= 1)) {
            throw new IllegalArgumentException("perturb.fraction must be in [0, 1], got " + fraction);
        }
    }

    /** No perturbation. */
    public static Perturbation none() {
        return new Perturbation(0, 1);
    }

    public boolean active() {
        return fraction > 0;
    }

    /**
     * The record with its values perturbed (bad records and an inactive perturbation: unchanged).
     *
     * @param levels values per dimension (2 = binary)
     * @throws IllegalArgumentException for real-valued data (levels 0), which has no uniform draw
     */
    public SourceRecord apply(SourceRecord r, int levels) {
        if (!active() || !r.ok()) {
            return r;
        }
        if (levels < 2) {
            throw new IllegalArgumentException("perturb.fraction > 0 needs discrete values (binary, integer levels"
                    + " or text); real-valued data has no uniform resampling");
        }
        byte[] x = r.x().clone();
        long rowSeed = Seeds.derive(Seeds.derive(seed, r.split().hashCode()), r.fileIndex(), r.row());
        for (int d = 0; d < x.length; d++) {
            long s = Seeds.derive(rowSeed, d);
            if (Seeds.uniform(s) < fraction) {
                int other = (int) Math.min(levels - 2, Math.floor(Seeds.uniform(Seeds.derive(s, 1)) * (levels - 1)));
                int v = Byte.toUnsignedInt(x[d]);
                // a uniform draw among the other levels: an actual change, as flipping a bit is
                x[d] = (byte) (other >= v ? other + 1 : other);
            }
        }
        return new SourceRecord(r.split(), r.file(), r.fileIndex(), r.row(), r.label(), x, r.column(), r.error());
    }

    /** What the manifest records. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("fraction", fraction);
        m.put("seed", seed);
        return m;
    }
}
