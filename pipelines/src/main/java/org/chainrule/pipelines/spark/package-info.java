/**
 * How chainrule shows itself to the tools a Spark shop watches: job and stage descriptions for the Spark UI and the
 * history server ({@link org.chainrule.pipelines.spark.JobLabels}), training metrics as named accumulators
 * ({@link org.chainrule.pipelines.spark.TrainMetrics}), and ND4J threads that follow {@code spark.task.cpus}
 * ({@link org.chainrule.pipelines.spark.TaskThreads}).
 */
package org.chainrule.pipelines.spark;
