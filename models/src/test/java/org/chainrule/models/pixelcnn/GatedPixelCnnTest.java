package org.chainrule.models.pixelcnn;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.chainrule.models.pixelcnn.PixelTesting.dependencies;
import static org.chainrule.models.pixelcnn.PixelTesting.network;
import static org.chainrule.models.pixelcnn.PixelTesting.pixelCnnCone;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Gated PixelCNN: the shared pixel-network properties ({@link PixelNetworkContract}) through both stacks (the
 * down-shift of the vertical stack and mask A of the first horizontal layer keep it causal), and no blind spot.
 */
class GatedPixelCnnTest extends PixelNetworkContract {
    GatedPixelCnnTest() {
        super(PixelSpec.Network.GATED_PIXELCNN, "gated-pixelcnn", "layers", 2);
    }

    @Override
    List<PixelSpec> causalSpecs() {
        return List.of(
                spec(new long[]{5, 5}, 2, 8, 3),
                spec(new long[]{4, 4, 3}, 2, 12, 2),
                spec(new long[]{3, 4, 3}, 4, 12, 2).withOutputFilters(24),
                spec(new long[]{4, 4}, 2, 8, 2).withContext(3));
    }

    /** Causality is all: how much of the past the stacks reach is {@link #gatedStacksRemoveTheBlindSpot}'s to say. */
    @Override
    void assertReceptiveField(PixelSpec spec, boolean[][] dependencies) {
    }

    @Override
    int depthOf(PixelLayer layer) {
        return assertInstanceOf(GatedPixelCnnLayer.class, layer).getLayers();
    }

    /**
     * The blind spot: for a 5x5 image, the pixels that a PixelCNN (7x7 mask A, then two 3x3 mask-B blocks) cannot
     * see although they precede the target, found from its masks' geometry, have gradient exactly 0 in a PixelCNN
     * and non-zero in a Gated PixelCNN of the same depth (7-wide first layer, then two 3-wide layers), which sees
     * every earlier pixel. The gradients are SameDiff's, of random networks, at four random inputs.
     */
    @Test
    void gatedStacksRemoveTheBlindSpot() {
        long[] shape = {5, 5};
        PixelSpec plain = PixelSpec.pixelCnn(shape, 2, 4, 2);
        PixelSpec gated = spec(shape, 2, 8, 3);
        boolean[][] cone = pixelCnnCone(5, 5, 1, 2);
        boolean[][] plainDep = dependencies(plain, network(plain, 41, 0.3), null, 4, 3);
        boolean[][] gatedDep = dependencies(gated, network(gated, 42, 0.3), null, 4, 3);
        List<String> blind = new ArrayList<>();
        for (int target = 0; target < 25; target++) {
            for (int s = 0; s < target; s++) {
                assertTrue(gatedDep[target][s], "gated: " + target + " does not see " + s);
                if (!cone[target][s]) {
                    blind.add(s + "->" + target);
                    assertFalse(plainDep[target][s], "PixelCNN: " + target + " sees " + s + " in its blind spot");
                }
            }
        }
        // in a 5x5 image: (i - 1, 4) for target (i, 0), four columns right one row up, beyond PixelCNN at any depth
        assertEquals(List.of("4->5", "9->10", "14->15", "19->20"), blind);
    }
}
