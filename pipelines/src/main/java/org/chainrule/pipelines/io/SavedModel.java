package org.chainrule.pipelines.io;

import com.typesafe.config.Config;
import org.apache.hadoop.conf.Configuration;
import org.chainrule.models.DensityModel;
import org.chainrule.models.ModelSpec;
import org.chainrule.pipelines.data.Batches;
import org.chainrule.pipelines.data.Domain;
import org.chainrule.pipelines.data.Example;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

/**
 * A model on a Hadoop filesystem: a directory holding {@code network.zip} (DL4J configuration JSON, parameters and
 * updater state) and {@code model.json} (the {@link ModelSpec}, the settings it was trained with and its provenance).
 *
 * <p>Loading reads JSON and ND4J's binary array format only: the zip is checked to hold nothing else before DL4J
 * opens it, so no Java serialization of stored bytes ever runs.
 *
 * @param spec       the architecture
 * @param network    the DL4J network (with updater state when loaded for training)
 * @param domain     the data it models: value type, levels, label classes, standardization, vocabulary
 * @param settings   the settings the model was trained with, as written to {@code model.json}
 * @param provenance where it came from: data manifest checksum, seed, versions, git commit, time
 */
public record SavedModel(ModelSpec spec, MultiLayerNetwork network, Domain domain, Map<String, Object> settings,
                         Map<String, Object> provenance) {

    /** A model of data whose domain is what the spec itself implies (no labels, standardization or vocabulary). */
    public SavedModel(ModelSpec spec, MultiLayerNetwork network, Map<String, Object> settings,
                      Map<String, Object> provenance) {
        this(spec, network, Domain.of(spec), settings, provenance);
    }

    public static final String NETWORK = "network.zip";
    public static final String DESCRIPTION = "model.json";
    private static final Set<String> ALLOWED_ENTRIES =
            Set.of("configuration.json", "coefficients.bin", "updaterState.bin", "noParams.marker");

    /** Writes the model directory atomically (staging directory renamed into place). */
    public void save(String dir, Configuration conf) {
        save(dir, Map.of(), conf);
    }

    /** Writes the model directory atomically, with extra text files (e.g. training state) inside it. */
    public void save(String dir, Map<String, String> extraFiles, Configuration conf) {
        save(dir, extraFiles, Map.of(), conf);
    }

    /** Writes the model directory atomically, with extra text and binary files (e.g. a weight average) inside it. */
    public void save(String dir, Map<String, String> extraFiles, Map<String, byte[]> extraBinaries,
                     Configuration conf) {
        Outputs.staged(dir, conf, staging -> {
            for (Map.Entry<String, String> e : extraFiles.entrySet()) {
                Outputs.writeText(staging + "/" + e.getKey(), e.getValue(), conf);
            }
            for (Map.Entry<String, byte[]> e : extraBinaries.entrySet()) {
                Outputs.writeBytes(staging + "/" + e.getKey(), e.getValue(), conf);
            }
            Outputs.writeBytes(staging + "/" + NETWORK, networkBytes(network, true), conf);
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("format", "chainrule-model/1");
            doc.put("spec", spec.toMap());
            doc.put("data", domain.toMap());
            doc.put("settings", settings);
            doc.put("provenance", provenance);
            Outputs.writeText(staging + "/" + DESCRIPTION, Json.render(doc), conf);
            Artefact.MODEL.mark(staging, conf);
            return null;
        });
    }

    /** Loads a model directory; {@code withUpdater} restores the optimizer state too (for resuming training). */
    public static SavedModel load(String dir, boolean withUpdater, Configuration conf) {
        if (!Outputs.exists(dir + "/" + DESCRIPTION, conf)) {
            throw new IllegalArgumentException("not a chainrule model directory (no " + DESCRIPTION + "): " + dir);
        }
        Config doc = Json.parse(Outputs.readText(dir + "/" + DESCRIPTION, conf), dir + "/" + DESCRIPTION);
        ModelSpec spec = ModelChecks.spec(doc, dir + "/" + DESCRIPTION);
        MultiLayerNetwork net = restore(Outputs.readBytes(dir + "/" + NETWORK, conf), withUpdater, dir + "/" + NETWORK);
        ModelChecks.checkSpecFits(spec, net.getLayerWiseConfigurations(), dir + "/" + DESCRIPTION, dir + "/" + NETWORK);
        Domain domain = doc.hasPath("data") ? Domain.fromConfig(doc.getConfig("data"), spec.levels()) : Domain.of(spec);
        return new SavedModel(spec, net, domain, doc.getConfig("settings").root().unwrapped(),
                doc.getConfig("provenance").root().unwrapped());
    }

    /** DL4J's zip of a network. */
    public static byte[] networkBytes(MultiLayerNetwork network, boolean withUpdater) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            ModelSerializer.writeModel(network, bytes, withUpdater);
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Restores a network zip after checking it holds only JSON and binary arrays, and that its configuration declares
     * no more parameters than its coefficients hold (so an edited configuration cannot make DL4J allocate terabytes).
     */
    public static MultiLayerNetwork restore(byte[] zip, boolean withUpdater, String origin) {
        try (ZipInputStream in = new ZipInputStream(new ByteArrayInputStream(zip))) {
            ZipEntry e;
            int entries = 0;
            String configuration = null;
            long coefficientBytes = 0;
            while ((e = in.getNextEntry()) != null) {
                entries++;
                if (!ALLOWED_ENTRIES.contains(e.getName())) {
                    throw new IllegalArgumentException(origin + ": unexpected entry '" + e.getName()
                            + "' in a network archive; refusing to load it");
                }
                if (e.getName().equals("configuration.json")) {
                    configuration = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
                } else if (e.getName().equals("coefficients.bin")) {
                    coefficientBytes = in.transferTo(java.io.OutputStream.nullOutputStream());
                }
            }
            if (entries == 0 || configuration == null) {
                throw new IllegalArgumentException(origin + ": not a network archive (empty, not a zip, or no"
                        + " configuration.json)");
            }
            ModelChecks.checkArchive(configuration, coefficientBytes, origin);
            return ModelSerializer.restoreMultiLayerNetwork(new ByteArrayInputStream(zip), withUpdater);
        } catch (IOException e) {
            throw new IllegalArgumentException(origin + ": corrupt network archive: " + e.getMessage(), e);
        }
    }

    /** What executors need to rebuild the density: the spec, the network bytes (no updater) and the domain. */
    public Payload payload() {
        return new Payload(spec, networkBytes(network, false), domain);
    }

    /**
     * A density model in transit to executors, with what it takes to feed it rows: the values decoded per the
     * domain and, for a class-conditional model, the one-hot label context.
     */
    public record Payload(ModelSpec spec, byte[] network, Domain domain) implements Serializable {
        /** The density of the data in its original units. */
        public DensityModel density() {
            return domain.originalUnits(spec.densityOf(restore(network, false, "broadcast model")));
        }

        public static Payload of(ModelSpec spec, MultiLayerNetwork network, Domain domain) {
            return new Payload(spec, networkBytes(network, false), domain);
        }

        /** The examples' values, {@code [rows, dims]}, in the data's original units. */
        public INDArray values(List<Example> rows, int dims) {
            return Batches.matrix(rows, dims, domain.isReal());
        }

        /** The same values written into the first rows of a reused buffer (see {@link Batches#fill}). */
        public INDArray values(List<Example> rows, int dims, INDArray buffer) {
            return Batches.fill(rows, dims, domain.isReal(), buffer);
        }

        /** The examples' context for a conditional model, or null when the model is unconditional. */
        public INDArray context(List<Example> rows) {
            return spec.contextSize() == 0 ? null : Batches.oneHotLabels(rows, spec.contextSize());
        }
    }
}
