package org.chainrule.models.flows;

import org.chainrule.models.Seeds;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

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
     * @param dequantization discrete data: {@code uniform} or {@code variational} ({@link Dequantization});
     *                       ignored for real data
     * @param dequantizationHidden variational dequantization: hidden widths of q's conditioner (may be empty)
     * @param base           {@code normal} or {@code made-mog} ({@link BaseDistribution}; vector events only)
     * @param baseHidden     made-mog: hidden widths of the base's MADE (may be empty)
     * @param baseComponents made-mog: Gaussian components per conditional
     */
    public record Options(int steps, int[] hidden, int scales, int hiddenChannels, String couplingScale,
                          double logitAlpha, int evalSamples, long seed, String dequantization,
                          int[] dequantizationHidden, String base, int[] baseHidden, int baseComponents) {
        public Options {
            if (steps < 1) {
                throw new IllegalArgumentException("a flow needs at least one step, got " + steps);
            }
            hidden = hidden.clone();
            dequantizationHidden = dequantizationHidden.clone();
            baseHidden = baseHidden.clone();
            if (!Dequantization.MODES.contains(dequantization)) {
                throw new IllegalArgumentException("dequantization must be one of " + Dequantization.MODES + ", got "
                        + dequantization);
            }
            if (!BaseDistribution.KINDS.contains(base)) {
                throw new IllegalArgumentException("flow base must be one of " + BaseDistribution.KINDS + ", got "
                        + base);
            }
        }

        /** Uniform dequantization and a standard normal base. */
        public Options(int steps, int[] hidden, int scales, int hiddenChannels, String couplingScale,
                       double logitAlpha, int evalSamples, long seed) {
            this(steps, hidden, scales, hiddenChannels, couplingScale, logitAlpha, evalSamples, seed, "uniform",
                    new int[0], "normal", new int[0], 1);
        }
    }

    /**
     * The flow {@code type} over events of {@code eventShape} with {@code levels} values (0 = real-valued). The
     * made-mog base is offered for vector events only (its sampler runs D sequential MADE passes).
     */
    public static FlowSpec build(String type, long[] eventShape, int levels, Options o) {
        Transform t = transform(type, eventShape, o);
        Dequantization dq = levels > 0 && o.dequantization().equals("variational")
                ? Dequantization.variational(o.dequantizationHidden()) : Dequantization.UNIFORM;
        BaseDistribution base = BaseDistribution.NORMAL;
        if (o.base().equals("made-mog")) {
            if (eventShape.length != 1) {
                throw new IllegalArgumentException("the made-mog base is for vector events [D]; events of shape "
                        + Arrays.toString(eventShape) + " keep the normal base");
            }
            base = BaseDistribution.madeMog(o.baseHidden(), o.baseComponents(), Seeds.derive(o.seed(), -2));
        }
        return new FlowSpec(type, eventShape, t, levels, levels == 0 ? 0 : o.logitAlpha(), o.evalSamples(), dq,
                base);
    }

    /** Builds the learned transform of one architecture over events of a shape. */
    @FunctionalInterface
    interface Architecture {
        /**
         * @param shape events as the transform sees them: {@code [D]} for vectors, {@code [1, H, W]} for images
         * @param scale the coupling scale function, {@code tanh} or {@code sigmoid}
         */
        Transform build(long[] shape, Options o, String scale);
    }

    /** The architectures by {@code model.type}, with the coupling scale each paper used. */
    private static final Map<String, Architecture> ARCHITECTURES = architectures();
    private static final Map<String, String> PAPER_SCALE = Map.of("glow", "sigmoid");

    private static Map<String, Architecture> architectures() {
        Map<String, Architecture> a = new LinkedHashMap<>();
        a.put("maf", (s, o, scale) -> Maf.chain(dim(s), o.steps(), o.hidden(), false, o.seed()));
        a.put("iaf", (s, o, scale) -> Maf.chain(dim(s), o.steps(), o.hidden(), true, o.seed()));
        a.put("realnvp", (s, o, scale) -> s.length == 3 ? RealNvp.image(s, o.scales(), o.steps(), o.hiddenChannels(),
                scale) : RealNvp.vector(dim(s), o.steps(), o.hidden(), scale));
        a.put("glow", (s, o, scale) -> s.length == 3 ? new Chain(glowLevel(s, o.scales(), o, scale, o.seed(), false))
                : new Chain(glowSteps(s, o, scale, o.seed())));
        a.put("planar", (s, o, scale) -> new Chain(repeat(o.steps(), o.seed(), seed -> new PlanarFlow(dim(s)))));
        a.put("radial", (s, o, scale) -> new Chain(repeat(o.steps(), o.seed(), seed -> new RadialFlow(dim(s)))));
        return java.util.Collections.unmodifiableMap(a);
    }

    /** The flow types a user can configure. */
    public static final List<String> TYPES = List.copyOf(ARCHITECTURES.keySet());

    private static int dim(long[] shape) {
        return Math.toIntExact(Flows.size(shape));
    }

    static Transform transform(String type, long[] shape, Options o) {
        Architecture architecture = ARCHITECTURES.get(type);
        if (architecture == null) {
            throw new IllegalArgumentException("unknown flow type '" + type + "'; known: " + TYPES);
        }
        if (shape.length > 2) {
            throw new IllegalArgumentException("flows take vectors [D] or single-channel images [H, W]; events of shape "
                    + Arrays.toString(shape) + " are not supported");
        }
        long[] seen = shape.length == 2 ? new long[]{1, shape[0], shape[1]} : shape;
        String scale = o.couplingScale().equals("auto") ? PAPER_SCALE.getOrDefault(type, "tanh") : o.couplingScale();
        return architecture.build(seen, o, scale);
    }

    /**
     * Glow's step of flow, {@code steps} times: actnorm, an invertible 1x1 convolution (a learned invertible linear map
     * for vectors), and an affine coupling over half the channels (half the vector), alternating halves.
     */
    static List<Transform> glowSteps(long[] shape, Options o, String scale, long seed) {
        List<Transform> out = new ArrayList<>();
        int channels = (int) shape[0];
        for (int i = 0; i < o.steps(); i++) {
            out.add(new ActNorm(shape));
            out.add(new InvertibleConv1x1(channels, shape, Seeds.derive(seed, i)));
            out.add(shape.length == 1 ? AffineCoupling.vector(channels, "halves", i % 2, o.hidden(), scale)
                    : AffineCoupling.image(shape, "channel", i % 2, o.hiddenChannels(), scale));
        }
        return out;
    }

    /**
     * One level of Glow's multi-scale architecture (Kingma & Dhariwal 2018, figure 2): squeeze, K steps of flow, then
     * half the channels go to the base distribution and the rest continue to the next level. A nested level squeezes
     * back at its end, because {@link FactorOut} needs its inner transform to keep the shape.
     */
    static List<Transform> glowLevel(long[] chw, int levels, Options o, String scale, long seed, boolean nested) {
        if (chw[1] % 2 != 0 || chw[2] % 2 != 0) {
            throw new IllegalArgumentException("glow with " + o.scales() + " scales cannot squeeze a " + chw[1] + "x"
                    + chw[2] + " image (odd size); use fewer model.scales");
        }
        long[] squeezed = {chw[0] * 4, chw[1] / 2, chw[2] / 2};
        List<Transform> out = new ArrayList<>();
        out.add(new Squeeze(chw));
        out.addAll(glowSteps(squeezed, o, scale, seed));
        if (levels > 1) {
            long keep = squeezed[0] / 2;
            long[] rest = {squeezed[0] - keep, squeezed[1], squeezed[2]};
            out.add(new FactorOut(new Chain(glowLevel(rest, levels - 1, o, scale, Seeds.derive(seed, -1), true)),
                    squeezed, (int) keep));
        }
        if (nested) {
            out.add(Squeeze.unsqueeze(chw));
        }
        return out;
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
