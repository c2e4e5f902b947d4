package org.chainrule.pipelines.detect;

import java.util.Arrays;
import java.util.List;

/**
 * The anomaly scores, each in bits per dimension, larger = more anomalous.
 *
 * <ul>
 *   <li>{@link #NLL}: -log2 p(x) / D. Raw likelihood; known to fail when the other data is simpler than the training
 *   data (Nalisnick et al. 2019, "Do deep generative models know what they don't know?"; Choi et al. 2019).</li>
 *   <li>{@link #LIKELIHOOD_RATIO}: (log2 p_background(x) - log2 p_model(x)) / D, minus the log likelihood ratio of Ren
 *   et al. 2019 ("Likelihood ratios for out-of-distribution detection"): the background model, trained on perturbed
 *   copies of the same data, captures the low-level statistics that dominate the likelihood, so they cancel.</li>
 *   <li>{@link #COMPLEXITY}: (-log2 p(x) - L(x)) / D with L(x) the length in bits of x under a generic lossless
 *   compressor (PNG for images, Deflate otherwise), the S score of Serrà et al. 2020 ("Input complexity and
 *   out-of-distribution detection with likelihood-based generative models").</li>
 *   <li>{@link #TYPICALITY}: for a batch of rows (a group), |mean of -log2 p(x) / D - the entropy estimate from the
 *   reference data|, the typicality test of Nalisnick et al. 2019b ("Detecting out-of-distribution inputs to deep
 *   generative models using typicality"), with a bootstrap threshold at the batch's size.</li>
 * </ul>
 */
public enum Method {
    NLL("nll"), LIKELIHOOD_RATIO("likelihood-ratio"), COMPLEXITY("complexity"), TYPICALITY("typicality");

    /** The names the settings take. */
    public static final List<String> NAMES = Arrays.stream(values()).map(Method::key).toList();
    private final String key;

    Method(String key) {
        this.key = key;
    }

    /** The method's name in settings and summaries. */
    public String key() {
        return key;
    }

    /** The method of a name in {@link #NAMES}. */
    public static Method of(String name) {
        for (Method m : values()) {
            if (m.key.equals(name)) {
                return m;
            }
        }
        throw new IllegalArgumentException("method must be one of " + NAMES + ", got '" + name + "'");
    }

    /** Whether the score needs a background model. */
    public boolean needsBackground() {
        return this == LIKELIHOOD_RATIO;
    }

    /** Whether the score belongs to a group of rows rather than to one row. */
    public boolean grouped() {
        return this == TYPICALITY;
    }
}
