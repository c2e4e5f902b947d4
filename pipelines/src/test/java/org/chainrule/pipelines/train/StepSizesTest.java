package org.chainrule.pipelines.train;

import org.chainrule.models.TrainingRecipe;
import org.chainrule.models.autoregressive.MadeSpec;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.samediff.AbstractSameDiffLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.learning.config.IUpdater;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The run's clock and reduce-on-plateau reach the optimizer configuration the workers build their networks from. */
class StepSizesTest {
    private static IUpdater updater(MultiLayerNetwork net) {
        Layer l = net.getLayerWiseConfigurations().getConf(0).getLayer();
        return l instanceof AbstractSameDiffLayer s ? s.getUpdater() : ((BaseLayer) l).getIUpdater();
    }

    private static Train.EpochMetrics epoch(int n, double validNll) {
        return new Train.EpochMetrics(n, 10, validNll, validNll, 1, 1);
    }

    @Test
    void plateauLowersTheStepSizeOfTheWorkersConfigurationAndTheEpochIsTheRunsOwn() {
        MadeSpec spec = MadeSpec.made(new long[]{4}, new int[]{8}, 1, false, 1);
        TrainingRecipe recipe = new TrainingRecipe(TrainingRecipe.Optimizer.ADAM, 0.01,
                new TrainingRecipe.Schedule("plateau", 0, 0.5, 1, 0, 2, 0), 0, 0, 0, 0, 1);
        MultiLayerNetwork net = recipe.network(spec);
        StepSizes steps = new StepSizes(spec, recipe);
        List<Train.EpochMetrics> history = new ArrayList<>();
        assertEquals(1, steps.beforeEpoch(net, 0, history));
        assertEquals(0.01, updater(net).getLearningRate(0, 0), 1e-12);
        history.add(epoch(1, 5));
        history.add(epoch(2, 5.5));
        assertEquals(1, steps.beforeEpoch(net, 2, history)); // one bad epoch, patience 2
        history.add(epoch(3, 5.2));
        assertEquals(0.5, steps.beforeEpoch(net, 3, history));
        assertEquals(0.005, updater(net).getLearningRate(0, 3), 1e-12);
        assertEquals(3, net.getEpochCount());
        // a resumed run (a fresh StepSizes on a network whose configuration holds the base step) gets there too
        MultiLayerNetwork restored = recipe.network(spec);
        assertEquals(0.5, new StepSizes(spec, recipe).beforeEpoch(restored, 3, history));
        assertEquals(0.005, updater(restored).getLearningRate(0, 3), 1e-12);
        // other schedules are left to DL4J
        TrainingRecipe step = new TrainingRecipe(TrainingRecipe.Optimizer.ADAM, 0.01,
                new TrainingRecipe.Schedule("step", 0, 0.5, 1, 0, 1, 0), 0, 0, 0, 0, 1);
        MultiLayerNetwork stepped = step.network(spec);
        assertEquals(1, new StepSizes(spec, step).beforeEpoch(stepped, 2, history));
        assertEquals(0.0025, updater(stepped).getLearningRate(0, stepped.getEpochCount()), 1e-12);
    }
}
