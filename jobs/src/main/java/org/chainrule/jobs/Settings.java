package org.chainrule.jobs;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigValue;
import org.chainrule.models.DataInfo;
import org.chainrule.models.ModelFamilies;
import org.chainrule.models.ModelFamily;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.Section;
import org.chainrule.models.TrainingRecipe;
import org.chainrule.pipelines.data.Domain;
import org.chainrule.pipelines.data.Encoding;
import org.chainrule.pipelines.data.Holdout;
import org.chainrule.pipelines.data.Prepare;
import org.chainrule.pipelines.data.Perturbation;
import org.chainrule.pipelines.data.Readers;
import org.chainrule.pipelines.detect.Detect;
import org.chainrule.pipelines.detect.Method;
import org.chainrule.pipelines.detect.OodEval;
import org.chainrule.pipelines.detect.Reference;
import org.chainrule.pipelines.evaluate.Evaluate;
import org.chainrule.pipelines.sample.Interpolate;
import org.chainrule.pipelines.sample.Sample;
import org.chainrule.pipelines.score.Score;
import org.chainrule.pipelines.score.ValueRule;
import org.chainrule.pipelines.train.AveragingRounds;
import org.chainrule.pipelines.train.Train;

import java.io.File;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Job configuration: {@code reference.conf} defaults, overlaid by a user's HOCON file and {@code --set key=value}
 * overrides, then read into the typed settings of each pipeline. Every problem (unknown key, wrong type, value out of
 * range) is collected and reported at once by {@link ConfigErrors}. A model's settings live in its family's section,
 * {@code model.<section>}, read by the family itself ({@link ModelFamily}); the flat {@code model.<key>} of older
 * configurations is read as the key of the chosen type's section, with a note.
 */
public final class Settings {
    static final String ROOT = "chainrule";
    private final Config config;
    private final List<String> problems;
    private final List<String> notes;
    private final Section root;

    private Settings(Config config, List<String> problems, List<String> notes) {
        this.config = config;
        this.problems = problems;
        this.notes = notes;
        this.root = new Section(config, ROOT, "", problems);
    }

    /**
     * Loads and resolves the configuration.
     *
     * @param file      HOCON file, or null for defaults only
     * @param overrides {@code key=value} strings; keys may omit the {@code chainrule.} prefix
     */
    public static Settings load(File file, List<String> overrides) {
        List<String> problems = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        Config user = ConfigFactory.empty();
        if (file != null) {
            if (!file.isFile()) {
                throw new ConfigErrors(List.of("config file not found: " + file));
            }
            try {
                user = ConfigFactory.parseFile(file, ConfigParseOptions.defaults().setAllowMissing(false));
            } catch (ConfigException e) {
                throw new ConfigErrors(List.of(e.getMessage()));
            }
        }
        for (String o : overrides) {
            int eq = o.indexOf('=');
            if (eq <= 0) {
                problems.add("--set expects key=value, got '" + o + "'");
                continue;
            }
            String key = o.substring(0, eq).trim();
            key = key.startsWith(ROOT + ".") ? key : ROOT + "." + key;
            try {
                user = ConfigFactory.parseString(key + " = " + quoteIfNeeded(o.substring(eq + 1).trim()),
                        ConfigParseOptions.defaults().setOriginDescription("--set " + o)).withFallback(user);
            } catch (ConfigException e) {
                problems.add("--set " + o + ": " + e.getMessage());
            }
        }
        // unresolved, so that overriding e.g. train.output also moves the paths defined from it
        Config reference = ConfigFactory.parseResources(Settings.class.getClassLoader(), "reference.conf");
        Set<String> known = new HashSet<>();
        reference.withOnlyPath(ROOT).resolve().entrySet().forEach(e -> known.add(e.getKey()));
        user = LegacyModelKeys.migrate(user, known, reference.getString(ROOT + ".model.type"), problems, notes);
        for (Map.Entry<String, ConfigValue> e : user.entrySet()) {
            String key = e.getKey();
            if (key.startsWith(ROOT + ".") && !known.contains(key)) {
                problems.add("unknown key " + key + " (" + e.getValue().origin().description() + ")");
            }
        }
        Config merged;
        try {
            merged = user.withFallback(reference).resolve();
        } catch (ConfigException e) {
            problems.add(e.getMessage());
            throw new ConfigErrors(problems);
        }
        return new Settings(merged.getConfig(ROOT), problems, notes);
    }

