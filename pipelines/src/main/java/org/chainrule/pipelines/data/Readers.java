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
    public static final List<String> FORMATS = List.of("idx", "csv", "parquet", "text");

    /**
     * Options of the text and Parquet readers.
     *
     * @param delimiter   CSV field separator
     * @param header      whether a CSV file starts with a header line
     * @param labelColumn CSV: 0-based column holding the label, or -1; Parquet: the column named {@code label}
     *                    is used when present
     * @param columns     CSV: the value columns, in order, as 0-based indices or header names; empty = every column
     *                    but the label
     * @param sequenceLength text: characters per record
     * @param vocabulary  text: the characters, character i stored as value i
     */
    public record Options(char delimiter, boolean header, int labelColumn, List<String> columns, int sequenceLength,
                          String vocabulary) implements java.io.Serializable {
        public Options(char delimiter, boolean header, int labelColumn) {
            this(delimiter, header, labelColumn, List.of(), 0, null);
        }

        /** The same options with a vocabulary (found by scanning the text). */
        public Options withVocabulary(String v) {
            return new Options(delimiter, header, labelColumn, columns, sequenceLength, v);
        }
    }

    public static void read(String format, SourceFile f, Encoding enc, Options opt, Configuration conf,
                            Consumer<SourceRecord> out) {
        try {
            switch (format) {
                case "idx" -> readIdx(f, enc, conf, out);
                case "csv" -> readCsv(f, enc, opt, conf, out);
                case "parquet" -> readParquet(f, enc, conf, out);
                case "text" -> readText(f, opt, conf, out);
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
            int[] columns = null;
            while ((line = in.readLine()) != null) {
                if (first && opt.header()) {
                    first = false;
                    columns = csvColumns(f, opt, line.split(sep, -1));
                    continue;
                }
                if (first) {
                    columns = csvColumns(f, opt, null);
                }
                first = false;
                if (line.isBlank()) {
                    continue; // not a record: blank lines (a trailing newline) carry no data
                }
                String[] fields = line.split(sep, -1);
                out.accept(columns == null ? parseCsvLine(f, row++, fields, enc, opt)
                        : parseCsvColumns(f, row++, fields, columns, enc, opt));
            }
        }
    }

    /**
     * The value columns named by {@code csv.columns} as 0-based indices (null: every column but the label). Names need
     * a header line; a name or index that is not there fails the whole file, naming it.
     */
    private static int[] csvColumns(SourceFile f, Options opt, String[] header) {
        if (opt.columns().isEmpty()) {
            return null;
        }
        int[] idx = new int[opt.columns().size()];
        for (int i = 0; i < idx.length; i++) {
            String c = opt.columns().get(i).trim();
            if (c.matches("\\d+")) {
                idx[i] = Integer.parseInt(c);
            } else {
                if (header == null) {
                    throw new IllegalArgumentException(f.path() + ": csv.columns names column '" + c
                            + "' but the file has no header (set csv.header = true or use 0-based indices)");
                }
                idx[i] = -1;
                for (int h = 0; h < header.length; h++) {
                    if (header[h].trim().replace("\"", "").equals(c)) {
                        idx[i] = h;
                    }
                }
                if (idx[i] < 0) {
                    throw new IllegalArgumentException(f.path() + ": no column named '" + c + "' in the header "
                            + java.util.Arrays.toString(header));
                }
            }
        }
        return idx;
    }

    private static SourceRecord parseCsvColumns(SourceFile f, long row, String[] fields, int[] columns, Encoding enc,
                                                Options opt) {
        int label = -1;
        if (opt.labelColumn() >= 0) {
            if (opt.labelColumn() >= fields.length) {
                return SourceRecord.bad(f, row, -1, "no label column " + (opt.labelColumn() + 1) + " (only "
                        + fields.length + " fields)");
            }
            try {
                label = labelOf(fields[opt.labelColumn()].trim());
            } catch (NumberFormatException e) {
                return SourceRecord.bad(f, row, opt.labelColumn(), "label is not an integer: '"
                        + fields[opt.labelColumn()].trim() + "'");
            }
        }
        double[] values = new double[columns.length];
        for (int i = 0; i < columns.length; i++) {
            int c = columns[i];
            if (c >= fields.length) {
                return SourceRecord.bad(f, row, c, "missing: the row has only " + fields.length + " fields");
            }
            String s = fields[c].trim();
            try {
                values[i] = Double.parseDouble(s);
            } catch (NumberFormatException e) {
                return SourceRecord.bad(f, row, c, "not a number: '" + s + "'");
            }
        }
        return enc.encode(f, row, values, label);
    }

    private static int labelOf(String s) {
        double v = Double.parseDouble(s);
        if (v != Math.rint(v) || v < 0 || v > Integer.MAX_VALUE) {
            throw new NumberFormatException(s);
        }
        return (int) v;
    }

    /**
     * Text: the file's characters (UTF-8) cut into consecutive records of {@code sequenceLength} characters, each
     * character stored as its index in the vocabulary. A character outside the vocabulary makes its record bad (column
     * = position in the record). The last {@code length mod sequenceLength} characters form no record; the manifest
     * counts them.
     */
    private static void readText(SourceFile f, Options opt, Configuration conf, Consumer<SourceRecord> out)
            throws IOException {
        String text = readAll(f.path(), conf);
        int t = opt.sequenceLength();
        int[] index = vocabularyIndex(opt.vocabulary());
        long records = text.length() / t;
        for (long r = 0; r < records; r++) {
            byte[] x = new byte[t];
            SourceRecord rec = null;
            for (int i = 0; i < t; i++) {
                char ch = text.charAt((int) (r * t + i));
                int v = ch < index.length ? index[ch] : -1;
                if (v < 0) {
                    rec = SourceRecord.bad(f, r, i, "character " + describeChar(ch) + " is not in the vocabulary");
                    break;
                }
                x[i] = (byte) v;
            }
            out.accept(rec != null ? rec : SourceRecord.good(f, r, -1, x));
        }
    }

    /** The whole of a text file, decoded as UTF-8 (gzip is recognized). */
    public static String readAll(String path, Configuration conf) throws IOException {
        try (InputStream in = open(path, conf)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static int[] vocabularyIndex(String vocabulary) {
        int[] index = new int[65536];
        java.util.Arrays.fill(index, -1);
        for (int i = 0; i < vocabulary.length(); i++) {
            index[vocabulary.charAt(i)] = i;
        }
        return index;
    }

    static String describeChar(char ch) {
        return ch >= 32 && ch < 127 ? "'" + ch + "'" : String.format("U+%04X", (int) ch);
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
