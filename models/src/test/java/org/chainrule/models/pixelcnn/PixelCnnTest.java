package org.chainrule.models.pixelcnn;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.chainrule.models.pixelcnn.PixelTesting.pixelCnnCone;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** PixelCNN: the shared pixel-network properties ({@link PixelNetworkContract}), its cone and its blind spot. */
class PixelCnnTest extends PixelNetworkContract {
    PixelCnnTest() {
        super(PixelSpec.Network.PIXELCNN, "pixelcnn", "blocks", 1);
    }

    @Override
    List<PixelSpec> causalSpecs() {
        return List.of(
                spec(new long[]{5, 5}, 2, 4, 2),
                spec(new long[]{4, 4, 3}, 2, 6, 1),
                spec(new long[]{3, 4, 3}, 4, 6, 1).withOutputFilters(24),
                spec(new long[]{4, 4}, 2, 4, 1).withContext(3));
    }

    /** Never a dependency outside the receptive field that the masks' geometry allows. */
    @Override
    void assertReceptiveField(PixelSpec s, boolean[][] dep) {
        boolean[][] cone = pixelCnnCone(s.height(), s.width(), s.channels(), s.depth());
        for (int r = 0; r < s.dim(); r++) {
            for (int q = 0; q < s.dim(); q++) {
                assertTrue(!dep[r][q] || cone[r][q], s + ": " + r + " depends on " + q + " outside its cone");
                assertTrue(!cone[r][q] || q < r, "the cone analysis itself lets " + r + " see " + q);
            }
        }
    }

    @Override
    int depthOf(PixelLayer layer) {
        return assertInstanceOf(PixelCnnLayer.class, layer).getBlocks();
    }

    /**
     * The blind spot, from the masks' geometry: a mask-B 3x3 tap goes up-right only by moving up a row, so row i - r is
     * never seen more than r + 2 columns to the right of the target, however deep the stack.
     */
    @Test
    void coneHasTheBlindSpot() {
        boolean[][] deep = pixelCnnCone(6, 7, 1, 6);
        boolean[][] shallow = pixelCnnCone(6, 7, 1, 0);
        int target = 2 * 7 + 1; // (2, 1)
        assertTrue(deep[target][7 + 4], "(1, 4) is within the 7x7 first layer");
        assertTrue(!deep[target][7 + 5] && !deep[target][7 + 6], "(1, 5) and (1, 6) are blind for (2, 1)");
        assertTrue(deep[target][5] && !shallow[target][5], "(0, 5) is reached by stacking, not by the first layer");
        assertTrue(!deep[target][6], "(0, 6) is blind for (2, 1)");
        assertTrue(deep[target][2 * 7], "(2, 0), to the left");
    }
}
