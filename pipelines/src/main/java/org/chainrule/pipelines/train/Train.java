package org.chainrule.pipelines.train;

import org.chainrule.models.TrainingRecipe;
import com.typesafe.config.Config;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.storage.StorageLevel;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.Seeds;
import org.chainrule.models.Units;
import org.chainrule.pipelines.Progress;
import org.chainrule.pipelines.data.Batches;
import org.chainrule.pipelines.data.Example;
import org.chainrule.pipelines.data.Manifest;
import org.chainrule.pipelines.data.Shards;
import org.chainrule.pipelines.evaluate.Evaluate;
import org.chainrule.pipelines.evaluate.Scorer;
import org.chainrule.pipelines.io.Artefact;
import org.chainrule.pipelines.io.Json;
import org.chainrule.pipelines.io.OutputGuard;
import org.chainrule.pipelines.io.Outputs;
import org.chainrule.pipelines.io.Pictures;
import org.chainrule.pipelines.io.SavedModel;
import org.chainrule.pipelines.spark.JobLabels;
import org.chainrule.pipelines.spark.TrainMetrics;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The train pipeline: parameter averaging over the prepared training split, one epoch at a time.
 *
 * <p>Each epoch places the rows in an order seeded by (seed, epoch) ({@link EpochOrder}), deals them to the workers
 * in minibatches of {@code batchSize} rows (the model's connectivity variant for each minibatch drawn from the same
 * seed), and runs {@link AveragingRounds}: every worker fits {@code averagingFrequency} minibatches, then parameters
 * and optimizer state are averaged. Progress is printed every {@code roundsPerCall} rounds. The schedule depends only
 * on (seed, epoch), so a resumed run repeats the uninterrupted one exactly.
 *
 * <p>The network is built and optimized under the run's {@link TrainingRecipe}; its step-size schedule runs on the
 * run's own step and epoch ({@link StepSizes}), and with {@code ema} on, a {@link WeightAverage} of the parameters is
 * what is scored, early-stopped on and saved as the model.
 *
 * <p>After every epoch: exact train (on a fixed subset) and validation NLL through the distributed scorer, a checkpoint
 * (weights, updater state, weight average, settings, training state) that {@code resume} continues from, the
 * best-so-far model in {@code model/}, {@code metrics.parquet} and {@code loss-curve.png}; training stops early after
 * {@code patience} epochs without a better validation NLL.
 */
public final class Train {
    static final String CHECKPOINT = "checkpoint";
    static final String MODEL = "model";
    static final String STATE = "state.json";
    static final StructType METRICS = new StructType()
            .add("epoch", DataTypes.IntegerType).add("steps", DataTypes.LongType)
            .add("train_nll_nats", DataTypes.DoubleType).add("valid_nll_nats", DataTypes.DoubleType)
            .add("valid_bits_per_dim", DataTypes.DoubleType).add("seconds", DataTypes.DoubleType)
            .add("examples_per_second", DataTypes.DoubleType);

    private Train() {
    }

    /**
     * Settings of a training run.
     *
     * @param data      prepared dataset directory
     * @param output    run directory (checkpoint/, model/, metrics.parquet, loss-curve.png)
     * @param spec      the model
     * @param recipe    optimizer and seed; the seed is the run's root seed: initialisation, shuffling, mask schedule
     *                  and averaging splits all derive from it
     * @param schedule  epochs, minibatch size, early stopping
     * @param averaging how the workers train together
     * @param scoring   what is scored after each epoch
     * @param resume    continue from {@code output/checkpoint}
     * @param overwrite replace an existing run directory (when not resuming)
     * @param record    the full settings, stored with the model
     * @param allowChangedSettings on resume, continue with settings that differ from the checkpoint's (seed, learning
     *                  rate, batch size, workers, averaging, evaluation subsets, data) instead of refusing; the new
     *                  ones are recorded as a new segment of epochs (see {@link RunSettings})
     */
    public record Settings(String data, String output, ModelSpec spec, TrainingRecipe recipe, Schedule schedule,
                           Averaging averaging, Scoring scoring, boolean resume, boolean overwrite,
                           Map<String, Object> record, boolean allowChangedSettings) {
        /** Settings that refuse a resume with changed settings. */
        public Settings(String data, String output, ModelSpec spec, TrainingRecipe recipe, Schedule schedule,
                        Averaging averaging, Scoring scoring, boolean resume, boolean overwrite,
                        Map<String, Object> record) {
            this(data, output, spec, recipe, schedule, averaging, scoring, resume, overwrite, record, false);
        }

        /** The run's root seed. */
        public long seed() {
            return recipe.seed();
        }

        /** The same run with other resume and overwrite flags. */
        public Settings withFlags(boolean resume, boolean overwrite) {
            return new Settings(data, output, spec, recipe, schedule, averaging, scoring, resume, overwrite, record,
                    allowChangedSettings);
        }

        /** The same run under another recipe. */
        public Settings withRecipe(TrainingRecipe r) {
            return new Settings(data, output, spec, r, schedule, averaging, scoring, resume, overwrite, record,
                    allowChangedSettings);
        }

        /** The same run with {@code allowChangedSettings} set. */
        public Settings withAllowChangedSettings(boolean allow) {
            return new Settings(data, output, spec, recipe, schedule, averaging, scoring, resume, overwrite, record,
                    allow);
        }
    }

