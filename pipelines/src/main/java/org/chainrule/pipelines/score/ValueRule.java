package org.chainrule.pipelines.score;

import org.chainrule.pipelines.data.Binarization;
import org.chainrule.pipelines.data.Domain;

import java.io.Serializable;
import java.util.List;

/**
 * How one raw input value becomes a model input, and why a value is refused: the deterministic part of the encoding
 * the model's data went through (prepare's threshold, the integer levels, the text vocabulary), applied again; what
 * cannot be repeated (stochastic binarization) is refused with a way out. Real values pass as they are: their
 * standardization and its Jacobian belong to the density ({@link Domain#originalUnits}).
 *
 * <p>Every refusal starts with its kind before a colon ({@code not a number}, {@code outside the domain},
 * {@code non-binary value}, {@code non-integer value}, {@code unknown character}, {@code bad label}, ...), so a summary
 * can count them by kind.
 */
public final class ValueRule implements Serializable {
    /**
     * Values of the {@code binarize} setting: {@code auto} applies the model's own rule (a recorded threshold; 0/1
     * values for a model of stochastically binarized data); {@code threshold} thresholds raw values at max-value / 2
     * as prepare's threshold mode does; {@code none} takes the values as already encoded.
     */
    public static final List<String> MODES = List.of("auto", "threshold", "none");

    private enum Kind { REAL, LEVELS, THRESHOLD }

    private final Kind kind;
    private final int levels;
    private final Binarization threshold;
    private final String binaryHint;
    private final String vocabulary;
    private final int classes;
    private transient int[] characterIndex;

    private ValueRule(Kind kind, int levels, Binarization threshold, String binaryHint, String vocabulary,
                      int classes) {
        this.kind = kind;
        this.levels = levels;
        this.threshold = threshold;
        this.binaryHint = binaryHint;
        this.vocabulary = vocabulary;
        this.classes = classes;
    }

    /**
     * The rule for raw values of a model's data.
     *
     * @param domain   the model's data domain (from its model.json)
     * @param binarize one of {@link #MODES}
     * @param classes  label classes of a class-conditional model (0 when unconditional)
     * @throws IllegalArgumentException when the setting does not apply to the model
     */
    public static ValueRule of(Domain domain, String binarize, int classes) {
        if (!MODES.contains(binarize)) {
            throw new IllegalArgumentException("binarize must be one of " + MODES + ", got '" + binarize + "'");
        }
        boolean thresholdAsked = binarize.equals("threshold");
        if (domain.isReal()) {
            if (thresholdAsked) {
                throw new IllegalArgumentException("binarize = threshold: the model is a density of real values,"
                        + " which are not binarized (leave binarize = auto)");
            }
            return new ValueRule(Kind.REAL, 0, null, "", null, classes);
        }
        if (!domain.valueType().equals("binary")) {
            if (thresholdAsked) {
                throw new IllegalArgumentException("binarize = threshold: the model's values are the integers 0.."
                        + (domain.levels() - 1) + (domain.vocabulary() != null ? " (characters)" : "")
                        + ", not binarized (leave binarize = auto)");
            }
            return new ValueRule(Kind.LEVELS, domain.levels(), null, "", domain.vocabulary(), classes);
        }
        Binarization recorded = domain.binarization();
        if (thresholdAsked) {
            if (recorded == null) {
                throw new IllegalArgumentException("binarize = threshold: the model does not record the max-value its"
                        + " data was binarized against (it was trained before models kept it); threshold the values"
                        + " yourself and pass 0/1 values");
            }
            return new ValueRule(Kind.THRESHOLD, 2, new Binarization("threshold", recorded.maxValue()), "", null,
                    classes);
        }
        if (binarize.equals("auto") && recorded != null && recorded.mode().equals("threshold")) {
            return new ValueRule(Kind.THRESHOLD, 2, recorded, "", null, classes);
        }
        String hint = binarize.equals("auto") && recorded != null && recorded.mode().equals("stochastic")
                ? "; the model was trained on stochastically binarized values 0.." + number(recorded.maxValue())
                + ", which cannot be repeated: pass 0/1 values, or set binarize = threshold (values >= "
                + number(recorded.maxValue() / 2) + " become 1)"
                : "";
        return new ValueRule(Kind.LEVELS, 2, null, hint, null, classes);
    }

    /** The rule for values as prepare stores them (already encoded): the levels, or float32 for real data. */
    public static ValueRule stored(Domain domain, int classes) {
        return of(domain, "none", classes);
    }

