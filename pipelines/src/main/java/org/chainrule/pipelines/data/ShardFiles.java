package org.chainrule.pipelines.data;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.api.InitContext;
import org.apache.parquet.hadoop.api.ReadSupport;
import org.apache.parquet.io.api.Binary;
import org.apache.parquet.io.api.Converter;
import org.apache.parquet.io.api.GroupConverter;
import org.apache.parquet.io.api.PrimitiveConverter;
import org.apache.parquet.io.api.RecordMaterializer;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.Type;
import org.chainrule.pipelines.io.Outputs;

import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;

/**
 * Reads prepared shards with parquet-hadoop directly, for a job that only streams a split through once (evaluate):
 * no Spark SQL planning on the driver and no generated code on the executors, which on a short job cost more than
 * the reading. The split's files are cut into byte ranges and packed into partitions as Spark's file sources do
 * ({@code spark.sql.files.maxPartitionBytes}, {@code spark.sql.files.openCostInBytes}); a range reads the row groups
 * whose middle falls inside it, so every row group is read by exactly one range.
 */
public final class ShardFiles {
    private static final String[] COLUMNS = {"row_id", "label", "x"};

    private ShardFiles() {
    }

    /** A byte range of one shard file; {@code name} is the file's name, as the manifest records it. */
    public record Range(String path, String name, long start, long end) implements Serializable {
        long bytes() {
            return end - start;
        }
    }

