package org.chainrule.models;

import org.deeplearning4j.nn.conf.GradientNormalization;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.samediff.AbstractSameDiffLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.learning.config.AdaMax;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.Nesterovs;
import org.nd4j.linalg.learning.config.RmsProp;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.schedule.ExponentialSchedule;
import org.nd4j.linalg.schedule.FixedSchedule;
import org.nd4j.linalg.schedule.ISchedule;
import org.nd4j.linalg.schedule.ScheduleType;
import org.nd4j.linalg.schedule.StepSchedule;

import org.nd4j.linalg.learning.regularization.L2Regularization;
import org.nd4j.linalg.learning.regularization.Regularization;
import org.nd4j.linalg.learning.regularization.WeightDecay;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;

/**
 * How a model's training network is optimized, for every model family in one place: the optimizer and its step-size
 * schedule, L2 and decoupled weight decay, gradient clipping, the Polyak average of the weights, the seed of the
 * network's initialisation and the float type. A {@link ModelSpec} builds its layers on {@link #base()} and sets
 * nothing of the optimizer itself.
 *
 * <p>Optimizers: {@code adam} (Kingma &amp; Ba 2015), {@code adamw} (Adam with decoupled weight decay, Loshchilov &amp;
 * Hutter 2019), {@code sgd} (plain), {@code nesterov} (SGD with Nesterov momentum, Sutskever et al. 2013),
 * {@code rmsprop} (Tieleman &amp; Hinton 2012) and {@code adamax} (Kingma &amp; Ba 2015, section 7).
 *
 * <p>Weight decay is the decoupled kind ({@code w -= lr * weightDecay * w} after the optimizer's step, which is what
 * makes Adam into AdamW); {@code l2} is the classic penalty {@code l2 / 2 * |w|^2} whose gradient goes through the
 * optimizer. Both apply to weights, not biases. Gradient clipping rescales the gradient so its L2 norm is at most
 * {@code clipNorm} (per layer; every likelihood model here trains as one layer, so this is the global norm).
 *
 * @param optimizer    the update rule and its constants
 * @param learningRate the base step size
 * @param schedule     how the step size moves with the step and epoch
 * @param l2           coefficient of the L2 penalty (0 = none)
 * @param weightDecay  decoupled weight decay per unit of step size (0 = none)
 * @param clipNorm     largest L2 norm of a step's gradient (0 = no clipping)
 * @param ema          decay of the exponential moving average of the weights used for validation, early stopping
 *                     and the saved model (0 = off; PixelCNN++ used 0.9995)
 * @param seed         seed of the network's parameter initialisation
 */
