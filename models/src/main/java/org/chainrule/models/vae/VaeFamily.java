package org.chainrule.models.vae;

import com.typesafe.config.Config;
import org.chainrule.models.DataInfo;
import org.chainrule.models.ModelFamily;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.Section;

import java.util.List;
import java.util.Map;

/**
 * {@code vae} (settings {@code model.vae}): encoder and decoder widths, latent size, amortised planar flow steps,
 * importance samples for scoring, hidden activation; binary data (a Bernoulli decoder).
 */
public final class VaeFamily implements ModelFamily {
    @Override
    public List<String> types() {
        return List.of(VaeSpec.TYPE);
    }

    @Override
    public Map<String, String> renamedKeys(String type) {
        return Map.of("hidden", "encoder-hidden");
    }

    @Override
    public ModelSpec build(String type, Section s, DataInfo data) {
        int[] encoder = s.widths("encoder-hidden");
        int[] decoder = s.widths("decoder-hidden");
        int latent = s.integer("latent", 1, 100_000);
        int steps = s.integer("flow-steps", 0, 1000);
        int samples = s.integer("importance-samples", 1, 100_000);
        String activation = s.oneOf("activation", VaeSpec.ACTIVATIONS);
        if (data != null && !data.valueType().equals("binary")) {
            s.problem("model.type = vae has a Bernoulli decoder: it needs binary data, not " + data.valueType());
        }
        if (data == null || !s.ok()) {
            return null;
        }
        try {
            return VaeSpec.of(data.eventShape(), encoder, decoder.length > 0 ? decoder : reversed(encoder), latent,
                    steps, samples).withActivation(activation);
        } catch (IllegalArgumentException e) {
            s.problem(s.name() + ": " + e.getMessage());
            return null;
        }
    }

    private static int[] reversed(int[] a) {
        int[] r = new int[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = a[a.length - 1 - i];
        }
        return r;
    }

    @Override
    public ModelSpec read(Config saved) {
        return VaeSpec.fromConfig(saved);
    }
}
