package org.chainrule.pipelines.data;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.example.GroupReadSupport;
import org.apache.parquet.schema.GroupType;
import org.apache.parquet.schema.PrimitiveType;
import org.apache.parquet.schema.Type;
import org.chainrule.pipelines.io.Outputs;

import java.io.BufferedInputStream;
import java.io.BufferedReader;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.zip.GZIPInputStream;

/**
 * Readers for the source formats. Each streams one file and hands every record, good or bad, to a consumer with its
 * file and row, so a bad row can be reported or quarantined precisely. Problems with a whole file (missing, wrong
 * magic number, truncated, not Parquet) throw {@link IllegalArgumentException} naming the file.
 */
public final class Readers {
    private static final int IDX_IMAGES = 0x00000803;
    private static final int IDX_LABELS = 0x00000801;

    private Readers() {
    }

    /** The source formats {@code prepare.format} accepts. */
    public static final List<String> FORMATS = List.of("idx", "csv", "parquet");

    /**
     * Options of the text and Parquet readers.
     *
     * @param delimiter   CSV field separator
     * @param header      whether a CSV file starts with a header line
     * @param labelColumn CSV: 0-based column holding the label, or -1; Parquet: the column named {@code label}
     *                    is used when present
     */
    public record Options(char delimiter, boolean header, int labelColumn) implements java.io.Serializable {
    }

    public static void read(String format, SourceFile f, Encoding enc, Options opt, Configuration conf,
                            Consumer<SourceRecord> out) {
        try {
            switch (format) {
                case "idx" -> readIdx(f, enc, conf, out);
                case "csv" -> readCsv(f, enc, opt, conf, out);
                case "parquet" -> readParquet(f, enc, conf, out);
                default -> throw new IllegalArgumentException("unknown format " + format + "; known: " + FORMATS);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + f.path() + ": " + e.getMessage(), e);
        }
    }

    private static InputStream open(String path, Configuration conf) throws IOException {
        if (!Outputs.exists(path, conf)) {
            throw new IllegalArgumentException("input file not found: " + path);
        }
        InputStream in = new BufferedInputStream(Outputs.fs(path, conf).open(new Path(path)), 1 << 16);
        in.mark(2);
        int b0 = in.read();
        int b1 = in.read();
        in.reset();
        return b0 == 0x1f && b1 == 0x8b ? new BufferedInputStream(new GZIPInputStream(in, 1 << 16), 1 << 16) : in;
    }

    private static void readIdx(SourceFile f, Encoding enc, Configuration conf, Consumer<SourceRecord> out)
            throws IOException {
        try (DataInputStream images = new DataInputStream(open(f.path(), conf));
             DataInputStream labels = f.labelsPath() == null ? null : new DataInputStream(open(f.labelsPath(), conf))) {
            int magic = readHeaderInt(images, f.path());
            if (magic != IDX_IMAGES) {
                throw new IllegalArgumentException(f.path() + ": not an idx image file (magic 0x"
                        + Integer.toHexString(magic) + ", expected 0x803 for unsigned-byte images)");
            }
            int count = readHeaderInt(images, f.path());
            int rows = readHeaderInt(images, f.path());
            int cols = readHeaderInt(images, f.path());
            if ((long) rows * cols != enc.width()) {
                throw new IllegalArgumentException(f.path() + ": images are " + rows + "x" + cols + " = "
                        + (long) rows * cols + " values, but the dataset shape has " + enc.width());
            }
            if (labels != null) {
                int lmagic = readHeaderInt(labels, f.labelsPath());
                if (lmagic != IDX_LABELS) {
                    throw new IllegalArgumentException(f.labelsPath() + ": not an idx label file (magic 0x"
                            + Integer.toHexString(lmagic) + ", expected 0x801)");
                }
                int lcount = readHeaderInt(labels, f.labelsPath());
                if (lcount != count) {
                    throw new IllegalArgumentException(f.labelsPath() + " has " + lcount + " labels but "
                            + f.path() + " has " + count + " images");
                }
            }
            byte[] raw = new byte[enc.width()];
            double[] values = new double[enc.width()];
            for (long r = 0; r < count; r++) {
                try {
                    images.readFully(raw);
                } catch (EOFException e) {
                    throw new IllegalArgumentException(f.path() + ": truncated at image " + (r + 1) + " of " + count);
                }
                int label = -1;
                if (labels != null) {
                    label = labels.read();
                    if (label < 0) {
                        throw new IllegalArgumentException(f.labelsPath() + ": truncated at label " + (r + 1));
                    }
                }
                for (int d = 0; d < raw.length; d++) {
                    values[d] = raw[d] & 0xFF;
                }
                out.accept(enc.encode(f, r, values, label));
            }
        }
    }

