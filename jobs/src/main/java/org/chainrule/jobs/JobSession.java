package org.chainrule.jobs;

import org.apache.spark.sql.SparkSession;
import org.chainrule.pipelines.spark.JobLabels;
import org.chainrule.pipelines.spark.TaskThreads;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Spark session of one command: named after it, with ND4J threads per task following {@code spark.task.cpus}
 * ({@link TaskThreads}), the command's logging levels, ND4J's debug prints off the console ({@link ConsoleNoise}),
 * the Spark UI's address on the console (Spark's own line saying so is INFO, hidden by default), and every job in the
 * command's job group.
 */
final class JobSession {
    private static final Logger LOG = LoggerFactory.getLogger(JobSession.class);

    private JobSession() {
    }

    /**
     * @param warmExecutors load ND4J and DL4J on each executor as it starts, before its first task
     *                      ({@link org.chainrule.pipelines.spark.ExecutorWarmup}): for the commands that run models
     */
    static SparkSession start(String command, Verbosity verbosity, boolean warmExecutors) {
        if (verbosity != Verbosity.VERBOSE) {
            ConsoleNoise.filterStandardOutput();
        }
        SparkSession spark = TaskThreads.enable(SparkSession.builder().appName("chainrule " + command),
                warmExecutors).getOrCreate();
        verbosity.apply();
        scala.Option<String> ui = spark.sparkContext().uiWebUrl();
        if (ui.isDefined()) {
            LOG.info("Spark UI: {}", ui.get());
        }
        JobLabels.group(spark, "chainrule-" + command, "chainrule " + command);
        return spark;
    }
}
