package org.chainrule.pipelines;

import org.chainrule.pipelines.data.Holdout;
import org.apache.spark.sql.SparkSession;
import org.chainrule.pipelines.data.Encoding;
import org.chainrule.pipelines.data.Prepare;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/** One local Spark session shared by the pipeline tests of a JVM, and the MNIST slice shipped with the tests. */
public final class SparkTesting {
    private static SparkSession spark;

    private SparkTesting() {
    }

    public static synchronized SparkSession spark() {
        if (spark == null) {
            spark = SparkSession.builder().appName("chainrule-tests")
                    .master(System.getProperty("spark.master", "local[2]"))
                    .config("spark.ui.enabled", "false")
                    .config("spark.sql.shuffle.partitions", "4")
                    .config("spark.driver.host", "127.0.0.1")
                    .getOrCreate();
        }
        return spark;
    }

    /** Copies the MNIST slice (1200 train / 300 test images, gzipped idx) from test resources into {@code dir}. */
    public static Path mnistSlice(Path dir) {
        try {
            Files.createDirectories(dir);
            for (String f : List.of("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                    "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")) {
                try (InputStream in = SparkTesting.class.getResourceAsStream("/mnist-slice/" + f)) {
                    Files.copy(in, dir.resolve(f));
                }
            }
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A copy of the directory tree {@code from} at {@code to} (which must not exist); returns {@code to}. */
    public static Path copyTree(String from, Path to) {
        try (Stream<Path> files = Files.walk(Path.of(from))) {
            for (Path f : files.toList()) {
                Path target = to.resolve(Path.of(from).relativize(f).toString());
                if (Files.isDirectory(f)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(f, target);
                }
            }
            return to;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Every file under {@code dir} (relative path) with a SHA-256 digest of its bytes: to show a directory unchanged. */
    public static Map<String, String> fileDigests(String dir) {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> files = Files.walk(Path.of(dir))) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                out.put(Path.of(dir).relativize(f).toString(), HexFormat.of().formatHex(
                        MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(f))));
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Prepare settings for the slice: stochastic binarization, {@code validation} rows of train held out. */
    public static Prepare.Settings sliceSettings(Path raw, String output, long limit, long validation) {
        return Prepare.Settings.builder("idx", List.of(raw.resolve("train-images-idx3-ubyte.gz").toString()))
                .trainLabels(List.of(raw.resolve("train-labels-idx1-ubyte.gz").toString()))
                .test(List.of(raw.resolve("t10k-images-idx3-ubyte.gz").toString()))
                .testLabels(List.of(raw.resolve("t10k-labels-idx1-ubyte.gz").toString()))
                .output(output).shape(28, 28).holdout(Holdout.tail(validation)).limit(limit)
                .encoding(new Encoding(784, 255, "stochastic", 1)).shards(3).build();
    }
}
