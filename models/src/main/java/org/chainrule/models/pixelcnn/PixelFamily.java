package org.chainrule.models.pixelcnn;

import com.typesafe.config.Config;
import org.chainrule.models.DataInfo;
import org.chainrule.models.ModelFamily;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.Section;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The masked-network image models {@code pixelcnn}, {@code gated-pixelcnn}, {@code row-lstm} and
 * {@code diagonal-bilstm}, each with its own section {@code model.<type>}: {@code filters}, the depth ({@code blocks}
 * for the PixelCNN, {@code layers} for the others), {@code output-filters} and {@code conditional}.
 */
public final class PixelFamily implements ModelFamily {
    @Override
    public List<String> types() {
        return Arrays.stream(PixelSpec.Network.values()).map(PixelSpec.Network::type).toList();
    }

    /** Before sections, the depth of every pixel network was the flat key {@code model.blocks}. */
    @Override
    public Map<String, String> renamedKeys(String type) {
        String depth = PixelSpec.Network.of(type).depthKey();
        return depth.equals("blocks") ? Map.of() : Map.of("blocks", depth);
    }

    @Override
    public ModelSpec build(String type, Section s, DataInfo data) {
        PixelSpec.Network network = PixelSpec.Network.of(type);
        int filters = s.integer("filters", 1, 4096);
        int depth = s.integer(network.depthKey(), network.minDepth(), 1000);
        int outputFilters = s.integer("output-filters", 0, 4096);
        boolean conditional = s.bool("conditional");
        if (data == null) {
            return null;
        }
        if (!data.isImage()) {
            s.problem(data.notImages(type));
        }
        if (conditional && data.classes() == 0) {
            s.problem("conditional", "= true, but the dataset has no labels");
        }
        if (!s.ok()) {
            return null;
        }
        try {
            return PixelSpec.of(network, data.eventShape(), Math.max(2, data.levels()), filters, depth)
                    .withOutputFilters(outputFilters > 0 ? outputFilters : 2 * filters)
                    .withContext(conditional ? data.classes() : 0);
        } catch (IllegalArgumentException e) {
            s.problem(s.name() + ": " + e.getMessage());
            return null;
        }
    }


    @Override
    public ModelSpec read(Config saved) {
        return PixelSpec.fromConfig(saved);
    }
}
