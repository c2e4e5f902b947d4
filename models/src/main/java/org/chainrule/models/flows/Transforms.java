package org.chainrule.models.flows;

import com.typesafe.config.Config;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/** Reading transforms back from the maps their {@link Transform#toMap()} wrote. */
public final class Transforms {
    private Transforms() {
    }

    /** How each transform kind is read back, by the {@code kind} its {@link Transform#toMap()} writes. */
    private static final Map<String, Function<Config, Transform>> READERS = readers();

    private static Map<String, Function<Config, Transform>> readers() {
        Map<String, Function<Config, Transform>> r = new LinkedHashMap<>();
        r.put("chain", c -> new Chain(c.getConfigList("steps").stream().map(Transforms::fromConfig).toList()));
        r.put("masked-autoregressive", MaskedAutoregressive::fromConfig);
        r.put("permutation", Permutation::fromConfig);
        r.put("actnorm", c -> new ActNorm(shape(c, "shape")));
        r.put("invconv1x1", InvertibleConv1x1::fromConfig);
        r.put("planar", c -> new PlanarFlow(c.getLong("dim")));
        r.put("radial", c -> new RadialFlow(c.getLong("dim")));
        r.put("affine-coupling", AffineCoupling::fromConfig);
        r.put("squeeze", Squeeze::fromConfig);
        r.put("factor-out", FactorOut::fromConfig);
        return java.util.Collections.unmodifiableMap(r);
    }

    /** Transform kinds this build reads. */
    public static final List<String> KINDS = List.copyOf(READERS.keySet());

    /** Reads a transform from a parsed {@link Transform#toMap()}. */
    public static Transform fromConfig(Config c) {
        String kind = c.getString("kind");
        Function<Config, Transform> reader = READERS.get(kind);
        if (reader == null) {
            throw new IllegalArgumentException("unknown flow transform '" + kind + "'; known: " + KINDS);
        }
        return reader.apply(c);
    }

    /** Reads a transform from a map written by {@link Transform#toMap()}. */
    public static Transform fromMap(Map<String, Object> m) {
        return fromConfig(com.typesafe.config.ConfigFactory.parseMap(m));
    }

    /** A {@code long[]} shape from a config list. */
    public static long[] shape(Config c, String key) {
        return c.getLongList(key).stream().mapToLong(Long::longValue).toArray();
    }
}
