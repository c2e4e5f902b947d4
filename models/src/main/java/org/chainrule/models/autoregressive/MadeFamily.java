package org.chainrule.models.autoregressive;

import com.typesafe.config.Config;
import org.chainrule.models.DataInfo;
import org.chainrule.models.ModelFamily;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.Ordering;
import org.chainrule.models.Section;
import org.chainrule.models.conditionals.Conditionals;

import java.util.List;

/**
 * {@code made} (settings {@code model.made}: hidden widths, mask sets, ordering, direct connections, conditionals,
 * dropout)
 * and {@code fvsbn} ({@code model.fvsbn}: conditionals only; one fixed ordering, no hidden layer).
 */
public final class MadeFamily implements ModelFamily {
    @Override
    public List<String> types() {
        return List.of("made", "fvsbn");
    }

    @Override
    public ModelSpec build(String type, Section s, DataInfo data) {
        Conditionals c = Conditionals.read(s, data);
        String ordering = Ordering.read(s);
        if (type.equals("fvsbn")) {
            return c == null || !s.ok() ? null : MadeSpec.fvsbn(data.eventShape()).withFamily(c.family())
                    .withContext(c.contextSize()).withOrdering(ordering);
        }
        int[] hidden = s.widths("hidden");
        int masks = s.integer("masks", 1, 10_000);
        boolean orderAgnostic = s.bool("order-agnostic");
        long maskSeed = s.seed("mask-seed");
        boolean direct = s.bool("direct-connections");
        double dropout = s.real("dropout", 0, 0.99);
        if (hidden.length == 0) {
            s.problem("hidden", "is empty: a made needs at least one hidden layer (or use type = fvsbn)");
        }
        if (c == null || !s.ok()) {
            return null;
        }
        return MadeSpec.made(data.eventShape(), hidden, masks, orderAgnostic, maskSeed).withDirect(direct)
                .withFamily(c.family()).withContext(c.contextSize()).withOrdering(ordering).withDropout(dropout);
    }

    @Override
    public ModelSpec read(Config saved) {
        return MadeSpec.fromConfig(saved);
    }
}
