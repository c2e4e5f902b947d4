package org.chainrule.pipelines.evaluate;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.hadoop.ParquetFileWriter;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.api.WriteSupport;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.io.api.RecordConsumer;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType.PrimitiveTypeName;
import org.apache.parquet.schema.Types;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.util.SerializableConfiguration;
import org.chainrule.models.Units;
import org.chainrule.pipelines.io.Outputs;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Iterator;
import java.util.Map;

/**
 * Writes evaluate's {@code scores.parquet} (row_id, log_prob_nats, bits_per_dim) with parquet-hadoop directly: one
 * file per partition, written under {@code _temporary} by each task attempt and renamed to
 * {@code part-NNNNN.snappy.parquet} when the attempt has written all its rows, so a retried or speculative attempt
 * replaces a file whole. The footers carry Spark's schema, so Spark reads the columns back exactly as declared in
 * {@link Evaluate#SCHEMA}. The caller commits the directory (it is written inside a staging directory).
 */
final class ScoreFiles {
    private static final MessageType PARQUET = Types.buildMessage()
            .required(PrimitiveTypeName.INT64).named("row_id")
            .required(PrimitiveTypeName.DOUBLE).named("log_prob_nats")
            .required(PrimitiveTypeName.DOUBLE).named("bits_per_dim")
            .named("spark_schema");
    /** The key under which Spark's Parquet writer records a file's Spark schema. */
    private static final String SPARK_SCHEMA_KEY = "org.apache.spark.sql.parquet.row.metadata";
    private static final String TEMPORARY = "_temporary";

    private ScoreFiles() {
    }

    /** Writes every row of {@code scored} under {@code dir}; returns once all partitions are written. */
    static void write(JavaRDD<Scorer.Scored> scored, String dir, int dims, Configuration hconf) {
        Broadcast<SerializableConfiguration> conf = JavaSparkContext.fromSparkContext(scored.context())
                .broadcast(new SerializableConfiguration(hconf));
        String schemaJson = Evaluate.SCHEMA.json();
        try {
            scored.foreachPartition(rows -> writePartition(rows, dir, dims, schemaJson, conf.value().value()));
            Outputs.fs(dir, hconf).delete(new Path(dir, TEMPORARY), true);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove " + dir + "/" + TEMPORARY, e);
        } finally {
            conf.destroy();
        }
    }

    private static void writePartition(Iterator<Scorer.Scored> rows, String dir, int dims, String schemaJson,
                                       Configuration conf) throws IOException {
        TaskContext task = TaskContext.get();
        Path tmp = new Path(dir, TEMPORARY + "/" + task.partitionId() + "-" + task.attemptNumber() + "-"
                + task.taskAttemptId() + ".parquet");
        Path target = new Path(dir, String.format("part-%05d.snappy.parquet", task.partitionId()));
        try (ParquetWriter<Scorer.Scored> out = new Builder(tmp, dims, schemaJson).withConf(conf)
                .withCompressionCodec(CompressionCodecName.SNAPPY)
                // every value is distinct: a dictionary would be built per column chunk only to be thrown away
                .withDictionaryEncoding(false)
                .withWriteMode(ParquetFileWriter.Mode.OVERWRITE).build()) {
            while (rows.hasNext()) {
                out.write(rows.next());
            }
        }
        FileSystem fs = tmp.getFileSystem(conf);
        fs.delete(target, false); // an earlier attempt's file, whole: this one replaces it
        if (!fs.rename(tmp, target)) {
            throw new IOException("cannot rename " + tmp + " to " + target);
        }
    }

    private static final class Builder extends ParquetWriter.Builder<Scorer.Scored, Builder> {
        private final int dims;
        private final String schemaJson;

        Builder(Path path, int dims, String schemaJson) {
            super(path);
            this.dims = dims;
            this.schemaJson = schemaJson;
        }

        @Override
        protected Builder self() {
            return this;
        }

        @Override
        protected WriteSupport<Scorer.Scored> getWriteSupport(Configuration conf) {
            return new ScoredWriteSupport(dims, schemaJson);
        }
    }

    private static final class ScoredWriteSupport extends WriteSupport<Scorer.Scored> {
        private final int dims;
        private final String schemaJson;
        private RecordConsumer out;

        ScoredWriteSupport(int dims, String schemaJson) {
            this.dims = dims;
            this.schemaJson = schemaJson;
        }

        @Override
        public WriteContext init(Configuration configuration) {
            return new WriteContext(PARQUET, Map.of(SPARK_SCHEMA_KEY, schemaJson));
        }

        @Override
        public void prepareForWrite(RecordConsumer recordConsumer) {
            out = recordConsumer;
        }

        @Override
        public void write(Scorer.Scored r) {
            out.startMessage();
            out.startField("row_id", 0);
            out.addLong(r.rowId());
            out.endField("row_id", 0);
            out.startField("log_prob_nats", 1);
            out.addDouble(r.logProbNats());
            out.endField("log_prob_nats", 1);
            out.startField("bits_per_dim", 2);
            out.addDouble(Units.bitsPerDim(-r.logProbNats(), dims));
            out.endField("bits_per_dim", 2);
            out.endMessage();
        }
    }
}
