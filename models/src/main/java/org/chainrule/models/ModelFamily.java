package org.chainrule.models;

import com.typesafe.config.Config;

import java.util.List;
import java.util.Map;

/**
 * A family of models as the jobs see it: the {@code model.type} names it builds, its own settings section
 * ({@code model.<section>}, documented in the jobs' {@code reference.conf}), how it turns those settings and the data
 * into a {@link ModelSpec}, and how it reads a saved spec back. Each model package registers one in
 * {@code META-INF/services/org.chainrule.models.ModelFamily}; {@link ModelFamilies} finds them, so nothing outside a
 * family switches on its type names.
 */
public interface ModelFamily {

    /** The {@code model.type} names this family builds, e.g. {@code made} and {@code fvsbn}. */
    List<String> types();

    /** The settings section of a type: its keys live under {@code model.<section>}; by default the type's name. */
    default String section(String type) {
        return type;
    }

    /**
     * Reads the type's section and builds its spec for the data. With {@code data == null} it only checks what it can
     * before the data is read, and returns null. Every problem goes to the section (never thrown); null is returned
     * when there is any.
     */
    ModelSpec build(String type, Section settings, DataInfo data);

    /** Reads a spec of this family back from what its {@link ModelSpec#toMap()} wrote. */
    ModelSpec read(Config saved);

    /**
     * Keys of configurations written before settings had sections: a flat {@code model.<old>} key that this type now
     * reads as {@code model.<section>.<new>}, old name to new name. A flat key whose name is also a key of the section
     * needs no entry.
     */
    default Map<String, String> renamedKeys(String type) {
        return Map.of();
    }
}