    private static int readHeaderInt(DataInputStream in, String path) throws IOException {
        try {
            return in.readInt();
        } catch (EOFException e) {
            throw new IllegalArgumentException(path + ": file too short for an idx header");
        }
    }

    private static void readCsv(SourceFile f, Encoding enc, Options opt, Configuration conf,
                                Consumer<SourceRecord> out) throws IOException {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(open(f.path(), conf), StandardCharsets.UTF_8))) {
            String line;
            long row = 0;
            boolean first = true;
            String sep = java.util.regex.Pattern.quote(String.valueOf(opt.delimiter()));
            while ((line = in.readLine()) != null) {
                if (first && opt.header()) {
                    first = false;
                    continue;
                }
                first = false;
                if (line.isBlank()) {
                    continue; // not a record: blank lines (a trailing newline) carry no data
                }
                out.accept(parseCsvLine(f, row++, line.split(sep, -1), enc, opt));
            }
        }
    }

    private static SourceRecord parseCsvLine(SourceFile f, long row, String[] fields, Encoding enc, Options opt) {
        int label = -1;
        int n = fields.length - (opt.labelColumn() >= 0 ? 1 : 0);
        if (opt.labelColumn() >= fields.length) {
            return SourceRecord.bad(f, row, -1, "no label column " + (opt.labelColumn() + 1) + " (only "
                    + fields.length + " fields)");
        }
        double[] values = new double[Math.max(n, 0)];
        int j = 0;
        for (int c = 0; c < fields.length; c++) {
            String s = fields[c].trim();
            try {
                if (c == opt.labelColumn()) {
                    label = (int) Double.parseDouble(s);
                } else {
                    values[j++] = Double.parseDouble(s);
                }
            } catch (NumberFormatException e) {
                return SourceRecord.bad(f, row, c, "not a number: '" + s + "'");
            }
        }
        return enc.encode(f, row, values, label);
    }

    private static void readParquet(SourceFile f, Encoding enc, Configuration conf, Consumer<SourceRecord> out)
            throws IOException {
        if (!Outputs.exists(f.path(), conf)) {
            throw new IllegalArgumentException("input file not found: " + f.path());
        }
        ParquetReader<Group> reader;
        try {
            reader = ParquetReader.builder(new GroupReadSupport(), new Path(f.path())).withConf(conf).build();
        } catch (RuntimeException | IOException e) {
            throw new IllegalArgumentException(f.path() + ": not a readable Parquet file: " + e.getMessage(), e);
        }
        try (reader) {
            long row = 0;
            Group g;
            while (true) {
                try {
                    g = reader.read();
                } catch (RuntimeException | IOException e) {
                    throw new IllegalArgumentException(f.path() + ": corrupt Parquet data at row " + (row + 1) + ": "
                            + e.getMessage(), e);
                }
                if (g == null) {
                    break;
                }
                List<Double> values = new ArrayList<>(enc.width());
                int[] label = {-1};
                String problem = flatten(g, values, label);
                if (problem != null) {
                    out.accept(SourceRecord.bad(f, row, -1, problem));
                } else {
                    out.accept(enc.encode(f, row, values.stream().mapToDouble(Double::doubleValue).toArray(), label[0]));
                }
                row++;
            }
        }
    }

    /** Collects every numeric leaf of a record in schema order; a top-level {@code label} column is the label. */
    private static String flatten(Group g, List<Double> values, int[] label) {
        GroupType type = g.getType();
        for (int i = 0; i < type.getFieldCount(); i++) {
            Type field = type.getType(i);
            int reps = g.getFieldRepetitionCount(i);
            for (int r = 0; r < reps; r++) {
                if (field.isPrimitive()) {
                    Double v = numeric(g, i, r, field.asPrimitiveType());
                    if (v == null) {
                        return "column '" + field.getName() + "' is not numeric";
                    }
                    if (field.getName().equals("label") && label != null) {
                        label[0] = (int) (double) v;
                    } else {
                        values.add(v);
                    }
                } else {
                    String p = flatten(g.getGroup(i, r), values, null);
                    if (p != null) {
                        return p;
                    }
                }
            }
            if (reps == 0 && field.isPrimitive() && !field.getName().equals("label")) {
                return "column '" + field.getName() + "' is null";
            }
        }
        return null;
    }

    private static Double numeric(Group g, int i, int r, PrimitiveType t) {
        return switch (t.getPrimitiveTypeName()) {
            case INT32 -> (double) g.getInteger(i, r);
            case INT64 -> (double) g.getLong(i, r);
            case FLOAT -> (double) g.getFloat(i, r);
            case DOUBLE -> g.getDouble(i, r);
            case BOOLEAN -> g.getBoolean(i, r) ? 1.0 : 0.0;
            default -> null;
        };
    }
}
