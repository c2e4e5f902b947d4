package org.chainrule.pipelines.io;

import org.chainrule.pipelines.Progress;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;

/**
 * {@code --if-changed}: a job whose inputs (data checksums, settings, code version) equal those recorded with its
 * existing output says "up to date" and does nothing; otherwise it runs and replaces the output. Inputs are nested
 * maps as JSON holds them; they are compared key by key after flattening, so that a difference is reported by its
 * path ({@code settings.learningRate: 0.003 then, 0.001 now}) and numbers compare by value (JSON reads {@code 2} back
 * where {@code 2.0} was written).
 */
public final class UpToDate {
    /** Differences listed in a message before the rest are counted. */
    private static final int SHOWN = 12;

    private UpToDate() {
    }

    /**
     * Whether the output's recorded inputs equal the new ones; says so, or says what changed, on the job's progress
     * channel.
     *
     * @param recorded the inputs recorded with the existing output, or null when it has none (absent, incomplete, or
     *                 written before inputs were recorded)
     */
    public static boolean check(String job, String output, Map<String, Object> recorded, Map<String, Object> now) {
        if (recorded == null) {
            Progress.say(job, "--if-changed: " + output + " holds no finished output with recorded inputs; running");
            return false;
        }
        List<String> changes = differences(recorded, now, "then", "now");
        if (changes.isEmpty()) {
            Progress.say(job, output + " is up to date (same data, settings and code); nothing to do");
            return true;
        }
        Progress.say(job, "--if-changed: the inputs of " + output + " changed, running:\n  "
                + String.join("\n  ", changes));
        return false;
    }

    /**
     * The keys whose values differ between two nested maps, one line each ({@code key: A then, B now}, with the two
     * labels given), at most {@value #SHOWN} lines and a count of the rest; empty when they are equal.
     */
    public static List<String> differences(Map<String, Object> a, Map<String, Object> b, String aLabel,
                                           String bLabel) {
        Map<String, String> x = flat(a);
        Map<String, String> y = flat(b);
        Set<String> keys = new LinkedHashSet<>(x.keySet());
        keys.addAll(y.keySet());
        List<String> out = new ArrayList<>();
        int more = 0;
        for (String k : keys) {
            String was = x.get(k);
            String is = y.get(k);
            if (!Objects.equals(was, is)) {
                if (out.size() < SHOWN) {
                    out.add(k + ": " + shortly(was) + " " + aLabel + ", " + shortly(is) + " " + bLabel);
                } else {
                    more++;
                }
            }
        }
        if (more > 0) {
            out.add("and " + more + " more");
        }
        return out;
    }

    /** Leaves by dotted path ({@code a.b[2].c}), each value as a canonical string. */
    private static Map<String, String> flat(Map<String, Object> m) {
        Map<String, String> out = new TreeMap<>();
        flatten("", m, out);
        return out;
    }

    private static void flatten(String at, Object v, Map<String, String> out) {
        if (v instanceof Map<?, ?> m) {
            m.forEach((k, x) -> flatten(at.isEmpty() ? String.valueOf(k) : at + "." + k, x, out));
        } else if (v instanceof List<?> l) {
            for (int i = 0; i < l.size(); i++) {
                flatten(at + "[" + i + "]", l.get(i), out);
            }
            if (l.isEmpty()) {
                out.put(at, "[]");
            }
        } else {
            out.put(at, canonical(v));
        }
    }

    /** Numbers by value (whole numbers exactly, so that two 64-bit seeds never compare equal by rounding). */
    private static String canonical(Object v) {
        if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte) {
            return Long.toString(((Number) v).longValue());
        }
        if (v instanceof BigInteger || v instanceof BigDecimal) {
            return new BigDecimal(v.toString()).stripTrailingZeros().toPlainString();
        }
        if (v instanceof Number n) {
            double d = n.doubleValue();
            return Double.isFinite(d) ? BigDecimal.valueOf(d).stripTrailingZeros().toPlainString() : Double.toString(d);
        }
        return String.valueOf(v);
    }

    private static String shortly(String v) {
        if (v == null) {
            return "(none)";
        }
        return v.length() > 80 ? v.substring(0, 77) + "..." : v;
    }
}
