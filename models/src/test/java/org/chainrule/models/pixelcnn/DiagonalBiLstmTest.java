package org.chainrule.models.pixelcnn;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.List;

import static org.chainrule.models.pixelcnn.PixelTesting.assertForgetGatesOpen;
import static org.chainrule.models.pixelcnn.PixelTesting.dependencies;
import static org.chainrule.models.pixelcnn.PixelTesting.network;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

/**
 * Diagonal BiLSTM: the shared pixel-network properties ({@link PixelNetworkContract}), the whole context seen from a
 * single layer, why its right stream reads the image, and its gates' initial biases.
 */
class DiagonalBiLstmTest extends PixelNetworkContract {
    DiagonalBiLstmTest() {
        super(PixelSpec.Network.DIAGONAL_BILSTM, "diagonal-bilstm", "layers", 1);
    }

    /** Wide and tall images too, where the two streams' diagonals are skewed the most; colour as for the Row LSTM. */
    @Override
    List<PixelSpec> causalSpecs() {
        return List.of(
                spec(new long[]{5, 5}, 2, 4, 1),
                spec(new long[]{3, 6}, 2, 4, 2),
                spec(new long[]{6, 2}, 2, 4, 1),
                spec(new long[]{4, 4, 3}, 2, 12, 1),
                spec(new long[]{3, 4, 3}, 4, 12, 1),
                spec(new long[]{4, 4}, 2, 4, 1).withContext(3));
    }

    /**
     * Non-zero for <em>every</em> earlier sub-pixel, with a single layer: the left stream brings the upper-left
     * quadrant, the down-shifted right stream the rows above to the right.
     */
    @Override
    void assertReceptiveField(PixelSpec s, boolean[][] dep) {
        for (int r = 0; r < s.dim(); r++) {
            for (int q = 0; q < s.dim(); q++) {
                assertEquals(q < r, dep[r][q], s + ": does " + r + " depend on " + q + "?");
            }
        }
    }

    @Override
    int depthOf(PixelLayer layer) {
        return assertInstanceOf(DiagonalBiLstmLayer.class, layer).getLayers();
    }

    /**
     * On the wide image where a Row LSTM of one layer misses 25 earlier pixels of the bottom-right one (see
     * {@code RowLstmTest#receptiveFieldIsATrapezoid}), the Diagonal BiLSTM misses none, for any pixel.
     */
    @Test
    void wideImageHasNoBlindPixels() {
        PixelSpec wide = spec(new long[]{5, 12}, 2, 4, 1);
        assertReceptiveField(wide, dependencies(wide, network(wide, 42, 0.3), null, 4, 8));
    }

    /**
     * Why the right direction also reads the image (see {@link DiagonalBiLstmLayer}): with its weights from the image
     * set to zero, i.e. the paper's right stream, which reads only the stream, pixel (i, j) no longer sees the last
     * pixel of row i - 1 when that is beyond the first layer's reach (j &lt; W - 4), with one layer or two, and sees
     * every other earlier pixel still.
     */
    @Test
    void streamAloneMissesTheEndOfTheRowAbove() {
        for (int layers = 1; layers <= 2; layers++) {
            PixelSpec s = spec(new long[]{2, 6}, 2, 4, layers);
            MultiLayerNetwork net = network(s, 43, 0.3);
            for (int l = 1; l <= layers; l++) {
                net.getLayer(0).getParam("wri" + l).get(NDArrayIndex.all(), NDArrayIndex.all(),
                        NDArrayIndex.interval(8, 9), NDArrayIndex.all()).assign(0);
            }
            boolean[][] dep = dependencies(s, net, null, 4, 10);
            for (int r = 0; r < s.dim(); r++) {
                int i = r / 6;
                int j = r % 6;
                for (int q = 0; q < r; q++) {
                    boolean blind = q == (i - 1) * 6 + 5 && j < 6 - 4;
                    assertEquals(!blind, dep[r][q], layers + " layers: does " + r + " depend on " + q + "?");
                }
            }
        }
    }

    /** The forget gates of both directions start open (bias 1), the other gates' biases at 0. */
    @Test
    void forgetGatesStartAtOne() {
        assertForgetGatesOpen(spec(new long[]{3, 3}, 2, 4, 1), List.of("bli1", "bri1"));
    }
}
