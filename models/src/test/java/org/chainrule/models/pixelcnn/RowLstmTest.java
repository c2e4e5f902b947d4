package org.chainrule.models.pixelcnn;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.chainrule.models.pixelcnn.PixelTesting.assertForgetGatesOpen;
import static org.chainrule.models.pixelcnn.PixelTesting.dependencies;
import static org.chainrule.models.pixelcnn.PixelTesting.network;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Row LSTM: the shared pixel-network properties ({@link PixelNetworkContract}), the shape of its receptive field
 * worked out by hand, and its gates' initial biases.
 */
class RowLstmTest extends PixelNetworkContract {
    RowLstmTest() {
        super(PixelSpec.Network.ROW_LSTM, "row-lstm", "layers", 1);
    }

    /**
     * Colour specs have 12 state features, 4 per colour: with fewer, the ReLUs of the output layers sometimes shut
     * every path from a pixel's R to its G on the first row.
     */
    @Override
    List<PixelSpec> causalSpecs() {
        return List.of(
                spec(new long[]{5, 5}, 2, 4, 2),
                spec(new long[]{4, 4, 3}, 2, 12, 1),
                spec(new long[]{3, 4, 3}, 4, 12, 1),
                spec(new long[]{4, 4}, 2, 4, 1).withContext(3));
    }

    @Override
    int depthOf(PixelLayer layer) {
        return assertInstanceOf(RowLstmLayer.class, layer).getLayers();
    }

    /**
     * The receptive field worked out by hand from the kernels (see {@link RowLstmLayer}): output sub-pixel (i, j, c)
     * sees its own pixel's channels before c; row i at columns j - 3 - L .. j - 1; row i - r (r &gt;= 1) at columns
     * j - 3 - L - r .. j + 2 + r; every channel of each pixel it sees.
     */
    static boolean[][] trapezoid(PixelSpec s) {
        int w = s.width();
        int colours = s.channels();
        int l = s.depth();
        boolean[][] field = new boolean[s.dim()][s.dim()];
        for (int r = 0; r < s.dim(); r++) {
            int i = r / colours / w;
            int j = r / colours % w;
            for (int q = 0; q < s.dim(); q++) {
                int y = q / colours / w;
                int z = q / colours % w;
                int up = i - y;
                if (y == i && z == j) {
                    field[r][q] = q % colours < r % colours;
                } else if (up == 0) {
                    field[r][q] = z >= j - 3 - l && z < j;
                } else if (up > 0) {
                    field[r][q] = z >= j - 3 - l - up && z <= j + 2 + up;
                }
            }
        }
        return field;
    }

    /**
     * What the Row LSTM misses, on a wide image where the trapezoid is narrower than the rows: for a 5x12 image and
     * one layer, pixel (4, 11) (bottom right) sees its own row only from column 7 (the first layer's 3 plus one per
     * layer to the left), row 3 from column 6, row 0 from column 3; pixel (4, 0) sees row 3 up to column 3, row 2 up
     * to column 4, row 0 up to column 6, never further right. A second layer reaches one column further left on every
     * row and no further right. The gradients agree with the hand-made field exactly, so each named pixel that
     * precedes the target yet lies outside it has gradient exactly 0.
     */
    @Test
    void receptiveFieldIsATrapezoid() {
        PixelSpec one = spec(new long[]{5, 12}, 2, 4, 1);
        boolean[][] dep = dependencies(one, network(one, 22, 0.3), null, 6, 8);
        assertReceptiveField(one, dep);
        int right = 4 * 12 + 11;
        int left = 4 * 12;
        assertTrue(dep[right][4 * 12 + 7] && !dep[right][4 * 12 + 6], "current row: columns 7.. only");
        assertTrue(dep[right][3 * 12 + 6] && !dep[right][3 * 12 + 5], "row above: columns 6.. only");
        assertTrue(dep[right][3] && !dep[right][2], "top row: columns 3.. only");
        assertTrue(dep[left][3 * 12 + 3] && !dep[left][3 * 12 + 4], "row above: columns ..3 only");
        assertTrue(dep[left][2 * 12 + 4] && !dep[left][2 * 12 + 5], "two rows up: columns ..4 only");
        assertTrue(dep[left][6] && !dep[left][7], "top row: columns ..6 only");
        int missed = 0;
        for (int q = 0; q < right; q++) {
            missed += dep[right][q] ? 0 : 1;
        }
        assertEquals(7 + 6 + 5 + 4 + 3, missed, "earlier pixels that (4, 11) never sees");

        PixelSpec two = spec(new long[]{5, 12}, 2, 4, 2);
        boolean[][] dep2 = dependencies(two, network(two, 23, 0.3), null, 6, 9);
        assertReceptiveField(two, dep2);
        assertTrue(dep2[right][4 * 12 + 6] && !dep2[right][4 * 12 + 5], "two layers: current row from column 6");
        assertTrue(dep2[right][2] && !dep2[right][1], "two layers: top row from column 2");
        assertTrue(!dep2[left][3 * 12 + 4] && !dep2[left][7], "two layers: no further right");
    }

    /** The measured dependencies are the hand-made receptive field, exactly. */
    @Override
    void assertReceptiveField(PixelSpec s, boolean[][] dep) {
        boolean[][] field = trapezoid(s);
        for (int r = 0; r < s.dim(); r++) {
            for (int q = 0; q < s.dim(); q++) {
                assertEquals(field[r][q], dep[r][q], s + ": does " + r + " depend on " + q + "?");
                assertTrue(!field[r][q] || q < r, "the hand-made field itself lets " + r + " see " + q);
            }
        }
    }

    /** The forget gates start open (bias 1), the other gates' biases at 0. */
    @Test
    void forgetGatesStartAtOne() {
        assertForgetGatesOpen(spec(new long[]{3, 3}, 2, 4, 2), List.of("bi1", "bi2"));
    }
}
