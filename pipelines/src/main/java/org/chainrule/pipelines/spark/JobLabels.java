package org.chainrule.pipelines.spark;

import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the Spark UI, the history server and event logs call the jobs a pipeline starts.
 *
 * <p>Spark keeps the job description as a property of the calling thread and stamps it on every job, stage and SQL
 * query that thread starts afterwards. A pipeline therefore names each phase once, just before the phase's first
 * action: {@code JobLabels.describe(spark, "train epoch %d/%d: averaging rounds %d-%d", ...)}. The job group ties all
 * of one command's jobs together (the UI's "Job Group" column; cancelling the group cancels them all).
 *
 * <p>With {@code --verbose} every description is also logged (DEBUG), so the console shows the same phases.
 */
public final class JobLabels {
    private static final Logger LOG = LoggerFactory.getLogger(JobLabels.class);
    /** The thread-local property Spark reads a job's description from (SparkContext.SPARK_JOB_DESCRIPTION). */
    static final String DESCRIPTION = "spark.job.description";

    private JobLabels() {
    }

    /** Puts every job this thread starts from now on into {@code group}, described by {@code description}. */
    public static void group(SparkSession spark, String group, String description) {
        spark.sparkContext().setJobGroup(group, description, false);
        LOG.debug("spark job group {}: {}", group, description);
    }

    /** Describes the jobs this thread starts from now on; {@code args}, when given, fill {@code format}'s fields. */
    public static void describe(SparkSession spark, String format, Object... args) {
        describe(spark.sparkContext(), format, args);
    }

    /** Describes the jobs this thread starts from now on; {@code args}, when given, fill {@code format}'s fields. */
    public static void describe(JavaSparkContext jsc, String format, Object... args) {
        describe(jsc.sc(), format, args);
    }

    private static void describe(SparkContext sc, String format, Object... args) {
        String description = args.length == 0 ? format : String.format(format, args);
        sc.setJobDescription(description);
        LOG.debug("spark jobs: {}", description);
    }

    /** "round 3 of 120" or "rounds 41-50 of 120": a range of numbered things, 1-based, for descriptions. */
    public static String range(String thing, long first, long last, long total) {
        return first == last ? String.format("%s %d of %d", thing, first, total)
                : String.format("%ss %d-%d of %d", thing, first, last, total);
    }

    /** The description the next job of this thread gets (null when none was set). */
    public static String current(JavaSparkContext jsc) {
        return jsc.getLocalProperty(DESCRIPTION);
    }
}
