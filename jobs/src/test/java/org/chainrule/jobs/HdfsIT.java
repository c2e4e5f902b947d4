package org.chainrule.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.RemoteIterator;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.chainrule.pipelines.SparkTesting;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The jobs against a real HDFS (a NameNode and a DataNode started by the test, Hadoop's MiniDFSCluster): prepare ->
 * train 1 epoch -> train --resume to 2 epochs -> evaluate (then again with --overwrite) -> sample, with every input
 * and output an {@code hdfs://} path, so the staged outputs are committed by HDFS renames and the resumed run reads its
 * checkpoint from HDFS. Spark runs locally in this JVM.
 */
class HdfsIT {
    static final ObjectMapper JSON = new ObjectMapper();
    @TempDir
    static Path tmp;
    static MiniDFSCluster dfs;
    static FileSystem fs;
    static String root;

    @BeforeAll
    static void startHdfs() throws IOException {
        Configuration conf = new Configuration();
        conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, tmp.resolve("dfs").toString());
        dfs = new MiniDFSCluster.Builder(conf).numDataNodes(1).build();
        dfs.waitActive();
        fs = dfs.getFileSystem();
        root = dfs.getURI() + "/chainrule";
        Path raw = SparkTesting.mnistSlice(tmp.resolve("raw"));
        fs.copyFromLocalFile(new org.apache.hadoop.fs.Path(raw.toUri()), new org.apache.hadoop.fs.Path(root + "/raw"));
    }

    @AfterAll
    static void stopHdfs() {
        if (dfs != null) {
            dfs.shutdown();
        }
    }

    @Test
    void prepareTrainResumeEvaluateSampleOnHdfs() throws IOException {
        JobsTesting.localSparkInThisJvm();
        String data = root + "/prepared";
        String run = root + "/runs/made";
        String conf = JobsTesting.sliceConfig(tmp.resolve("it.conf"), root + "/raw", data, run).toString();

        assertEquals(0, Main.run("prepare", "-c", conf), "prepare failed (see the test's output)");
        assertEquals(0, Main.run("train", "-c", conf, "--set", "train.epochs=1"), "train failed");
        JsonNode firstRun = json(run + "/train-summary.json").path("history");
        assertEquals(0, Main.run("train", "-c", conf, "--resume"), "train --resume failed");
        assertEquals(0, Main.run("evaluate", "-c", conf), "evaluate failed");
        assertEquals(0, Main.run("evaluate", "-c", conf, "--overwrite"), "evaluate --overwrite failed");
        assertEquals(0, Main.run("sample", "-c", conf), "sample failed");

        assertEquals(1000, json(data + "/manifest.json").path("splits").path("train").path("rows").asLong());
        JsonNode state = json(run + "/checkpoint/state.json");
        assertEquals(2, state.path("epochsDone").asInt(), "the resumed run continued from the HDFS checkpoint");
        JsonNode history = json(run + "/train-summary.json").path("history");
        assertEquals(2, history.size());
        assertEquals(firstRun.get(0).path("validNll").asDouble(), history.get(0).path("validNll").asDouble(), 0.0,
                "epoch 1 as the first run measured it");
        assertTrue(history.get(1).path("validNll").asDouble() < 784 * Math.log(2), "epoch 2 learnt: " + history);
        assertEquals(300, json(run + "/eval-test/summary.json").path("count").asLong());
        assertTrue(fs.getFileStatus(new org.apache.hadoop.fs.Path(run + "/samples/samples.png")).getLen() > 500);

        SparkSession spark = SparkTesting.spark();
        assertEquals(300, spark.read().parquet(run + "/eval-test/scores.parquet").select("row_id").distinct().count());
        List<Row> metrics = spark.read().parquet(run + "/metrics.parquet").orderBy("epoch").collectAsList();
        assertEquals(List.of(1, 2), metrics.stream().map(r -> r.getInt(0)).toList());
        assertEquals(20, spark.read().parquet(run + "/samples/samples.parquet").count());

        List<String> leftovers = new ArrayList<>();
        RemoteIterator<LocatedFileStatus> files = fs.listFiles(new org.apache.hadoop.fs.Path(root), true);
        while (files.hasNext()) {
            String p = files.next().getPath().toString();
            if (p.contains(".staging-")) {
                leftovers.add(p);
            }
        }
        assertEquals(List.of(), leftovers, "every staged output was renamed into place");
    }

    static JsonNode json(String hdfsPath) throws IOException {
        try (InputStream in = fs.open(new org.apache.hadoop.fs.Path(hdfsPath))) {
            return JSON.readTree(in);
        }
    }
}