    /** This rule for already encoded values. */
    ValueRule forStored() {
        return kind == Kind.THRESHOLD || !binaryHint.isEmpty()
                ? new ValueRule(Kind.LEVELS, levels, null, "", vocabulary, classes) : this;
    }

    /** Real values: what prepare stores them as (float32 little-endian in a binary column). */
    boolean real() {
        return kind == Kind.REAL;
    }

    /** Whether strings are read as characters of the model's vocabulary. */
    boolean text() {
        return vocabulary != null;
    }

    /** One phrase for the summary: what is done to the input values. */
    public String describe() {
        return switch (kind) {
            case REAL -> "real values as given (the model standardizes them and includes the Jacobian)";
            case THRESHOLD -> "raw values 0.." + number(threshold.maxValue()) + ", set to 1 when >= "
                    + number(threshold.maxValue() / 2) + " (prepare's threshold)";
            default -> vocabulary != null ? "characters of the model's vocabulary (" + levels + "), or their indices"
                    : levels == 2 ? "0/1 values" : "integer values 0.." + (levels - 1);
        };
    }

    /** The model input for raw value {@code v}, or NaN when the value is refused ({@link #refusal} says why). */
    public float encode(double v) {
        switch (kind) {
            case REAL -> {
                return (float) v; // NaN stays NaN; a value beyond float32 becomes infinite, refused by the caller
            }
            case THRESHOLD -> {
                return v >= 0 && v <= threshold.maxValue() ? threshold.threshold(v) : Float.NaN;
            }
            default -> {
                return v >= 0 && v < levels && v == Math.rint(v) ? (float) v : Float.NaN;
            }
        }
    }

    /** Whether an encoded value is usable: a finite number. */
    static boolean usable(float encoded) {
        return Float.isFinite(encoded);
    }

    /** Why raw value {@code v}, found at {@code where} (e.g. "column p3"), is refused. */
    public String refusal(String where, double v) {
        if (Double.isNaN(v)) {
            return "not a number: " + where + " is NaN";
        }
        if (Double.isInfinite(v)) {
            return "not a number: " + where + " is " + v;
        }
        return switch (kind) {
            case REAL -> "outside the domain: " + where + " = " + v + " does not fit in float32";
            case THRESHOLD -> "outside the domain: " + where + " = " + number(v) + " outside [0, "
                    + number(threshold.maxValue()) + "]";
            default -> levels == 2 && vocabulary == null
                    ? "non-binary value: " + where + " = " + number(v) + " (a Bernoulli model takes 0 or 1"
                    + binaryHint + ")"
                    : v != Math.rint(v) ? "non-integer value: " + where + " = " + v + " (the model's values are the"
                    + " integers 0.." + (levels - 1) + ")"
                    : "outside the domain: " + where + " = " + number(v) + " outside 0.." + (levels - 1);
        };
    }

    /** The model input of character {@code c} (its index in the vocabulary), or -1 when unknown. */
    int character(char c) {
        int[] index = characterIndex;
        if (index == null) {
            index = new int[Character.MAX_VALUE + 1];
            java.util.Arrays.fill(index, -1);
            for (int i = 0; i < vocabulary.length(); i++) {
                index[vocabulary.charAt(i)] = i;
            }
            characterIndex = index;
        }
        return index[c];
    }

    static String unknownCharacter(String where, int position, char c) {
        return String.format("unknown character: '%s' (U+%04X) at position %d of %s is not in the model's"
                + " vocabulary", Character.isISOControl(c) ? "?" : String.valueOf(c), (int) c, position, where);
    }

    /** The class of a label value, or -1 when it is not one ({@link #labelRefusal} says why). */
    int label(Object value) {
        double v;
        try {
            v = number(value);
        } catch (NumberFormatException e) {
            return -1;
        }
        return v >= 0 && v < classes && v == Math.rint(v) ? (int) v : -1;
    }

    String labelRefusal(Object value) {
        if (value == null) {
            return "bad label: missing (null); the model is conditioned on a class 0.." + (classes - 1);
        }
        return "bad label: " + (value instanceof String s ? "'" + s + "'" : value) + " is not a class of the model (0.."
                + (classes - 1) + ")";
    }

    /** A number, or a string holding one; anything else throws {@link NumberFormatException}. */
    static double number(Object value) {
        if (value instanceof Number n) {
            return n.doubleValue();
        }
        if (value instanceof String s) {
            return Double.parseDouble(s.trim());
        }
        throw new NumberFormatException(value == null ? "null" : value.getClass().getSimpleName());
    }

    /** "255" rather than "255.0" for whole numbers. */
    static String number(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? String.valueOf((long) v) : String.valueOf(v);
    }
}
