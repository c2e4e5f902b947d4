package org.chainrule.models;

import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.LossLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.schedule.ISchedule;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every optimizer, schedule and regularizer of the recipe against steps computed by hand on a one-weight problem:
 * the network outputs {@code w x} and its loss is that output ({@link NllOutputLoss}), so the gradient of every step
 * is exactly the input {@code g} and each update rule can be followed on paper.
 */
class TrainingRecipeTest {
    private static final double G = 0.8;
    private static final double W0 = 0.5;
    private static final double LR = 0.1;

    /** The one-weight network under a recipe, its weight set to {@link #W0}. */
    private static MultiLayerNetwork oneWeight(TrainingRecipe r) {
        MultiLayerConfiguration c = r.base().list()
                .layer(new DenseLayer.Builder().nIn(1).nOut(1).hasBias(false).activation(Activation.IDENTITY)
                        .weightInit(WeightInit.ONES).build())
                .layer(new LossLayer.Builder(new NllOutputLoss()).activation(Activation.IDENTITY).build())
                .setInputType(InputType.feedForward(1)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(r.configure(c));
        net.init();
        net.params().assign(W0);
        return net;
    }

    /** The weight after each of {@code steps} steps with gradient G. */
    private static double[] weights(TrainingRecipe r, int steps) {
        MultiLayerNetwork net = oneWeight(r);
        DataSet d = new DataSet(Nd4j.valueArrayOf(new long[]{1, 1}, G, DataType.FLOAT),
                Nd4j.zeros(DataType.FLOAT, 1, 1));
        double[] w = new double[steps];
        for (int t = 0; t < steps; t++) {
            net.fit(d);
            w[t] = net.params().getDouble(0);
        }
        return w;
    }

    private static TrainingRecipe recipe(String optimizer, TrainingRecipe.Schedule schedule, double l2, double wd) {
        return new TrainingRecipe(new TrainingRecipe.Optimizer(optimizer, 0.9, 0.99, 1e-8, 0.8), LR, schedule, l2, wd,
                0, 0, 1);
    }

    private static void assertSteps(double[] expected, double[] actual, String what) {
        for (int t = 0; t < expected.length; t++) {
            assertEquals(expected[t], actual[t], 1e-6 * Math.max(1, Math.abs(expected[t])), what + " step " + (t + 1));
        }
    }

    @Test
    void sgdAndNesterov() {
        assertSteps(new double[]{W0 - LR * G, W0 - 2 * LR * G, W0 - 3 * LR * G},
                weights(recipe("sgd", TrainingRecipe.Schedule.CONSTANT, 0, 0), 3), "sgd");
        // Nesterov momentum mu = 0.8 with a constant gradient: the t-th step moves lr g (1 + mu + ... + mu^t)
        double mu = 0.8;
        double s1 = LR * G * (1 + mu);
        double s2 = LR * G * (1 + mu + mu * mu);
        assertSteps(new double[]{W0 - s1, W0 - s1 - s2},
                weights(recipe("nesterov", TrainingRecipe.Schedule.CONSTANT, 0, 0), 2), "nesterov");
    }

    @Test
    void adamFamilyAndRmsProp() {
        double b1 = 0.9;
        double b2 = 0.99;
        double eps = 1e-8;
        double[] adam = new double[3];
        double[] adamax = new double[3];
        double[] rms = new double[3];
        double m = 0, v = 0, u = 0, r = 0, wa = W0, wx = W0, wr = W0;
        for (int t = 1; t <= 3; t++) {
            m = b1 * m + (1 - b1) * G;
            v = b2 * v + (1 - b2) * G * G;
            wa -= LR * Math.sqrt(1 - Math.pow(b2, t)) / (1 - Math.pow(b1, t)) * m / (Math.sqrt(v) + eps);
            adam[t - 1] = wa;
            u = Math.max(b2 * u, Math.abs(G));
            wx -= LR / (1 - Math.pow(b1, t)) * m / (u + eps);
            adamax[t - 1] = wx;
            r = b2 * r + (1 - b2) * G * G;
            wr -= LR * G / Math.sqrt(r + eps);
            rms[t - 1] = wr;
        }
        assertSteps(adam, weights(recipe("adam", TrainingRecipe.Schedule.CONSTANT, 0, 0), 3), "adam");
        assertSteps(adamax, weights(recipe("adamax", TrainingRecipe.Schedule.CONSTANT, 0, 0), 3), "adamax");
        assertSteps(rms, weights(recipe("rmsprop", TrainingRecipe.Schedule.CONSTANT, 0, 0), 3), "rmsprop");
    }

    /** Decoupled decay shrinks the weight after the step; L2 adds l2 w to the gradient the optimizer sees. */
    @Test
    void weightDecayAndL2AgainstTheirClosedForms() {
        double wd = 0.05;
        assertSteps(new double[]{W0 - LR * G - LR * wd * W0},
                weights(recipe("sgd", TrainingRecipe.Schedule.CONSTANT, 0, wd), 1), "sgd + weight decay");
        double l2 = 0.3;
        assertSteps(new double[]{W0 - LR * (G + l2 * W0)},
                weights(recipe("sgd", TrainingRecipe.Schedule.CONSTANT, l2, 0), 1), "sgd + l2");
        // AdamW: Adam's first step (lr sign(g) up to epsilon) plus the decoupled decay of the old weight
        double adamStep = LR * Math.sqrt(1 - 0.99) / (1 - 0.9) * (0.1 * G) / (Math.sqrt(0.01 * G * G) + 1e-8);
        assertSteps(new double[]{W0 - adamStep - LR * wd * W0},
                weights(recipe("adamw", TrainingRecipe.Schedule.CONSTANT, 0, wd), 1), "adamw");
    }

    @Test
    void gradientClippingBoundsTheStep() {
        TrainingRecipe clipped = new TrainingRecipe(new TrainingRecipe.Optimizer("sgd", 0.9, 0.99, 1e-8, 0), LR,
                TrainingRecipe.Schedule.CONSTANT, 0, 0, 0.25, 0, 1);
        assertSteps(new double[]{W0 - LR * 0.25}, weights(clipped, 1), "gradient 0.8 clipped to norm 0.25");
    }

    /** The step size each schedule gives at (iteration, epoch), against its formula. */
    @Test
    void schedulesFollowTheirFormulas() {
        TrainingRecipe.Schedule step = new TrainingRecipe.Schedule("step", 0, 0.5, 3, 0, 1, 0);
        check(step.of(LR), (it, ep) -> LR * Math.pow(0.5, Math.floor(ep / 3.0)));
        TrainingRecipe.Schedule exp = new TrainingRecipe.Schedule("exponential", 0, 0.9, 1, 0, 1, 0);
        check(exp.of(LR), (it, ep) -> LR * Math.pow(0.9, ep));
        TrainingRecipe.Schedule cosine = new TrainingRecipe.Schedule("cosine", 0, 0.1, 1, 0.01, 1, 40);
        check(cosine.of(LR), (it, ep) -> 0.01 + (LR - 0.01) * (1 + Math.cos(Math.PI * Math.min(it, 40) / 40.0)) / 2);
        TrainingRecipe.Schedule warm = new TrainingRecipe.Schedule("constant", 10, 0.1, 1, 0, 1, 0);
        check(warm.of(LR), (it, ep) -> LR * Math.min(1.0, (it + 1) / 10.0));
        assertEquals(null, TrainingRecipe.Schedule.CONSTANT.of(LR), "a constant step size needs no schedule");
        assertThrows(IllegalStateException.class,
                () -> new TrainingRecipe.Schedule("cosine", 0, 0.1, 1, 0, 1, 0).of(LR), "cosine without a span");
        // the schedule drives the optimizer: two sgd steps at epoch 0 under a 10-step warm-up
        TrainingRecipe warmSgd = recipe("sgd", warm, 0, 0);
        assertSteps(new double[]{W0 - LR * 0.1 * G, W0 - LR * 0.1 * G - LR * 0.2 * G}, weights(warmSgd, 2), "warm-up");
    }

    private interface Formula {
        double at(int iteration, int epoch);
    }

    private static void check(ISchedule s, Formula f) {
        for (int ep = 0; ep < 8; ep++) {
            for (int it : new int[]{0, 1, 5, 9, 10, 20, 39, 40, 60}) {
                assertEquals(f.at(it, ep), s.valueAt(it, ep), 1e-12, "iteration " + it + ", epoch " + ep);
            }
        }
        // the schedule is saved inside the network's JSON and must come back the same
        MultiLayerConfiguration c = new TrainingRecipe(new TrainingRecipe.Optimizer("sgd", 0.9, 0.99, 1e-8, 0), LR,
                TrainingRecipe.Schedule.CONSTANT, 0, 0, 0, 0, 1).base().updater(new org.nd4j.linalg.learning.config
                .Sgd(s)).list().layer(new DenseLayer.Builder().nIn(1).nOut(1).build())
                .layer(new LossLayer.Builder(new NllOutputLoss()).build()).build();
        assertTrue(MultiLayerConfiguration.fromJson(c.toJson()).toJson().equals(c.toJson()), "JSON round trip");
    }

    @Test
    void aScheduleIsEqualToAnotherThatMovesTheStepSizeAlike() {
        TrainingRecipe.Schedule constant = new TrainingRecipe.Schedule("constant", 0, 0.5, 10, 0.2, 3, 0);
        assertEquals(TrainingRecipe.Schedule.CONSTANT, constant.canonical());
        TrainingRecipe.Schedule step = new TrainingRecipe.Schedule("step", 5, 0.5, 10, 0.2, 3, 0).canonical();
        assertEquals(new TrainingRecipe.Schedule("step", 5, 0.5, 10, 0, 1, 0), step);
        TrainingRecipe.Schedule plateau = new TrainingRecipe.Schedule("plateau", 0, 0.5, 10, 0.2, 3, 0).canonical();
        assertEquals(new TrainingRecipe.Schedule("plateau", 0, 0.5, 1, 0, 3, 0), plateau);
        TrainingRecipe.Schedule cosine = new TrainingRecipe.Schedule("cosine", 0, 0.5, 10, 0.2, 3, 0).canonical();
        assertEquals(new TrainingRecipe.Schedule("cosine", 0, 0.1, 1, 0.2, 1, 0), cosine);
    }
}
