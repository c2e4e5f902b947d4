package org.chainrule.pipelines.train;

import org.chainrule.models.ModelSpec;
import org.chainrule.models.Seeds;
import org.chainrule.models.TrainingRecipe;
import org.chainrule.pipelines.data.Example;
import org.chainrule.pipelines.data.Holdout;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Parameter averaging computed without the production path: the epoch schedule restated from its documentation
 * (rank by row id, a seeded permutation of ranks, position p to worker p mod W, minibatches of B rows in position
 * order, k per round, step b * W + w seeding the minibatch's variant), minibatches built here from the rows' bytes,
 * each worker's steps taken by plain {@link MultiLayerNetwork#fit} on its own copy of the starting state, and the
 * copies averaged with ND4J arithmetic.
 */
final class IndependentAveraging {
    private final ModelSpec spec;
    private final TrainingRecipe optimization;
    private final List<Example> byRowId;
    private final int workers;
    private final int batchSize;
    private final int frequency;
    private final long seed;

    /** A network's parameters, optimizer state and iteration counter, copied. */
    record State(INDArray params, INDArray updater, int iteration) {
        static State of(MultiLayerNetwork net) {
            return new State(net.params().dup(), net.getUpdater().getStateViewArray().dup(),
                    net.getLayerWiseConfigurations().getIterationCount());
        }
    }

    IndependentAveraging(ModelSpec spec, TrainingRecipe optimization, List<Example> rows, int workers,
                         int batchSize, int frequency, long seed) {
        this.spec = spec;
        this.optimization = optimization;
        this.byRowId = rows.stream().sorted(Comparator.comparingLong(Example::rowId)).toList();
        this.workers = workers;
        this.batchSize = batchSize;
        this.frequency = frequency;
        this.seed = seed;
    }

    /** Worker {@code w}'s minibatches of epoch {@code epoch}, in order, each with its step number. */
    List<Batch> batchesOf(int epoch, int w) {
        long n = byRowId.size();
        long epochSeed = Seeds.derive(seed, epoch);
        List<long[]> mine = new ArrayList<>(); // {position, rank}
        for (int rank = 0; rank < n; rank++) {
            long position = Holdout.permute(rank, n, epochSeed);
            if (position % workers == w) {
                mine.add(new long[]{position, rank});
            }
        }
        mine.sort(Comparator.comparingLong(a -> a[0]));
        List<Batch> out = new ArrayList<>();
        for (int from = 0; from < mine.size(); from += batchSize) {
            List<Example> rows = new ArrayList<>();
            for (long[] pr : mine.subList(from, Math.min(mine.size(), from + batchSize))) {
                rows.add(byRowId.get((int) pr[1]));
            }
            long step = (long) out.size() * workers + w;
            int variant = spec.variantCount() == 1 ? 0
                    : (int) (Seeds.uniform(Seeds.derive(epochSeed, step)) * spec.variantCount());
            out.add(new Batch(rows, variant, Seeds.derive(epochSeed, -1, step)));
        }
        return out;
    }

    /** Rows, connectivity variant and step seed (dropout) of one minibatch. */
    record Batch(List<Example> rows, int variant, long stepSeed) {
        /** The DataSet, built from the rows' bytes (binary data: the values are the bytes 0 and 1). */
        DataSet dataSet(ModelSpec spec) {
            List<Example> rs = rows.size() == 1 ? List.of(rows.get(0), rows.get(0)) : rows;
            int dims = rs.get(0).x().length;
            float[][] x = new float[rs.size()][dims];
            for (int i = 0; i < rs.size(); i++) {
                for (int d = 0; d < dims; d++) {
                    x[i][d] = rs.get(i).x()[d];
                }
            }
            INDArray features = Nd4j.create(x).castTo(DataType.FLOAT);
            return new DataSet(spec.trainingFeatures(features, null, variant, stepSeed),
                    spec.trainingLabels(features));
        }
    }

    /** The state after averaging round {@code round} of {@code epoch}, starting from {@code start}. */
    State round(State start, int epoch, int round) {
        List<MultiLayerNetwork> trained = new ArrayList<>();
        int mostSteps = 0;
        for (int w = 0; w < workers; w++) {
            List<Batch> all = batchesOf(epoch, w);
            List<Batch> mine = all.subList(Math.min(all.size(), round * frequency),
                    Math.min(all.size(), (round + 1) * frequency));
            if (mine.isEmpty()) {
                continue;
            }
            MultiLayerNetwork net = networkAt(start);
            mine.forEach(b -> net.fit(b.dataSet(spec)));
            trained.add(net);
            mostSteps = Math.max(mostSteps, mine.size());
        }
        if (workers > 1) {
            // the mean must be a real mean: the workers' states after their own minibatches are far apart
            assertTrue(trained.size() > 1, "round " + round + " of epoch " + epoch + ": only one worker had rows");
            double scale = trained.get(0).params().amaxNumber().doubleValue();
            double apart = trained.get(0).params().sub(trained.get(1).params()).amaxNumber().doubleValue();
            assertTrue(apart > 1e-3 * scale, "workers 0 and 1 ended round " + round + " of epoch " + epoch
                    + " only " + apart + " apart (largest parameter " + scale + "): averaging would be untested");
        }
        INDArray params = trained.get(0).params().dup();
        INDArray updater = trained.get(0).getUpdater().getStateViewArray().dup();
        for (MultiLayerNetwork net : trained.subList(1, trained.size())) {
            params.addi(net.params());
            updater.addi(net.getUpdater().getStateViewArray());
        }
        return new State(params.divi(trained.size()), updater.divi(trained.size()), start.iteration() + mostSteps);
    }

    /** A fresh network holding a copy of {@code state}. */
    MultiLayerNetwork networkAt(State state) {
        MultiLayerNetwork net = new MultiLayerNetwork(spec.trainingConfiguration(optimization));
        net.init();
        net.setParams(state.params().dup());
        net.getUpdater().getStateViewArray().assign(state.updater());
        net.getLayerWiseConfigurations().setIterationCount(state.iteration());
        return net;
    }

    /**
     * Asserts that {@code actual} matches {@code expected}: the parameters, Adam's first and second moments (the two
     * halves of DL4J's state array when the network has one updater block, which the caller checks) each within an
     * absolute tolerance of {@code relative} times that array's largest magnitude, each array non-trivial (a real
     * share of its entries well away from zero), and the iteration counters equal.
     */
    static void assertMatches(State expected, State actual, double relative, String where) {
        assertEquals(expected.iteration(), actual.iteration(), where + ": iteration counter");
        long n = expected.params().length();
        assertEquals(2 * n, expected.updater().length(), where + ": expected Adam state of 2 x parameters");
        INDArray eu = expected.updater().reshape(-1);
        INDArray au = actual.updater().reshape(-1);
        assertClose(expected.params().reshape(-1), actual.params().reshape(-1), relative, where + ": parameters");
        assertClose(eu.get(NDArrayIndex.interval(0, n)),
                au.get(NDArrayIndex.interval(0, n)), relative, where + ": Adam first moment");
        assertClose(eu.get(NDArrayIndex.interval(n, 2 * n)),
                au.get(NDArrayIndex.interval(n, 2 * n)), relative,
                where + ": Adam second moment");
    }

    private static void assertClose(INDArray expected, INDArray actual, double relative, String what) {
        double scale = expected.amaxNumber().doubleValue();
        long large = Transforms.abs(expected, true).gt(1e-3 * scale).castTo(DataType.INT).sumNumber().longValue();
        assertTrue(scale > 0 && large >= 0.05 * expected.length(), what + " is trivial: largest magnitude " + scale
                + ", " + large + " of " + expected.length() + " entries above 1e-3 of it");
        double maxDiff = expected.sub(actual).amaxNumber().doubleValue();
        assertTrue(maxDiff <= relative * scale, what + " differ by up to " + maxDiff + " (tolerance " + relative * scale
                + ", largest magnitude " + scale + ")");
    }
}
