package org.chainrule.jobs;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.chainrule.pipelines.spark.TaskThreads;
import org.junit.jupiter.api.Test;

import java.util.Collections;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * ND4J's native threads inside a task follow {@code spark.task.cpus}, through the plugin every job session enables.
 * Two sessions one after the other in this JVM (its own: a SparkContext's task cpus are fixed at its start), with 3
 * and then 1 cpus per task: no machine's ND4J default equals both. libnd4j's own limit cannot exceed its thread pool,
 * which ND4J sizes once by the machine's cores.
 */
class TaskThreadsIT {

    @Test
    void eachTaskGetsAsManyNd4jThreadsAsItHasCpus() {
        for (int cpus : new int[]{3, 1}) {
            SparkSession spark = TaskThreads.enable(SparkSession.builder().appName("task-threads-it")
                            .master("local[3]").config("spark.task.cpus", String.valueOf(cpus))
                            .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1"))
                    .getOrCreate();
            try {
                JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
                List<TaskThreads.Seen> seen = jsc.parallelize(List.of(1, 2, 3, 4, 5, 6), 6)
                        .map(i -> TaskThreads.Seen.now()).collect();
                int pool = seen.get(0).libnd4jPool();
                assertEquals(Collections.nCopies(6, new TaskThreads.Seen(cpus, Math.min(cpus, pool), pool, cpus)), seen,
                        "spark.task.cpus = " + cpus + ": BLAS, libnd4j (bounded by its pool) and OpenMP threads seen"
                                + " by each task");
            } finally {
                spark.stop();
            }
        }
    }
}
