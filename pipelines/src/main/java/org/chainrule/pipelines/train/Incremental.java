package org.chainrule.pipelines.train;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;
import org.chainrule.pipelines.Progress;
import org.chainrule.pipelines.data.Example;
import org.chainrule.pipelines.data.Manifest;
import org.chainrule.pipelines.evaluate.Scorer;
import org.chainrule.pipelines.io.Artefact;
import org.chainrule.pipelines.io.ModelVersions;
import org.chainrule.pipelines.io.OutputGuard;
import org.chainrule.pipelines.io.SavedModel;
import org.chainrule.pipelines.io.UpToDate;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * How a scheduled run builds on what is already there (a nightly job):
 *
 * <ul>
 *   <li>{@code initFrom}: start from the weights of an existing model ({@link WarmStart}), usually the run's own
 *       {@code model/}, which the replacement reads before anything is replaced;</li>
 *   <li>{@code ifChanged}: when the run's current model version was made from the same inputs (data checksums,
 *       settings, code version, and the model it started from), say "up to date" and do nothing; otherwise train and
 *       replace the run as {@code --overwrite} would;</li>
 *   <li>{@code keepVersions}: every finished run records its model as the next version of the run
 *       ({@link ModelVersions}); this many are kept, newest first (0 = all). A replacement copies the kept ones.</li>
 * </ul>
 *
 * @param initFrom     a saved model directory to start from, or null for a fresh initialisation
 * @param ifChanged    skip the run when its inputs are unchanged
 * @param keepVersions model versions to keep (0 = all)
 */
public record Incremental(String initFrom, boolean ifChanged, int keepVersions) {
    /** A run that builds on nothing and keeps every version. */
    public static final Incremental NONE = new Incremental(null, false, 0);

    public Incremental {
        if (keepVersions < 0) {
            throw new IllegalArgumentException("keepVersions must be >= 0 (0 = all), got " + keepVersions);
        }
    }

    /** What is wrong with these flags together with {@code --resume} (a command line checks before Spark starts). */
    public List<String> problems(boolean resume) {
        List<String> out = new java.util.ArrayList<>();
        if (resume && initFrom != null) {
            out.add("--resume continues the run's own checkpoint; --init-from starts a new run: give one");
        }
        if (resume && ifChanged) {
            out.add("--resume continues the run's own checkpoint; --if-changed starts a new run when the inputs"
                    + " changed: give one");
        }
        return out;
    }

    /**
     * Checks the flags and paths, loads the model to start from, and compares the inputs with the output's current
     * version when {@code ifChanged}.
     */
    Run start(SparkSession spark, Train.Settings s, Manifest manifest) {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        List<String> problems = problems(s.resume());
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(String.join("; ", problems));
        }
        WarmStart warm = null;
        String from = null;
        boolean ownModel = false;
        if (initFrom != null) {
            String out = OutputGuard.canonical(s.output(), conf);
            from = OutputGuard.canonical(initFrom, conf);
            ownModel = from.startsWith(out + "/");
            if (!ownModel) {
                // the run's own model/ may be read: a replacement leaves it untouched until the new run is complete
                OutputGuard.checkApartFromInputs(s.output(), Artefact.RUN, List.of(initFrom), conf);
            }
            warm = WarmStart.load(initFrom, s.spec(), manifest, s.data(), conf);
        }
        int workers = s.averaging().workers() > 0 ? s.averaging().workers()
                : JavaSparkContext.fromSparkContext(spark.sparkContext()).defaultParallelism();
        Map<String, Object> inputs = inputs(s, manifest, workers, warm, from, ownModel);
        Map<String, Object> existing = null;
        if (ifChanged) {
            Map<String, Object> current = ModelVersions.current(s.output(), conf);
            if (UpToDate.check("train", s.output(), current == null ? null : asMap(current.get("inputs")), inputs)) {
                existing = new LinkedHashMap<>();
                existing.put("output", s.output());
                existing.put("upToDate", true);
                existing.put("version", "v" + current.get("version"));
            }
        }
        return new Run(ifChanged ? s.withFlags(false, true) : s, warm, inputs, existing, keepVersions, conf);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> asMap(Object o) {
        return o instanceof Map<?, ?> m ? (Map<String, Object>) m : null;
    }

