package org.chainrule.pipelines.data;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/** Reads one split of a prepared dataset back as {@link Example}s. */
public final class Shards {
    /** Parquet schema of prepared shards. */
    public static final StructType SCHEMA = new StructType()
            .add("row_id", DataTypes.LongType, false)
            .add("label", DataTypes.IntegerType, false)
            .add("x", DataTypes.BinaryType, false);

    private Shards() {
    }

    /**
     * The examples of {@code split}; every row is checked to have the manifest's width, and a bad one fails the job
     * naming its file and row id.
     */
    public static JavaRDD<Example> read(SparkSession spark, String dir, String split, Manifest manifest) {
        manifest.split(split, dir);
        int dims = manifest.dims();
        int bytes = dims * manifest.domain().bytesPerValue();
        return spark.read().schema(SCHEMA).parquet(dir + "/" + split)
                .select(functions.col("row_id"), functions.col("label"), functions.col("x"),
                        functions.input_file_name().as("file"))
                .javaRDD()
                .map((Row r) -> {
                    byte[] x = (byte[]) r.get(2);
                    if (x == null || x.length != bytes) {
                        throw new IllegalArgumentException(r.getString(3) + " row_id " + r.getLong(0) + ": "
                                + (x == null ? "no values" : x.length + " bytes") + ", the manifest says " + dims
                                + " values of " + bytes / dims + " byte(s)");
                    }
                    return new Example(r.getLong(0), r.getInt(1), x);
                });
    }
}
