package org.chainrule.jobs;

import com.typesafe.config.ConfigUtil;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.chainrule.pipelines.data.Manifest;
import org.chainrule.pipelines.data.Prepare;
import org.chainrule.pipelines.detect.Detect;
import org.chainrule.pipelines.detect.OodEval;
import org.chainrule.pipelines.evaluate.Evaluate;
import org.chainrule.pipelines.sample.Interpolate;
import org.chainrule.pipelines.sample.Sample;
import org.chainrule.pipelines.score.Score;
import org.chainrule.pipelines.train.Incremental;
import org.chainrule.pipelines.train.Train;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.File;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Consumer;

/**
 * The chainrule command line, run through spark-submit: {@code prepare}, {@code train}, {@code evaluate},
 * {@code sample}, {@code interpolate}, {@code score}, {@code detect}, {@code ood-eval}. Each command loads and
 * validates its whole configuration before it starts Spark; the master is whatever spark-submit says.
 */
@Command(name = "chainrule", mixinStandardHelpOptions = true, version = "chainrule 0.1.0",
        description = "Train, score and sample tractable-likelihood generative models on Spark.",
        subcommands = {Main.PrepareCommand.class, Main.TrainCommand.class, Main.EvaluateCommand.class,
                Main.SampleCommand.class, Main.InterpolateCommand.class, Main.ScoreCommand.class,
                Main.DetectCommand.class, Main.OodEvalCommand.class, ModelsCommand.class})
