package org.chainrule.jobs;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.autoregressive.MadeSpec;
import org.chainrule.models.conditionals.OutputFamily;
import org.chainrule.models.deepnade.DeepNadeSpec;
import org.chainrule.models.flows.FlowArchitectures;
import org.chainrule.models.flows.FlowSpec;
import org.chainrule.models.nade.NadeSpec;
import org.chainrule.models.pixelcnn.DiagonalBiLstmSpec;
import org.chainrule.models.pixelcnn.GatedPixelCnnSpec;
import org.chainrule.models.pixelcnn.PixelCnnSpec;
import org.chainrule.models.pixelcnn.RowLstmSpec;
import org.chainrule.models.pixelpp.PixelCnnPpSpec;
import org.chainrule.models.vae.VaeSpec;
import org.chainrule.models.sequence.CharRnnSpec;
import org.chainrule.pipelines.data.Domain;
import org.chainrule.pipelines.data.Encoding;
import org.chainrule.pipelines.data.Prepare;
import org.chainrule.pipelines.data.Readers;
import org.chainrule.pipelines.evaluate.Evaluate;
import org.chainrule.pipelines.sample.Interpolate;
import org.chainrule.pipelines.sample.Sample;
import org.chainrule.pipelines.score.Score;
import org.chainrule.pipelines.score.ValueRule;
import org.chainrule.pipelines.train.Train;

import java.io.File;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Job configuration: {@code reference.conf} defaults, overlaid by a user's HOCON file and {@code --set key=value}
 * overrides, then read into the typed settings of each pipeline. Every problem (unknown key, wrong type, value out of
 * range) is collected and reported at once by {@link ConfigErrors}.
 */
public final class Settings {
    static final String ROOT = "chainrule";
    private final Config config;
    private final List<String> problems = new ArrayList<>();

    private Settings(Config config) {
        this.config = config;
    }