    /**
     * How long a run trains and on what minibatches.
     *
     * @param epochs    maximum epochs
     * @param batchSize minibatch size per worker
     * @param patience  epochs without validation improvement before stopping (0 = never stop early)
     */
    public record Schedule(int epochs, int batchSize, int patience) {
        public Schedule {
            if (epochs < 1 || batchSize < 1 || patience < 0) {
                throw new IllegalArgumentException("need epochs >= 1, batchSize >= 1, patience >= 0; got " + epochs
                        + ", " + batchSize + ", " + patience);
            }
        }
    }

    /**
     * Parameter averaging across workers.
     *
     * @param workers       parallel workers (0 = Spark's default parallelism)
     * @param frequency     minibatches each worker fits between parameter averages
     * @param roundsPerCall averaging rounds per fit call, i.e. per progress line (0 = about ten per epoch)
     * @param blockMomentum momentum on the averaged update ({@link BlockMomentum}; 0 = plain averaging)
     * @param stepScale     factor on the recipe's step size when 2 or more workers average (1 = the same step as one
     *                      process): each worker then covers more of the distance the workers' mean falls short by
     * @param exchange      how workers exchange states ({@link AveragingRounds#EXCHANGES}): one Spark job per epoch
     *                      whose tasks talk to the driver over sockets ({@code barrier}), one job per round
     *                      ({@code rounds}), or the first where Spark allows it ({@code auto}); the results are the
     *                      same bit for bit
     */
    public record Averaging(int workers, int frequency, int roundsPerCall, double blockMomentum, double stepScale,
                            String exchange) {
        public Averaging {
            if (workers < 0 || frequency < 1 || roundsPerCall < 0 || !(blockMomentum >= 0 && blockMomentum < 1)
                    || !(stepScale > 0)) {
                throw new IllegalArgumentException("need workers >= 0, frequency >= 1, roundsPerCall >= 0, blockMomentum"
                        + " in [0, 1), stepScale > 0; got " + workers + ", " + frequency + ", " + roundsPerCall + ", "
                        + blockMomentum + ", " + stepScale);
            }
            if (!AveragingRounds.EXCHANGES.contains(exchange)) {
                throw new IllegalArgumentException("exchange must be one of " + AveragingRounds.EXCHANGES + ", got "
                        + exchange);
            }
        }

        /** Averaging whose exchange is chosen by {@code auto}. */
        public Averaging(int workers, int frequency, int roundsPerCall, double blockMomentum, double stepScale) {
            this(workers, frequency, roundsPerCall, blockMomentum, stepScale, "auto");
        }

        /** Plain averaging: no block momentum, the recipe's step size. */
        public Averaging(int workers, int frequency, int roundsPerCall) {
            this(workers, frequency, roundsPerCall, 0, 1);
        }

        /** The same averaging with states exchanged as {@code how}. */
        public Averaging withExchange(String how) {
            return new Averaging(workers, frequency, roundsPerCall, blockMomentum, stepScale, how);
        }
    }

