package org.chainrule.pipelines.io;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigSyntax;
import com.typesafe.config.ConfigValueFactory;

import java.util.Map;

/** Small JSON documents (manifests, summaries, model descriptions) through Typesafe Config's JSON syntax. */
public final class Json {
    private Json() {
    }

    /** Pretty JSON of a map of plain values (numbers, strings, booleans, lists, nested maps). */
    public static String render(Map<String, ?> value) {
        return ConfigValueFactory.fromMap(value).render(ConfigRenderOptions.concise().setFormatted(true).setJson(true))
                + "\n";
    }

    /** Parses a JSON document; {@code origin} names it in error messages. */
    public static Config parse(String json, String origin) {
        try {
            return ConfigFactory.parseString(json,
                    ConfigParseOptions.defaults().setSyntax(ConfigSyntax.JSON).setOriginDescription(origin));
        } catch (com.typesafe.config.ConfigException e) {
            throw new IllegalArgumentException("malformed JSON in " + origin + ": " + e.getMessage(), e);
        }
    }
}
