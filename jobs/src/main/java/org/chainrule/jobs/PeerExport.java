package org.chainrule.jobs;

import org.apache.spark.sql.SparkSession;
import org.chainrule.pipelines.data.Example;
import org.chainrule.pipelines.data.Manifest;
import org.chainrule.pipelines.data.Shards;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Writes the rows of a prepared dataset's splits as raw bytes for scripts/peer-check.sh (not a job): one file
 * {@code <split>.u8} per split, rows in row-id order, each row its values as unsigned bytes (the prepared encoding of
 * binary and 8-bit data), so that a peer implementation trains and scores on the very rows this project does.
 *
 * <p>Arguments: {@code <prepared dataset dir> <output dir> [splits (train,valid,test)]}.
 */
public final class PeerExport {
    private PeerExport() {
    }

    public static void main(String[] args) {
        if (args.length < 2) {
            throw new IllegalArgumentException("usage: PeerExport <prepared dataset dir> <output dir> [splits]");
        }
        String data = args[0];
        Path out = Path.of(args[1]);
        List<String> splits = List.of((args.length > 2 ? args[2] : "train,valid,test").split(","));
        SparkSession spark = SparkSession.builder().appName("chainrule peer export").getOrCreate();
        try {
            Manifest m = Manifest.read(data, spark.sparkContext().hadoopConfiguration());
            if (m.domain().isReal()) {
                throw new IllegalArgumentException(data + " holds real values; the peers read byte-valued data");
            }
            Files.createDirectories(out);
            for (String split : splits) {
                List<Example> rows = Shards.read(spark, data, split, m).sortBy(Example::rowId, true, 1).collect();
                try (OutputStream o = new BufferedOutputStream(Files.newOutputStream(out.resolve(split + ".u8")))) {
                    for (Example e : rows) {
                        o.write(e.x());
                    }
                }
                System.out.printf("PEER-EXPORT %s %d rows x %d values%n", split, rows.size(), m.dims());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            spark.stop();
        }
    }
}