    /**
     * The exact likelihoods computed after every epoch.
     *
     * @param trainRows rows of the training split scored for the train NLL
     * @param validRows rows of the validation split scored for the valid NLL (early stopping and the best model): a
     *                  fixed seeded subset of about that many; 0 = all of them. For models whose exact likelihood
     *                  is expensive (DeepNADE, NADE-k, PixelRNN).
     * @param batchSize rows per forward pass when scoring
     */
    public record Scoring(long trainRows, long validRows, int batchSize) {
        public Scoring {
            if (trainRows < 1 || validRows < 0 || batchSize < 1) {
                throw new IllegalArgumentException("need trainRows >= 1, validRows >= 0 (0 = all), batchSize >= 1;"
                        + " got " + trainRows + ", " + validRows + ", " + batchSize);
            }
        }
    }

    /** One finished epoch. */
    public record EpochMetrics(int epoch, long steps, double trainNll, double validNll, double seconds,
                               double examplesPerSecond) {
        Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("epoch", epoch);
            m.put("steps", steps);
            m.put("trainNll", trainNll);
            m.put("validNll", validNll);
            m.put("seconds", seconds);
            m.put("examplesPerSecond", examplesPerSecond);
            return m;
        }

        static EpochMetrics of(Config c) {
            return new EpochMetrics(c.getInt("epoch"), c.getLong("steps"), c.getDouble("trainNll"),
                    c.getDouble("validNll"), c.getDouble("seconds"), c.getDouble("examplesPerSecond"));
        }
    }

    /** Training rows a model with data-dependent initialisation (actnorm) sees before its first step. */
    static final int DATA_INIT_ROWS = 512;

    /**
     * Runs (or resumes) training; returns the run summary.
     *
     * <p>A new run is trained in place, so that {@code --resume} can continue it after a stop. With
     * {@code --overwrite} on an existing run, the new run is trained at a hidden staging path beside the old one,
     * which stays untouched until the new run is complete and then is replaced by it in one rename: a kill at any
     * point leaves the old run as it was (and its checkpoint resumable); the next train on that output removes the
     * killed replacement. {@code --resume} always continues the run at the output itself (and ignores
     * {@code --overwrite}).
     */
    public static Map<String, Object> run(SparkSession spark, Settings s) {
        return run(spark, s, Incremental.NONE);
    }

    /**
     * Runs training as {@link #run(SparkSession, Settings)} does, building on what is there as {@code incremental}
     * says: warm-started from a model, skipped when its inputs are unchanged, and recorded as a model version.
     */
    public static Map<String, Object> run(SparkSession spark, Settings settings, Incremental incremental) {
        Configuration hconf = spark.sparkContext().hadoopConfiguration();
        Manifest manifest = Manifest.read(settings.data(), hconf);
        Evaluate.checkCompatible(settings.spec(), manifest, settings.data());
        Incremental.Run incr = incremental.start(spark, settings, manifest);
        if (incr.upToDate() != null) {
            return incr.upToDate();
        }
        Settings s = incr.settings();
        if (s.resume()) {
            OutputGuard.checkApartFromInputs(s.output(), Artefact.RUN, List.of(s.data()), hconf);
            List<String> tidied = new ArrayList<>(Outputs.removeLeftovers(s.output(), hconf));
            tidied.addAll(Outputs.removeLeftoversInside(s.output(), hconf));
            tidied.forEach(line -> Progress.say("train", "leftover of an interrupted job: " + line));
            return train(spark, s, manifest, s.output(), incr);
        }
        if (!OutputGuard.claim(s.output(), Artefact.RUN, List.of(s.data()), s.overwrite(), hconf)) {
            return train(spark, s, manifest, s.output(), incr);
        }
        Progress.say("train", "--overwrite: the new run is trained beside " + s.output()
                + ", which stays as it is until the new run is complete");
        return Outputs.staged(s.output(), hconf, staging -> train(spark, s, manifest, staging, incr));
    }

    /** Trains (or resumes) into {@code dir}: the output itself, or the staging path of a replacement. */
    private static Map<String, Object> train(SparkSession spark, Settings given, Manifest manifest, String dir,
                                             Incremental.Run incr) {
        Configuration hconf = spark.sparkContext().hadoopConfiguration();
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        String checkpoint = dir + "/" + CHECKPOINT;
        int workers = given.averaging().workers() > 0 ? given.averaging().workers() : jsc.defaultParallelism();
        Settings s = given.withRecipe(StepSizes.forRun(given.recipe(), given.schedule().epochs(),
                manifest.split("train", given.data()).rows(), given.schedule().batchSize(), workers,
                given.averaging().frequency()));
        Map<String, Object> now = RunSettings.of(s, workers, manifest, 1);
        // block momentum and the step scale are for averaging 2 or more workers; one worker trains as one process
        double blockMomentum = workers > 1 ? s.averaging().blockMomentum() : 0;
        if (workers > 1 && s.averaging().stepScale() != 1) {
            s = s.withRecipe(s.recipe().scaled(s.averaging().stepScale()));
        }
        StepSizes stepSizes = new StepSizes(s.spec(), s.recipe());

        MultiLayerNetwork net;
        WeightAverage average = null;
        BlockMomentum momentum = null;
        List<EpochMetrics> history = new ArrayList<>();
        List<Map<String, Object>> segments = new ArrayList<>();
        if (s.resume()) {
            if (!Outputs.exists(checkpoint + "/" + SavedModel.DESCRIPTION, hconf)) {
                throw new IllegalArgumentException("nothing to resume: no checkpoint in " + s.output());
            }
            SavedModel saved = SavedModel.load(checkpoint, true, hconf);
            if (!saved.spec().equals(s.spec())) {
                throw new IllegalArgumentException("cannot resume " + s.output() + " with a different model: checkpoint "
                        + saved.spec() + ", settings " + s.spec());
            }
            net = saved.network();
            Config state = Json.parse(Outputs.readText(checkpoint + "/" + STATE, hconf), checkpoint + "/" + STATE);
            state.getConfigList("history").forEach(c -> history.add(EpochMetrics.of(c)));
            segments.addAll(RunSettings.recorded(state, saved));
            resumeSettings(s, segments, now, history.size(), net);
            if (s.recipe().ema() > 0) {
                String file = checkpoint + "/" + WeightAverage.FILE;
                average = WeightAverage.fromBytes(runState(s, file, "train.ema = " + s.recipe().ema(),
                        "weight average", hconf), s.recipe().ema(), net.numParams(), file);
            }
            if (blockMomentum > 0) {
                String file = checkpoint + "/" + BlockMomentum.FILE;
                momentum = BlockMomentum.fromBytes(runState(s, file, "train.block-momentum = " + blockMomentum,
                        "block momentum", hconf), blockMomentum, net.numParams(), file);
            }
            Progress.say("train", "resuming " + s.output() + " after epoch " + history.size());
        } else {
            net = incr.initialNetwork(s);
            segments.add(now);
        }

        int dims = manifest.dims();
        JobLabels.describe(spark, "train: read data");
        JavaRDD<Example> train = Shards.read(spark, s.data(), "train", manifest).persist(StorageLevel.MEMORY_AND_DISK_SER());
        JavaRDD<Example> valid = Shards.read(spark, s.data(), "valid", manifest).persist(StorageLevel.MEMORY_AND_DISK_SER());
        long trainRows = manifest.split("train", s.data()).rows();
        double fraction = Math.min(1.0, (double) s.scoring().trainRows() / Math.max(1, trainRows));
        long evalSeed = Seeds.derive(s.seed(), -1);
        JavaRDD<Example> trainEval = seededSubset(train, fraction, evalSeed);
        long validRows = manifest.split("valid", s.data()).rows();
        JavaRDD<Example> validEval = valid;
        if (s.scoring().validRows() > 0 && s.scoring().validRows() < validRows) {
            validEval = seededSubset(valid, (double) s.scoring().validRows() / validRows, Seeds.derive(s.seed(), -2))
                    .persist(StorageLevel.MEMORY_AND_DISK_SER());
        }
        long validScored = validEval == valid ? validRows : validEval.count();
        if (!s.resume() && !incr.warm()) {
            // data-dependent initialisation (actnorm) on the driver, before the parameters are first broadcast
            List<Example> first = train.take(DATA_INIT_ROWS);
            s.spec().initializeFromData(net, manifest.domain().standardize(Batches.matrix(first, dims,
                    manifest.domain().isReal())));
        }
        if (!s.resume() && s.recipe().ema() > 0) {
            average = WeightAverage.startingAt(s.recipe().ema(), net.params());
        }
        if (!s.resume() && blockMomentum > 0) {
            momentum = BlockMomentum.starting(blockMomentum, net.numParams());
        }
        Progress.say("train", String.format("%s on %s: %d train / %d valid rows, %d workers x batch %d, averaging every"
                        + " %d steps, %d epochs, %d parameters", s.spec().type(), s.data(), trainRows,
                validRows, workers, s.schedule().batchSize(), s.averaging().frequency(), s.schedule().epochs(),
                net.numParams()) + (momentum == null ? "" : ", block momentum " + momentum.momentum())
                + (workers > 1 && s.averaging().stepScale() != 1 ? ", step size x" + s.averaging().stepScale() : ""));
        if (average != null) {
            long perWorker = s.schedule().epochs() * ((trainRows + (long) s.schedule().batchSize() * workers - 1)
                    / ((long) s.schedule().batchSize() * workers));
            String warning = WeightAverage.shortRunWarning(s.recipe().ema(), perWorker);
            if (warning != null) {
                Progress.say("train", "warning: " + warning);
            }
        }
        if (validScored < validRows) {
            Progress.say("train", String.format("valid NLL after each epoch on a fixed subset of %d of the %d"
                    + " validation rows (train.valid-eval-rows)", validScored, validRows));
        }
        List<Map<String, Object>> averagingTimes = new ArrayList<>();
        try (AveragingRounds averaging = new AveragingRounds(jsc, train, net, s.spec(), manifest.domain(), dims,
                workers, s.schedule().batchSize(), s.averaging().frequency(), s.seed(), momentum,
                s.averaging().exchange())) {
            incr.scoreStart(jsc, validEval, net, manifest);
            double best = history.stream().mapToDouble(EpochMetrics::validNll).min().orElse(Double.POSITIVE_INFINITY);
            int sinceBest = sinceBest(history);
            long runStart = System.nanoTime();
            int startEpoch = history.size();
            TrainMetrics metrics = TrainMetrics.register(jsc);
            for (int epoch = startEpoch; epoch < s.schedule().epochs(); epoch++) {
                if (s.schedule().patience() > 0 && sinceBest >= s.schedule().patience()) {
                    Progress.say("train", "early stop: no better validation NLL for " + sinceBest + " epochs");
                    break;
                }
                long t0 = System.nanoTime();
                double before = stepSizes.appliedFactor();
                double factor = stepSizes.beforeEpoch(net, epoch, history);
                if (factor != before) {
                    averaging.reconfigure(net); // the workers' networks take the scaled step size
                }
                AveragingRounds.Epoch fitted = fitEpoch(jsc, averaging, net, s, epoch, runStart, startEpoch, average);
                long steps = fitted.steps();
                averagingTimes.add(fitted.times().toMap());
                double seconds = (System.nanoTime() - t0) / 1e9;
                JobLabels.describe(spark, "train epoch %d/%d: train and validation NLL", epoch + 1,
                        s.schedule().epochs());
                // with a weight average on, the average is what is scored, kept as best and early-stopped on
                MultiLayerNetwork scored = average == null ? net : averaged(net, average);
                Broadcast<SavedModel.Payload> payload = jsc.broadcast(SavedModel.Payload.of(s.spec(), scored,
                        manifest.domain()));
                double trainNll = Scorer.meanNll(trainEval, payload, dims, s.scoring().batchSize())[0];
                double validNll = Scorer.meanNll(validEval, payload, dims, s.scoring().batchSize())[0];
                payload.destroy();
                history.add(new EpochMetrics(epoch + 1, steps, trainNll, validNll, seconds, trainRows / seconds));
                boolean improved = validNll < best;
                metrics.epochDone(epoch + 1, s.schedule().epochs(),
                        history.stream().mapToLong(EpochMetrics::steps).sum(), trainRows / seconds, trainNll, validNll);
                JobLabels.describe(spark, "train epoch %d/%d: save checkpoint and metrics", epoch + 1,
                        s.schedule().epochs());
                Map<String, Object> provenance = provenance(s, manifest, history.size());
                provenance.put("settingsByEpoch", segments);
                provenance.putAll(incr.provenance());
                SavedModel current = new SavedModel(s.spec(), net, manifest.domain(), s.record(), provenance);
                if (improved) {
                    best = validNll;
                    sinceBest = 0;
                    new SavedModel(s.spec(), scored, manifest.domain(), s.record(), provenance)
                            .save(dir + "/" + MODEL, hconf);
                } else {
                    sinceBest++;
                }
                Map<String, byte[]> runState = new LinkedHashMap<>();
                if (average != null) {
                    runState.put(WeightAverage.FILE, average.toBytes());
                }
                if (momentum != null) {
                    runState.put(BlockMomentum.FILE, momentum.toBytes());
                }
                current.save(checkpoint, Map.of(STATE, stateJson(history, segments, stepSizes.factor(history))),
                        runState, hconf);
                Artefact.RUN.mark(dir, hconf);
                writeMetrics(spark, dir, history, dims, hconf);
                Progress.say("train", String.format("epoch %d/%d done in %s | %.0f ex/s | train NLL %.3f | valid NLL"
                                + " %.3f nats (%.4f bits/dim)%s", epoch + 1, s.schedule().epochs(), Progress.duration(seconds),
                        trainRows / seconds, trainNll, validNll, Units.bitsPerDim(validNll, dims),
                        improved ? " | best so far, saved" : " | best " + String.format("%.3f", best))
                        + (factor == 1 ? "" : String.format(" | step size x%.3g", factor))
                        + (average == null ? "" : " | NLLs of the weight average"));
            }
            Map<String, Object> summary = new LinkedHashMap<>();
            summary.put("output", s.output());
            summary.put("model", s.output() + "/" + MODEL);
            summary.put("epochs", history.size());
            summary.put("bestValidNllNats", best);
            summary.put("bestValidBitsPerDim", Units.bitsPerDim(best, dims));
            summary.put("validRowsScored", validScored);
            summary.put("history", history.stream().map(EpochMetrics::toMap).toList());
            summary.put("averagingTimes", averagingTimes); // this session's epochs: where each round's time went
            summary.put("settingsByEpoch", segments);
            incr.recordVersion(dir, summary);
            Outputs.writeBytesAtomically(dir + "/train-summary.json",
                    Json.render(summary).getBytes(java.nio.charset.StandardCharsets.UTF_8), hconf);
            Progress.say("train", String.format("finished: best valid NLL %.3f nats; model %s/%s; curve %s/loss-curve.png",
                    best, s.output(), MODEL, s.output()));
            return summary;
        } finally {
            train.unpersist();
            valid.unpersist();
            validEval.unpersist();
        }
    }

    /** A checkpoint's file of run state that {@code setting} needs, or a clear refusal to resume without it. */
    private static byte[] runState(Settings s, String file, String setting, String what, Configuration hconf) {
        if (!Outputs.exists(file, hconf)) {
            throw new IllegalArgumentException("cannot resume " + s.output() + " with " + setting
                    + ": its checkpoint holds no " + what + " (" + file + ")");
        }
        return Outputs.readBytes(file, hconf);
    }

    /** The rows whose seeded uniform draw (by row id) falls below {@code fraction}: the same rows on every call. */
    private static JavaRDD<Example> seededSubset(JavaRDD<Example> rows, double fraction, long seed) {
        return rows.filter(e -> Seeds.uniform(Seeds.derive(seed, e.rowId())) < fraction);
    }

    private static int sinceBest(List<EpochMetrics> history) {
        int bestAt = -1;
        double best = Double.POSITIVE_INFINITY;
        for (int i = 0; i < history.size(); i++) {
            if (history.get(i).validNll() < best) {
                best = history.get(i).validNll();
                bestAt = i;
            }
        }
        return history.size() - 1 - bestAt;
    }

    /**
     * Fits one epoch by averaging rounds, printing progress every {@code roundsPerCall} rounds (about ten lines an
     * epoch when 0); returns the epoch, which knows its minibatch count and where its time went.
     */
    private static AveragingRounds.Epoch fitEpoch(JavaSparkContext jsc, AveragingRounds averaging,
                                                  MultiLayerNetwork net, Settings s, int epoch, long runStart,
                                                  int startEpoch, WeightAverage average) {
        int epochs = s.schedule().epochs();
        AveragingRounds.Epoch rounds = averaging.epoch(epoch);
        try {
            long total = rounds.steps();
            int perLine = Math.max(1, s.averaging().roundsPerCall() > 0 ? s.averaging().roundsPerCall()
                    : (int) Math.ceil(rounds.rounds() / 10.0));
            JobLabels.describe(jsc, "train epoch %d/%d: shuffle into minibatches", epoch + 1, epochs);
            rounds.shuffle();
            long epochStart = System.nanoTime();
            long perRound = (long) rounds.order().workers() * rounds.order().frequency();
            AveragingRounds.Start start = averaging.oneJobPerEpoch() ? rounds.start(net) : null;
            INDArray averageStart = start == null || average == null ? null : average.average().dup();
            for (int r = 0; r < rounds.rounds(); r++) {
                if (averaging.oneJobPerEpoch() && r == 0) {
                    JobLabels.describe(jsc, "train epoch %d/%d: averaging %s in one job", epoch + 1, epochs,
                            JobLabels.range("round", 1, rounds.rounds(), rounds.rounds()));
                } else if (!averaging.oneJobPerEpoch() && r % perLine == 0) {
                    JobLabels.describe(jsc, "train epoch %d/%d: averaging %s", epoch + 1, epochs, JobLabels.range("round",
                            r + 1, Math.min(rounds.rounds(), r + perLine), rounds.rounds()));
                }
                try {
                    rounds.round(r, net);
                } catch (AveragingRounds.Restarted e) {
                    // an executor was lost and Spark reran the epoch's job: its rounds start again from the epoch's start
                    Progress.say("train", "epoch " + (epoch + 1) + ": " + e.getMessage() + "; its rounds start again");
                    rounds.restore(start, net);
                    if (average != null) {
                        average.restore(averageStart);
                    }
                    r = -1;
                    continue;
                }
                if (average != null) {
                    // the weight average follows the averaged parameters, as many decays as steps each worker took
                    long stepsThisRound = Math.min(perRound, total - r * perRound);
                    average.update(net.params(), (stepsThisRound + rounds.order().workers() - 1) / rounds.order().workers());
                }
                if ((r + 1) % perLine != 0 && r + 1 < rounds.rounds()) {
                    continue;
                }
                long done = Math.min(total, (r + 1) * perRound);
                double elapsed = (System.nanoTime() - epochStart) / 1e9;
                double exPerSec = Math.min(averaging.rows(), done * s.schedule().batchSize()) / elapsed;
                double epochEta = elapsed / done * (total - done);
                double runElapsed = (System.nanoTime() - runStart) / 1e9;
                double doneEpochs = epoch - startEpoch + done / (double) total;
                double runEta = runElapsed / doneEpochs * (epochs - startEpoch) - runElapsed;
                Progress.say("train", String.format("epoch %d/%d step %d/%d (%.0f%%) | %.0f ex/s | ETA epoch %s, run %s",
                        epoch + 1, epochs, done, total, 100.0 * done / total, exPerSec, Progress.duration(epochEta),
                        Progress.duration(runEta)));
            }
            rounds.finish();
            Progress.say("train", "epoch " + (epoch + 1) + " averaging: " + rounds.times().describe());
            return rounds;
        } finally {
            rounds.close(); // ends the epoch's job when a round failed
        }
    }

    /** The network with the weight average's parameters in place of its own (a copy). */
    private static MultiLayerNetwork averaged(MultiLayerNetwork net, WeightAverage average) {
        MultiLayerNetwork copy = net.clone();
        copy.setParams(average.average());
        return copy;
    }

    private static String stateJson(List<EpochMetrics> history, List<Map<String, Object>> segments,
                                    double stepSizeFactor) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("epochsDone", history.size());
        // reduce-on-plateau's factor, recomputed from the history on resume; recorded for reading
        m.put("stepSizeFactor", stepSizeFactor);
        m.put("history", history.stream().map(EpochMetrics::toMap).toList());
        m.put("settings", segments);
        return Json.render(m);
    }

    /**
     * Compares the settings of a resume with the checkpoint's last recorded ones: refuses a difference, naming each
     * setting, unless {@code allowChangedSettings}; then the new settings start a new segment at the next epoch (and
     * a new step size is put into the restored optimizer, whose configuration would otherwise keep the old one).
     * Settings a restored optimizer cannot take are refused even then.
     */
    private static void resumeSettings(Settings s, List<Map<String, Object>> segments, Map<String, Object> now,
                                       int epochsDone, MultiLayerNetwork net) {
        Map<String, Object> last = segments.get(segments.size() - 1);
        List<String> fixed = RunSettings.changes(last, now, false);
        List<String> changed = RunSettings.changes(last, now, true);
        List<String> unknown = RunSettings.unknown(last);
        if (!unknown.isEmpty()) {
            Progress.say("train", "the checkpoint of " + s.output() + " predates recorded settings; not checked: "
                    + String.join(", ", unknown));
        }
        if (!fixed.isEmpty()) {
            throw new IllegalArgumentException("cannot resume " + s.output() + " with another optimizer setup (the"
                    + " restored optimizer keeps its own; even --allow-changed-settings cannot change it):\n  "
                    + String.join("\n  ", fixed) + (changed.isEmpty() ? "" : "\n  " + String.join("\n  ", changed))
                    + "\nresume with the run's settings, or train a new run");
        }
        if (changed.isEmpty()) {
            return;
        }
        if (!s.allowChangedSettings()) {
            throw new IllegalArgumentException("cannot resume " + s.output() + " with settings that change what its"
                    + " epochs compute:\n  " + String.join("\n  ", changed) + "\nresume with the run's settings, or"
                    + " pass --allow-changed-settings to continue with the new ones from epoch " + (epochsDone + 1)
                    + " (the run then records which settings produced which epochs)");
        }
        Progress.say("train", "--allow-changed-settings: from epoch " + (epochsDone + 1) + ": "
                + String.join("; ", changed));
        Map<String, Object> next = new LinkedHashMap<>(now);
        next.put("fromEpoch", epochsDone + 1);
        segments.add(next);
        if (RunSettings.stepSizeChanged(last, now)) {
            RunSettings.useStepSizeOf(net, s.recipe().configure(s.spec().trainingConfiguration(s.recipe())));
        }
    }

    private static Map<String, Object> provenance(Settings s, Manifest manifest, int epochs) {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("data", s.data());
        Map<String, Object> checksums = new LinkedHashMap<>();
        manifest.splits().forEach((k, v) -> checksums.put(k, v.checksum()));
        p.put("dataChecksums", checksums);
        p.put("seed", s.seed());
        p.put("epochs", epochs);
        p.putAll(BuildInfo.versions());
        p.put("time", java.time.Instant.now().toString());
        return p;
    }

    private static void writeMetrics(SparkSession spark, String output, List<EpochMetrics> history, int dims,
                                     Configuration hconf) {
        List<Row> rows = history.stream().map(m -> RowFactory.create(m.epoch(), m.steps(), m.trainNll(), m.validNll(),
                Units.bitsPerDim(m.validNll(), dims), m.seconds(), m.examplesPerSecond())).toList();
        Outputs.staged(output + "/metrics.parquet", hconf, staging -> {
            spark.createDataFrame(rows, METRICS).coalesce(1).write().parquet(staging);
            return null;
        });
        double[] x = history.stream().mapToDouble(EpochMetrics::epoch).toArray();
        LinkedHashMap<String, double[]> series = new LinkedHashMap<>();
        series.put("train NLL", history.stream().mapToDouble(EpochMetrics::trainNll).toArray());
        series.put("valid NLL", history.stream().mapToDouble(EpochMetrics::validNll).toArray());
        Outputs.writeBytesAtomically(output + "/loss-curve.png", Pictures.lineChart("Negative log-likelihood per epoch",
                "epoch", "NLL (nats)", x, series, 800, 500), hconf);
    }
}
