package org.chainrule.pipelines.data;

import java.io.Serializable;

/**
 * A record as read from a source file: either values (already validated and encoded) or the reason it was rejected.
 *
 * @param split  split the file feeds ({@code train} or {@code test})
 * @param file   the source file, as given
 * @param fileIndex position of the file among the split's files
 * @param row    0-based record number within the file (data rows for CSV, not counting a header)
 * @param label  class label or -1
 * @param x      encoded values, or null when rejected
 * @param column 0-based column of the first bad value, -1 when the record is good or the problem is not in one column
 * @param error  why the record was rejected, or null
 */
public record SourceRecord(String split, String file, int fileIndex, long row, int label, byte[] x, int column,
                           String error) implements Serializable {

    public static SourceRecord good(SourceFile f, long row, int label, byte[] x) {
        return new SourceRecord(f.split(), f.path(), f.index(), row, label, x, -1, null);
    }

    public static SourceRecord bad(SourceFile f, long row, int column, String error) {
        return new SourceRecord(f.split(), f.path(), f.index(), row, -1, null, column, error);
    }

    public boolean ok() {
        return error == null;
    }

    /** "file row N column C: reason", as a person reads it (1-based rows and columns). */
    public String describe() {
        return file + " row " + (row + 1) + (column >= 0 ? " column " + (column + 1) : "") + ": " + error;
    }
}
