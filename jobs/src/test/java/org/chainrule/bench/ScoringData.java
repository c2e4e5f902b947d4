package org.chainrule.bench;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.chainrule.pipelines.data.Manifest;
import org.chainrule.pipelines.data.Shards;
import org.chainrule.pipelines.io.Artefact;
import org.chainrule.pipelines.io.OutputGuard;
import org.chainrule.pipelines.io.Outputs;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A larger prepared dataset for the scoring benchmark (not a test, not in the application jar): the training split of
 * a prepared dataset repeated {@code copies} times with fresh row ids, written as {@code shards} Parquet files with a
 * manifest (row count and checksums, per shard too), so evaluate scores it like any prepared split. Only the {@code train} split is
 * written.
 *
 * <p>Arguments: {@code <prepared dir> <output dir> <copies> <shards>}.
 */
public final class ScoringData {
    private ScoringData() {
    }

    public static void main(String[] args) {
        if (args.length != 4) {
            throw new IllegalArgumentException("usage: ScoringData <prepared dir> <output dir> <copies> <shards>");
        }
        String source = args[0];
        String output = args[1];
        int copies = Integer.parseInt(args[2]);
        int shards = Integer.parseInt(args[3]);
        SparkSession spark = SparkSession.builder().appName("chainrule bench data").getOrCreate();
        try {
            Configuration conf = spark.sparkContext().hadoopConfiguration();
            Manifest m = Manifest.read(source, conf);
            Dataset<Row> rows = spark.read().schema(Shards.SCHEMA).parquet(source + "/train");
            long stride = rows.agg(functions.max("row_id")).first().getLong(0) + 1;
            Dataset<Row> all = null;
            for (int c = 0; c < copies; c++) {
                Dataset<Row> copy = rows.withColumn("row_id", functions.col("row_id").plus(c * stride));
                all = all == null ? copy : all.union(copy);
            }
            Dataset<Row> repeated = all;
            OutputGuard.claim(output, Artefact.DATASET, List.of(source), true, conf);
            Outputs.staged(output, conf, staging -> {
                repeated.repartitionByRange(shards, functions.col("row_id")).sortWithinPartitions("row_id")
                        .write().parquet(staging + "/train");
                // per-shard rows and checksums, as prepare records them, so evaluate verifies what it scores
                Map<String, Manifest.Shard> written = new TreeMap<>(Shards.checksums(spark, staging + "/train"));
                long count = written.values().stream().mapToLong(Manifest.Shard::rows).sum();
                long sum = written.values().stream().mapToLong(sh -> Long.parseUnsignedLong(sh.checksum(), 16))
                        .reduce(0L, Long::sum);
                Map<String, Object> details = new LinkedHashMap<>(m.details());
                details.put("benchCopiesOf", source);
                details.put("benchCopies", copies);
                Manifest out = new Manifest(m.shape(), m.domain(),
                        Map.of("train", new Manifest.Split(count, Manifest.checksum(sum), written)),
                        Map.of("train", 0L), details);
                Outputs.writeText(staging + "/" + Manifest.FILE, out.toJson(), conf);
                Artefact.DATASET.mark(staging, conf);
                System.out.printf("bench: %d rows (%d copies) in %s%n", count, copies, output);
                return null;
            });
        } finally {
            spark.stop();
        }
    }
}
