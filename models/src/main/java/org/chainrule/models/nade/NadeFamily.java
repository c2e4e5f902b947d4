package org.chainrule.models.nade;

import com.typesafe.config.Config;
import org.chainrule.models.DataInfo;
import org.chainrule.models.ModelFamily;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.Section;
import org.chainrule.models.Ordering;
import org.chainrule.models.conditionals.Conditionals;

import java.util.Arrays;
import java.util.List;

/**
 * {@code nade} (settings {@code model.nade}): one hidden layer, its activation, orderings for the order-agnostic
 * model, the conditionals (a Gaussian mixture output on real data makes it RNADE) and dropout.
 */
public final class NadeFamily implements ModelFamily {
    @Override
    public List<String> types() {
        return List.of("nade");
    }

    @Override
    public ModelSpec build(String type, Section s, DataInfo data) {
        Conditionals c = Conditionals.read(s, data);
        int[] hidden = s.widths("hidden");
        int orderings = s.integer("orderings", 1, 10_000);
        long maskSeed = s.seed("mask-seed");
        String activation = s.oneOf("activation", NadeSpec.ACTIVATIONS);
        String ordering = Ordering.read(s);
        double dropout = s.real("dropout", 0, 0.99);
        if (hidden.length != 1) {
            s.problem("hidden", "= " + Arrays.toString(hidden) + ": a nade has exactly one hidden layer");
        }
        if (c == null || !s.ok()) {
            return null;
        }
        return NadeSpec.of(data.eventShape(), c.family(), hidden[0]).withOrderings(orderings, maskSeed)
                .withContext(c.contextSize()).withActivation(activation).withOrdering(ordering)
                .withDropout(dropout);
    }

    @Override
    public ModelSpec read(Config saved) {
        return NadeSpec.fromConfig(saved);
    }
}
