package org.chainrule.models.pixelcnn;

import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import static org.chainrule.models.pixelcnn.MaskedConvolution.Kind.A;
import static org.chainrule.models.pixelcnn.MaskedConvolution.Kind.ABOVE;
import static org.chainrule.models.pixelcnn.MaskedConvolution.Kind.B;
import static org.chainrule.models.pixelcnn.MaskedConvolution.Kind.VERTICAL;
import static org.chainrule.models.pixelcnn.MaskedConvolution.blocks;
import static org.chainrule.models.pixelcnn.MaskedConvolution.gateBlocks;
import static org.chainrule.models.pixelcnn.MaskedConvolution.mask;
import static org.chainrule.models.pixelcnn.MaskedConvolution.oneGroup;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The masks' taps and colour groups, and that the convolution applies them the right way round. */
class MaskedConvolutionTest {

    static double live(INDArray m) {
        return m.sumNumber().doubleValue();
    }

    @Test
    void spatialTaps() {
        int[] one = oneGroup(1);
        // 7x7: three rows above (21 taps) and three to the left; the centre only for mask B
        assertEquals(24, live(mask(7, 7, one, one, A, DataType.FLOAT)));
        assertEquals(25, live(mask(7, 7, one, one, B, DataType.FLOAT)));
        INDArray b = mask(3, 3, one, one, B, DataType.FLOAT);
        assertEquals(1.0, b.getDouble(0, 2, 0, 0), "above right");
        assertEquals(1.0, b.getDouble(1, 0, 0, 0), "left");
        assertEquals(0.0, b.getDouble(1, 2, 0, 0), "right");
        assertEquals(0.0, b.getDouble(2, 0, 0, 0), "below");
        assertEquals(6, live(mask(3, 3, one, one, VERTICAL, DataType.FLOAT)), "rows up to the current one");
        INDArray shift = mask(3, 1, one, one, ABOVE, DataType.FLOAT);
        assertEquals(1, live(shift));
        assertEquals(1.0, shift.getDouble(0, 0, 0, 0), "the only live tap is the pixel above");
        assertEquals(0, live(mask(1, 1, one, one, A, DataType.FLOAT)));
        assertEquals(1, live(mask(1, 1, one, one, B, DataType.FLOAT)));
        assertThrows(IllegalArgumentException.class, () -> mask(2, 3, one, one, B, DataType.FLOAT));
    }

    @Test
    void colourGroups() {
        assertArrayEquals(new int[]{0, 0, 1, 1, 2, 2}, blocks(6, 3));
        assertArrayEquals(new int[]{0, 1, 2}, blocks(3, 3));
        assertArrayEquals(new int[]{0, 0, 1, 1, 0, 0, 1, 1}, gateBlocks(4, 2));
        assertThrows(IllegalArgumentException.class, () -> blocks(4, 3));
        int[] rgb = blocks(3, 3);
        int[] maps = blocks(6, 3);
        INDArray a = mask(3, 3, rgb, maps, A, DataType.FLOAT);
        INDArray b = mask(3, 3, rgb, maps, B, DataType.FLOAT);
        for (int in = 0; in < 3; in++) {
            for (int out = 0; out < 6; out++) {
                assertEquals(in < maps[out] ? 1.0 : 0.0, a.getDouble(1, 1, in, out), "A centre " + in + "->" + out);
                assertEquals(in <= maps[out] ? 1.0 : 0.0, b.getDouble(1, 1, in, out), "B centre " + in + "->" + out);
                assertEquals(1.0, a.getDouble(1, 0, in, out), "every channel of the pixel to the left");
                assertEquals(0.0, b.getDouble(1, 2, in, out), "no channel of the pixel to the right");
            }
        }
        assertEquals(6, live(a.get(org.nd4j.linalg.indexing.NDArrayIndex.point(1),
                org.nd4j.linalg.indexing.NDArrayIndex.point(1))));
        assertEquals(12, live(b.get(org.nd4j.linalg.indexing.NDArrayIndex.point(1),
                org.nd4j.linalg.indexing.NDArrayIndex.point(1))));
    }

    /** All-ones 3x3 mask-B weights on a one-hot image: output (1, 1) sees a 1 to its left, not one to its right. */
    @Test
    void convolutionAppliesTheMaskTheRightWayRound() {
        int[] one = oneGroup(1);
        INDArray m = mask(3, 3, one, one, B, DataType.FLOAT);
        for (int[] hot : new int[][]{{1, 0}, {1, 2}, {0, 2}, {2, 1}}) {
            SameDiff sd = SameDiff.create();
            INDArray img = Nd4j.zeros(DataType.FLOAT, 2, 1, 3, 3);
            img.putScalar(new long[]{0, 0, hot[0], hot[1]}, 1.0);
            img.putScalar(new long[]{1, 0, hot[0], hot[1]}, 1.0);
            SDVariable ones = sd.constant(Nd4j.ones(DataType.FLOAT, 3, 3, 1, 1));
            SDVariable out = MaskedConvolution.conv(sd, sd.constant(img), ones, null, m);
            double centre = out.eval().getDouble(0, 0, 1, 1);
            boolean visible = hot[0] < 1 || (hot[0] == 1 && hot[1] < 1);
            assertEquals(visible ? 1.0 : 0.0, centre, "one-hot at (" + hot[0] + ", " + hot[1] + ")");
        }
    }
}
