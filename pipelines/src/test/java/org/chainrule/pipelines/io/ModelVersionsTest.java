package org.chainrule.pipelines.io;

import org.apache.hadoop.conf.Configuration;
import org.chainrule.models.TrainingRecipe;
import org.chainrule.models.autoregressive.MadeSpec;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The version history of a run's model on the local filesystem, and the comparison of recorded inputs. */
class ModelVersionsTest {
    private static final MadeSpec SPEC = MadeSpec.made(new long[]{2, 3}, new int[]{4}, 1, false, 1);
    private final Configuration conf = new Configuration();

    /** Saves a model with the given initialisation seed as {@code run/model}, as a train epoch does. */
    private void saveModel(String run, long seed) {
        MultiLayerNetwork net = new MultiLayerNetwork(SPEC.trainingConfiguration(new TrainingRecipe(1e-3, seed)));
        net.init();
        new SavedModel(SPEC, net, Map.of(), Map.of("seed", seed)).save(run + "/" + ModelVersions.CURRENT, conf);
    }

    private List<String> names(String run) {
        return ModelVersions.list(run, conf).stream().map(ModelVersions.Version::name).toList();
    }

    private byte[] network(String modelDir) throws IOException {
        return Files.readAllBytes(Path.of(modelDir, SavedModel.NETWORK));
    }

    @Test
    void finishedRunsAddVersionsAndRollbackRestoresOne(@TempDir Path tmp) throws IOException {
        String run = tmp.resolve("run").toString();
        saveModel(run, 1);
        assertEquals("v1", ModelVersions.record(run, null, Map.of("epochs", 1), 0, conf));
        assertEquals("v1", ModelVersions.record(run, null, Map.of(), 0, conf), "model/ is already v1");
        saveModel(run, 2);
        assertEquals("v2", ModelVersions.record(run, null, Map.of("epochs", 2), 0, conf));
        assertEquals(List.of("v1", "v2"), names(run));
        assertArrayEquals(network(run + "/models/v2"), network(run + "/model"));
        assertEquals(2, ((Number) ModelVersions.current(run, conf).get("version")).intValue());

        ModelVersions.rollback(run, "v1", conf);
        assertArrayEquals(network(run + "/models/v1"), network(run + "/model"));
        assertEquals(1, ((Number) ModelVersions.current(run, conf).get("version")).intValue());
        assertEquals(1L, ((Number) SavedModel.load(run + "/model", false, conf).provenance().get("seed")).longValue());
    }

    /**
     * A replacement carries the replaced run's versions over (a model from before versions as v1), at most
     * {@code keep} with its own; a kill between recording a version and replacing {@code model/} adds nothing twice.
     */
    @Test
    void replacementsCarryTheHistoryOver(@TempDir Path tmp) throws IOException {
        String legacy = tmp.resolve("legacy").toString();
        saveModel(legacy, 1);
        String next = tmp.resolve("next").toString();
        saveModel(next, 2);
        assertEquals("v2", ModelVersions.record(next, legacy, Map.of(), 0, conf));
        assertArrayEquals(network(legacy + "/model"), network(next + "/models/v1"));
        assertTrue(String.valueOf(ModelVersions.list(next, conf).get(0).info().get("note")).contains(legacy));

        String third = tmp.resolve("third").toString();
        saveModel(third, 3);
        assertEquals("v3", ModelVersions.record(third, next, Map.of(), 2, conf));
        assertEquals(List.of("v2", "v3"), names(third), "keep 2: the newest carried over, and the new one");

        // killed after models/v4 was written, before model/ became its copy
        saveModel(third, 4);
        byte[] fourth = network(third + "/model");
        ModelVersions.record(third, null, Map.of(), 0, conf);
        Files.delete(Path.of(third, "model", ModelVersions.VERSION_FILE));
        Files.deleteIfExists(Path.of(third, "model", "." + ModelVersions.VERSION_FILE + ".crc"));
        assertEquals("v4", ModelVersions.record(third, null, Map.of(), 0, conf));
        assertEquals(List.of("v2", "v3", "v4"), names(third));
        assertArrayEquals(fourth, network(third + "/model"));
    }

    @Test
    void inputsCompareByValueAndNameWhatDiffers() {
        Map<String, Object> recorded = Map.of("settings", Map.of("epochs", 2, "learningRate", 0.003,
                "hidden", List.of(64, 64)), "seed", 1152921504606846977L);
        assertEquals(List.of(), UpToDate.differences(recorded, Map.of("settings", Map.of("epochs", 2.0,
                "learningRate", 0.003, "hidden", List.of(64L, 64L)), "seed", 1152921504606846977L), "then", "now"));
        assertEquals(List.of("seed: 1152921504606846977 then, 1152921504606846976 now",
                        "settings.hidden[1]: 64 then, 32 now", "settings.learningRate: 0.003 then, (none) now"),
                UpToDate.differences(recorded, Map.of("settings", Map.of("epochs", 2, "hidden", List.of(64, 32)),
                        "seed", 1152921504606846976L), "then", "now"));
    }
}
