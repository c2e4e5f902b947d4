package org.chainrule.models.flows;

import org.chainrule.models.Seeds;

import java.util.ArrayList;
import java.util.List;

/**
 * Stacks of masked autoregressive layers (Papamakarios et al. 2017). One autoregressive layer is limited by its
 * fixed order (x_1 is mapped by a plain affine map); stacking layers with the order reversed in between lets every
 * dimension depend on every other. The paper also puts batch normalisation between layers; these stacks do not
 * (they are a plain {@link Chain}), so deep stacks rely on the zero-initialised output layers starting each layer at
 * the identity.
 */
public final class Maf {
    private Maf() {
    }

    /**
     * {@code layers} {@link MaskedAutoregressive} layers (MAF, or IAF when {@code iaf}) with a
     * {@link Permutation#reverse} between consecutive ones; layer i's MADE degrees come from
     * {@code Seeds.derive(seed, i)}.
     */
    public static Chain chain(int dim, int layers, int[] hidden, boolean iaf, long seed) {
        if (layers < 1) {
            throw new IllegalArgumentException("a flow needs at least one layer: " + layers);
        }
        List<Transform> steps = new ArrayList<>();
        for (int i = 0; i < layers; i++) {
            if (i > 0) {
                steps.add(Permutation.reverse(dim));
            }
            steps.add(new MaskedAutoregressive(dim, hidden, iaf, Seeds.derive(seed, i)));
        }
        return new Chain(steps);
    }
}
