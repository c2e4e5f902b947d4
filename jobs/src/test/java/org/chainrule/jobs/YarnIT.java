package org.chainrule.jobs;

import org.apache.hadoop.yarn.conf.YarnConfiguration;
import org.apache.hadoop.yarn.server.MiniYARNCluster;
import org.apache.hadoop.yarn.server.resourcemanager.rmapp.RMApp;
import org.chainrule.pipelines.SparkTesting;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The shaded application jar under a real YARN resource manager (Hadoop's MiniYARNCluster: a ResourceManager and a
 * NodeManager in this JVM; the application master and the executors in YARN containers, separate JVMs), submitted
 * by {@code scripts/submit.sh --master yarn} as a user would, with {@code HADOOP_CONF_DIR} naming the cluster: train
 * in client mode with {@code --verbose}, evaluate in client mode with {@code --quiet}, sample in cluster mode (the
 * driver in a container too).
 */
class YarnIT {
    @TempDir
    static Path tmp;
    static MiniYARNCluster yarn;
    static Path hadoopConf;

    @BeforeAll
    static void startYarn() throws Exception {
        YarnConfiguration conf = new YarnConfiguration();
        // a nearly full disk must not mark the only NodeManager unhealthy
        conf.set(YarnConfiguration.NM_MAX_PER_DISK_UTILIZATION_PERCENTAGE, "100.0");
        // ND4J keeps its arrays off the Java heap; this test does not size the containers for them
        conf.setBoolean(YarnConfiguration.NM_PMEM_CHECK_ENABLED, false);
        conf.setBoolean(YarnConfiguration.NM_VMEM_CHECK_ENABLED, false);
        conf.setInt(YarnConfiguration.RM_SCHEDULER_MINIMUM_ALLOCATION_MB, 256);
        // the capacity scheduler's configuration file is not on this classpath: one queue with everything
        conf.set("yarn.scheduler.capacity.root.queues", "default");
        conf.set("yarn.scheduler.capacity.root.default.capacity", "100");
        conf.set("yarn.scheduler.capacity.root.default.maximum-capacity", "100");
        yarn = new MiniYARNCluster("chainrule-yarn-it", 1, 1, 1);
        yarn.init(conf);
        yarn.start();
        // start() can return before the ResourceManager has written its real port into the configuration
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (yarn.getConfig().get(YarnConfiguration.RM_ADDRESS).endsWith(":0")) {
            assertTrue(System.nanoTime() < deadline, "the ResourceManager did not publish its address");
            Thread.sleep(100);
        }
        assertTrue(yarn.waitForNodeManagersToConnect(30_000), "the NodeManager did not register");
        hadoopConf = Files.createDirectories(tmp.resolve("hadoop-conf"));
        try (OutputStream out = Files.newOutputStream(hadoopConf.resolve("yarn-site.xml"))) {
            yarn.getConfig().writeXml(out);
        }
    }

    @AfterAll
    static void stopYarn() {
        if (yarn != null) {
            yarn.stop();
        }
    }

    @Test
    void trainEvaluateAndSampleUnderYarn() throws Exception {
        Path conf = JobsTesting.preparedSliceInThisJvm(tmp);

        JobsTesting.Result train = submit("train", "client", "train", "-c", conf.toString(), "--verbose");
        assertEquals(0, train.code(), "train on YARN failed:\n" + train.tail());
        assertTrue(train.output().contains("org.apache.spark.deploy.SparkSubmit"), "--verbose prints the command");
        assertTrue(train.output().contains("Submitting application application_"),
                "--verbose shows Spark's INFO lines, here the YARN client's:\n" + train.tail());
        assertTrue(train.output().contains("[train] epoch 2/2 done"), train.tail());

        JobsTesting.Result evaluate = submit("evaluate", "client", "evaluate", "-c", conf.toString(), "--quiet");
        assertEquals(0, evaluate.code(), "evaluate on YARN failed:\n" + evaluate.tail());
        assertFalse(evaluate.output().contains("[evaluate]"), "--quiet prints no progress:\n" + evaluate.output());
        assertFalse(evaluate.output().contains("org.apache.spark.deploy.SparkSubmit"),
                "no command line without --verbose");
        assertTrue(Files.readString(tmp.resolve("run/eval-test/summary.json")).contains("\"count\" : 300"));

        JobsTesting.Result sample = submit("sample", "cluster", "sample", "-c", conf.toString());
        assertEquals(0, sample.code(), "sample in YARN cluster mode failed:\n" + sample.tail());
        assertEquals(20, SparkTesting.spark().read().parquet(tmp.resolve("run/samples/samples.parquet").toString())
                .count());

        List<String> finished = new ArrayList<>();
        for (RMApp app : yarn.getResourceManager().getRMContext().getRMApps().values()) {
            finished.add(app.getApplicationType() + " " + app.getFinalApplicationStatus());
        }
        assertEquals(List.of("SPARK SUCCEEDED", "SPARK SUCCEEDED", "SPARK SUCCEEDED"), finished,
                "the three jobs ran as YARN applications, and each reported success (in cluster mode, too)");
    }

    /** scripts/submit.sh --master yarn: one executor of 2 cores; Spark's jars from the local Spark home. */
    static JobsTesting.Result submit(String log, String deployMode, String... job) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("scripts/submit.sh", "--master", "yarn", "--deploy-mode", deployMode,
                "--num-executors", "1", "--executor-cores", "2", "--executor-memory", "1g",
                "--conf", "spark.yarn.am.memory=512m",
                // Spark's jars are on this machine already: no upload of the Spark home for every application
                "--conf", "spark.yarn.jars=local:" + JobsTesting.sparkHome() + "/jars/*",
                "--conf", "spark.yarn.stagingDir=" + tmp.resolve("staging").toUri(), "--"));
        cmd.addAll(List.of(job));
        return JobsTesting.run(tmp.resolve(log + ".log"), Map.of("HADOOP_CONF_DIR", hadoopConf.toString()),
                cmd.toArray(String[]::new));
    }
}
