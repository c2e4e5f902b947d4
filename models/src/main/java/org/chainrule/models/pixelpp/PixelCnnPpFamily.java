package org.chainrule.models.pixelpp;

import com.typesafe.config.Config;
import org.chainrule.models.DataInfo;
import org.chainrule.models.ModelFamily;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.Section;

import java.util.List;
import java.util.Map;

/**
 * {@code pixelcnn++} (settings {@code model.pixelcnn-pp}: {@code filters}, {@code resnet-layers}, logistic mixture
 * {@code components}, {@code dropout} inside the gated resnet layers while training); unconditional, integer pixels.
 */
public final class PixelCnnPpFamily implements ModelFamily {
    @Override
    public List<String> types() {
        return List.of(PixelCnnPpSpec.TYPE);
    }

    @Override
    public String section(String type) {
        return "pixelcnn-pp";
    }

    @Override
    public Map<String, String> renamedKeys(String type) {
        return Map.of("blocks", "resnet-layers");
    }

    @Override
    public ModelSpec build(String type, Section s, DataInfo data) {
        int filters = s.integer("filters", 1, 4096);
        int layers = s.integer("resnet-layers", 0, 1000);
        int components = s.integer("components", 1, 1000);
        double dropout = s.real("dropout", 0, 0.99);
        if (data == null) {
            return null;
        }
        if (!data.isImage()) {
            s.problem(data.notImages(type));
        }
        if (!s.ok()) {
            return null;
        }
        try {
            return PixelCnnPpSpec.of(data.eventShape(), filters, layers, components).withLevels(Math.max(2, data.levels()))
                    .withDropout(dropout);
        } catch (IllegalArgumentException e) {
            s.problem(s.name() + ": " + e.getMessage());
            return null;
        }
    }

    @Override
    public ModelSpec read(Config saved) {
        return PixelCnnPpSpec.fromConfig(saved);
    }
}