    private static String quoteIfNeeded(String v) {
        if (v.startsWith("[") || v.startsWith("{") || v.startsWith("\"")) {
            return v;
        }
        return v.matches("[A-Za-z0-9_.+-]+") ? v : com.typesafe.config.ConfigUtil.quoteString(v);
    }

    /** The resolved {@code chainrule} block, rendered as HOCON (for --print-config). */
    public String render() {
        return config.root().render(com.typesafe.config.ConfigRenderOptions.defaults().setOriginComments(false));
    }

    /** Things worth telling the user that are not errors (old keys read under their new names). */
    public List<String> notes() {
        return List.copyOf(notes);
    }

    private void check() {
        if (!problems.isEmpty()) {
            throw new ConfigErrors(problems);
        }
    }

    // ----------------------------------------------------------------------------------------- per job

    /** Settings of the prepare job. */
    public Prepare.Settings prepare(boolean overwrite) {
        String format = root.oneOf("prepare.format", Readers.FORMATS);
        int sequenceLength = root.integer("prepare.text.sequence-length", 1, 1_000_000);
        long[] shape = format.equals("text") ? new long[]{sequenceLength} : root.shape("prepare.shape");
        boolean real = root.oneOf("prepare.value-type", List.of("integer", "real")).equals("real");
        long width = 1;
        for (long d : shape) {
            width *= d;
        }
        double maxValue = root.real("prepare.max-value", Double.MIN_NORMAL, 1e12);
        String binarize = root.oneOf("prepare.binarize", Encoding.MODES);
        if (real && !binarize.equals("none")) {
            root.problem("prepare.binarize", "= " + binarize + ": real-valued data (value-type = real) needs"
                    + " binarize = none");
        }
        if (!real && binarize.equals("none") && (maxValue > 255 || maxValue != Math.rint(maxValue))) {
            root.problem("prepare.max-value", "= " + maxValue + ": binarize = none stores integers up to 255");
        }
        String delimiter = root.string("prepare.csv.delimiter");
        if (delimiter.length() != 1) {
            root.problem("prepare.csv.delimiter", "must be one character, got '" + delimiter + "'");
        }
        List<String> train = root.strings("prepare.train");
        List<String> test = root.strings("prepare.test");
        Readers.Options readers = new Readers.Options(delimiter.isEmpty() ? ',' : delimiter.charAt(0),
                root.bool("prepare.csv.header"), root.integer("prepare.csv.label-column", -1, Integer.MAX_VALUE),
                root.strings("prepare.csv.columns"), sequenceLength, root.text("prepare.text.vocabulary"));
        String holdout = root.oneOf("prepare.holdout", Holdout.MODES);
        long testRows = root.whole("prepare.test-rows", 0, Long.MAX_VALUE);
        long holdoutSeed = root.seed("prepare.holdout-seed");
        if (train.isEmpty()) {
            root.problem("prepare.train", "lists no files");
        }
        if (test.isEmpty() && testRows == 0) {
            root.problem("prepare.test", "lists no files (list test files, or set prepare.test-rows to hold out"
                    + " training records as the test split)");
        }
        if (!test.isEmpty() && testRows > 0) {
            root.problem("prepare.test-rows", "= " + testRows + " but prepare.test lists files; use one or the"
                    + " other");
        }
        if (width > 1_000_000) {
            root.problem("prepare.shape", "has " + width + " values per event; at most 1,000,000 are supported");
        }
        long seed = root.seed("prepare.binarize-seed");
        List<String> trainLabels = root.strings("prepare.train-labels");
        List<String> testLabels = root.strings("prepare.test-labels");
        String output = root.string("data");
        long validationRows = root.whole("prepare.validation-rows", 0, Long.MAX_VALUE);
        long limit = root.whole("prepare.limit", 0, Long.MAX_VALUE);
        int shards = root.integer("prepare.shards", 1, 100_000);
        boolean quarantine = root.oneOf("prepare.on-bad-row", List.of("fail", "quarantine")).equals("quarantine");
        Perturbation perturbation = new Perturbation(root.real("prepare.perturb.fraction", 0, 1),
                root.seed("prepare.perturb.seed"));
        if (real && perturbation.active()) {
            root.problem("prepare.perturb.fraction", "= " + perturbation.fraction() + ": real-valued data has no"
                    + " uniform resampling; perturb needs binary, integer or text values");
        }
        check();
        return Prepare.Settings.builder(format, train).trainLabels(trainLabels).test(test).testLabels(testLabels)
                .readers(readers).limit(limit).shape(shape)
                .encoding(new Encoding((int) width, maxValue, binarize, seed, real))
                .holdout(new Holdout(validationRows, testRows, holdout, holdoutSeed))
                .output(output).shards(shards).quarantine(quarantine).overwrite(overwrite)
                .perturbation(perturbation).build();
    }

