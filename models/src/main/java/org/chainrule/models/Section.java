package org.chainrule.models;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * One section of a job configuration (for example {@code model.made} or {@code train}), read with types and ranges.
 * A bad value does not throw: the problem is added to a list shared by every section of the configuration, so a job
 * reports all of its problems at once before it starts, and the reader returns a harmless fallback meanwhile.
 * Messages name the full key ({@code chainrule.model.made.masks = 0 must be in [1, 10000]}).
 */
public final class Section {
    private final Config config;
    private final String root;
    private final String prefix;
    private final List<String> problems;

    /**
     * @param config   the resolved configuration below {@code root}
     * @param root     the name of the configuration's root block, used in messages ({@code chainrule})
     * @param prefix   this section's path below the root ({@code model.made}); "" for the root itself
     * @param problems where problems are collected
     */
    public Section(Config config, String root, String prefix, List<String> problems) {
        this.config = config;
        this.root = root;
        this.prefix = prefix;
        this.problems = problems;
    }

    /** A sub-section, e.g. {@code section("train").section("recipe")}. */
    public Section section(String name) {
        return new Section(config, root, path(name), problems);
    }

    /** The key's path below the configuration root. */
    public String path(String key) {
        return prefix.isEmpty() ? key : prefix + "." + key;
    }

    /** The section's own full name, e.g. {@code chainrule.model.made}. */
    public String name() {
        return prefix.isEmpty() ? root : root + "." + prefix;
    }

    /** The key's full name as users write it, for messages. */
    public String name(String key) {
        return root + "." + path(key);
    }

    /** Whether the configuration sets the key. */
    public boolean has(String key) {
        return config.hasPath(path(key));
    }

    /** Records a problem with one key: {@code chainrule.<key> <message>}. */
    public void problem(String key, String message) {
        problems.add(name(key) + " " + message);
    }

    /** Records a problem in the caller's own words. */
    public void problem(String message) {
        problems.add(message);
    }

    /** Whether no problem has been found so far, in this section or any other of the same configuration. */
    public boolean ok() {
        return problems.isEmpty();
    }

    private <T> T read(String key, Supplier<T> reader, T fallback) {
        try {
            return reader.get();
        } catch (ConfigException e) {
            problems.add(name(key) + ": " + e.getMessage().replaceFirst("^.*?: ", ""));
            return fallback;
        }
    }

    /** A non-empty string. */
    public String string(String key) {
        String v = read(key, () -> config.getString(path(key)), "");
        if (v.isBlank() && has(key)) {
            problem(key, "must not be empty");
        }
        return v;
    }

    /** A string that may be empty. */
    public String text(String key) {
        return read(key, () -> config.getString(path(key)), "");
    }

    /** One of the allowed strings. */
    public String oneOf(String key, List<String> allowed) {
        String v = read(key, () -> config.getString(path(key)), allowed.get(0));
        if (!allowed.contains(v)) {
            problems.add(name(key) + " = " + v + " is not one of " + allowed);
            return allowed.get(0);
        }
        return v;
    }

    /**
     * A whole number in {@code [min, max]}. A fractional value such as {@code 2.9} is an error, not truncated (Typesafe
     * Config's own getters would truncate it).
     */
    public long whole(String key, long min, long max) {
        long v = read(key, () -> {
            ConfigValue raw = config.getValue(path(key));
            if (!isWhole(raw.unwrapped())) {
                throw new ConfigException.BadValue(raw.origin(), path(key), "must be a whole number, got "
                        + raw.render());
            }
            return config.getLong(path(key));
        }, min);
        if (v < min || v > max) {
            problems.add(name(key) + " = " + v + " must be in [" + min + ", " + max + "]");
            return min;
        }
        return v;
    }

    /** Whether a configuration value is a whole number (a fraction or a number beyond 2^53 is not). */
    private static boolean isWhole(Object value) {
        return value instanceof Integer || value instanceof Long
                || value instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue())
                && Math.abs(n.doubleValue()) <= 0x1p53
                || value instanceof String text && text.trim().matches("[+-]?[0-9]+");
    }

    /**
     * A list of whole numbers that fit an int, each checked as {@link #whole} checks one ({@code getIntList} would
     * truncate {@code 2.9} to 2); a bad element is reported with its index and read as 0.
     */
    private List<Integer> wholes(String key, List<Integer> fallback) {
        List<ConfigValue> raw = read(key, () -> config.getList(path(key)), null);
        if (raw == null) {
            return fallback;
        }
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < raw.size(); i++) {
            Object value = raw.get(i).unwrapped();
            long v = isWhole(value) ? value instanceof String text ? Long.parseLong(text.trim())
                    : ((Number) value).longValue() : 0;
            if (!isWhole(value) || v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
                problems.add(name(key) + "[" + i + "] = " + raw.get(i).render() + " must be a whole number"
                        + (isWhole(value) ? " that fits an int" : ""));
                v = 0;
            }
            out.add((int) v);
        }
        return out;
    }

    /** A whole number in {@code [min, max]} that fits an int. */
    public int integer(String key, int min, int max) {
        return (int) whole(key, min, max);
    }

    /** Any long (a seed). */
    public long seed(String key) {
        return whole(key, Long.MIN_VALUE, Long.MAX_VALUE);
    }

    /** A finite real number in {@code [min, max]}. */
    public double real(String key, double min, double max) {
        double v = read(key, () -> config.getDouble(path(key)), min);
        if (!(v >= min && v <= max)) {
            problems.add(name(key) + " = " + v + " must be in [" + min + ", " + max + "]");
            return min;
        }
        return v;
    }

    public boolean bool(String key) {
        return read(key, () -> config.getBoolean(path(key)), false);
    }

    /** A list of strings; a single string is read as a list of one. */
    public List<String> strings(String key) {
        if (has(key) && config.getValue(path(key)).valueType() == ConfigValueType.STRING) {
            return List.of(config.getString(path(key)));
        }
        return read(key, () -> config.getStringList(path(key)), List.of());
    }

    /** A list of positive layer widths (may be empty). */
    public int[] widths(String key) {
        List<Integer> w = wholes(key, List.of());
        if (w.stream().anyMatch(h -> h < 1)) {
            problems.add(name(key) + " = " + w + " must hold positive widths");
        }
        return w.stream().mapToInt(Integer::intValue).toArray();
    }

    /** A non-empty list of positive sizes (an event shape). */
    public long[] shape(String key) {
        List<Long> v = wholes(key, List.of(1)).stream().map(Integer::longValue).toList();
        if (v.isEmpty() || v.stream().anyMatch(d -> d < 1)) {
            problems.add(name(key) + " = " + v + " must be a non-empty list of positive sizes");
            return new long[]{1};
        }
        return v.stream().mapToLong(Long::longValue).toArray();
    }

    /** A list of whole numbers. */
    public List<Integer> ints(String key) {
        return wholes(key, List.of());
    }
}
