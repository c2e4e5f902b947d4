package org.chainrule.pipelines.train;

import org.chainrule.models.ModelSpec;
import org.chainrule.models.TrainingRecipe;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;

import java.util.List;

/**
 * Keeps a run's step-size schedule on the run's global clock. DL4J's schedules read the network configuration's
 * iteration and epoch counters: the iteration counter is saved with every checkpoint and advanced by parameter
 * averaging ({@code averaging-frequency} per round), so it counts steps per worker since the run began; the epoch
 * counter is set here before every epoch, so epoch-keyed schedules (step, exponential) see the run's epoch, also after
 * {@code --resume}. A cosine schedule spans the run's steps ({@link #forRun}). Reduce-on-plateau is not a DL4J
 * schedule: its factor is a function of the validation NLLs of the epochs done ({@link #plateauFactor}), which the
 * checkpoint records, so a resumed run continues at the same step size; it is put into the network's optimizer
 * configuration (which the averaging workers build from) whenever it changes.
 */
final class StepSizes {
    private final ModelSpec spec;
    private final TrainingRecipe recipe;
    private double appliedFactor = Double.NaN;

    StepSizes(ModelSpec spec, TrainingRecipe recipe) {
        this.spec = spec;
        this.recipe = recipe;
    }

    /**
     * The recipe of a run: a cosine schedule spans the steps per worker the run will take, as parameter averaging
     * counts them ({@code frequency} per round of {@code workers x frequency} minibatches), unless the recipe already
     * gives its span; other schedules unchanged (so that changing {@code train.epochs} on a resume changes no other
     * schedule's record).
     */
    static TrainingRecipe forRun(TrainingRecipe r, int epochs, long trainRows, int batchSize, int workers,
                                 int frequency) {
        if (!r.schedule().type().equals("cosine") || r.schedule().span() > 0) {
            return r;
        }
        long batches = Math.max(1, (trainRows + batchSize - 1) / batchSize);
        long perRound = (long) workers * frequency;
        long stepsPerEpoch = (batches + perRound - 1) / perRound * frequency;
        return r.spanning(stepsPerEpoch * epochs);
    }

    /**
     * The factor reduce-on-plateau has brought the step size to after the given validation NLLs: times {@code gamma}
     * each time {@code patience} epochs in a row brought no better NLL than the best so far (the count restarts after
     * each reduction, as PyTorch's ReduceLROnPlateau with cooldown 0).
     */
    static double plateauFactor(List<Double> validNlls, int patience, double gamma) {
        double factor = 1;
        double best = Double.POSITIVE_INFINITY;
        int bad = 0;
        for (double v : validNlls) {
            if (v < best) {
                best = v;
                bad = 0;
            } else if (++bad >= patience) {
                factor *= gamma;
                bad = 0;
            }
        }
        return factor;
    }

    /** The plateau factor after the given epochs (1 for every other schedule). */
    double factor(List<Train.EpochMetrics> history) {
        if (!recipe.schedule().type().equals("plateau")) {
            return 1;
        }
        return plateauFactor(history.stream().map(Train.EpochMetrics::validNll).toList(),
                recipe.schedule().patience(), recipe.schedule().gamma());
    }

    /**
     * Sets the network's clock to epoch {@code epoch} (from 0) and, for reduce-on-plateau, its step size to the one the
     * epochs done call for; returns the factor in use.
     */
    /** The factor last put into the network (NaN before the first epoch of this session). */
    double appliedFactor() {
        return appliedFactor;
    }

    double beforeEpoch(MultiLayerNetwork net, int epoch, List<Train.EpochMetrics> history) {
        net.getLayerWiseConfigurations().setEpochCount(epoch);
        double factor = factor(history);
        if (factor != appliedFactor) {
            if (!(Double.isNaN(appliedFactor) && factor == 1)) {
                RunSettings.useStepSizeOf(net, recipe.configure(spec.trainingConfiguration(recipe.scaled(factor))));
            }
            appliedFactor = factor;
        }
        return factor;
    }
}