    /**
     * The model spec for data of the given shape and domain (null domain: validate the settings only, before the
     * dataset is read, and return null). The model's family reads its own section.
     */
    ModelSpec model(long[] eventShape, Domain domain) {
        String type = root.string("model.type");
        if (!ModelFamilies.types().contains(type)) {
            root.problem("model.type", "= " + type + " is not one of " + ModelFamilies.types());
            return null;
        }
        ModelFamily family = ModelFamilies.of(type);
        DataInfo data = domain == null ? null : domain.dataInfo(eventShape);
        ModelSpec spec = family.build(type, root.section("model").section(family.section(type)), data);
        check();
        return spec;
    }

    /** The chosen type and its own section, as recorded with a trained model. */
    private Map<String, Object> modelRecord() {
        String type = config.getString("model.type");
        String section = ModelFamilies.of(type).section(type);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", type);
        m.put(section, config.getConfig("model").getConfig(quoted(section)).root().unwrapped());
        return m;
    }

    private static String quoted(String key) {
        return com.typesafe.config.ConfigUtil.joinPath(key);
    }

    /** The prepared dataset directory the jobs read ({@code data}). */
    public String dataPath() {
        String data = root.string("data");
        check();
        return data;
    }

    /** The run directory of the train job ({@code train.output}). */
    public String trainOutput() {
        String output = root.string("train.output");
        check();
        return output;
    }

    /** Validates the train settings that do not depend on the data (run before Spark starts). */
    public void validateTrain() {
        trainSettings(new long[]{1}, null, false, false);
    }

