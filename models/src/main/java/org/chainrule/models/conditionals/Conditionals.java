package org.chainrule.models.conditionals;

import org.chainrule.models.DataInfo;
import org.chainrule.models.Section;

import java.util.List;

/**
 * The conditionals an autoregressive model's settings ask for, resolved against the data: the {@link OutputFamily}
 * ({@code output}: auto picks Bernoulli for binary data, categorical for integers, a Gaussian mixture of
 * {@code components} for real values) and, with {@code conditional = true}, the size of the one-hot label context.
 *
 * @param family      the family of every conditional
 * @param contextSize label classes the model is conditioned on; 0 when unconditional
 */
public record Conditionals(OutputFamily family, int contextSize) {
    /** Values of the {@code output} key. */
    public static final List<String> OUTPUTS = List.of("auto", "bernoulli", "categorical", "gaussian", "mixture");

    /**
     * Reads {@code output}, {@code components} and {@code conditional} from a model's section. Returns null when the
     * data is not known yet ({@code data == null}) or a problem was found.
     */
    public static Conditionals read(Section s, DataInfo data) {
        String output = s.oneOf("output", OUTPUTS);
        int components = s.integer("components", 1, 1000);
        boolean conditional = s.bool("conditional");
        if (data == null) {
            return null;
        }
        String resolved = !output.equals("auto") ? output : switch (data.valueType()) {
            case "binary" -> "bernoulli";
            case "uint8" -> "categorical";
            default -> "mixture";
        };
        String needs = switch (resolved) {
            case "bernoulli" -> "binary";
            case "categorical" -> "uint8";
            default -> "real";
        };
        // a categorical model over two levels is a (less efficient) Bernoulli model: allowed on binary data
        if (!needs.equals(data.valueType()) && !(resolved.equals("categorical") && data.valueType().equals("binary"))) {
            s.problem("output", "= " + resolved + " models " + needs + " data, but the dataset holds "
                    + data.valueType() + " values");
        }
        if (conditional && data.classes() == 0) {
            s.problem("conditional", "= true, but the dataset has no labels");
        }
        if (!s.ok()) {
            return null;
        }
        return new Conditionals(OutputFamily.of(resolved, Math.max(2, data.levels()), components),
                conditional ? data.classes() : 0);
    }
}