    /**
     * What decides a run's model: the code version, the data's checksums, every setting, and the model it starts
     * from (by its weights' checksum; for the run's own model, by its path only, since that model is the previous
     * output itself and changes with every run).
     */
    private static Map<String, Object> inputs(Train.Settings s, Manifest manifest, int workers, WarmStart warm,
                                              String from, boolean ownModel) {
        Map<String, Object> code = new LinkedHashMap<>();
        Map<String, Object> build = BuildInfo.versions();
        code.put("chainruleVersion", build.get("chainruleVersion"));
        code.put("gitCommit", build.get("gitCommit"));
        Map<String, Object> data = new LinkedHashMap<>();
        manifest.splits().forEach((split, v) -> data.put(split, v.checksum()));
        Map<String, Object> settings = new LinkedHashMap<>(RunSettings.of(s, workers, manifest, 1));
        for (String notASetting : List.of("fromEpoch", "data", "trainChecksum", "validChecksum", "domain")) {
            settings.remove(notASetting);
        }
        settings.put("epochs", s.schedule().epochs());
        settings.put("patience", s.schedule().patience());
        settings.put("scoringBatchSize", s.scoring().batchSize());
        settings.put("model", s.spec().toMap());
        settings.put("record", s.record());
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("code", code);
        m.put("data", data);
        m.put("settings", settings);
        if (warm != null) {
            Map<String, Object> start = new LinkedHashMap<>();
            start.put("path", from);
            if (!ownModel) {
                start.put("networkSha256", warm.networkSha256());
            }
            m.put("initFrom", start);
        }
        return m;
    }

    /**
     * One train run's incremental side: the settings it runs with, where it starts, and what it records.
     */
    static final class Run {
        private final Train.Settings settings;
        private final WarmStart warm;
        private final Map<String, Object> inputs;
        private final Map<String, Object> upToDate;
        private final int keepVersions;
        private final Configuration conf;
        private Double initialValidNll;

        private Run(Train.Settings settings, WarmStart warm, Map<String, Object> inputs, Map<String, Object> upToDate,
                    int keepVersions, Configuration conf) {
            this.settings = settings;
            this.warm = warm;
            this.inputs = inputs;
            this.upToDate = upToDate;
            this.keepVersions = keepVersions;
            this.conf = conf;
        }

        /** The run's settings ({@code --if-changed} replaces an existing run as {@code --overwrite} does). */
        Train.Settings settings() {
            return settings;
        }

        /** The summary of an up-to-date run (nothing to do), or null when the run trains. */
        Map<String, Object> upToDate() {
            return upToDate;
        }

        /** Whether the network starts from a saved model's weights (no data-dependent initialisation then). */
        boolean warm() {
            return warm != null;
        }

        /** The network a new (not resumed) run starts from: fresh, or holding the warm start's weights. */
        MultiLayerNetwork initialNetwork(Train.Settings s) {
            if (warm != null) {
                Progress.say("train", "--init-from " + warm.path() + ": starting from its weights, with a fresh"
                        + " optimizer");
                return warm.network(s.spec(), s.recipe());
            }
            return s.recipe().network(s.spec());
        }

        /**
         * Scores the validation rows with the starting weights of a warm start, before any step: the NLL the old
         * model has on the new data, against which the run's epochs can be judged.
         */
        void scoreStart(JavaSparkContext jsc, JavaRDD<Example> valid, MultiLayerNetwork net, Manifest manifest) {
            if (warm == null || settings.resume()) {
                return;
            }
            Broadcast<SavedModel.Payload> payload = jsc.broadcast(SavedModel.Payload.of(settings.spec(), net,
                    manifest.domain()));
            initialValidNll = Scorer.meanNll(valid, payload, manifest.dims(), settings.scoring().batchSize())[0];
            payload.destroy();
            Progress.say("train", String.format("--init-from: valid NLL %.3f nats before the first step",
                    initialValidNll));
        }

        /** What the model's provenance records of the start (nothing for a fresh one). */
        Map<String, Object> provenance() {
            return warm == null ? Map.of() : Map.of("initFrom", warm.provenance(conf));
        }

        /**
         * Records the finished run's model as its next version (carrying the history of the run it replaces) and
         * adds the version, and the warm start's figures, to the summary.
         *
         * @param dir     the finished run: the output, or the staging path of its replacement
         * @param summary the run's summary, so far
         */
        void recordVersion(String dir, Map<String, Object> summary) {
            if (initialValidNll != null) {
                summary.put("initialValidNllNats", initialValidNll);
            }
            summary.putAll(provenance());
            Map<String, Object> info = new LinkedHashMap<>();
            info.put("inputs", inputs);
            for (String figure : List.of("epochs", "bestValidNllNats", "initialValidNllNats", "initFrom")) {
                if (summary.containsKey(figure)) {
                    info.put(figure, summary.get(figure));
                }
            }
            String previous = dir.equals(settings.output()) ? null : settings.output();
            String version = ModelVersions.record(dir, previous, info, keepVersions, conf);
            summary.put("version", version);
            Progress.say("train", "model version " + version + " of " + settings.output() + " is current");
        }
    }
}
