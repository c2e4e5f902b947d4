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
 * evaluate -> sample on the MNIST slice and reads every Parquet output back; then train, evaluate and sample again,
 * each with an executor killed while it runs one of the job's tasks (proven from Spark's event log), the score job,
 * and a training run whose driver is killed mid-epoch and resumed. Every disturbed run must equal the undisturbed one.
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
        // train's executors (the second application) loaded ND4J and DL4J as they started, before their first task
        // (the model jobs ask for it); prepare's (the first) did not. The later, shorter jobs may end before the
        // warm-up's line is written, so they are not checked.
        int[] checked = new int[2];
        for (String worker : List.of("worker-1", "worker-2")) {
            List<Path> apps;
            try (Stream<Path> list = Files.list(work.resolve(worker))) {
                apps = list.filter(p -> p.getFileName().toString().matches("app-.*-000[01]")).toList();
            }
            for (Path app : apps) {
                boolean prepare = app.getFileName().toString().endsWith("-0000");
                try (Stream<Path> executors = Files.list(app)) {
                    for (Path executor : executors.toList()) {
                        String log = Files.readString(executor.resolve("stderr"));
                        assertEquals(!prepare, log.contains("executor warm-up: ND4J and DL4J loaded"),
                                executor + (prepare ? " (prepare) warmed up" : " did not warm up"));
                        checked[prepare ? 0 : 1]++;
                    }
                }
            }
        }
        assertTrue(checked[0] > 0 && checked[1] > 0, "executors of prepare and train found: " + checked[0] + ", "
                + checked[1]);
    }

    /**
     * An executor JVM killed (SIGKILL) while it runs a task that fits an averaging round (the driver reported the task
     * started; if it ended before the kill landed, the next such task's executor is killed, at most 3 times). Spark's
     * own event log shows that task lost with its executor and the same partition then computed successfully
     * elsewhere; and because every minibatch, mask choice and averaging split derives from (seed, epoch), every epoch's
     * metrics and the final parameters are those of the undisturbed run of the first test (same settings).
     */
    @Test
    @Order(2)
    void trainingSurvivesAnExecutorKilledInAnAveragingRound() throws Exception {
        Path conf = tmp.resolve("it.conf");
        assertTrue(Files.exists(conf), "runs after the end-to-end test, on its prepared data and its run");
        String run = tmp.resolve("run-kill").toString();
        Disturbed d = Disturbed.run("train-kill", DURING_AVERAGING, "train", "-c", conf.toString(), "--set",
                "train.output=" + run);
        d.assertATaskWasLostAndRerun(DURING_AVERAGING);

        SparkSession spark = SparkTesting.spark();
        List<Row> disturbed = spark.read().parquet(run + "/metrics.parquet").orderBy("epoch").collectAsList();
        List<Row> undisturbed = spark.read().parquet(tmp.resolve("run/metrics.parquet").toString())
                .orderBy("epoch").collectAsList();
        assertSameMetrics(undisturbed, disturbed, d.describe());
        JobsTesting.assertSameParameters(tmp.resolve("run/checkpoint").toString(), run + "/checkpoint", true);
    }

    /** Every epoch's metrics (not the timings) of a disturbed 2-epoch run are those of the undisturbed one. */
    static void assertSameMetrics(List<Row> undisturbed, List<Row> disturbed, String how) {
        assertEquals(2, undisturbed.size());
        assertEquals(undisturbed.size(), disturbed.size(), how);
        for (int e = 0; e < undisturbed.size(); e++) {
            // epoch, steps, train NLL, validation NLL, bits/dim (the rest are timings)
            for (int c = 0; c < 5; c++) {
                String what = METRICS[c] + " of epoch " + (e + 1) + " (" + how + ")";
                if (c < 2) {
                    assertEquals(((Number) undisturbed.get(e).get(c)).longValue(),
                            ((Number) disturbed.get(e).get(c)).longValue(), what);
                } else {
                    // the driver sums the workers' parameters in the order their results arrive: float rounding
                    assertEquals(undisturbed.get(e).getDouble(c), disturbed.get(e).getDouble(c), 1e-6, what);
                }
            }
        }
    }

    /** Metrics columns, in the order of metrics.parquet. */
    static final String[] METRICS = {"epoch", "steps", "train NLL", "validation NLL", "bits/dim"};

    /**
     * Tasks that fit the workers' minibatches in an averaging round: of the jobs described as a round, the stage
     * {@code AveragingRounds} runs over the workers' partitions of the epoch's shuffle (each task runs its worker's k
     * steps; the shuffle itself is an earlier job with its own description), or, with one barrier job per epoch (the
     * default where Spark allows it), that job's barrier stage ({@code mapPartitions at BarrierRounds}), whose tasks run
     * a worker's whole epoch: losing one makes Spark rerun the stage, and the driver its rounds from the epoch's start.
     */
    static final java.util.function.Predicate<TaskRecorder.Line> DURING_AVERAGING = l -> l.text().matches(
            "train epoch \\d+/\\d+: averaging round.*")
            && (l.stageName().contains("AveragingRounds") || l.stageName().contains("mapPartitions at BarrierRounds"));

    /**
     * An executor killed while it scores a partition for {@code evaluate}: the scores are complete (every test row
     * once) and equal to the undisturbed evaluation's, and the summary counts every row.
     */
    @Test
    @Order(3)
    void evaluateSurvivesAKilledExecutorWithTheSameScores() throws Exception {
        assertEquals(300, sameRowsAfterAKilledExecutor("evaluate", "evaluate test: score", "run/eval-test",
                "scores.parquet", "row_id"));
        assertTrue(Files.readString(tmp.resolve("evaluate-kill/out/summary.json")).contains("\"count\" : 300"));
    }

    /** An executor killed while it draws samples: the same samples (each depends only on its seed), all of them. */
    @Test
    @Order(4)
    void sampleSurvivesAKilledExecutorWithTheSameSamples() throws Exception {
        assertEquals(20, sameRowsAfterAKilledExecutor("sample", "sample: draw", "run/samples", "samples.parquet",
                "sample_id"));
    }

    /**
     * Runs {@code job} of the end-to-end test again into {@code <job>-kill/out}, killing an executor while it runs a
     * task of the phase whose description starts with {@code phase}; asserts that Spark lost and reran the task and
     * that {@code file} holds the rows of the undisturbed output in {@code undisturbed}, exactly; returns their count.
     */
    private static int sameRowsAfterAKilledExecutor(String job, String phase, String undisturbed, String file,
                                                    String key) throws Exception {
        assertTrue(Files.exists(tmp.resolve(undisturbed).resolve(file)), "runs after the end-to-end test");
        String out = tmp.resolve(job + "-kill/out").toString();
        java.util.function.Predicate<TaskRecorder.Line> during = l -> l.text().startsWith(phase);
        Disturbed d = Disturbed.run(job + "-kill", during, job, "-c", tmp.resolve("it.conf").toString(), "--set",
                job + ".output=" + out);
        d.assertATaskWasLostAndRerun(during);
        SparkSession spark = SparkTesting.spark();
        List<Row> expected = spark.read().parquet(tmp.resolve(undisturbed).resolve(file).toString()).orderBy(key)
                .collectAsList();
        List<Row> actual = spark.read().parquet(out + "/" + file).orderBy(key).collectAsList();
        assertEquals(expected, actual, job + " after a killed executor (" + d.describe() + ")");
        return actual.size();
    }

    /**
     * The score job on the cluster, over a table (the prepared test split: its row ids, labels and stored bytes):
     * every row comes back with the evaluate job's score of it, computed in executors on both workers.
     */
    @Test
    @Order(5)
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

    /**
     * The driver JVM (spark-submit in client mode, started through the command line) killed with SIGKILL in the
     * middle of epoch 2, once a task of one of its averaging rounds has started; {@code train --resume} on the same
     * cluster then continues from the epoch-1 checkpoint and ends with the undisturbed run's metrics for every epoch
     * and its parameters and optimizer state.
     */
    @Test
    @Order(6)
    void aDriverKilledMidEpochResumesToTheUninterruptedRun() throws Exception {
        Path conf = tmp.resolve("it.conf");
        assertTrue(Files.exists(tmp.resolve("run/checkpoint/model.json")), "runs after the end-to-end test");
        String run = tmp.resolve("run-driver-kill").toString();
        Path dir = Files.createDirectories(tmp.resolve("driver-kill"));
        Process driver = Disturbed.submit(dir, "train", "-c", conf.toString(), "--set", "train.output=" + run);
        TaskRecorder.Line inEpoch2 = null;
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
        while (inEpoch2 == null && driver.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(10);
            inEpoch2 = TaskRecorder.Line.read(dir.resolve("tasks.tsv")).stream().filter(l -> l.kind().equals("start")
                    && l.text().startsWith("train epoch 2/2: averaging round")).findFirst().orElse(null);
        }
        driver.destroyForcibly();
        assertTrue(driver.waitFor(60, TimeUnit.SECONDS));
        String killedLog = Files.readString(dir.resolve("job.log"));
        assertTrue(inEpoch2 != null, "the driver never started epoch 2's averaging:\n"
                + new JobsTesting.Result(-1, killedLog).tail());
        assertTrue(killedLog.contains("[train] epoch 1/2 done") && !killedLog.contains("[train] epoch 2/2 done"),
                "killed after epoch 1 and before the end of epoch 2");
        assertEquals(1, JSON.readTree(Path.of(run, "checkpoint/state.json").toFile()).path("epochsDone").asInt());

        JobsTesting.Result resumed = run(tmp.resolve("train-resume.log"), "scripts/submit.sh", "--master", master,
                "--executor-memory", "2g", "--", "train", "-c", conf.toString(), "--set", "train.output=" + run,
                "--resume");
        assertEquals(0, resumed.code(), "train --resume failed:\n" + resumed.tail());
        assertTrue(resumed.output().contains("[train] epoch 2/2 done"), resumed.tail());

        SparkSession spark = SparkTesting.spark();
        assertSameMetrics(spark.read().parquet(tmp.resolve("run/metrics.parquet").toString()).orderBy("epoch")
                .collectAsList(), spark.read().parquet(run + "/metrics.parquet").orderBy("epoch").collectAsList(),
                "driver killed in epoch 2 (task " + inEpoch2.taskId() + " had started), resumed");
        JobsTesting.assertSameParameters(tmp.resolve("run/checkpoint").toString(), run + "/checkpoint", true);
    }

    static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();

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
