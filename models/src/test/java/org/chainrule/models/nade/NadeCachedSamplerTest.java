package org.chainrule.models.nade;

import org.chainrule.models.OneNativeThread;
import org.chainrule.models.Seeds;
import org.chainrule.models.conditionals.OutputFamily;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * NADE's running-sum sampler against a naive one written here: for each generated position, the conditional's
 * parameters come from a full pass of the layer's SameDiff expression (the training graph's) over the values drawn so
 * far, and the draw uses the seed the sampler documents (row seed, 1, position). Over hundreds of seeds, for every
 * family, ordering count and context, at temperatures 1 and 0.7, the two give the same samples (discrete exactly,
 * real to float rounding), and the discrete draws were genuinely uncertain (the drawn value had probability below 0.9
 * under its conditional for a good share of them).
 */
@ExtendWith(OneNativeThread.class)
class NadeCachedSamplerTest {
    static final int SEEDS = 300;

    @ParameterizedTest
    @MethodSource("org.chainrule.models.nade.NadeTest#specs")
    void cachedSamplesAreTheNaiveOnes(NadeSpec spec) {
        MultiLayerNetwork net = NadeTest.randomNetwork(spec, 47);
        Nade nade = (Nade) spec.densityOf(net);
        OutputFamily family = spec.family();
        int p = family.paramsPerDim();
        int dim = spec.dim();
        boolean discrete = spec.levels() > 0;
        for (double temperature : new double[]{1.0, 0.7}) {
            String what = spec + ", T = " + temperature;
            long[] seeds = new long[SEEDS];
            for (int i = 0; i < SEEDS; i++) {
                seeds[i] = Seeds.derive(spec.hashCode() + Double.hashCode(temperature), i);
            }
            INDArray context = NadeTest.contexts(spec, SEEDS);
            float[][] cached = nade.sample(seeds, context, temperature).toFloatMatrix();
            float[][] naive = new float[SEEDS][dim];
            int uncertain = 0;
            for (int k = 0; k < spec.orderings(); k++) {
                List<Integer> rows = new ArrayList<>();
                for (int i = 0; i < SEEDS; i++) {
                    if (nade.samplingOrdering(seeds[i]) == k) {
                        rows.add(i);
                    }
                }
                assertTrue(rows.size() > SEEDS / spec.orderings() / 2, what + ": ordering " + k + " drawn rarely");
                int[] order = spec.ordering(k);
                INDArray x = Nd4j.zeros(DataType.FLOAT, rows.size(), dim);
                INDArray y = context == null ? null : context.getRows(rows.stream().mapToInt(Integer::intValue)
                        .toArray());
                for (int t = 0; t < dim; t++) {
                    int d = order[t];
                    float[][] params = NadeTest.graphParams(spec, net, x, y, k).toFloatMatrix();
                    for (int r = 0; r < rows.size(); r++) {
                        int i = rows.get(r);
                        double v = family.sample(params[r], d * p, Seeds.derive(seeds[i], 1, t), temperature);
                        naive[i][d] = (float) v;
                        x.putScalar(r, d, v);
                        if (discrete) {
                            float[] scaled = new float[p];
                            for (int q = 0; q < p; q++) {
                                scaled[q] = (float) (params[r][d * p + q] / temperature);
                            }
                            uncertain += family.logProb(scaled, 0, v) < Math.log(0.9) ? 1 : 0;
                        }
                    }
                }
            }
            for (int i = 0; i < SEEDS; i++) {
                if (discrete) {
                    assertArrayEquals(naive[i], cached[i], what + ": seed " + seeds[i]);
                } else {
                    for (int d = 0; d < dim; d++) {
                        assertEquals(naive[i][d], cached[i][d], 1e-4 * (1 + Math.abs(naive[i][d])),
                                what + ": seed " + seeds[i] + ", dim " + d);
                    }
                }
            }
            if (discrete) {
                double share = uncertain / (double) (SEEDS * dim);
                System.out.printf("%s: %d seeds, cached = naive, %.0f%% of draws uncertain%n", what, SEEDS,
                        100 * share);
                assertTrue(share > 0.2, what + ": only " + uncertain + " uncertain draws");
            } else {
                double spread = 0;
                for (float[] row : cached) {
                    spread = Math.max(spread, Math.abs(row[0] - cached[0][0]));
                }
                assertTrue(spread > 0.5, what + ": real samples should spread: " + spread);
            }
        }
    }
}
