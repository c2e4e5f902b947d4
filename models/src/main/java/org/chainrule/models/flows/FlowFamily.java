package org.chainrule.models.flows;

import com.typesafe.config.Config;
import org.chainrule.models.DataInfo;
import org.chainrule.models.ModelFamily;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.Section;

import java.util.List;
import java.util.Map;

/**
 * The normalizing flows {@code maf}, {@code iaf}, {@code realnvp}, {@code glow}, {@code planar} and {@code radial},
 * all configured by one section, {@code model.flow} (steps, coupling and MADE widths, scales, dequantization, base
 * distribution); {@link FlowArchitectures} builds each type from it.
 */
public final class FlowFamily implements ModelFamily {
    @Override
    public List<String> types() {
        return FlowArchitectures.TYPES;
    }

    @Override
    public String section(String type) {
        return "flow";
    }

    @Override
    public Map<String, String> renamedKeys(String type) {
        return Map.of("flow-steps", "steps", "components", "base-components", "mask-seed", "seed");
    }

    @Override
    public ModelSpec build(String type, Section s, DataInfo data) {
        int steps = s.integer("steps", 1, 1000);
        int[] hidden = s.widths("hidden");
        int scales = s.integer("scales", 1, 10);
        int channels = s.integer("hidden-channels", 1, 4096);
        String scale = s.oneOf("coupling-scale", List.of("auto", "tanh", "sigmoid"));
        double alpha = s.real("logit-alpha", 0, 0.499);
        int draws = s.integer("dequantization-samples", 1, 10_000);
        String dequantization = s.oneOf("dequantization", Dequantization.MODES);
        int[] dequantizationHidden = s.widths("dequantization-hidden");
        String base = s.oneOf("base", BaseDistribution.KINDS);
        int[] baseHidden = s.widths("base-hidden");
        int components = s.integer("base-components", 1, 1000);
        long seed = s.seed("seed");
        boolean vectorNetworks = type.equals("maf") || type.equals("iaf")
                || type.equals("realnvp") && data != null && data.eventShape().length == 1;
        if (vectorNetworks && hidden.length == 0) {
            s.problem("hidden", "is empty: a " + type + " needs at least one hidden layer");
        }
        if (data != null && data.text()) {
            s.problem("model.type = " + type + ": flows model numbers, not text");
        }
        if (data == null || !s.ok()) {
            return null;
        }
        try {
            return FlowArchitectures.build(type, data.eventShape(), data.isReal() ? 0 : Math.max(2, data.levels()),
                    new FlowArchitectures.Options(steps, hidden, scales, channels, scale, alpha, draws, seed,
                            dequantization, dequantizationHidden, base, baseHidden, components));
        } catch (IllegalArgumentException e) {
            s.problem("model.flow: " + e.getMessage());
            return null;
        }
    }

    @Override
    public ModelSpec read(Config saved) {
        return FlowSpec.fromConfig(saved);
    }
}
