package org.chainrule.pipelines.data;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.MapType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

import java.util.ArrayList;
import java.util.List;

/**
 * A Parquet row as Spark reads it, turned into a record: its numeric leaves in schema order (structs and arrays
 * flattened; a null struct or array holds no values) with the column each came from, and the label: a top-level
 * column named {@code label}, which must be present and a whole number 0..{@link Readers#MAX_LABEL}. A column is named
 * by its position among all leaves of the row, the label's included, so a bad value is named by where it is in the
 * file. Numeric: integers of any width, float, double, boolean (1/0) and decimals (their exact value); a string,
 * binary, date or timestamp value, or a map (whose order Parquet does not fix), makes the record bad.
 */
final class ParquetRecords {
    private ParquetRecords() {
    }

    /** The record of {@code row}'s first {@code schema.size()} fields, the row {@code rowIndex} of {@code f}. */
    static SourceRecord record(SourceFile f, long rowIndex, Row row, StructType schema, Encoding enc) {
        Flat flat = new Flat(enc.width());
        String problem = flatten(row, schema, flat, true);
        if (problem != null) {
            return SourceRecord.bad(f, rowIndex, flat.problemColumn, problem);
        }
        return enc.encode(f, rowIndex, flat.values.stream().mapToDouble(Double::doubleValue).toArray(), flat.label,
                flat.columns.stream().mapToInt(Integer::intValue).toArray());
    }

    /** The values of one record with the leaf each came from, its label, and where a problem is. */
    private static final class Flat {
        final List<Double> values;
        final List<Integer> columns;
        int label = -1;
        int leaves;
        int problemColumn = -1;

        Flat(int width) {
            values = new ArrayList<>(width);
            columns = new ArrayList<>(width);
        }

        String problem(String why) {
            problemColumn = leaves;
            return why;
        }
    }

    private static String flatten(Row row, StructType type, Flat flat, boolean top) {
        StructField[] fields = type.fields();
        for (int i = 0; i < fields.length; i++) {
            DataType t = fields[i].dataType();
            boolean isLabel = top && fields[i].name().equals("label")
                    && !(t instanceof StructType || t instanceof ArrayType || t instanceof MapType);
            String p = value(row.get(i), t, fields[i].name(), isLabel, flat);
            if (p != null) {
                return p;
            }
        }
        return null;
    }

    private static String value(Object v, DataType t, String name, boolean isLabel, Flat flat) {
        if (t instanceof StructType st) {
            return v == null ? null : flatten((Row) v, st, flat, false);
        }
        if (t instanceof ArrayType at) {
            if (v == null) {
                return null;
            }
            for (Object e : scala.collection.JavaConverters.seqAsJavaList((scala.collection.Seq<?>) v)) {
                String p = value(e, at.elementType(), name, false, flat);
                if (p != null) {
                    return p;
                }
            }
            return null;
        }
        if (t instanceof MapType) {
            return flat.problem("column '" + name + "' is a map (its entries have no defined order)");
        }
        if (v == null) {
            return flat.problem(isLabel ? "the label is null" : "column '" + name + "' is null");
        }
        Double d = numeric(v);
        if (d == null) {
            return flat.problem("column '" + name + "' is not numeric");
        }
        if (isLabel) {
            if (!(d >= 0 && d <= Readers.MAX_LABEL && d == Math.rint(d))) {
                return flat.problem("label " + d + " is not a class index (an integer 0.." + Readers.MAX_LABEL + ")");
            }
            flat.label = (int) (double) d;
        } else {
            flat.values.add(d);
            flat.columns.add(flat.leaves);
        }
        flat.leaves++;
        return null;
    }

    private static Double numeric(Object v) {
        if (v instanceof Boolean b) {
            return b ? 1.0 : 0.0;
        }
        if (v instanceof java.math.BigDecimal || v instanceof Byte || v instanceof Short || v instanceof Integer
                || v instanceof Long || v instanceof Float || v instanceof Double) {
            return ((Number) v).doubleValue();
        }
        return null;
    }
}
