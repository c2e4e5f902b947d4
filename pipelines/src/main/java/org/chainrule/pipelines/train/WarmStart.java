package org.chainrule.pipelines.train;

import org.apache.hadoop.conf.Configuration;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.TrainingRecipe;
import org.chainrule.pipelines.Progress;
import org.chainrule.pipelines.data.Manifest;
import org.chainrule.pipelines.io.ModelVersions;
import org.chainrule.pipelines.io.Outputs;
import org.chainrule.pipelines.io.SavedModel;
import org.chainrule.pipelines.io.UpToDate;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code train --init-from <model>}: a new run whose network starts from the weights of an existing saved model (a
 * nightly run continuing yesterday's model on today's data) instead of a fresh initialisation.
 *
 * <p>The model must be the configured one: the spec in its {@code model.json} must equal the spec the settings build
 * (a difference is refused, naming each differing key), and the data must be the same kind of values (type, levels,
 * classes, vocabulary, binarization). The standardization of real values may differ: it is recomputed by every
 * prepare, and the new run trains with the new data's.
 *
 * <p>Only the weights are taken. The optimizer starts fresh under the run's own recipe (new step size, zero moment
 * estimates, the schedule from step 0), as a new run's would: the saved Adam moments describe gradients of the old
 * data at the end of a schedule that may have decayed the step size to nearly nothing, and a scheduled run must not
 * depend on whether the previous model was saved with its updater state. {@code --resume} is the way to continue an
 * optimizer exactly.
 *
 * @param path          the model directory, as given
 * @param model         the loaded model (weights only)
 * @param networkSha256 SHA-256 of its {@code network.zip}: which weights the run started from
 */
record WarmStart(String path, SavedModel model, String networkSha256) {
    /** Loads and checks the model at {@code path} against the configured spec and the new data. */
    static WarmStart load(String path, ModelSpec spec, Manifest manifest, String data, Configuration conf) {
        SavedModel model = SavedModel.load(path, false, conf);
        List<String> specChanges = UpToDate.differences(model.spec().toMap(), spec.toMap(), "in the model",
                "configured");
        if (!specChanges.isEmpty()) {
            throw new IllegalArgumentException("--init-from " + path + " holds another model than the configured one;"
                    + " its weights cannot start this run:\n  " + String.join("\n  ", specChanges)
                    + "\nconfigure the model it holds (see its " + SavedModel.DESCRIPTION + "), or train without"
                    + " --init-from");
        }
        Map<String, Object> was = values(model.domain().toMap());
        Map<String, Object> is = values(manifest.domain().toMap());
        List<String> dataChanges = UpToDate.differences(was, is, "in the model", "in " + data);
        if (!dataChanges.isEmpty()) {
            throw new IllegalArgumentException("--init-from " + path + " models other values than dataset " + data
                    + ":\n  " + String.join("\n  ", dataChanges));
        }
        if (!model.domain().equals(manifest.domain())) {
            Progress.say("train", "--init-from: dataset " + data + " standardizes its values otherwise than the data "
                    + path + " was trained on; the run continues with the new standardization");
        }
        return new WarmStart(path, model, sha256(Outputs.readBytes(path + "/" + SavedModel.NETWORK, conf)));
    }

    /** The domain less its standardization, which every prepare recomputes. */
    private static Map<String, Object> values(Map<String, Object> domain) {
        Map<String, Object> m = new LinkedHashMap<>(domain);
        m.remove("mean");
        m.remove("std");
        return m;
    }

    /** A training network of the spec under {@code recipe} (fresh optimizer state) holding the model's weights. */
    MultiLayerNetwork network(ModelSpec spec, TrainingRecipe recipe) {
        MultiLayerNetwork net = recipe.network(spec);
        net.setParams(model.network().params());
        return net;
    }

    /**
     * What the new model's provenance records about its start: the path, the weights' checksum, the version when the
     * model was a recorded version, and when and from which data it was trained.
     */
    Map<String, Object> provenance(Configuration conf) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("path", path);
        m.put("networkSha256", networkSha256);
        Map<String, Object> version = ModelVersions.versionOf(path, conf);
        if (version != null) {
            m.put("version", "v" + version.get("version"));
        }
        putIfPresent(m, "trainedAt", model.provenance().get("time"));
        putIfPresent(m, "dataChecksums", model.provenance().get("dataChecksums"));
        putIfPresent(m, "gitCommit", model.provenance().get("gitCommit"));
        return m;
    }

    private static void putIfPresent(Map<String, Object> m, String key, Object v) {
        if (v != null) {
            m.put(key, v);
        }
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
