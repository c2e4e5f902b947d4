package org.chainrule.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code spark.eventLog.enabled} with a real job: a small training run writes Spark's event log, and the log read back
 * holds what an operator looks for in the history server: every job of the run in the command's job group and
 * described by its phase, and the training metrics of every epoch, equal to those the run wrote itself.
 */
class EventLogIT {
    static final ObjectMapper JSON = new ObjectMapper();
    @TempDir
    static Path tmp;

    @Test
    void aTrainingRunsEventLogDescribesEveryJobAndCarriesTheMetrics() throws IOException {
        Path conf = JobsTesting.preparedSliceInThisJvm(tmp);
        Path events = Files.createDirectories(tmp.resolve("events"));
        System.setProperty("spark.eventLog.enabled", "true");
        System.setProperty("spark.eventLog.dir", events.toUri().toString());
        try {
            assertEquals(0, Main.run("train", "-c", conf.toString()), "train failed (see the test's output)");
        } finally {
            System.clearProperty("spark.eventLog.enabled");
            System.clearProperty("spark.eventLog.dir");
        }
        List<JsonNode> log = readEventLog(events);

        List<String> descriptions = new ArrayList<>();
        for (JsonNode e : log) {
            if (e.path("Event").asText().equals("SparkListenerJobStart")) {
                JsonNode p = e.path("Properties");
                assertEquals("chainrule-train", p.path("spark.jobGroup.id").asText(),
                        "job group of " + e.path("Job ID"));
                String d = p.path("spark.job.description").asText(null);
                assertNotNull(d, "job " + e.path("Job ID") + " has no description");
                descriptions.add(d);
            }
        }
        // each epoch's averaging is one barrier job (the epoch's shuffle is its first stage)
        for (String phase : List.of("train: read data", "train epoch 1/2: averaging rounds 1-5 of 5 in one job",
                "train epoch 2/2: averaging rounds 1-5 of 5 in one job",
                "train epoch 2/2: train and validation NLL", "train epoch 2/2: save checkpoint and metrics",
                "train metrics: epoch 1/2", "train metrics: epoch 2/2")) {
            assertTrue(descriptions.stream().anyMatch(d -> d.startsWith(phase)),
                    "no job described '" + phase + "...' in " + descriptions);
        }

        // chainrule.train.* accumulators on the stages that published them, by epoch
        Map<Integer, Map<String, Double>> published = new TreeMap<>();
        for (JsonNode e : log) {
            if (e.path("Event").asText().equals("SparkListenerStageCompleted")) {
                Map<String, Double> values = new TreeMap<>();
                for (JsonNode a : e.path("Stage Info").path("Accumulables")) {
                    if (a.path("Name").asText().startsWith("chainrule.train.")) {
                        values.put(a.path("Name").asText().substring("chainrule.train.".length()),
                                Double.parseDouble(a.path("Value").asText()));
                    }
                }
                if (!values.isEmpty()) {
                    published.put(values.get("epoch").intValue(), values);
                }
            }
        }
        JsonNode history = JSON.readTree(tmp.resolve("run/train-summary.json").toFile()).path("history");
        assertEquals(2, history.size());
        assertEquals(List.of(1, 2), List.copyOf(published.keySet()), "epochs published: " + published);
        long steps = 0;
        for (JsonNode epoch : history) {
            Map<String, Double> p = published.get(epoch.path("epoch").asInt());
            steps += epoch.path("steps").asLong();
            assertEquals(steps, p.get("step").longValue(), "steps so far, epoch " + epoch.path("epoch"));
            assertEquals(epoch.path("trainNll").asDouble(), p.get("train_nll_nats"), 1e-9);
            assertEquals(epoch.path("validNll").asDouble(), p.get("valid_nll_nats"), 1e-9);
            assertEquals(epoch.path("examplesPerSecond").asDouble(), p.get("examples_per_second"), 1e-6);
        }
    }

    /** The one application's event log in {@code dir}, one JSON event per line. */
    static List<JsonNode> readEventLog(Path dir) throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.toList();
        }
        assertEquals(1, files.size(), "one application logged: " + files);
        List<JsonNode> events = new ArrayList<>();
        for (String line : Files.readAllLines(files.get(0))) {
            events.add(JSON.readTree(line));
        }
        return events;
    }
}