public record TrainingRecipe(Optimizer optimizer, double learningRate, Schedule schedule, double l2,
                             double weightDecay, double clipNorm, double ema, long seed) implements Serializable {

    /** Optimizer names. */
    public static final List<String> OPTIMIZERS = List.of("adam", "adamw", "sgd", "nesterov", "rmsprop", "adamax");

    public TrainingRecipe {
        if (!(learningRate > 0) || Double.isInfinite(learningRate)) {
            throw new IllegalArgumentException("learning rate must be positive and finite, got " + learningRate);
        }
        if (l2 < 0 || weightDecay < 0 || clipNorm < 0 || !(ema >= 0 && ema < 1)) {
            throw new IllegalArgumentException("need l2, weight decay and clip norm >= 0 and ema in [0, 1); got "
                    + l2 + ", " + weightDecay + ", " + clipNorm + ", " + ema);
        }
    }

    /** Adam at a constant step size, nothing else: the recipe every model trained with before recipes. */
    public TrainingRecipe(double learningRate, long seed) {
        this(Optimizer.ADAM, learningRate, Schedule.CONSTANT, 0, 0, 0, 0, seed);
    }

    /**
     * The update rule and its constants.
     *
     * @param name     one of {@link #OPTIMIZERS}
     * @param beta1    Adam/AdaMax first-moment decay
     * @param beta2    Adam/AdaMax second-moment decay; RMSProp's squared-gradient decay
     * @param epsilon  the optimizers' denominator guard
     * @param momentum Nesterov momentum
     */
    public record Optimizer(String name, double beta1, double beta2, double epsilon, double momentum)
            implements Serializable {
        /** Adam with the paper's constants. */
        public static final Optimizer ADAM = new Optimizer("adam", 0.9, 0.999, 1e-8, 0.9);

        public Optimizer {
            if (!OPTIMIZERS.contains(name)) {
                throw new IllegalArgumentException("optimizer must be one of " + OPTIMIZERS + ", got " + name);
            }
            if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1 && epsilon > 0 && momentum >= 0
                    && momentum < 1)) {
                throw new IllegalArgumentException("need beta1, beta2, momentum in [0, 1) and epsilon > 0; got "
                        + beta1 + ", " + beta2 + ", " + momentum + ", " + epsilon);
            }
        }

        /** The DL4J updater at a constant step size, or following {@code schedule} when it is not null. */
        IUpdater updater(double lr, ISchedule schedule) {
            IUpdater u = switch (name) {
                case "adam", "adamw" -> new Adam(lr, beta1, beta2, epsilon);
                case "adamax" -> new AdaMax(lr, beta1, beta2, epsilon);
                case "sgd" -> new Sgd(lr);
                case "nesterov" -> new Nesterovs(lr, momentum);
                default -> new RmsProp(lr, beta2, epsilon);
            };
            if (schedule != null) {
                u.setLrAndSchedule(lr, schedule);
            }
            return u;
        }
    }

    /**
     * The step size as a function of the step (minibatches per worker since the start of the run) and the epoch.
     *
     * @param type        {@code constant}, {@code step} (times {@code gamma} every {@code every} epochs),
     *                    {@code exponential} (times {@code gamma} per epoch), {@code cosine} (half a cosine from
     *                    the base step size down to {@code floor} over the run) or {@code plateau} (times
     *                    {@code gamma} after {@code patience} epochs without a better validation NLL; applied by the
     *                    training loop)
     * @param warmupSteps linear warm-up from 0 over this many steps (0 = none), before the type's own shape
     * @param gamma       the factor of step, exponential and plateau
     * @param every       epochs between steps of {@code step}
     * @param floor       the step size {@code cosine} ends at
     * @param patience    epochs without improvement before {@code plateau} lowers the step size
     * @param span        steps the run lasts (what {@code cosine} spans), set by the training loop from the epochs
     *                    and the steps per epoch; 0 while unknown
     */
    public record Schedule(String type, int warmupSteps, double gamma, int every, double floor, int patience,
                           long span) implements Serializable {
        /** Schedule types. */
        public static final List<String> TYPES = List.of("constant", "step", "exponential", "cosine", "plateau");
        /** A constant step size. */
        public static final Schedule CONSTANT = new Schedule("constant", 0, 0.1, 1, 0, 1, 0);

        public Schedule {
            if (!TYPES.contains(type)) {
                throw new IllegalArgumentException("schedule must be one of " + TYPES + ", got " + type);
            }
            if (warmupSteps < 0 || !(gamma > 0 && gamma <= 1) || every < 1 || floor < 0 || patience < 1
                    || span < 0) {
                throw new IllegalArgumentException("need warmup >= 0, gamma in (0, 1], every >= 1, floor >= 0,"
                        + " patience >= 1, span >= 0; got " + warmupSteps + ", " + gamma + ", " + every + ", " + floor
                        + ", " + patience + ", " + span);
            }
        }

        /**
         * The same schedule with the constants its type does not use set to those of {@link #CONSTANT}, so that two
         * schedules that move the step size alike are equal (and a resume is not refused over an unused key).
         */
        public Schedule canonical() {
            boolean usesGamma = type.equals("step") || type.equals("exponential") || type.equals("plateau");
            return new Schedule(type, warmupSteps, usesGamma ? gamma : CONSTANT.gamma,
                    type.equals("step") ? every : CONSTANT.every, type.equals("cosine") ? floor : CONSTANT.floor,
                    type.equals("plateau") ? patience : CONSTANT.patience, span);
        }

        /** The same schedule over a run of {@code steps} steps. */
        public Schedule withSpan(long steps) {
            return new Schedule(type, warmupSteps, gamma, every, floor, patience, steps);
        }

        /**
         * The DL4J step-size schedule from a base step size, or null for a constant one (plateau's changes are made
         * by the training loop between epochs).
         */
        ISchedule of(double lr) {
            ISchedule shape = switch (type) {
                case "step" -> new StepSchedule(ScheduleType.EPOCH, lr, gamma, every);
                case "exponential" -> new ExponentialSchedule(ScheduleType.EPOCH, lr, gamma);
                case "cosine" -> {
                    if (span < 1) {
                        throw new IllegalStateException("a cosine schedule needs the run's length in steps");
                    }
                    yield new CosineSchedule(lr, floor, span);
                }
                default -> null;
            };
            if (warmupSteps == 0) {
                return shape;
            }
            return new WarmupSchedule(shape == null ? new FixedSchedule(lr) : shape, warmupSteps);
        }
    }

    /**
     * Reads a recipe from the {@code train} section of a job configuration: {@code learning-rate}, {@code optimizer}
     * and its constants ({@code beta1}, {@code beta2}, {@code epsilon}, {@code momentum}), {@code schedule { type,
     * warmup-steps, gamma, every, floor, patience }}, {@code l2}, {@code weight-decay}, {@code gradient-clip-norm},
     * {@code ema} and {@code seed}. Problems go to the section; null is returned when there is any.
     */
    public static TrainingRecipe read(Section s) {
        double lr = s.real("learning-rate", 1e-12, 10);
        String name = s.oneOf("optimizer", OPTIMIZERS);
        double beta1 = s.real("beta1", 0, 0.999999);
        double beta2 = s.real("beta2", 0, 0.999999);
        double epsilon = s.real("epsilon", 1e-30, 1);
        double momentum = s.real("momentum", 0, 0.999999);
        Section sch = s.section("schedule");
        String type = sch.oneOf("type", Schedule.TYPES);
        int warmup = sch.integer("warmup-steps", 0, Integer.MAX_VALUE);
        double gamma = sch.real("gamma", 1e-12, 1);
        int every = sch.integer("every", 1, 1_000_000);
        double floor = sch.real("floor", 0, 10);
        int patience = sch.integer("patience", 1, 1_000_000);
        double l2 = s.real("l2", 0, 1e6);
        double weightDecay = s.real("weight-decay", 0, 1e6);
        double clip = s.real("gradient-clip-norm", 0, 1e12);
        double ema = s.real("ema", 0, 0.999999999);
        long seed = s.seed("seed");
        if (name.equals("adamw") && weightDecay == 0) {
            s.problem("weight-decay", "= 0: adamw is Adam with decoupled weight decay; set a weight decay (or use"
                    + " optimizer = adam)");
        }
        if (name.equals("adamw") && l2 > 0) {
            s.problem("l2", "= " + l2 + ": adamw decays weights directly (weight-decay), not through an L2 penalty");
        }
        if (type.equals("cosine") && floor >= lr) {
            sch.problem("floor", "= " + floor + " must be below the learning rate " + lr + " a cosine starts from");
        }
        if (!s.ok()) {
            return null;
        }
        return new TrainingRecipe(new Optimizer(name, beta1, beta2, epsilon, momentum), lr,
                new Schedule(type, warmup, gamma, every, floor, patience, 0).canonical(), l2, weightDecay, clip, ema,
                seed);
    }

    /** The same recipe with another seed. */
    public TrainingRecipe withSeed(long seed) {
        return new TrainingRecipe(optimizer, learningRate, schedule, l2, weightDecay, clipNorm, ema, seed);
    }

    /** The same recipe with the schedule spanning a run of {@code steps} steps (see {@link Schedule#span}). */
    public TrainingRecipe spanning(long steps) {
        return new TrainingRecipe(optimizer, learningRate, schedule.withSpan(steps), l2, weightDecay, clipNorm, ema,
                seed);
    }

    /** The same recipe with the base step size times {@code factor} (reduce-on-plateau's reductions). */
    public TrainingRecipe scaled(double factor) {
        return new TrainingRecipe(optimizer, learningRate * factor, schedule, l2, weightDecay, clipNorm, ema, seed);
    }

    /**
     * A network configuration builder with this recipe's optimizer, clipping, seed and float type. The regularization
     * terms are set per layer by {@link #configure}, which {@link #network} applies.
     */
    public NeuralNetConfiguration.Builder base() {
        NeuralNetConfiguration.Builder b = new NeuralNetConfiguration.Builder()
                .seed(seed)
                .dataType(DataType.FLOAT)
                .updater(optimizer.updater(learningRate, schedule.of(learningRate)));
        if (clipNorm > 0) {
            b.gradientNormalization(GradientNormalization.ClipL2PerLayer).gradientNormalizationThreshold(clipNorm);
        }
        return b;
    }

    /** The weights' regularization terms: L2 before the optimizer, decoupled weight decay after it. */
    private List<Regularization> regularization() {
        List<Regularization> terms = new ArrayList<>();
        if (l2 > 0) {
            terms.add(new L2Regularization(l2));
        }
        if (weightDecay > 0) {
            terms.add(new WeightDecay(weightDecay, true));
        }
        return terms;
    }

    /**
     * The network a spec trains under this recipe, initialised. Each layer's regularization is set here to exactly
     * this recipe's terms (biases none): DL4J 1.0.0-M2.1 copies a weight decay set on the configuration builder into
     * every layer twice, so a step would decay the weights twice as fast as the formula says.
     */
    public MultiLayerNetwork network(ModelSpec spec) {
        MultiLayerNetwork net = new MultiLayerNetwork(configure(spec.trainingConfiguration(this)));
        net.init();
        return net;
    }

    /** A training configuration with every layer's regularization set to exactly this recipe's (see {@link #network}). */
    public MultiLayerConfiguration configure(MultiLayerConfiguration c) {
        for (NeuralNetConfiguration layer : c.getConfs()) {
            if (layer.getLayer() instanceof BaseLayer b) {
                b.setRegularization(regularization());
                b.setRegularizationBias(new ArrayList<>());
            } else if (layer.getLayer() instanceof AbstractSameDiffLayer b) {
                b.setRegularization(regularization());
                b.setRegularizationBias(new ArrayList<>());
            }
        }
        return c;
    }
}
