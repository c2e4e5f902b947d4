package org.chainrule.models.deepnade;

import com.typesafe.config.Config;
import org.chainrule.models.DataInfo;
import org.chainrule.models.ModelFamily;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.Section;

import java.util.List;

/**
 * {@code deep-nade} (settings {@code model.deep-nade}): order-agnostic DeepNADE over binary data, NADE-k with
 * {@code iterations} > 1.
 */
public final class DeepNadeFamily implements ModelFamily {
    @Override
    public List<String> types() {
        return List.of(DeepNadeSpec.TYPE);
    }

    @Override
    public ModelSpec build(String type, Section s, DataInfo data) {
        int[] hidden = s.widths("hidden");
        int orderings = s.integer("orderings", 1, 10_000);
        long maskSeed = s.seed("mask-seed");
        int iterations = s.integer("iterations", 1, 100);
        boolean intermediateLoss = s.bool("intermediate-loss");
        if (hidden.length == 0) {
            s.problem("hidden", "is empty: a deep-nade needs at least one hidden layer");
        }
        if (data != null && !data.valueType().equals("binary")) {
            s.problem("model.type = deep-nade has Bernoulli conditionals: it needs binary data, not "
                    + data.valueType());
        }
        if (data == null || !s.ok()) {
            return null;
        }
        return DeepNadeSpec.nadeK(data.eventShape(), hidden, iterations, orderings, maskSeed)
                .withIntermediateLoss(intermediateLoss);
    }

    @Override
    public ModelSpec read(Config saved) {
        return DeepNadeSpec.fromConfig(saved);
    }
}
