package org.chainrule.pipelines.train;

import com.typesafe.config.Config;
import org.chainrule.pipelines.data.Manifest;
import org.chainrule.pipelines.io.SavedModel;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.samediff.AbstractSameDiffLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.learning.config.IUpdater;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The settings that decide what a training run's epochs compute, recorded per segment of epochs so that a run's
 * provenance says which settings produced which epochs. {@code --resume} compares the checkpoint's last segment with
 * the new settings: a difference is refused, naming each setting, unless {@code --allow-changed-settings} is given,
 * when the new settings start a new segment.
 *
 * <p>The model itself is not among them: a checkpoint's weights only fit its own architecture, so a different model
 * is always refused. Settings that change no epoch's computation (epochs, patience, evaluate.batch-size) may change
 * freely.
 */
final class RunSettings {
    /** Config key (as in reference.conf) -> key in a recorded segment. */
    private static final Map<String, String> KEYS = new LinkedHashMap<>();

    static {
        KEYS.put("train.seed", "seed");
        KEYS.put("train.learning-rate", "learningRate");
        KEYS.put("train.batch-size", "batchSize");
        KEYS.put("train.workers", "workers");
        KEYS.put("train.averaging-frequency", "averagingFrequency");
        KEYS.put("train.rounds-per-call", "roundsPerCall");
        KEYS.put("train.train-eval-rows", "trainEvalRows");
        KEYS.put("train.valid-eval-rows", "validEvalRows");
        KEYS.put("data (train split checksum)", "trainChecksum");
        KEYS.put("data (valid split checksum)", "validChecksum");
        KEYS.put("data (value encoding)", "domain");
    }

    private RunSettings() {
    }

    /** The segment the given settings make, starting at epoch {@code fromEpoch} (1-based). */
    static Map<String, Object> of(Train.Settings s, int workers, Manifest manifest, int fromEpoch) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("fromEpoch", fromEpoch);
        m.put("seed", s.seed());
        m.put("learningRate", s.recipe().learningRate());
        m.put("batchSize", s.schedule().batchSize());
        m.put("workers", workers);
        m.put("averagingFrequency", s.averaging().frequency());
        m.put("roundsPerCall", s.averaging().roundsPerCall());
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
            for (Map.Entry<String, String> k : KEYS.entrySet()) {
                Object v = k.getKey().startsWith("train.") ? train.get(k.getKey().substring(6)) : null;
                // workers = 0 meant Spark's default parallelism, which the old record did not resolve
                if (v != null && !(k.getValue().equals("workers") && v instanceof Number n && n.intValue() == 0)) {
                    m.put(k.getValue(), v);
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
     * One line per setting that differs between a recorded segment and the new one ("train.learning-rate: 0.003 in
     * the run, 0.001 now"); settings the record does not hold are not compared (see {@link #unknown}).
     */
    static List<String> changes(Map<String, Object> recorded, Map<String, Object> now) {
        List<String> out = new ArrayList<>();
        for (Map.Entry<String, String> k : KEYS.entrySet()) {
            Object was = recorded.get(k.getValue());
            Object is = now.get(k.getValue());
            if (was != null && !same(was, is)) {
                out.add(k.getKey() + ": " + shortly(was) + " in the run, " + shortly(is) + " now");
            }
        }
        return out;
    }

    /** The settings an old record does not hold, so that a resume could not check them. */
    static List<String> unknown(Map<String, Object> recorded) {
        return KEYS.entrySet().stream().filter(k -> !recorded.containsKey(k.getValue())).map(Map.Entry::getKey)
                .toList();
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
     * Puts a new learning rate into a restored network's optimizer configuration, whose layers otherwise keep the rate
     * they were trained with (DL4J's own setLearningRate skips SameDiff layers, which most models here are). The
     * parameter-averaging workers build their networks from this configuration, and the next checkpoint records it.
     */
    static void useLearningRate(MultiLayerNetwork net, double learningRate) {
        for (NeuralNetConfiguration c : net.getLayerWiseConfigurations().getConfs()) {
            Layer layer = c.getLayer();
            List<IUpdater> updaters = layer instanceof BaseLayer b ? java.util.Arrays.asList(b.getIUpdater(),
                    b.getBiasUpdater()) : layer instanceof AbstractSameDiffLayer sd
                    ? java.util.Arrays.asList(sd.getUpdater(), sd.getBiasUpdater()) : List.of();
            for (IUpdater u : updaters) {
                if (u != null && u.hasLearningRate()) {
                    u.setLrAndSchedule(learningRate, null);
                }
            }
        }
    }

    private static String shortly(Object v) {
        String s = String.valueOf(v);
        return s.length() > 60 ? s.substring(0, 57) + "..." : s;
    }
}