    /**
     * The shard files under {@code dir} (empty files and names starting with {@code _} or {@code .} skipped, as
     * Spark's reader skips them), cut and packed into partitions of at most about {@code maxBytes} each, at least {@code parallelism}
     * partitions where the data allows; each file's opening counts as {@code openCost} bytes.
     */
    public static List<List<Range>> plan(String dir, Configuration conf, long maxBytes, long openCost,
                                         int parallelism) {
        List<FileStatus> files = new ArrayList<>();
        try {
            FileSystem fs = Outputs.fs(dir, conf);
            for (FileStatus f : fs.listStatus(new Path(dir))) {
                String name = f.getPath().getName();
                if (f.isFile() && f.getLen() > 0 && !name.startsWith("_") && !name.startsWith(".")) {
                    files.add(f);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the shards of " + dir, e);
        }
        long total = files.stream().mapToLong(f -> f.getLen() + openCost).sum();
        long split = Math.max(1, Math.min(maxBytes, Math.max(openCost, total / Math.max(1, parallelism))));
        List<Range> ranges = new ArrayList<>();
        for (FileStatus f : files) {
            String path = f.getPath().toString();
            String name = f.getPath().getName();
            long len = f.getLen();
            for (long start = 0; start < len; start += split) {
                ranges.add(new Range(path, name, start, Math.min(len, start + split)));
            }
        }
        return pack(ranges, split, openCost);
    }

    /** Packs ranges, largest first, into partitions of at most {@code split} bytes (each range's opening included). */
    static List<List<Range>> pack(List<Range> ranges, long split, long openCost) {
        List<Range> bySize = new ArrayList<>(ranges);
        bySize.sort(Comparator.comparingLong(Range::bytes).reversed().thenComparing(Range::path)
                .thenComparingLong(Range::start));
        List<List<Range>> partitions = new ArrayList<>();
        List<Range> current = new ArrayList<>();
        long size = 0;
        for (Range r : bySize) {
            if (!current.isEmpty() && size + r.bytes() > split) {
                partitions.add(current);
                current = new ArrayList<>();
                size = 0;
            }
            current.add(r);
            size += r.bytes() + openCost;
        }
        if (!current.isEmpty()) {
            partitions.add(current);
        }
        return partitions;
    }

    /** The rows of every range of the partitions given, one range after another. */
    public static Iterator<Map.Entry<String, Example>> read(Iterator<List<Range>> partitions, Configuration conf) {
        List<Range> all = new ArrayList<>();
        partitions.forEachRemaining(all::addAll);
        Iterator<Range> ranges = all.iterator();
        return new Iterator<>() {
            private Iterator<Map.Entry<String, Example>> current = java.util.Collections.emptyIterator();

            @Override
            public boolean hasNext() {
                while (!current.hasNext() && ranges.hasNext()) {
                    current = read(ranges.next(), conf);
                }
                return current.hasNext();
            }

            @Override
            public Map.Entry<String, Example> next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                return current.next();
            }
        };
    }

    /**
     * The rows of one range as (file name, row id, label, values); a row without one of the three columns' values
     * fails naming the file and row.
     */
    public static Iterator<Map.Entry<String, Example>> read(Range range, Configuration conf) {
        ParquetReader<Example> reader;
        try {
            reader = ParquetReader.builder(new ExampleReadSupport(range.path()), new Path(range.path())).withConf(conf)
                    .withFileRange(range.start(), range.end()).build();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open shard " + range.path(), e);
        }
        return new Iterator<>() {
            private Example next = advance();

            private Example advance() {
                try {
                    Example e = reader.read();
                    if (e == null) {
                        reader.close();
                    }
                    return e;
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot read shard " + range.path(), e);
                }
            }

            @Override
            public boolean hasNext() {
                return next != null;
            }

            @Override
            public Map.Entry<String, Example> next() {
                if (next == null) {
                    throw new NoSuchElementException();
                }
                Example e = next;
                next = advance();
                return Map.entry(range.name(), e);
            }
        };
    }

    /** Materializes (row_id, label, x) straight into {@link Example}s, projecting the file's own three columns. */
    private static final class ExampleReadSupport extends ReadSupport<Example> {
        private final String file;

        ExampleReadSupport(String file) {
            this.file = file;
        }

        @Override
        public ReadContext init(InitContext context) {
            MessageType schema = context.getFileSchema();
            List<Type> fields = new ArrayList<>();
            for (String c : COLUMNS) {
                if (!schema.containsField(c)) {
                    throw new IllegalArgumentException("shard " + file + " has no column " + c + " (it has "
                            + schema.getFields().stream().map(Type::getName).toList() + "): not a prepared shard");
                }
                fields.add(schema.getType(c));
            }
            return new ReadContext(new MessageType(schema.getName(), fields));
        }

        @Override
        public RecordMaterializer<Example> prepareForRead(Configuration conf, Map<String, String> meta,
                                                         MessageType fileSchema, ReadContext context) {
            return new ExampleMaterializer(file);
        }
    }

    private static final class ExampleMaterializer extends RecordMaterializer<Example> {
        private final String file;
        private long rowId;
        private int label;
        private byte[] x;
        private boolean hasId;
        private boolean hasLabel;
        private final GroupConverter root = new GroupConverter() {
            private final Converter[] columns = {
                    new PrimitiveConverter() {
                        @Override
                        public void addLong(long value) {
                            rowId = value;
                            hasId = true;
                        }
                    },
                    new PrimitiveConverter() {
                        @Override
                        public void addInt(int value) {
                            label = value;
                            hasLabel = true;
                        }
                    },
                    new PrimitiveConverter() {
                        @Override
                        public void addBinary(Binary value) {
                            x = value.getBytes();
                        }
                    }};

            @Override
            public Converter getConverter(int field) {
                return columns[field];
            }

            @Override
            public void start() {
                hasId = false;
                hasLabel = false;
                x = null;
            }

            @Override
            public void end() {
            }
        };

        ExampleMaterializer(String file) {
            this.file = file;
        }

        @Override
        public Example getCurrentRecord() {
            if (!hasId || !hasLabel) {
                throw new IllegalArgumentException(file + (hasId ? " row_id " + rowId : " a row") + ": no "
                        + (hasId ? "label" : "row_id"));
            }
            return new Example(rowId, label, x);
        }

        @Override
        public GroupConverter getRootConverter() {
            return root;
        }
    }
}
