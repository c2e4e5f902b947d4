package org.chainrule.jobs;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.chainrule.pipelines.SparkTesting;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The shaded application jar under spark-submit against a real standalone cluster: a master and two workers in
 * separate JVMs (started by scripts/local-cluster.sh), executors in further JVMs. Runs prepare -> train (2 epochs) ->
 * evaluate -> sample on the MNIST slice and reads every Parquet output back; then training with a killed executor,
 * and the score job.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterIT {
    @TempDir
    static Path tmp;
    static String master;
    static int port;

    @BeforeAll
    static void startCluster() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        JobsTesting.Result r = run(tmp.resolve("cluster-start.log"), "scripts/local-cluster.sh", "start", "--workers",
                "2", "--cores", "1", "--memory", "3g", "--port", String.valueOf(port), "--webui-port", "0");
        assertEquals(0, r.code(), "cluster did not start:\n" + r.tail());
        master = "spark://127.0.0.1:" + port;
    }

    @AfterAll
    static void stopCluster() throws Exception {
        run(tmp.resolve("cluster-stop.log"), "scripts/local-cluster.sh", "stop", "--port", String.valueOf(port));
    }

    @Test
    @Order(1)
    void prepareTrainEvaluateSampleOnACluster() throws Exception {
        Path raw = SparkTesting.mnistSlice(tmp.resolve("raw"));
        Path conf = JobsTesting.sliceConfig(tmp.resolve("it.conf"), raw.toString(), tmp.resolve("prepared").toString(),
                tmp.resolve("run").toString());
        for (String job : List.of("prepare", "train", "evaluate", "sample")) {
            JobsTesting.Result r = run(tmp.resolve(job + ".log"), "scripts/submit.sh", "--master", master,
                    "--executor-memory", "2g", "--", job, "-c", conf.toString());
            assertEquals(0, r.code(), job + " failed:\n" + r.tail());
        }
        assertTrue(Files.readString(tmp.resolve("train.log")).contains("[train] epoch 2/2 done"));

        SparkSession spark = SparkTesting.spark();
        String prepared = tmp.resolve("prepared").toString();
        assertEquals(1000, spark.read().parquet(prepared + "/train").count());
        assertEquals(300, spark.read().parquet(prepared + "/test").count());

        List<Row> metrics = spark.read().parquet(tmp.resolve("run/metrics.parquet").toString()).orderBy("epoch")
                .collectAsList();
        assertEquals(2, metrics.size());
        double uniform = 784 * Math.log(2);
        assertTrue(metrics.get(0).getDouble(3) < uniform && metrics.get(1).getDouble(3) < metrics.get(0).getDouble(3),
                "validation NLL should go down: " + metrics);

        Dataset<Row> scores = spark.read().parquet(tmp.resolve("run/eval-test/scores.parquet").toString());
        assertArrayEquals(new String[]{"row_id", "log_prob_nats", "bits_per_dim"}, scores.columns());
        assertEquals(300, scores.count());
        assertEquals(300, scores.select("row_id").distinct().count());
        double testNll = -scores.agg(org.apache.spark.sql.functions.mean("log_prob_nats")).first().getDouble(0);
        assertTrue(testNll < metrics.get(0).getDouble(3) + 20, "test NLL " + testNll + " vs " + metrics);
        assertTrue(Files.readString(tmp.resolve("run/eval-test/summary.json")).contains("\"count\" : 300"));

        Dataset<Row> samples = spark.read().parquet(tmp.resolve("run/samples/samples.parquet").toString());
        assertArrayEquals(new String[]{"sample_id", "seed", "label", "values", "text"}, samples.columns());
        assertEquals(20, samples.count());
        assertTrue(Files.size(tmp.resolve("run/samples/samples.png")) > 500);
        assertTrue(Files.size(tmp.resolve("run/loss-curve.png")) > 1000);

        // the work really ran in executor JVMs under both workers
        Path work = tmp.resolve("cluster/work");
        for (String worker : List.of("worker-1", "worker-2")) {
            try (Stream<Path> apps = Files.list(work.resolve(worker))) {
                assertTrue(apps.anyMatch(p -> p.getFileName().toString().startsWith("app-")), worker + " ran no executor");
            }
        }
    }

    /**
     * An executor JVM killed in the middle of training: Spark reruns its tasks on a new executor, and because every
     * minibatch, mask choice and averaging split derives from (seed, epoch), the run ends with exactly the per-epoch
     * validation NLL of the undisturbed run above.
     */
    @Test
    @Order(2)
    void trainingSurvivesAKilledExecutorWithIdenticalResults() throws Exception {
        Path conf = tmp.resolve("it.conf");
        assertTrue(Files.exists(conf), "runs after the end-to-end test, on its prepared data");
        Path log = tmp.resolve("train-kill.log");
        Process train = JobsTesting.start(log, environment(), List.of("scripts/submit.sh", "--master", master,
                "--executor-memory", "2g", "--", "train", "-c", conf.toString(), "--set",
                "train.output=" + tmp.resolve("run-kill"), "--set", "train.epochs=4"));
        long killed = -1;
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
        while (killed < 0 && train.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(200);
            if (Files.readString(log).contains("[train] epoch 1/4 done")) {
                killed = executors().stream().findFirst().map(p -> {
                    p.destroyForcibly();
                    return p.pid();
                }).orElse(-1L);
            }
        }
        assertTrue(train.waitFor(10, TimeUnit.MINUTES), "training did not finish");
        String out = Files.readString(log);
        assertEquals(0, train.exitValue(), "training failed after an executor was killed:\n" + out);
        assertTrue(killed > 0, "no executor was found to kill while training ran");

        SparkSession spark = SparkTesting.spark();
        List<Row> disturbed = spark.read().parquet(tmp.resolve("run-kill/metrics.parquet").toString())
                .orderBy("epoch").collectAsList();
        List<Row> undisturbed = spark.read().parquet(tmp.resolve("run/metrics.parquet").toString())
                .orderBy("epoch").collectAsList();
        assertEquals(4, disturbed.size());
        for (int e = 0; e < undisturbed.size(); e++) {
            assertEquals(undisturbed.get(e).getDouble(3), disturbed.get(e).getDouble(3), 1e-6,
                    "validation NLL of epoch " + (e + 1) + " (executor " + killed + " was killed)");
        }
    }

    /**
     * The score job on the cluster, over a table (the prepared test split: its row ids, labels and stored bytes):
     * every row comes back with the evaluate job's score of it, computed in executors on both workers.
     */
    @Test
    @Order(3)
    void scoreOnTwoExecutorsMatchesEvaluate() throws Exception {
        assertTrue(Files.exists(tmp.resolve("run/eval-test/summary.json")), "runs after the end-to-end test");
        Path work = tmp.resolve("cluster/work");
        List<Long> appsBefore = new ArrayList<>();
        for (String worker : List.of("worker-1", "worker-2")) {
            try (Stream<Path> apps = Files.list(work.resolve(worker))) {
                appsBefore.add(apps.count());
            }
        }
        JobsTesting.Result r = run(tmp.resolve("score.log"), "scripts/submit.sh", "--master", master, "--executor-memory", "2g",
                "--", "score", "--model", tmp.resolve("run/model").toString(), "--input",
                tmp.resolve("prepared/test").toString(), "--format", "parquet", "--columns", "x", "--keep",
                "row_id,label", "--output", tmp.resolve("scored").toString());
        assertEquals(0, r.code(), "score failed:\n" + r.tail());

        SparkSession spark = SparkTesting.spark();
        java.util.Map<Long, Double> evaluated = new java.util.HashMap<>();
        spark.read().parquet(tmp.resolve("run/eval-test/scores.parquet").toString()).collectAsList()
                .forEach(row -> evaluated.put(row.getLong(0), row.getDouble(1)));
        Dataset<Row> scored = spark.read().parquet(tmp.resolve("scored/scores.parquet").toString());
        assertArrayEquals(new String[]{"row_id", "label", "log_prob_nats", "nll_nats", "bits_per_dim", "score_error"},
                scored.columns());
        List<Row> rows = scored.collectAsList();
        assertEquals(300, rows.size());
        for (Row row : rows) {
            double lp = row.getDouble(2);
            // float32 models: a row's last bits move with the other rows of its batch
            assertEquals(evaluated.get(row.getLong(0)), lp, 1e-6 * Math.abs(lp), "row_id " + row.getLong(0));
        }
        String summary = Files.readString(tmp.resolve("scored/summary.json"));
        assertTrue(summary.contains("\"count\" : 300") && summary.contains("\"errors\" : 0"), summary);
        for (int w = 0; w < 2; w++) {
            try (Stream<Path> apps = Files.list(work.resolve("worker-" + (w + 1)))) {
                assertEquals(appsBefore.get(w) + 1, apps.count(), "worker-" + (w + 1) + " ran an executor of score");
            }
        }
    }

    /** Executor JVMs of this test's cluster: their working directories lie under its work/ directory. */
    static List<ProcessHandle> executors() {
        Path work = tmp.resolve("cluster/work").toAbsolutePath();
        return ProcessHandle.allProcesses()
                .filter(p -> p.info().commandLine().orElse("").contains("CoarseGrainedExecutorBackend"))
                .filter(p -> {
                    try {
                        return Files.readSymbolicLink(Path.of("/proc", String.valueOf(p.pid()), "cwd")).startsWith(work);
                    } catch (IOException | UnsupportedOperationException e) {
                        return false;
                    }
                })
                .toList();
    }

    /** The scripts find this test's cluster directory through the environment. */
    static Map<String, String> environment() {
        return Map.of("CHAINRULE_CLUSTER_DIR", tmp.resolve("cluster").toString());
    }

    static JobsTesting.Result run(Path log, String... command) throws IOException, InterruptedException {
        return JobsTesting.run(log, environment(), command);
    }
}
