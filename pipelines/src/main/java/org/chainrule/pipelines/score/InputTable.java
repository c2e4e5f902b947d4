package org.chainrule.pipelines.score;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.DataFrameReader;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.execution.datasources.HadoopFsRelation;
import org.apache.spark.sql.execution.datasources.LogicalRelation;

import org.chainrule.pipelines.data.Manifest;
import org.chainrule.pipelines.data.Shards;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * A table a job scores, as Spark reads it: files of one of {@link Score#FORMATS} on any Hadoop filesystem, or a
 * catalog table; with its partition columns and the columns a job keeps of it. Shared by every job that scores
 * a user's table ({@code score}, {@code detect}, {@code ood-eval}).
 *
 * @param input  files, a directory or a glob; for format {@code table}, a table name
 * @param format one of {@link Score#FORMATS}
 * @param csv    how CSV input is read
 */
public record InputTable(String input, String format, Score.Csv csv) {
    public InputTable {
        if (!Score.FORMATS.contains(format)) {
            throw new IllegalArgumentException("format must be one of " + Score.FORMATS + ", got " + format);
        }
    }

    /**
     * When the input is a split of a dataset that {@code prepare} wrote (a Parquet directory whose parent holds
     * {@code manifest.json} listing it), checks its shards against the manifest's checksums before scoring, as
     * train and evaluate do: a changed or damaged shard fails naming the split and the shard.
     */
    public void verifyPrepared(SparkSession spark) {
        if (!format.equals("parquet")) {
            return;
        }
        Configuration hconf = spark.sparkContext().hadoopConfiguration();
        Path split = new Path(input);
        Path dir = split.getParent();
        try {
            if (dir == null || !dir.getFileSystem(hconf).exists(new Path(dir, Manifest.FILE))) {
                return;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot look for a manifest beside " + input, e);
        }
        Manifest manifest = Manifest.read(dir.toString(), hconf);
        if (manifest.splits().containsKey(split.getName())) {
            Shards.verify(spark, dir.toString(), split.getName(), manifest);
        }
    }

    /** The input as Spark reads it; nothing is read yet except what schema inference needs. */
    public Dataset<Row> read(SparkSession spark) {
        if (format.equals("table")) {
            return spark.table(input);
        }
        DataFrameReader reader = spark.read().format(format);
        if (format.equals("csv")) {
            reader = reader.option("header", csv.header()).option("sep", csv.delimiter())
                    .option("inferSchema", csv.inferSchema());
        }
        return reader.load(input);
    }

    /** The partition columns of the input: a catalog table's, or those of a partitioned file layout (k=v/ dirs). */
    public List<String> partitions(SparkSession spark, Dataset<Row> read) {
        if (format.equals("table")) {
            try {
                return spark.catalog().listColumns(input).collectAsList().stream()
                        .filter(org.apache.spark.sql.catalog.Column::isPartition)
                        .map(org.apache.spark.sql.catalog.Column::name).toList();
            } catch (org.apache.spark.sql.AnalysisException e) {
                throw new IllegalArgumentException("cannot list the columns of table " + input + ": "
                        + e.getMessage(), e);
            }
        }
        List<String> out = new ArrayList<>();
        LogicalPlan plan = read.queryExecution().analyzed();
        for (LogicalPlan leaf : scala.collection.JavaConverters.seqAsJavaList(plan.collectLeaves())) {
            if (leaf instanceof LogicalRelation r && r.relation() instanceof HadoopFsRelation fs) {
                out.addAll(Arrays.asList(fs.partitionSchema().fieldNames()));
            }
        }
        return out;
    }

    /** The kept columns: all for {@code *}, else the named ones (ranges written out); the input's partitions too. */
    public static List<String> keptColumns(List<String> keep, Dataset<Row> input, List<String> inputPartitions) {
        Set<String> kept = new LinkedHashSet<>(keep.contains("*") ? Arrays.asList(input.columns())
                : FeatureColumns.expand(keep, input.schema()));
        kept.addAll(inputPartitions);
        return new ArrayList<>(kept);
    }

    /** The output partition columns: those requested ([] = the input's own), each of them among the kept ones. */
    public static List<String> partitionBy(List<String> requested, List<String> inputPartitions, List<String> keep) {
        List<String> partitionBy = requested.isEmpty() ? inputPartitions : requested;
        for (String p : partitionBy) {
            if (!keep.contains(p)) {
                throw new IllegalArgumentException("partition-by column " + p + " is not among the kept columns "
                        + keep);
            }
        }
        return partitionBy;
    }
}
