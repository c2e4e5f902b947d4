package org.chainrule.pipelines.train;

import com.typesafe.config.Config;
import org.chainrule.models.TrainingRecipe;
import org.chainrule.pipelines.data.Manifest;
import org.chainrule.pipelines.io.SavedModel;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.samediff.AbstractSameDiffLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The settings that decide what a training run's epochs compute, recorded per segment of epochs so that a run's
 * provenance says which settings produced which epochs. {@code --resume} compares the checkpoint's last segment with
 * the new settings: a difference is refused, naming each setting, unless {@code --allow-changed-settings} is given,
 * when the new settings start a new segment. A few cannot change even then, because a restored optimizer cannot take
 * them (its kind and constants, the regularization, the clipping, the weight average): those need a new run.
 *
 * <p>The model itself is not among them: a checkpoint's weights only fit its own architecture, so a different model
 * is always refused. Settings that change no epoch's computation (epochs, patience, evaluate.batch-size) may change
 * freely.
 */
final class RunSettings {
    /**
     * One recorded setting.
     *
     * @param label     how messages name it (the config key)
     * @param key       its key in a recorded segment
     * @param oldKey    its key in the {@code train} section of a settings record written before segments, or null
     * @param changeable whether {@code --allow-changed-settings} may change it on a resume
     */
    private record Setting(String label, String key, String oldKey, boolean changeable) {
    }

    private static final List<Setting> SETTINGS = List.of(
            new Setting("train.seed", "seed", "seed", true),
            new Setting("train.learning-rate", "learningRate", "learning-rate", true),
            new Setting("train.schedule", "schedule", null, true),
            new Setting("train.optimizer (and its constants)", "optimizer", null, false),
            new Setting("train.l2", "l2", null, false),
            new Setting("train.weight-decay", "weightDecay", null, false),
            new Setting("train.gradient-clip-norm", "clipNorm", null, false),
            new Setting("train.ema", "ema", null, false),
            new Setting("train.batch-size", "batchSize", "batch-size", true),
            new Setting("train.workers", "workers", "workers", true),
            new Setting("train.averaging-frequency", "averagingFrequency", "averaging-frequency", true),
            new Setting("train.block-momentum", "blockMomentum", null, false),
            new Setting("train.averaged-step-scale", "averagedStepScale", null, true),
            new Setting("train.rounds-per-call", "roundsPerCall", "rounds-per-call", true),
            new Setting("train.train-eval-rows", "trainEvalRows", "train-eval-rows", true),
            new Setting("train.valid-eval-rows", "validEvalRows", "valid-eval-rows", true),
            new Setting("data (train split checksum)", "trainChecksum", null, true),
            new Setting("data (valid split checksum)", "validChecksum", null, true),
            new Setting("data (value encoding)", "domain", null, true));

    private RunSettings() {
    }

    /** The segment the given settings make, starting at epoch {@code fromEpoch} (1-based). */
    static Map<String, Object> of(Train.Settings s, int workers, Manifest manifest, int fromEpoch) {
        TrainingRecipe r = s.recipe();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("fromEpoch", fromEpoch);
        m.put("seed", s.seed());
        m.put("learningRate", r.learningRate());
        m.put("schedule", r.schedule().toString());
        m.put("optimizer", r.optimizer().toString());
        m.put("l2", r.l2());
        m.put("weightDecay", r.weightDecay());
        m.put("clipNorm", r.clipNorm());
        m.put("ema", r.ema());
        m.put("batchSize", s.schedule().batchSize());
        m.put("workers", workers);
        m.put("averagingFrequency", s.averaging().frequency());
        m.put("roundsPerCall", s.averaging().roundsPerCall());
        m.put("blockMomentum", s.averaging().blockMomentum());
        m.put("averagedStepScale", s.averaging().stepScale());
        m.put("trainEvalRows", s.scoring().trainRows());
        m.put("validEvalRows", s.scoring().validRows());
        m.put("data", s.data());
        m.put("trainChecksum", manifest.split("train", s.data()).checksum());
        m.put("validChecksum", manifest.split("valid", s.data()).checksum());
        m.put("domain", manifest.domain().toMap());
        return m;
    }

