package org.chainrule.models.flows;

import org.chainrule.models.Seeds;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The flow architectures a user configures by name ({@code model.type}), built from a few sizes. Vectors ({@code [D]}
 * events, tabular data) and single-channel images ({@code [H, W]} events) are supported; an image flow sees
 * {@code [1, H, W]}.
 */
public final class FlowArchitectures {
    private FlowArchitectures() {
    }

    /**
     * Sizes of a flow.
     *
     * @param steps          maf/iaf: autoregressive layers; planar/radial: flow layers; realnvp: couplings (per scale
     *                       for images); glow: steps of flow per scale
     * @param hidden         hidden widths of the MADE / coupling networks of vector flows
     * @param scales         image flows: levels of the multi-scale architecture
     * @param hiddenChannels image flows: channels of the coupling networks
     * @param couplingScale  {@code tanh} (RealNVP), {@code sigmoid} (Glow) or {@code auto} (the paper's own)
     * @param logitAlpha     discrete data: the logit pre-transform's alpha (0 = none); ignored for real data
     * @param evalSamples    discrete data: dequantization draws per row when scoring
     * @param seed           seed of masks, permutations and initial rotations
     */
    public record Options(int steps, int[] hidden, int scales, int hiddenChannels, String couplingScale,
                          double logitAlpha, int evalSamples, long seed) {
        public Options {
            if (steps < 1) {
                throw new IllegalArgumentException("a flow needs at least one step, got " + steps);
            }
            hidden = hidden.clone();
        }
    }

    /** The flow {@code type} over events of {@code eventShape} with {@code levels} values (0 = real-valued). */
    public static FlowSpec build(String type, long[] eventShape, int levels, Options o) {
        Transform t = transform(type, eventShape, o);
        return new FlowSpec(type, eventShape, t, levels, levels == 0 ? 0 : o.logitAlpha(), o.evalSamples());
    }

    static Transform transform(String type, long[] shape, Options o) {
        int d = Math.toIntExact(Flows.size(shape));
        boolean image = shape.length == 2;
        if (shape.length > 2) {
            throw new IllegalArgumentException("flows take vectors [D] or single-channel images [H, W]; events of shape "
                    + Arrays.toString(shape) + " are not supported");
        }
        return switch (type) {
            case "maf", "iaf" -> Maf.chain(d, o.steps(), o.hidden(), type.equals("iaf"), o.seed());
            default -> throw new IllegalArgumentException("unknown flow type '" + type + "'; known: "
                    + FlowSpec.TYPES);
        };
    }

    /** Repeats a step factory: step i gets seed derive(seed, i). */
    static List<Transform> repeat(int n, long seed, java.util.function.LongFunction<Transform> step) {
        List<Transform> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(step.apply(Seeds.derive(seed, i)));
        }
        return out;
    }
}
