package org.chainrule.jobs;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueFactory;
import org.chainrule.models.ModelFamilies;
import org.chainrule.models.ModelFamily;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Configurations written before model settings had per-family sections kept every model key flat under
 * {@code model} ({@code model.hidden}, {@code model.blocks}, ...). A flat key is read as the key of the chosen type's
 * section ({@code model.made.hidden}, {@code model.gated-pixelcnn.layers}) with a note; a flat key the type does not
 * read is ignored with a note when it holds the value it had by default then (it did nothing before either), and is
 * an error naming the type's section otherwise.
 */
final class LegacyModelKeys {
    private static final String MODEL = Settings.ROOT + ".model.";

    /** The flat keys and their values by default before sections (a flat key holding this changed nothing). */
    private static final Map<String, Object> OLD_DEFAULTS = Map.ofEntries(
            Map.entry("hidden", List.of(500)), Map.entry("output", "auto"), Map.entry("components", 5),
            Map.entry("conditional", false), Map.entry("masks", 1), Map.entry("order-agnostic", false),
            Map.entry("mask-seed", 1), Map.entry("direct-connections", false), Map.entry("orderings", 1),
            Map.entry("iterations", 1), Map.entry("intermediate-loss", false), Map.entry("activation", "sigmoid"),
            Map.entry("gradient-clip", 5.0), Map.entry("filters", 32), Map.entry("blocks", 4),
            Map.entry("output-filters", 0), Map.entry("latent", 32), Map.entry("decoder-hidden", List.of()),
            Map.entry("importance-samples", 100), Map.entry("flow-steps", 5), Map.entry("scales", 2),
            Map.entry("hidden-channels", 32), Map.entry("coupling-scale", "auto"), Map.entry("logit-alpha", 1e-6),
            Map.entry("dequantization-samples", 1), Map.entry("dequantization", "uniform"),
            Map.entry("dequantization-hidden", List.of(64)), Map.entry("base", "normal"),
            Map.entry("base-hidden", List.of(64)));

    private LegacyModelKeys() {
    }

    /**
     * The user's configuration with its flat model keys moved into the chosen type's section.
     *
     * @param known       every key of the reference configuration
     * @param defaultType the reference configuration's model type
     */
    static Config migrate(Config user, Set<String> known, String defaultType, List<String> problems,
                          List<String> notes) {
        String type = user.hasPath(MODEL + "type") ? stringOrNull(user, MODEL + "type") : defaultType;
        if (type == null || !ModelFamilies.types().contains(type)) {
            return user; // the bad type itself is reported where the model is read
        }
        ModelFamily family = ModelFamilies.of(type);
        String section = family.section(type);
        Map<String, String> renamed = family.renamedKeys(type);
        Config out = user;
        for (Map.Entry<String, ConfigValue> e : user.entrySet()) {
            String key = e.getKey();
            if (!key.startsWith(MODEL) || known.contains(key)) {
                continue;
            }
            String flat = key.substring(MODEL.length());
            if (flat.contains(".")) {
                continue; // inside a section: an unknown key there is reported as such
            }
            String target = MODEL + quote(section) + "." + renamed.getOrDefault(flat, flat);
            if (known.contains(target)) {
                if (user.hasPath(target)) {
                    problems.add(key + " and " + target + " are both set; keep " + target + " ("
                            + e.getValue().origin().description() + ")");
                } else {
                    out = out.withoutPath(key).withValue(target, e.getValue());
                    notes.add(key + " is read as " + target + " (model settings now live in per-model sections)");
                }
            } else if (OLD_DEFAULTS.containsKey(flat) && sameValue(OLD_DEFAULTS.get(flat), e.getValue())) {
                out = out.withoutPath(key);
                notes.add(key + " does not apply to " + type + " models and holds its old default; ignored");
            } else if (OLD_DEFAULTS.containsKey(flat)) {
                out = out.withoutPath(key);
                problems.add(key + " does not apply to " + type + " models; their settings are "
                        + MODEL + section + ".{" + String.join(", ", sectionKeys(known, MODEL + quote(section) + "."))
                        + "} (" + e.getValue().origin().description() + ")");
            }
        }
        return out;
    }

    private static String stringOrNull(Config c, String path) {
        try {
            return c.getString(path);
        } catch (ConfigException e) {
            return null;
        }
    }

    private static String quote(String section) {
        return com.typesafe.config.ConfigUtil.joinPath(section);
    }

    private static boolean sameValue(Object old, ConfigValue v) {
        Object u = v.unwrapped();
        if (old instanceof Number a && u instanceof Number b) {
            return a.doubleValue() == b.doubleValue();
        }
        return ConfigValueFactory.fromAnyRef(old).unwrapped().equals(u);
    }

    private static List<String> sectionKeys(Set<String> known, String prefix) {
        Set<String> keys = new TreeSet<>();
        known.stream().filter(k -> k.startsWith(prefix)).forEach(k -> keys.add(k.substring(prefix.length())));
        return List.copyOf(keys);
    }
}