    /**
     * The segments a checkpoint recorded; for a checkpoint written before segments were, one segment rebuilt from its
     * model.json (the settings record and the provenance), holding what that record says and nothing more.
     */
    static List<Map<String, Object>> recorded(Config state, SavedModel checkpoint) {
        List<Map<String, Object>> segments = new ArrayList<>();
        if (state.hasPath("settings")) {
            state.getConfigList("settings").forEach(c -> segments.add(new LinkedHashMap<>(c.root().unwrapped())));
            return segments;
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("fromEpoch", 1);
        if (checkpoint.settings().get("train") instanceof Map<?, ?> train) {
            for (Setting k : SETTINGS) {
                Object v = k.oldKey() == null ? null : train.get(k.oldKey());
                // workers = 0 meant Spark's default parallelism, which the old record did not resolve
                if (v != null && !(k.key().equals("workers") && v instanceof Number n && n.intValue() == 0)) {
                    m.put(k.key(), v);
                }
            }
        }
        if (checkpoint.provenance().get("dataChecksums") instanceof Map<?, ?> sums) {
            putIfPresent(m, "trainChecksum", sums.get("train"));
            putIfPresent(m, "validChecksum", sums.get("valid"));
        }
        m.put("domain", checkpoint.domain().toMap());
        segments.add(m);
        return segments;
    }

    private static void putIfPresent(Map<String, Object> m, String key, Object v) {
        if (v != null) {
            m.put(key, v);
        }
    }

    /**
     * The settings that differ between a recorded segment and the new one, as lines ("train.learning-rate: 0.003 in
     * the run, 0.001 now"); settings the record does not hold are not compared (see {@link #unknown}).
     *
     * @param changeable true: the ones {@code --allow-changed-settings} may change; false: the ones it may not
     */
    static List<String> changes(Map<String, Object> recorded, Map<String, Object> now, boolean changeable) {
        List<String> out = new ArrayList<>();
        for (Setting k : SETTINGS) {
            Object was = recorded.get(k.key());
            Object is = now.get(k.key());
            if (k.changeable() == changeable && was != null && !same(was, is)) {
                out.add(k.label() + ": " + shortly(was) + " in the run, " + shortly(is) + " now");
            }
        }
        return out;
    }

    /** Whether the step size (its base or its schedule) differs between two segments. */
    static boolean stepSizeChanged(Map<String, Object> recorded, Map<String, Object> now) {
        return !same(recorded.getOrDefault("learningRate", now.get("learningRate")), now.get("learningRate"))
                || !same(recorded.getOrDefault("schedule", now.get("schedule")), now.get("schedule"));
    }

    /** The settings an old record does not hold, so that a resume could not check them. */
    static List<String> unknown(Map<String, Object> recorded) {
        return SETTINGS.stream().filter(k -> !recorded.containsKey(k.key())).map(Setting::label).toList();
    }

    private static boolean same(Object a, Object b) {
        if (a instanceof Number x && b instanceof Number y) {
            return x.doubleValue() == y.doubleValue();
        }
        return Objects.equals(normal(a), normal(b));
    }

    /** Numbers inside maps and lists compared by value (JSON reads 2 back where 2.0 was written). */
    private static Object normal(Object v) {
        if (v instanceof Number n) {
            return n.doubleValue();
        }
        if (v instanceof Map<?, ?> m) {
            Map<Object, Object> out = new LinkedHashMap<>();
            m.forEach((k, x) -> out.put(k, normal(x)));
            return out;
        }
        if (v instanceof List<?> l) {
            return l.stream().map(RunSettings::normal).toList();
        }
        return v;
    }

    /**
     * Puts the step size and schedule of a new recipe into a restored network's optimizer configuration, whose layers
     * otherwise keep the ones they were trained with (DL4J's own setLearningRate skips SameDiff layers, which most
     * models here are). Each layer takes the updater configuration the same spec builds under the new recipe (the
     * optimizer's kind and constants are the same: a change of those is refused). The parameter-averaging workers
     * build their networks from this configuration, and the next checkpoint records it.
     */
    static void useStepSizeOf(MultiLayerNetwork net, MultiLayerConfiguration fresh) {
        for (int i = 0; i < fresh.getConfs().size(); i++) {
            Layer to = net.getLayerWiseConfigurations().getConf(i).getLayer();
            Layer from = fresh.getConf(i).getLayer();
            if (to instanceof BaseLayer a && from instanceof BaseLayer b) {
                a.setIUpdater(b.getIUpdater());
                a.setBiasUpdater(b.getBiasUpdater());
            } else if (to instanceof AbstractSameDiffLayer a && from instanceof AbstractSameDiffLayer b) {
                a.setUpdater(b.getUpdater());
                a.setBiasUpdater(b.getBiasUpdater());
            }
        }
    }

    private static String shortly(Object v) {
        String s = String.valueOf(v);
        return s.length() > 120 ? s.substring(0, 117) + "..." : s;
    }
}
