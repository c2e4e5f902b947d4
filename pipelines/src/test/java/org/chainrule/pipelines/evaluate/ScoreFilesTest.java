package org.chainrule.pipelines.evaluate;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.chainrule.models.Units;
import org.chainrule.pipelines.SparkTesting;
import org.chainrule.pipelines.io.Outputs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * evaluate's scores written without Spark SQL: Spark reads them back with {@link Evaluate#SCHEMA}'s names and types,
 * one file per partition, and a second write of a partition replaces its file whole (what a retried task does),
 * leaving no temporary files.
 */
class ScoreFilesTest {
    private final SparkSession spark = SparkTesting.spark();

    private JavaRDD<Scorer.Scored> scored(int rows, double shift, int partitions) {
        List<Scorer.Scored> list = new ArrayList<>();
        for (int i = 0; i < rows; i++) {
            list.add(new Scorer.Scored(1000L + i, -50.0 - i * 0.25 - shift));
        }
        return JavaSparkContext.fromSparkContext(spark.sparkContext()).parallelize(list, partitions);
    }

    @Test
    void sparkReadsTheScoresWithTheDeclaredSchema(@TempDir Path tmp) {
        String dir = tmp.resolve("scores.parquet").toString();
        ScoreFiles.write(scored(250, 0, 3), dir, 64, spark.sparkContext().hadoopConfiguration());
        Dataset<Row> back = spark.read().parquet(dir);
        assertEquals(Evaluate.SCHEMA.asNullable(), back.schema()); // Spark's file sources read every column nullable
        List<Row> rows = back.orderBy("row_id").collectAsList();
        assertEquals(250, rows.size());
        for (int i = 0; i < rows.size(); i++) {
            double lp = -50.0 - i * 0.25;
            assertEquals(1000L + i, rows.get(i).getLong(0));
            assertEquals(lp, rows.get(i).getDouble(1));
            assertEquals(Units.bitsPerDim(-lp, 64), rows.get(i).getDouble(2));
        }
        assertEquals(3, new File(dir).listFiles((d, n) -> n.startsWith("part-")).length);
        assertEquals(250, Outputs.parquetRows(dir, spark.sparkContext().hadoopConfiguration()));
    }

    @Test
    void aPartitionWrittenAgainReplacesItsFileWhole(@TempDir Path tmp) {
        String dir = tmp.resolve("scores.parquet").toString();
        ScoreFiles.write(scored(100, 0, 2), dir, 8, spark.sparkContext().hadoopConfiguration());
        ScoreFiles.write(scored(100, 7, 2), dir, 8, spark.sparkContext().hadoopConfiguration());
        List<Row> rows = spark.read().parquet(dir).orderBy("row_id").collectAsList();
        assertEquals(100, rows.size());
        assertEquals(-57.0, rows.get(0).getDouble(1));
        assertFalse(new File(dir, "_temporary").exists(), "temporary files left");
    }
}