    /** Settings of the train job for data of the given event shape and domain (null: validation only). */
    public Train.Settings trainSettings(long[] eventShape, Domain domain, boolean resume, boolean overwrite) {
        String data = root.string("data");
        String output = root.string("train.output");
        int epochs = root.integer("train.epochs", 1, 1_000_000);
        int batch = root.integer("train.batch-size", 1, 1_000_000);
        TrainingRecipe recipe = TrainingRecipe.read(root.section("train"));
        int workers = root.integer("train.workers", 0, 100_000);
        int freq = root.integer("train.averaging-frequency", 1, 1_000_000);
        int rounds = root.integer("train.rounds-per-call", 0, 1_000_000);
        double blockMomentum = root.real("train.block-momentum", 0, 0.999);
        double stepScale = root.real("train.averaged-step-scale", 1e-3, 1e3);
        String exchange = root.oneOf("train.exchange", AveragingRounds.EXCHANGES);
        int patience = root.integer("train.patience", 0, 1_000_000);
        long evalRows = root.whole("train.train-eval-rows", 1, Long.MAX_VALUE);
        long validEvalRows = root.whole("train.valid-eval-rows", 0, Long.MAX_VALUE);
        int evalBatch = root.integer("evaluate.batch-size", 1, 1_000_000);
        ModelSpec spec = model(eventShape, domain);
        check();
        if (spec == null) {
            return null;
        }
        Map<String, Object> record = new LinkedHashMap<>();
        record.put("model", modelRecord());
        record.put("train", config.getConfig("train").root().unwrapped());
        record.put("data", data);
        return new Train.Settings(data, output, spec, recipe,
                new Train.Schedule(epochs, batch, patience), new Train.Averaging(workers, freq, rounds, blockMomentum, stepScale,
                exchange),
                new Train.Scoring(evalRows, validEvalRows, evalBatch), resume, overwrite, record);
    }

    /** Settings of the evaluate job. */
    public Evaluate.Settings evaluate(boolean overwrite) {
        Evaluate.Settings s = new Evaluate.Settings(root.string("evaluate.model"), root.string("data"),
                root.oneOf("evaluate.split", List.of("train", "valid", "test")), root.string("evaluate.output"),
                root.integer("evaluate.batch-size", 1, 1_000_000), overwrite);
        check();
        return s;
    }

    /** Settings of the score job. */
    public Score.Settings score(boolean overwrite) {
        Score.Settings s = table(root.section("score"), "input", true, overwrite);
        check();
        return s;
    }

    /**
     * A table to score as the score job reads it, from a section with score's keys ({@code score}, {@code detect},
     * {@code ood-eval}); {@code keeps}: the section has {@code keep} and {@code partition-by} (else none are kept).
     */
    private static Score.Settings table(Section sec, String inputKey, boolean keeps, boolean overwrite) {
        String format = sec.oneOf("format", Score.FORMATS);
        List<String> columns = sec.strings("columns");
        if (columns.isEmpty()) {
            sec.problem("columns", "lists no columns (--columns): name the model's value columns (e.g."
                    + " p0..p783) or the one column holding whole events");
        }
        List<String> keep = keeps ? sec.strings("keep") : List.of();
        String delimiter = sec.text("csv.delimiter");
        if (delimiter.length() != 1) {
            sec.problem("csv.delimiter", "must be one character, got '" + delimiter + "'");
        }
        String model = sec.string("model");
        String input = sec.string(inputKey);
        String label = sec.text("label-column");
        List<String> partitionBy = keeps ? sec.strings("partition-by") : List.of();
        String binarize = sec.oneOf("binarize", ValueRule.MODES);
        int batchSize = sec.integer("batch-size", 1, 1_000_000);
        Score.Csv csv = new Score.Csv(sec.bool("csv.header"), delimiter, sec.bool("csv.infer-schema"));
        String output = sec.string("output");
        return Score.Settings.builder(model, input, output).format(format).columns(columns.toArray(String[]::new))
                .keep(keep.toArray(String[]::new)).labelColumn(label).partitionBy(partitionBy.toArray(String[]::new))
                .binarize(binarize).batchSize(batchSize).csv(csv).overwrite(overwrite).build();
    }

    /** Settings of the detect job. */
    public Detect.Settings detect(boolean overwrite) {
        Section sec = root.section("detect");
        Score.Settings table = table(sec, "input", true, overwrite);
        Method method = Method.of(sec.oneOf("method", Method.NAMES));
        String background = sec.text("background-model");
        Reference reference = reference(sec.section("reference"));
        String fixed = sec.text("threshold").trim();
        Double threshold = null;
        if (!fixed.isEmpty()) {
            try {
                threshold = Double.parseDouble(fixed);
            } catch (NumberFormatException e) {
                sec.problem("threshold", "= " + fixed + " is not a number (\"\" = the contamination quantile)");
            }
        }
        Detect.Threshold t = new Detect.Threshold(sec.real("contamination", 1e-9, 1 - 1e-9), threshold,
                sec.real("relative-error", 0, 0.5));
        String group = sec.text("group-column");
        Detect.Bootstrap bootstrap = bootstrap(sec.section("bootstrap"));
        check();
        return detectOrProblem(() -> new Detect.Settings(table, method, background, reference, t, group, bootstrap));
    }

