package org.chainrule.pipelines.detect;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.BinaryType;
import org.apache.spark.sql.types.StructType;
import org.chainrule.pipelines.score.FeatureColumns;
import org.chainrule.pipelines.score.InputTable;
import org.chainrule.pipelines.score.Score;

import java.util.Arrays;
import java.util.List;

/**
 * The in-distribution rows that set a threshold (and, for typicality, the entropy estimate): a prepared split
 * ({@code data/prepared/mnist/valid}, its stored {@code x} column) or any table the score job reads.
 *
 * @param input   files, a directory or a glob, or a table name; "" = no reference
 * @param format  one of {@link Score#FORMATS}
 * @param columns the model's value columns in the reference; [] = the input's columns when the reference has them,
 *                else the stored column {@code x} of a prepared split
 */
public record Reference(String input, String format, List<String> columns) {
    public Reference {
        columns = List.copyOf(columns);
    }

    /** No reference rows. */
    public static Reference none() {
        return new Reference("", "parquet", List.of());
    }

    public boolean given() {
        return !input.isEmpty();
    }

    /** The reference rows, read as the input is (CSV options included); a prepared split's shards verified first. */
    Dataset<Row> read(SparkSession spark, Score.Csv csv) {
        InputTable table = new InputTable(input, format, csv);
        table.verifyPrepared(spark);
        return table.read(spark);
    }

    /** The value columns to read in the reference table (see the record comment). */
    List<String> columns(List<String> inputColumns, StructType schema) {
        if (!columns.isEmpty()) {
            return columns;
        }
        List<String> names = Arrays.asList(schema.fieldNames());
        if (names.containsAll(FeatureColumns.expand(inputColumns, schema))) {
            return inputColumns;
        }
        if (names.contains("x") && schema.apply("x").dataType() instanceof BinaryType) {
            return List.of("x");
        }
        throw new IllegalArgumentException("the reference " + input + " has neither the input's value columns "
                + inputColumns + " nor a prepared split's x column; name its columns (reference-columns)");
    }
}