    /**
     * Loads and resolves the configuration.
     *
     * @param file      HOCON file, or null for defaults only
     * @param overrides {@code key=value} strings; keys may omit the {@code chainrule.} prefix
     */
    public static Settings load(File file, List<String> overrides) {
        List<String> problems = new ArrayList<>();
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
        Set<String> known = new java.util.HashSet<>();
        reference.withOnlyPath(ROOT).resolve().entrySet().forEach(e -> known.add(e.getKey()));
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
        Settings s = new Settings(merged.getConfig(ROOT));
        s.problems.addAll(problems);
        return s;
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

    // ----------------------------------------------------------------------------------------- typed readers

    private <T> T read(String path, Supplier<T> reader, T fallback) {
        try {
            return reader.get();
        } catch (ConfigException e) {
            problems.add(ROOT + "." + path + ": " + e.getMessage().replaceFirst("^.*?: ", ""));
            return fallback;
        }
    }

    private String str(String path) {
        String v = read(path, () -> config.getString(path), "");
        if (v.isBlank() && config.hasPath(path)) {
            problems.add(ROOT + "." + path + " must not be empty");
        }
        return v;
    }

    private String oneOf(String path, List<String> allowed) {
        String v = read(path, () -> config.getString(path), allowed.get(0));
        if (!allowed.contains(v)) {
            problems.add(ROOT + "." + path + " = " + v + " is not one of " + allowed);
        }
        return v;
    }

    private long num(String path, long min, long max) {
        long v = read(path, () -> config.getLong(path), min);
        if (v < min || v > max) {
            problems.add(ROOT + "." + path + " = " + v + " must be in [" + min + ", " + max + "]");
        }
        return v;
    }

    private int integer(String path, int min, int max) {
        return (int) num(path, min, max);
    }

    private double real(String path, double min, double max) {
        double v = read(path, () -> config.getDouble(path), min);
        if (!(v >= min && v <= max)) {
            problems.add(ROOT + "." + path + " = " + v + " must be in [" + min + ", " + max + "]");
        }
        return v;
    }

    private boolean bool(String path) {
        return read(path, () -> config.getBoolean(path), false);
    }

    private List<String> strings(String path) {
        if (config.hasPath(path) && config.getValue(path).valueType() == ConfigValueType.STRING) {
            return List.of(config.getString(path)); // a single path is fine too
        }
        return read(path, () -> config.getStringList(path), List.of());
    }

    private long[] shape(String path) {
        List<Long> v = read(path, () -> config.getLongList(path), List.of(1L));
        if (v.isEmpty() || v.stream().anyMatch(d -> d < 1)) {
            problems.add(ROOT + "." + path + " = " + v + " must be a non-empty list of positive sizes");
            return new long[]{1};
        }
        return v.stream().mapToLong(Long::longValue).toArray();
    }

    private void check() {
        if (!problems.isEmpty()) {
            throw new ConfigErrors(problems);
        }
    }

    // ----------------------------------------------------------------------------------------- per job

    /** Settings of the prepare job. */
    public Prepare.Settings prepare(boolean overwrite) {
        String format = oneOf("prepare.format", Readers.FORMATS);
        int sequenceLength = integer("prepare.text.sequence-length", 1, 1_000_000);
        long[] shape = format.equals("text") ? new long[]{sequenceLength} : shape("prepare.shape");
        boolean real = oneOf("prepare.value-type", List.of("integer", "real")).equals("real");
        long width = 1;
        for (long d : shape) {
            width *= d;
        }
        double maxValue = real("prepare.max-value", Double.MIN_NORMAL, 1e12);
        String binarize = oneOf("prepare.binarize", Encoding.MODES);
        if (real && !binarize.equals("none")) {
            problems.add(ROOT + ".prepare.binarize = " + binarize + ": real-valued data (value-type = real) needs"
                    + " binarize = none");
        }
        if (!real && binarize.equals("none") && (maxValue > 255 || maxValue != Math.rint(maxValue))) {
            problems.add(ROOT + ".prepare.max-value = " + maxValue + ": binarize = none stores integers up to 255");
        }
        String delimiter = str("prepare.csv.delimiter");
        if (delimiter.length() != 1) {
            problems.add(ROOT + ".prepare.csv.delimiter must be one character, got '" + delimiter + "'");
        }
        List<String> train = strings("prepare.train");
        List<String> test = strings("prepare.test");
        Readers.Options readers = new Readers.Options(delimiter.isEmpty() ? ',' : delimiter.charAt(0),
                bool("prepare.csv.header"), integer("prepare.csv.label-column", -1, Integer.MAX_VALUE),
                strings("prepare.csv.columns"), sequenceLength,
                read("prepare.text.vocabulary", () -> config.getString("prepare.text.vocabulary"), ""));
        String holdout = oneOf("prepare.holdout", Prepare.Settings.HOLDOUTS);
        long testRows = num("prepare.test-rows", 0, Long.MAX_VALUE);
        long holdoutSeed = num("prepare.holdout-seed", Long.MIN_VALUE, Long.MAX_VALUE);
        if (train.isEmpty()) {
            problems.add(ROOT + ".prepare.train lists no files");
        }
        if (test.isEmpty() && testRows == 0) {
            problems.add(ROOT + ".prepare.test lists no files (list test files, or set prepare.test-rows to hold out"
                    + " training records as the test split)");
        }
        if (!test.isEmpty() && testRows > 0) {
            problems.add(ROOT + ".prepare.test-rows = " + testRows + " but prepare.test lists files; use one or the"
                    + " other");
        }
        if (width > 1_000_000) {
            problems.add(ROOT + ".prepare.shape has " + width + " values per event; at most 1,000,000 are supported");
        }
        long seed = num("prepare.binarize-seed", Long.MIN_VALUE, Long.MAX_VALUE);
        List<String> trainLabels = strings("prepare.train-labels");
        List<String> testLabels = strings("prepare.test-labels");
        String output = str("data");
        long validationRows = num("prepare.validation-rows", 0, Long.MAX_VALUE);
        long limit = num("prepare.limit", 0, Long.MAX_VALUE);
        int shards = integer("prepare.shards", 1, 100_000);
        boolean quarantine = oneOf("prepare.on-bad-row", List.of("fail", "quarantine")).equals("quarantine");
        check();
        Encoding enc = new Encoding((int) width, maxValue, binarize, seed, real);
        return new Prepare.Settings(format, train, trainLabels, test, testLabels, output, shape, validationRows, limit,
                enc, readers, shards, quarantine, overwrite, holdout, testRows, holdoutSeed);
    }

    /**
     * The model spec for data of the given shape and domain (null: validate the settings only, before the dataset is
     * read).
     */
    ModelSpec model(long[] eventShape, Domain domain) {
        String type = oneOf("model.type", ModelSpec.TYPES);
        int[] widths = widths("model.hidden");
        List<Integer> hidden = java.util.Arrays.stream(widths).boxed().toList();
        int masks = integer("model.masks", 1, 10_000);
        boolean orderAgnostic = bool("model.order-agnostic");
        long maskSeed = num("model.mask-seed", Long.MIN_VALUE, Long.MAX_VALUE);
        boolean direct = bool("model.direct-connections");
        String output = oneOf("model.output", OUTPUTS);
        int components = integer("model.components", 1, 1000);
        boolean conditional = bool("model.conditional");
        int orderings = integer("model.orderings", 1, 10_000);
        String activation = oneOf("model.activation", NadeSpec.ACTIVATIONS);
        double clip = real("model.gradient-clip", 1e-6, 1e6);
        int iterations = integer("model.iterations", 1, 100);
        boolean intermediateLoss = bool("model.intermediate-loss");
        boolean sequence = type.startsWith("char-");
        if (type.equals("fvsbn") && direct) {
            problems.add(ROOT + ".model.direct-connections: an fvsbn is already the direct term (use type = made)");
        }
        if (type.equals("fvsbn") && masks != 1) {
            problems.add(ROOT + ".model.masks = " + masks + ": an fvsbn has one fixed ordering (masks = 1)");
        }
        if ((type.equals("made") || sequence) && hidden.isEmpty()) {
            problems.add(ROOT + ".model.hidden is empty: a " + type + " needs at least one hidden layer"
                    + (type.equals("made") ? " (or use type = fvsbn)" : ""));
        }
        if (type.equals("nade") && hidden.size() != 1) {
            problems.add(ROOT + ".model.hidden = " + hidden + ": a nade has exactly one hidden layer");
        }
        if (sequence && conditional) {
            problems.add(ROOT + ".model.conditional: " + type + " models are not class-conditional");
        }
        if (!type.endsWith("nade") && orderings != 1) {
            problems.add(ROOT + ".model.orderings = " + orderings + " applies to nade and deep-nade only (made uses"
                    + " model.masks)");
        }
        if (type.equals("deep-nade") && hidden.isEmpty()) {
            problems.add(ROOT + ".model.hidden is empty: a deep-nade needs at least one hidden layer");
        }
        if (type.equals("deep-nade") && !output.equals("auto") && !output.equals("bernoulli")) {
            problems.add(ROOT + ".model.output = " + output + ": deep-nade has Bernoulli conditionals (binary data)");
        }
        if (type.equals("deep-nade") && conditional) {
            problems.add(ROOT + ".model.conditional: deep-nade models are not class-conditional");
        }
        if (!type.equals("deep-nade") && (iterations != 1 || intermediateLoss)) {
            problems.add(ROOT + ".model.iterations / intermediate-loss apply to deep-nade only");
        }
        if (FlowSpec.TYPES.contains(type)) {
            return flow(type, eventShape, domain, widths, conditional, output, maskSeed, components);
        }
        if (IMAGE_TYPES.contains(type) || type.equals("vae")) {
            return imageOrLatent(type, eventShape, domain, widths, conditional, output, components);
        }
        OutputFamily family = null;
        int context = 0;
        if (domain != null) {
            String resolved = !output.equals("auto") ? output : switch (domain.valueType()) {
                case "binary" -> "bernoulli";
                case "uint8" -> "categorical";
                default -> "mixture";
            };
            String needs = switch (resolved) {
                case "bernoulli" -> "binary";
                case "categorical" -> "uint8";
                default -> "real";
            };
            if (!needs.equals(domain.valueType()) && !(resolved.equals("categorical")
                    && domain.valueType().equals("binary"))) {
                problems.add(ROOT + ".model.output = " + resolved + " models " + needs + " data, but the dataset holds "
                        + domain.valueType() + " values");
            }
            if (sequence && (!domain.valueType().equals("uint8") || domain.vocabulary() == null)) {
                problems.add(ROOT + ".model.type = " + type + " models text; prepare the data with format = text");
            }
            if (conditional && domain.classes() == 0) {
                problems.add(ROOT + ".model.conditional = true, but the dataset has no labels");
            }
            context = conditional ? domain.classes() : 0;
            check();
            family = OutputFamily.of(resolved, Math.max(2, domain.levels()), components);
        }
        check();
        if (family == null) {
            return null;
        }
        return switch (type) {
            case "fvsbn" -> MadeSpec.fvsbn(eventShape).withFamily(family).withContext(context);
            case "nade" -> NadeSpec.of(eventShape, family, widths[0]).withOrderings(orderings, maskSeed)
                    .withContext(context).withActivation(activation);
            case "deep-nade" -> DeepNadeSpec.nadeK(eventShape, widths, iterations, orderings, maskSeed)
                    .withIntermediateLoss(intermediateLoss);
            case "char-lstm" -> CharRnnSpec.lstm((int) eventShape[0], domain.levels(), widths).withGradientClip(clip);
            case "char-rnn" -> CharRnnSpec.rnn((int) eventShape[0], domain.levels(), widths).withGradientClip(clip);
            default -> MadeSpec.made(eventShape, widths, masks, orderAgnostic, maskSeed).withDirect(direct)
                    .withFamily(family).withContext(context);
        };
    }

    /** A normalizing flow's spec (null when validating before the data is read). */
    private ModelSpec flow(String type, long[] eventShape, Domain domain, int[] hidden, boolean conditional,
                           String output, long seed, int components) {
        int steps = integer("model.flow-steps", 1, 1000);
        int scales = integer("model.scales", 1, 10);
        int channels = integer("model.hidden-channels", 1, 4096);
        String scale = oneOf("model.coupling-scale", List.of("auto", "tanh", "sigmoid"));
        double alpha = real("model.logit-alpha", 0, 0.499);
        int draws = integer("model.dequantization-samples", 1, 10_000);
        String dequantization = oneOf("model.dequantization", List.of("uniform", "variational"));
        int[] dequantizationHidden = widths("model.dequantization-hidden");
        String base = oneOf("model.base", List.of("normal", "made-mog"));
        int[] baseHidden = widths("model.base-hidden");
        if (conditional) {
            problems.add(ROOT + ".model.conditional: " + type + " flows are not class-conditional");
        }
        if (!output.equals("auto")) {
            problems.add(ROOT + ".model.output = " + output + ": a flow's base distribution is set by model.base"
                    + " (leave output = auto)");
        }
        if ((type.equals("maf") || type.equals("iaf") || (type.equals("realnvp") && eventShape != null
                && eventShape.length == 1)) && hidden.length == 0) {
            problems.add(ROOT + ".model.hidden is empty: a " + type + " needs at least one hidden layer");
        }
        check();
        if (domain == null) {
            return null;
        }
        if (domain.vocabulary() != null) {
            problems.add(ROOT + ".model.type = " + type + ": flows model numbers, not text");
        }
        check();
        try {
            return FlowArchitectures.build(type, eventShape, domain.isReal() ? 0 : Math.max(2, domain.levels()),
                    new FlowArchitectures.Options(steps, hidden, scales, channels, scale, alpha, draws, seed,
                            dequantization, dequantizationHidden, base, baseHidden, components));
        } catch (IllegalArgumentException e) {
            problems.add(ROOT + ".model: " + e.getMessage());
            check();
            throw e;
        }
    }

    /** Image models: each takes the pixel grid, [H, W] or [H, W, C] (channels last). */
    static final List<String> IMAGE_TYPES = List.of("pixelcnn", "gated-pixelcnn", "pixelcnn++", "row-lstm",
            "diagonal-bilstm");

    /** The spec of an image model or of the VAE (null when validating before the data is read). */
    private ModelSpec imageOrLatent(String type, long[] eventShape, Domain domain, int[] hidden, boolean conditional,
                                    String output, int components) {
        int filters = integer("model.filters", 1, 4096);
        int blocks = integer("model.blocks", 0, 1000);
        int outputFilters = integer("model.output-filters", 0, 4096);
        int latent = integer("model.latent", 1, 100_000);
        int steps = integer("model.flow-steps", 0, 1000);
        int[] decoder = widths("model.decoder-hidden");
        int samples = integer("model.importance-samples", 1, 100_000);
        String activation = oneOf("model.activation", List.of("sigmoid", "relu"));
        if (!output.equals("auto")) {
            problems.add(ROOT + ".model.output = " + output + ": " + type + " has its own output (leave output = auto)");
        }
        if (conditional && (type.equals("vae") || type.equals("pixelcnn++"))) {
            problems.add(ROOT + ".model.conditional: " + type + " models are not class-conditional");
        }
        check();
        if (domain == null) {
            return null;
        }
        if (IMAGE_TYPES.contains(type) && (eventShape.length < 2 || eventShape.length > 3 || domain.isReal()
                || domain.vocabulary() != null)) {
            problems.add(ROOT + ".model.type = " + type + " models images: integer pixels of shape [H, W] or [H, W, C],"
                    + " not " + domain.valueType() + " events of shape " + java.util.Arrays.toString(eventShape));
        }
        if (type.equals("vae") && !domain.valueType().equals("binary")) {
            problems.add(ROOT + ".model.type = vae has a Bernoulli decoder: it needs binary data, not "
                    + domain.valueType());
        }
        if (conditional && domain.classes() == 0) {
            problems.add(ROOT + ".model.conditional = true, but the dataset has no labels");
        }
        check();
        int levels = Math.max(2, domain.levels());
        int context = conditional ? domain.classes() : 0;
        int out = outputFilters > 0 ? outputFilters : 2 * filters;
        try {
            return switch (type) {
                case "pixelcnn" -> PixelCnnSpec.of(eventShape, levels, filters, blocks).withOutputFilters(out)
                        .withContext(context);
                case "gated-pixelcnn" -> GatedPixelCnnSpec.of(eventShape, levels, filters, Math.max(1, blocks))
                        .withOutputFilters(out).withContext(context);
                case "pixelcnn++" -> PixelCnnPpSpec.of(eventShape, filters, blocks, components).withLevels(levels);
                case "row-lstm" -> RowLstmSpec.of(eventShape, levels, filters, Math.max(1, blocks))
                        .withOutputFilters(out).withContext(context);
                case "diagonal-bilstm" -> DiagonalBiLstmSpec.of(eventShape, levels, filters, Math.max(1, blocks))
                        .withOutputFilters(out).withContext(context);
                default -> VaeSpec.of(eventShape, hidden, decoder.length > 0 ? decoder : reversed(hidden), latent, steps,
                        samples).withActivation(activation.equals("relu") ? "relu" : "tanh");
            };
        } catch (IllegalArgumentException e) {
            problems.add(ROOT + ".model: " + e.getMessage());
            check();
            throw e;
        }
    }

    private static int[] reversed(int[] a) {
        int[] r = new int[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = a[a.length - 1 - i];
        }
        return r;
    }

    /** A list of positive layer widths. */
    private int[] widths(String key) {
        List<Integer> w = read(key, () -> config.getIntList(key), List.of());
        if (w.stream().anyMatch(h -> h < 1)) {
            problems.add(ROOT + "." + key + " = " + w + " must hold positive widths");
        }
        return w.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Values of {@code model.output}. */
    static final List<String> OUTPUTS = List.of("auto", "bernoulli", "categorical", "gaussian", "mixture");

    /** Validates the train settings that do not depend on the data (run before Spark starts). */
    public void validateTrain() {
        trainSettings(new long[]{1}, null, false, false);
    }

    /** Settings of the train job for data of the given event shape and domain (null: validation only). */
    public Train.Settings trainSettings(long[] eventShape, Domain domain, boolean resume, boolean overwrite) {
        String data = str("data");
        String output = str("train.output");
        int epochs = integer("train.epochs", 1, 1_000_000);
        int batch = integer("train.batch-size", 1, 1_000_000);
        double lr = real("train.learning-rate", 1e-12, 10);
        int workers = integer("train.workers", 0, 100_000);
        int freq = integer("train.averaging-frequency", 1, 1_000_000);
        int rounds = integer("train.rounds-per-call", 0, 1_000_000);
        int patience = integer("train.patience", 0, 1_000_000);
        long seed = num("train.seed", Long.MIN_VALUE, Long.MAX_VALUE);
        long evalRows = num("train.train-eval-rows", 1, Long.MAX_VALUE);
        long validEvalRows = num("train.valid-eval-rows", 0, Long.MAX_VALUE);
        int evalBatch = integer("evaluate.batch-size", 1, 1_000_000);
        ModelSpec spec = model(eventShape, domain);
        check();
        Map<String, Object> record = new java.util.LinkedHashMap<>();
        record.put("model", config.getConfig("model").root().unwrapped());
        record.put("train", config.getConfig("train").root().unwrapped());
        record.put("data", data);
        return new Train.Settings(data, output, spec, epochs, batch, lr, workers, freq, rounds, patience, seed, resume,
                overwrite, evalRows, validEvalRows, evalBatch, record);
    }

    /** Settings of the evaluate job. */
    public Evaluate.Settings evaluate(boolean overwrite) {
        Evaluate.Settings s = new Evaluate.Settings(str("evaluate.model"), str("data"),
                oneOf("evaluate.split", List.of("train", "valid", "test")), str("evaluate.output"),
                integer("evaluate.batch-size", 1, 1_000_000), overwrite);
        check();
        return s;
    }

    /** Settings of the score job. */
    public Score.Settings score(boolean overwrite) {
        String format = oneOf("score.format", Score.FORMATS);
        List<String> columns = strings("score.columns");
        if (columns.isEmpty()) {
            problems.add(ROOT + ".score.columns lists no columns (--columns): name the model's value columns (e.g."
                    + " p0..p783) or the one column holding whole events");
        }
        List<String> keep = strings("score.keep");
        String delimiter = read("score.csv.delimiter", () -> config.getString("score.csv.delimiter"), ",");
        if (delimiter.length() != 1) {
            problems.add(ROOT + ".score.csv.delimiter must be one character, got '" + delimiter + "'");
        }
        String model = str("score.model");
        String input = str("score.input");
        String label = read("score.label-column", () -> config.getString("score.label-column"), "");
        List<String> partitionBy = strings("score.partition-by");
        String binarize = oneOf("score.binarize", ValueRule.MODES);
        int batchSize = integer("score.batch-size", 1, 1_000_000);
        Score.Csv csv = new Score.Csv(bool("score.csv.header"), delimiter, bool("score.csv.infer-schema"));
        String output = str("score.output");
        check();
        return new Score.Settings(model, input, format, columns, keep, label, partitionBy, binarize, batchSize, csv,
                output, overwrite);
    }

    /** Settings of the interpolate job. */
    public Interpolate.Settings interpolate(boolean overwrite) {
        List<Integer> rows = read("interpolate.rows", () -> config.getIntList("interpolate.rows"), List.of(0, 1));
        if (rows.size() != 2 || rows.stream().anyMatch(r -> r < 0)) {
            problems.add(ROOT + ".interpolate.rows = " + rows + " must be two row positions >= 0");
            rows = List.of(0, 1);
        }
        String model = str("interpolate.model");
        String data = str("data");
        String split = oneOf("interpolate.split", List.of("train", "valid", "test"));
        int steps = integer("interpolate.steps", 2, 1000);
        String output = str("interpolate.output");
        check();
        return new Interpolate.Settings(model, data, split, rows.get(0), rows.get(1), steps, output, overwrite);
    }

    /** Settings of the sample job. */
    public Sample.Settings sample(boolean overwrite) {
        List<Integer> labels = read("sample.labels", () -> config.getIntList("sample.labels"), List.of());
        if (labels.stream().anyMatch(l -> l < 0)) {
            problems.add(ROOT + ".sample.labels = " + labels + " must hold class indices >= 0");
        }
        int images = integer("sample.complete.images", 0, 100_000);
        String split = oneOf("sample.complete.split", List.of("train", "valid", "test"));
        int knownRows = integer("sample.complete.known-rows", 0, 100_000);
        int perImage = integer("sample.complete.per-image", 1, 10_000);
        if (images > 0 && !labels.isEmpty()) {
            problems.add(ROOT + ".sample.labels: completion conditions on each source image's own label; leave labels"
                    + " = [] when sample.complete.images > 0");
        }
        Sample.Settings s = new Sample.Settings(str("sample.model"), str("sample.output"),
                num("sample.count", 1, 1_000_000_000L), num("sample.seed", Long.MIN_VALUE, Long.MAX_VALUE),
                integer("sample.block-size", 1, 100_000), integer("sample.picture", 0, 10_000), overwrite, labels,
                real("sample.temperature", 1e-3, 100),
                images == 0 ? null : new Sample.Completion(str("data"), split, images, knownRows, perImage));
        check();
        return s;
    }
}