    /** Settings of the ood-eval job. */
    public OodEval.Settings oodEval(boolean overwrite) {
        Section sec = root.section("ood-eval");
        Score.Settings in = table(sec, "in", false, overwrite);
        String out = sec.string("out");
        Method method = Method.of(sec.oneOf("method", Method.NAMES));
        String background = sec.text("background-model");
        Reference reference = reference(sec.section("reference"));
        String group = sec.text("group-column");
        Detect.Bootstrap bootstrap = bootstrap(sec.section("bootstrap"));
        check();
        return detectOrProblem(() -> new OodEval.Settings(in, out, method, background, reference, group, bootstrap));
    }

    private static Reference reference(Section sec) {
        return new Reference(sec.text("input"), sec.oneOf("format", Score.FORMATS), sec.strings("columns"));
    }

    private static Detect.Bootstrap bootstrap(Section sec) {
        return new Detect.Bootstrap(sec.integer("batches", 10, 10_000_000), sec.integer("max-rows", 2, 10_000_000),
                sec.seed("seed"));
    }

    /** Settings whose checks across keys throw: their message becomes a configuration error. */
    private static <T> T detectOrProblem(java.util.function.Supplier<T> settings) {
        try {
            return settings.get();
        } catch (IllegalArgumentException e) {
            throw new ConfigErrors(List.of(e.getMessage()));
        }
    }

    /** Settings of the interpolate job. */
    public Interpolate.Settings interpolate(boolean overwrite) {
        List<Integer> rows = root.ints("interpolate.rows");
        if (rows.size() != 2 || rows.stream().anyMatch(r -> r < 0)) {
            root.problem("interpolate.rows", "= " + rows + " must be two row positions >= 0");
            rows = List.of(0, 1);
        }
        String model = root.string("interpolate.model");
        String data = root.string("data");
        String split = root.oneOf("interpolate.split", List.of("train", "valid", "test"));
        int steps = root.integer("interpolate.steps", 2, 1000);
        String output = root.string("interpolate.output");
        check();
        return new Interpolate.Settings(model, data, split, rows.get(0), rows.get(1), steps, output, overwrite);
    }

    /** Settings of the sample job. */
    public Sample.Settings sample(boolean overwrite) {
        List<Integer> labels = root.ints("sample.labels");
        if (labels.stream().anyMatch(l -> l < 0)) {
            root.problem("sample.labels", "= " + labels + " must hold class indices >= 0");
        }
        int images = root.integer("sample.complete.images", 0, 100_000);
        String split = root.oneOf("sample.complete.split", List.of("train", "valid", "test"));
        int knownRows = root.integer("sample.complete.known-rows", 0, 100_000);
        int perImage = root.integer("sample.complete.per-image", 1, 10_000);
        if (images > 0 && !labels.isEmpty()) {
            root.problem("sample.labels", ": completion conditions on each source image's own label; leave labels"
                    + " = [] when sample.complete.images > 0");
        }
        Sample.Settings s = new Sample.Settings(root.string("sample.model"), root.string("sample.output"),
                root.whole("sample.count", 1, 1_000_000_000L), root.seed("sample.seed"),
                root.integer("sample.block-size", 1, 100_000), root.integer("sample.picture", 0, 10_000), overwrite,
                labels,
                root.real("sample.temperature", 1e-3, 100),
                images == 0 ? null : new Sample.Completion(root.string("data"), split, images, knownRows, perImage));
        check();
        return s;
    }
}
