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
        try (Utf8Lines in = new Utf8Lines(open(f.path(), conf), f.path())) {
            String line;
            long row = 0;
            boolean first = true;
            String sep = java.util.regex.Pattern.quote(String.valueOf(opt.delimiter()));
            int[] columns = null;
            while ((line = in.next()) != null) {
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
                out.accept(parseCsv(f, row++, fields, columns, enc, opt));
            }
        }
    }

    /**
     * The lines of a text stream (ended by \n, \r\n or \r), each decoded as strict UTF-8: a line that is not UTF-8
     * fails the file naming the line, rather than turning into U+FFFD replacement characters.
     */
    private static final class Utf8Lines implements java.io.Closeable {
        private final java.io.PushbackInputStream in;
        private final String path;
        private final java.io.ByteArrayOutputStream line = new java.io.ByteArrayOutputStream(256);
        private long number;

        Utf8Lines(InputStream in, String path) {
            this.in = new java.io.PushbackInputStream(in, 1);
            this.path = path;
        }

        String next() throws IOException {
            line.reset();
            int b = in.read();
            if (b < 0) {
                return null;
            }
            while (b >= 0 && b != '\n' && b != '\r') {
                line.write(b);
                b = in.read();
            }
            if (b == '\r') {
                int after = in.read();
                if (after >= 0 && after != '\n') {
                    in.unread(after);
                }
            }
            number++;
            try {
                return StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(line.toByteArray()))
                        .toString();
            } catch (java.nio.charset.CharacterCodingException e) {
                throw new IllegalArgumentException(path + " line " + number + ": not UTF-8 text (" + e.getMessage()
                        + "); the file must be UTF-8");
            }
        }

        @Override
        public void close() throws IOException {
            in.close();
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

    /**
     * One CSV record: the label (when there is a label column) and the values of {@code columns} (null: every field
     * but the label, in order). A bad field makes the record bad, named by its column in the file.
     */
    private static SourceRecord parseCsv(SourceFile f, long row, String[] fields, int[] columns, Encoding enc,
                                         Options opt) {
        int label = -1;
        int labelColumn = opt.labelColumn();
        if (labelColumn >= 0) {
            if (labelColumn >= fields.length) {
                return SourceRecord.bad(f, row, -1, "no label column " + (labelColumn + 1) + " (only "
                        + fields.length + " fields)");
            }
            String text = fields[labelColumn].trim();
            label = labelOf(text);
            if (label < 0) {
                return SourceRecord.bad(f, row, labelColumn, "label '" + text + "' is not a class index (an integer"
                        + " 0.." + MAX_LABEL + ")");
            }
        }
        int[] cols = columns;
        if (cols == null) {
            cols = java.util.stream.IntStream.range(0, fields.length).filter(c -> c != labelColumn).toArray();
        }
        double[] values = new double[cols.length];
        for (int i = 0; i < cols.length; i++) {
            int c = cols[i];
            if (c >= fields.length) {
                return SourceRecord.bad(f, row, c, "missing: the row has only " + fields.length + " fields");
            }
            String text = fields[c].trim();
            Double v = number(text);
            if (v == null) {
                return SourceRecord.bad(f, row, c, "not a number: '" + text + "'");
            }
            if (!enc.real() && v == Math.rint(v) && !wholeNumber(text)) {
                return SourceRecord.bad(f, row, c, "non-integer value '" + text + "' (integer data holds whole"
                        + " numbers; it is not rounded)");
            }
            values[i] = v;
        }
        return enc.encode(f, row, values, label, cols);
    }

    /** The largest label: 1 + the largest label is the number of classes, an int. */
    static final int MAX_LABEL = Integer.MAX_VALUE - 1;
    /** Decimal notation, and the words Java writes for non-finite values (which the encoding then rejects). */
    private static final java.util.regex.Pattern NUMBER = java.util.regex.Pattern.compile(
            "[+-]?(NaN|Infinity|(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?)");

    /** The value of a decimal text, or null when it is none (Java's own parser would also take "1d" or "0x1p3"). */
    static Double number(String text) {
        return NUMBER.matcher(text).matches() ? Double.parseDouble(text) : null;
    }

    /** Whether a decimal text is exactly a whole number (12.0 and 1e2 are; 12.5 and 12.0000000000000001 are not). */
    static boolean wholeNumber(String text) {
        if (text.indexOf('.') < 0 && text.indexOf('e') < 0 && text.indexOf('E') < 0) {
            return true;
        }
        try {
            return new java.math.BigDecimal(text).stripTrailingZeros().scale() <= 0;
        } catch (NumberFormatException e) {
            return false;
        }
    }

    /** A label's class index: an exact whole number in 0..{@link #MAX_LABEL}, else -1. */
    static int labelOf(String text) {
        Double v = number(text);
        if (v == null || !(v >= 0 && v <= MAX_LABEL) || !wholeNumber(text)) {
            return -1;
        }
        return (int) (double) v;
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

    /**
     * The whole of a text file, decoded as UTF-8 (gzip is recognized). Bytes that are not UTF-8 fail the file, naming
     * the byte offset and line: they are never replaced by U+FFFD.
     */
    public static String readAll(String path, Configuration conf) throws IOException {
        byte[] bytes;
        try (InputStream in = open(path, conf)) {
            bytes = in.readAllBytes();
        }
        java.nio.ByteBuffer buf = java.nio.ByteBuffer.wrap(bytes);
        java.nio.CharBuffer chars = java.nio.CharBuffer.allocate(bytes.length);
        java.nio.charset.CoderResult result = StandardCharsets.UTF_8.newDecoder().decode(buf, chars, true);
        if (result.isError()) {
            int at = buf.position();
            long line = 1;
            for (int i = 0; i < at; i++) {
                line += bytes[i] == '\n' ? 1 : 0;
            }
            throw new IllegalArgumentException(path + ": not UTF-8 text: " + (result.isMalformed() ? "malformed"
                    : "unmappable") + " bytes at byte offset " + at + " (line " + line + ", character "
                    + chars.position() + " of the file); fix or re-encode the file");
        }
        return chars.flip().toString();
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
                Flat flat = new Flat(enc.width());
                String problem = flatten(g, flat, true);
                if (problem != null) {
                    out.accept(SourceRecord.bad(f, row, flat.problemColumn, problem));
                } else {
                    out.accept(enc.encode(f, row, flat.values.stream().mapToDouble(Double::doubleValue).toArray(),
                            flat.label, flat.columns.stream().mapToInt(Integer::intValue).toArray()));
                }
                row++;
            }
        }
    }

    /**
     * A Parquet record flattened: its numeric leaves in schema order with the column each came from (the position
     * among all leaves of the record, the label's included, so that a bad value is named by where it is in the file),
     * and the label.
     */
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
    }

    /**
     * Collects every numeric leaf of a record in schema order; a top-level {@code label} column is the label, which must
     * be present and a whole number 0..{@link #MAX_LABEL}. Returns the problem, or null.
     */
    private static String flatten(Group g, Flat flat, boolean top) {
        GroupType type = g.getType();
        for (int i = 0; i < type.getFieldCount(); i++) {
            Type field = type.getType(i);
            int reps = g.getFieldRepetitionCount(i);
            boolean isLabel = top && field.getName().equals("label") && field.isPrimitive();
            if (reps == 0 && field.isPrimitive()) {
                flat.problemColumn = flat.leaves;
                return isLabel ? "the label is null" : "column '" + field.getName() + "' is null";
            }
            for (int r = 0; r < reps; r++) {
                if (field.isPrimitive()) {
                    Double v = numeric(g, i, r, field.asPrimitiveType());
                    if (v == null) {
                        flat.problemColumn = flat.leaves;
                        return "column '" + field.getName() + "' is not numeric";
                    }
                    if (isLabel) {
                        if (!(v >= 0 && v <= MAX_LABEL && v == Math.rint(v))) {
                            flat.problemColumn = flat.leaves;
                            return "label " + v + " is not a class index (an integer 0.." + MAX_LABEL + ")";
                        }
                        flat.label = (int) (double) v;
                    } else {
                        flat.values.add(v);
                        flat.columns.add(flat.leaves);
                    }
                    flat.leaves++;
                } else {
                    String p = flatten(g.getGroup(i, r), flat, false);
                    if (p != null) {
                        return p;
                    }
                }
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
