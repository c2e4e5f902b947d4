package org.chainrule.models;

import com.typesafe.config.Config;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;

/**
 * The registry of model families: every {@link ModelFamily} listed in
 * {@code META-INF/services/org.chainrule.models.ModelFamily} on the class path, found once. The jobs look a
 * {@code model.type} up here; saved models are read back through it.
 */
public final class ModelFamilies {
    private static final Map<String, ModelFamily> BY_TYPE = load();

    private ModelFamilies() {
    }

    private static Map<String, ModelFamily> load() {
        Map<String, ModelFamily> byType = new LinkedHashMap<>();
        for (ModelFamily f : ServiceLoader.load(ModelFamily.class, ModelFamily.class.getClassLoader())) {
            for (String type : f.types()) {
                ModelFamily before = byType.put(type, f);
                if (before != null) {
                    throw new IllegalStateException("model type " + type + " is registered twice: by "
                            + before.getClass().getName() + " and " + f.getClass().getName());
                }
            }
        }
        return byType;
    }

    /** Every model type name, in registration order. */
    public static List<String> types() {
        return new ArrayList<>(BY_TYPE.keySet());
    }

    /** The family of a type, or an error listing the known types. */
    public static ModelFamily of(String type) {
        ModelFamily f = BY_TYPE.get(type);
        if (f == null) {
            throw new IllegalArgumentException("unknown model type '" + type + "'; known: " + types());
        }
        return f;
    }

    /** The distinct families. */
    public static List<ModelFamily> all() {
        return BY_TYPE.values().stream().distinct().toList();
    }

    /** Reads a spec written by {@link ModelSpec#toMap()} (its {@code type} names the family). */
    public static ModelSpec read(Config saved) {
        return of(saved.getString("type")).read(saved);
    }
}
