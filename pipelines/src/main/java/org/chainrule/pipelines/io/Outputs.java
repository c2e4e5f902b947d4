package org.chainrule.pipelines.io;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.UUID;

/**
 * Files and directories on any Hadoop filesystem, written so that readers see them complete or not at all: content
 * goes to a hidden staging path beside the target and is renamed into place at the end.
 */
public final class Outputs {
    private Outputs() {
    }

    public static FileSystem fs(String path, Configuration conf) {
        try {
            return new Path(path).getFileSystem(conf);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the filesystem of " + path, e);
        }
    }

    public static boolean exists(String path, Configuration conf) {
        try {
            return fs(path, conf).exists(new Path(path));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot check " + path, e);
        }
    }

    /** A fresh staging path next to {@code target} (same filesystem and directory, so the final rename is cheap). */
    public static String stagingPath(String target) {
        Path t = new Path(target);
        return new Path(t.getParent(), "." + t.getName() + ".staging-" + UUID.randomUUID()).toString();
    }

    /**
     * Fails unless {@code target} is absent, or present and {@code overwrite} (then deletes it). Called before any work,
     * so a job never runs for an hour and then refuses to write.
     */
    public static void checkTarget(String target, boolean overwrite, Configuration conf) {
        try {
            FileSystem fs = fs(target, conf);
            Path t = new Path(target);
            if (fs.exists(t)) {
                if (!overwrite) {
                    throw new IllegalStateException("output " + target + " already exists; remove it or pass --overwrite");
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot check output " + target, e);
        }
    }

    /** Moves a finished staging path onto {@code target}, replacing what was there. */
    public static void commit(String staging, String target, Configuration conf) {
        try {
            FileSystem fs = fs(target, conf);
            Path t = new Path(target);
            if (fs.exists(t) && !fs.delete(t, true)) {
                throw new IOException("cannot delete old " + target);
            }
            if (t.getParent() != null) {
                fs.mkdirs(t.getParent());
            }
            if (!fs.rename(new Path(staging), t)) {
                throw new IOException("rename " + staging + " -> " + target + " failed");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot commit output " + target, e);
        }
    }

    /**
     * Builds an output at a staging path and moves it onto {@code target} only when {@code body} returns; if it throws,
     * the staging path is removed and {@code target} is left as it was.
     */
    public static <T> T staged(String target, Configuration conf, java.util.function.Function<String, T> body) {
        String staging = stagingPath(target);
        try {
            T result = body.apply(staging);
            commit(staging, target, conf);
            return result;
        } catch (RuntimeException e) {
            deleteQuietly(staging, conf);
            throw e;
        }
    }

    /** Deletes a path if present (staging leftovers after a failure). */
    public static void deleteQuietly(String path, Configuration conf) {
        try {
            fs(path, conf).delete(new Path(path), true);
        } catch (IOException | RuntimeException ignored) {
            // best effort: a leftover hidden staging directory is harmless
        }
    }

    public static void writeBytes(String path, byte[] bytes, Configuration conf) {
        try (FSDataOutputStream out = fs(path, conf).create(new Path(path), true)) {
            out.write(bytes);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + path, e);
        }
    }

    public static void writeText(String path, String text, Configuration conf) {
        writeBytes(path, text.getBytes(StandardCharsets.UTF_8), conf);
    }

    /** Writes a small file atomically: to a staging name, then renamed over the target. */
    public static void writeBytesAtomically(String path, byte[] bytes, Configuration conf) {
        staged(path, conf, staging -> {
            writeBytes(staging, bytes, conf);
            return null;
        });
    }

    public static byte[] readBytes(String path, Configuration conf) {
        try (FSDataInputStream in = fs(path, conf).open(new Path(path))) {
            return in.readAllBytes();
        } catch (java.io.FileNotFoundException e) {
            throw new IllegalArgumentException("file not found: " + path, e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + path, e);
        }
    }

    public static String readText(String path, Configuration conf) {
        return new String(readBytes(path, conf), StandardCharsets.UTF_8);
    }
}
