package org.chainrule.models.flows;

import com.typesafe.config.Config;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Reading transforms back from the maps their {@link Transform#toMap()} wrote. */
public final class Transforms {
    private Transforms() {
    }

    /** Transform kinds this build reads. */
    public static final List<String> KINDS = List.of("chain", "masked-autoregressive", "permutation", "actnorm", "invconv1x1",
            "planar", "radial", "affine-coupling", "squeeze", "factor-out");

    /** Reads a transform from a parsed {@link Transform#toMap()}. */
    public static Transform fromConfig(Config c) {
        String kind = c.getString("kind");
        return switch (kind) {
            case "chain" -> {
                List<Transform> steps = new ArrayList<>();
                for (Config s : c.getConfigList("steps")) {
                    steps.add(fromConfig(s));
                }
                yield new Chain(steps);
            }
            case "masked-autoregressive" -> MaskedAutoregressive.fromConfig(c);
            case "permutation" -> Permutation.fromConfig(c);
            case "actnorm" -> new ActNorm(shape(c, "shape"));
            case "invconv1x1" -> InvertibleConv1x1.fromConfig(c);
            case "planar" -> new PlanarFlow(c.getLong("dim"));
            case "radial" -> new RadialFlow(c.getLong("dim"));
            case "affine-coupling" -> AffineCoupling.fromConfig(c);
            case "squeeze" -> Squeeze.fromConfig(c);
            case "factor-out" -> FactorOut.fromConfig(c);
            default -> throw new IllegalArgumentException("unknown flow transform '" + kind + "'; known: " + KINDS);
        };
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