public final class Main implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(Main.class);

    public static void main(String[] args) {
        int code = run(args);
        // A YARN cluster-mode driver runs inside the application master, which reports success when main returns;
        // System.exit would make it report a failure ("Shutdown hook called before final status was reported").
        if (code == 0 && "yarn".equals(System.getProperty("spark.master"))
                && "cluster".equals(System.getProperty("spark.submit.deployMode"))) {
            return;
        }
        System.exit(code);
    }

    /** Runs the command line and returns the exit code (0 ok, 1 job failed, 2 bad configuration or usage). */
    public static int run(String... args) {
        CommandLine cli = new CommandLine(new Main());
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            if (e instanceof ConfigErrors) {
                cmd.getErr().println(e.getMessage());
                return 2;
            }
            cmd.getErr().println("chainrule " + cmd.getCommandName() + " failed: " + describe(e));
            if (Boolean.getBoolean("chainrule.stacktrace")) {
                e.printStackTrace(cmd.getErr());
            }
            return 1;
        });
        return cli.execute(args);
    }

    /**
     * The message of a failure, whose first line names the file when the failure was about one: the most specific
     * message of the exception chain (Spark wraps executor failures several levels deep, and the innermost cause says
     * what went wrong, e.g. {@code FAILED_TO_UNCOMPRESS(5)}), preceded by the file an outer message names when the
     * specific one names none (Spark's "error while reading file ...", a reader's "path: corrupt archive: ...").
     */
    static String describe(Throwable e) {
        List<Throwable> chain = new ArrayList<>();
        for (Throwable t = e; t != null && !chain.contains(t); t = t.getCause()) {
            chain.add(t);
        }
        int at = -1;
        for (int i = 0; i < chain.size(); i++) {
            Throwable t = chain.get(i);
            if (t.getMessage() != null && (t instanceof IllegalArgumentException || t instanceof IllegalStateException
                    || t instanceof java.io.IOException || t instanceof java.io.UncheckedIOException)) {
                at = i;
            }
        }
        if (at < 0) {
            return e.getMessage() == null ? e.toString() : e.getMessage();
        }
        String best = chain.get(at).getMessage();
        if (pathIn(best) != null) {
            return best;
        }
        for (int i = at - 1; i >= 0; i--) {
            String outer = chain.get(i).getMessage();
            String path = outer == null ? null : pathIn(outer);
            if (path != null) {
                String firstLine = outer.lines().findFirst().orElse("");
                return firstLine.contains(best) && firstLine.startsWith(path) ? firstLine : path + ": " + best;
            }
        }
        return best;
    }

    /** A filesystem URI or an absolute path of at least two segments. */
    private static final java.util.regex.Pattern PATH = java.util.regex.Pattern.compile(
            "(?<![\\w.])((?:[a-z][a-z0-9+.-]*:)?/[^\\s:,;'\"()\\[\\]]*/[^\\s,;'\"()\\[\\]]+)");

    /** The first path a message names, without the punctuation that ends its sentence, or null. */
    static String pathIn(String message) {
        java.util.regex.Matcher m = PATH.matcher(message);
        return m.find() ? m.group(1).replaceAll("[.:]+$", "") : null;
    }

    @Override
    public Integer call() {
        new CommandLine(this).usage(System.out);
        return 2;
    }

    /** Options every command shares. */
    abstract static class JobCommand implements Callable<Integer> {
        @Option(names = {"-c", "--config"}, paramLabel = "FILE", description = "HOCON config file (see conf/)")
        File config;

        @Option(names = {"-s", "--set"}, paramLabel = "KEY=VALUE",
                description = "override a key, e.g. --set train.epochs=3 (the chainrule. prefix is optional)")
        List<String> overrides = new ArrayList<>();

        @Option(names = "--overwrite", description = "replace existing outputs instead of refusing")
        boolean overwrite;

        @Option(names = "--print-config", description = "print the resolved configuration and exit")
        boolean printConfig;

        @Option(names = {"-q", "--quiet"}, description = "print only warnings and errors")
        boolean quiet;

        @Option(names = {"-v", "--verbose"}, description = "also print Spark's own INFO messages and each Spark phase"
                + " as it starts (scripts/submit.sh: also the launcher's command line)")
        boolean verbose;

        Settings settings() {
            return Settings.load(config, overrides);
        }

        @Override
        public Integer call() {
            Verbosity verbosity = Verbosity.of(quiet, verbose);
            verbosity.apply();
            Settings s = settings();
            s.notes().forEach(n -> LOG.warn("note: {}", n));
            if (printConfig) {
                System.out.println(s.render());
                return 0;
            }
            Consumer<SparkSession> job = prepareJob(s);
            SparkSession spark = JobSession.start(getClass().getSimpleName().replace("Command", "").toLowerCase(),
                    verbosity, runsModels());
            try {
                job.accept(spark);
                return 0;
            } finally {
                spark.stop();
            }
        }

        /** Validates settings (no Spark yet) and returns the work to run once Spark is up. */
        abstract Consumer<SparkSession> prepareJob(Settings s);

        /** Whether the command's executors run models (and so are warmed up as they start). */
        boolean runsModels() {
            return true;
        }
    }

    @Command(name = "prepare", mixinStandardHelpOptions = true,
            description = "Validate, binarize, split and shard a source dataset into Parquet + manifest.json.")
    static final class PrepareCommand extends JobCommand {
        @Override
        Consumer<SparkSession> prepareJob(Settings s) {
            Prepare.Settings p = s.prepare(overwrite);
            return spark -> Prepare.run(spark, p);
        }

        @Override
        boolean runsModels() {
            return false;
        }
    }

    @Command(name = "train", mixinStandardHelpOptions = true,
            description = "Train a model by parameter averaging on Spark, with checkpoints and early stopping.")
    static final class TrainCommand extends JobCommand {
        @Option(names = "--resume", description = "continue from the run directory's last checkpoint (refused when a"
                + " setting that changes what the epochs compute differs from the run's, each one named)")
        boolean resume;

        @Option(names = "--allow-changed-settings", description = "with --resume: continue with changed settings"
                + " (e.g. a lower learning rate); the run records which settings produced which epochs")
        boolean allowChangedSettings;

        @Option(names = "--init-from", paramLabel = "MODEL", description = "start from the weights of this saved"
                + " model (e.g. the run's own model/ on new data) with a fresh optimizer; its spec must be the"
                + " configured one")
        String initFrom;

        @Option(names = "--if-changed", description = "when the run's current model was made from the same data,"
                + " settings and code (and --init-from), print \"up to date\" and exit 0; otherwise train and replace"
                + " the run as --overwrite does")
        boolean ifChanged;

        @Option(names = "--keep-versions", paramLabel = "N", description = "model versions (models/v1..vN) a run"
                + " keeps, newest first; 0 = all (default)")
        int keepVersions;

        @Override
        Consumer<SparkSession> prepareJob(Settings s) {
            s.validateTrain();
            Manifest manifest = Manifest.read(s.dataPath(), new Configuration());
            Train.Settings t = s.trainSettings(manifest.shape(), manifest.domain(), resume, overwrite)
                    .withAllowChangedSettings(allowChangedSettings);
            if (keepVersions < 0) {
                throw new ConfigErrors(List.of("--keep-versions must be >= 0 (0 = all), got " + keepVersions));
            }
            Incremental incremental = new Incremental(initFrom, ifChanged, keepVersions);
            if (!incremental.problems(resume).isEmpty()) {
                throw new ConfigErrors(incremental.problems(resume));
            }
            return spark -> Train.run(spark, t, incremental);
        }
    }

    @Command(name = "evaluate", mixinStandardHelpOptions = true,
            description = "Score every row of a dataset split: per-row log-likelihood Parquet + summary.json.")
    static final class EvaluateCommand extends JobCommand {
        @Override
        Consumer<SparkSession> prepareJob(Settings s) {
            Evaluate.Settings e = s.evaluate(overwrite);
            return spark -> Evaluate.run(spark, e);
        }
    }

    @Command(name = "sample", mixinStandardHelpOptions = true,
            description = "Draw samples (deterministic per seed) to Parquet, and a PNG grid for images.")
    static final class SampleCommand extends JobCommand {
        @Override
        Consumer<SparkSession> prepareJob(Settings s) {
            Sample.Settings p = s.sample(overwrite);
            return spark -> Sample.run(spark, p);
        }
    }

    /**
     * A command that scores a table as the score job reads it: the flags shared by score, detect and ood-eval, each
     * setting the key of the same name in the command's settings section.
     */
    abstract static class TableCommand extends JobCommand {
        @Option(names = "--model", paramLabel = "DIR", description = "saved model directory (${COMMAND-NAME}.model)")
        String model;

        @Option(names = "--format", paramLabel = "FORMAT",
                description = "parquet, csv, orc, json, or table for a catalog table (${COMMAND-NAME}.format)")
        String format;

        @Option(names = "--columns", split = ",", paramLabel = "COLS", description = "the model's value columns in"
                + " event order: names, ranges such as p0..p783, or one array / vector / string / binary column"
                + " holding whole events (${COMMAND-NAME}.columns)")
        List<String> columns;

        @Option(names = "--label-column", paramLabel = "COL",
                description = "class-conditional models: the column of class numbers (${COMMAND-NAME}.label-column)")
        String labelColumn;

        @Option(names = "--binarize", paramLabel = "MODE", description = "auto (the model's own rule), threshold"
                + " (raw values >= max-value / 2 become 1) or none (already 0/1) (${COMMAND-NAME}.binarize)")
        String binarize;

        @Option(names = "--batch-size", paramLabel = "ROWS",
                description = "rows per forward pass (${COMMAND-NAME}.batch-size)")
        Integer batchSize;

        @Option(names = "--output", paramLabel = "DIR",
                description = "output directory to create (${COMMAND-NAME}.output)")
        String output;

        /** The settings section the flags set ({@code score}, {@code detect}, ...). */
        abstract String section();

        /** The command's own flags, as {@code key=value} overrides of its section. */
        abstract void flags(List<String> overrides);

        @Override
        Settings settings() {
            List<String> all = new ArrayList<>(overrides);
            set(all, "model", model);
            set(all, "format", format);
            set(all, "columns", columns);
            set(all, "label-column", labelColumn);
            set(all, "binarize", binarize);
            set(all, "batch-size", batchSize);
            set(all, "output", output);
            flags(all);
            return Settings.load(config, all);
        }

        void set(List<String> overrides, String key, Object value) {
            if (value instanceof List<?> list) {
                overrides.add(section() + "." + key + "=" + list.stream()
                        .map(v -> ConfigUtil.quoteString(v.toString()))
                        .collect(java.util.stream.Collectors.joining(",", "[", "]")));
            } else if (value != null) {
                overrides.add(section() + "." + key + "=" + ConfigUtil.quoteString(value.toString()));
            }
        }
    }

    /** The input table of score and detect, and what of it is kept: {@code <section>.input, keep, partition-by}. */
    static final class KeptTable {
        @Option(names = "--input", paramLabel = "PATH|TABLE",
                description = "files, a directory or a glob on any Hadoop filesystem, or a table name"
                        + " (${COMMAND-NAME}.input)")
        String input;

        @Option(names = "--keep", split = ",", paramLabel = "COLS",
                description = "columns passed through unchanged, or * for all (${COMMAND-NAME}.keep)")
        List<String> keep;

        @Option(names = "--partition-by", split = ",", paramLabel = "COLS",
                description = "output partition columns; default: like the input (${COMMAND-NAME}.partition-by)")
        List<String> partitionBy;

        void flags(TableCommand command, List<String> all) {
            command.set(all, "input", input);
            command.set(all, "keep", keep);
            command.set(all, "partition-by", partitionBy);
        }
    }

    @Command(name = "score", mixinStandardHelpOptions = true,
            description = {"Score any table (Parquet, CSV, ORC, JSON files or a catalog table) with a saved model:"
                    + " every input row, the kept columns unchanged, plus log_prob_nats, nll_nats, bits_per_dim and"
                    + " score_error, in <output>/scores.parquet, and <output>/summary.json.",
                    "Each flag sets the score.* key named in its description (see reference.conf); flags win over"
                            + " --config and --set."})
    static final class ScoreCommand extends TableCommand {
        @CommandLine.Mixin
        KeptTable table = new KeptTable();

        @Override
        String section() {
            return "score";
        }

        @Override
        void flags(List<String> all) {
            table.flags(this, all);
        }

        @Override
        Consumer<SparkSession> prepareJob(Settings s) {
            Score.Settings p = s.score(overwrite);
            return spark -> Score.run(spark, p);
        }
    }

    /** The anomaly-score flags detect and ood-eval share. */
    abstract static class AnomalyCommand extends TableCommand {
        @Option(names = "--method", paramLabel = "METHOD", description = "nll, likelihood-ratio, complexity or"
                + " typicality (${COMMAND-NAME}.method)")
        String method;

        @Option(names = "--background-model", paramLabel = "DIR", description = "likelihood-ratio: the model trained"
                + " on a perturbed copy of the data (${COMMAND-NAME}.background-model)")
        String backgroundModel;

        @Option(names = "--reference", paramLabel = "PATH|TABLE", description = "in-distribution rows: a prepared"
                + " split (data/prepared/mnist/valid) or a table (${COMMAND-NAME}.reference.input)")
        String reference;

        @Option(names = "--reference-format", paramLabel = "FORMAT",
                description = "the reference's format (${COMMAND-NAME}.reference.format)")
        String referenceFormat;

        @Option(names = "--reference-columns", split = ",", paramLabel = "COLS", description = "the reference's"
                + " value columns; default: the input's, else a prepared split's x (${COMMAND-NAME}.reference.columns)")
        List<String> referenceColumns;

        @Option(names = "--group-column", paramLabel = "COL",
                description = "typicality: the column naming each row's batch (${COMMAND-NAME}.group-column)")
        String groupColumn;

        @Override
        void flags(List<String> all) {
            set(all, "method", method);
            set(all, "background-model", backgroundModel);
            set(all, "reference.input", reference);
            set(all, "reference.format", referenceFormat);
            set(all, "reference.columns", referenceColumns);
            set(all, "group-column", groupColumn);
            moreFlags(all);
        }

        abstract void moreFlags(List<String> all);
    }

    @Command(name = "detect", mixinStandardHelpOptions = true,
            description = {"Flag anomalies in any table: the score job's columns plus anomaly_score (bits/dim, larger ="
                    + " more anomalous) and is_anomaly, in <output>/scores.parquet, and <output>/summary.json (the"
                    + " threshold, its quantile, the flagged count). See docs/detection.md.",
                    "Each flag sets the detect.* key named in its description (see reference.conf)."})
    static final class DetectCommand extends AnomalyCommand {
        @CommandLine.Mixin
        KeptTable table = new KeptTable();

        @Option(names = "--contamination", paramLabel = "FRACTION", description = "the threshold is the (1 -"
                + " FRACTION) quantile of the reference scores (detect.contamination)")
        Double contamination;

        @Option(names = "--threshold", paramLabel = "BITS_PER_DIM",
                description = "a fixed threshold instead of the quantile (detect.threshold)")
        Double threshold;

        @Override
        String section() {
            return "detect";
        }

        @Override
        void moreFlags(List<String> all) {
            table.flags(this, all);
            set(all, "contamination", contamination);
            set(all, "threshold", threshold);
        }

        @Override
        Consumer<SparkSession> prepareJob(Settings s) {
            Detect.Settings p = s.detect(overwrite);
            return spark -> Detect.run(spark, p);
        }
    }

    @Command(name = "ood-eval", mixinStandardHelpOptions = true,
            description = {"How well an anomaly score tells two tables apart: AUROC, AUPRC and FPR at 95% TPR in"
                    + " <output>/summary.json, the score histograms and ROC curve in <output>/ood.png.",
                    "Each flag sets the ood-eval.* key named in its description (see reference.conf)."})
    static final class OodEvalCommand extends AnomalyCommand {
        @Option(names = "--in", paramLabel = "PATH|TABLE", description = "in-distribution rows (ood-eval.in)")
        String in;

        @Option(names = "--out", paramLabel = "PATH|TABLE", description = "out-of-distribution rows (ood-eval.out)")
        String out;

        @Override
        String section() {
            return "ood-eval";
        }

        @Override
        void moreFlags(List<String> all) {
            set(all, "in", in);
            set(all, "out", out);
        }

        @Override
        Consumer<SparkSession> prepareJob(Settings s) {
            OodEval.Settings p = s.oodEval(overwrite);
            return spark -> OodEval.run(spark, p);
        }
    }

    @Command(name = "interpolate", mixinStandardHelpOptions = true,
            description = "Flows: decode a linear path between the latent codes of two images into a PNG strip.")
    static final class InterpolateCommand extends JobCommand {
        @Override
        Consumer<SparkSession> prepareJob(Settings s) {
            Interpolate.Settings p = s.interpolate(overwrite);
            return spark -> Interpolate.run(spark, p);
        }
    }
}
