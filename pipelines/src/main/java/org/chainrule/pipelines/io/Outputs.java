package org.chainrule.pipelines.io;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.util.HadoopInputFile;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

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

    /**
     * The rows of a Parquet directory as its files' footers state them (no data read): the sum over its
     * {@code .parquet} files, hidden and {@code _}-prefixed names skipped as Spark's reader skips them.
     */
    public static long parquetRows(String dir, Configuration conf) {
        try {
            long rows = 0;
            for (FileStatus f : fs(dir, conf).listStatus(new Path(dir))) {
                String name = f.getPath().getName();
                if (f.isFile() && name.endsWith(".parquet") && !name.startsWith("_") && !name.startsWith(".")) {
                    try (ParquetFileReader r = ParquetFileReader.open(HadoopInputFile.fromStatus(f, conf))) {
                        rows += r.getRecordCount();
                    }
                }
            }
            return rows;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the Parquet footers of " + dir, e);
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
        return new Path(t.getParent(), "." + t.getName() + STAGING + UUID.randomUUID()).toString();
    }

    /**
     * Moves a finished staging path onto {@code target}, replacing what was there. The old target is first renamed to a
     * hidden {@code .name.previous-*} sibling and deleted only after the new one is in place, so at every instant
     * either the old or the new output exists under one of the two names; {@link #removeLeftovers} puts a previous
     * one back if a kill fell between the two renames.
     */
    public static void commit(String staging, String target, Configuration conf) {
        try {
            FileSystem fs = fs(target, conf);
            Path t = new Path(target);
            if (t.getParent() != null) {
                fs.mkdirs(t.getParent());
            }
            if (!fs.exists(t)) {
                if (!fs.rename(new Path(staging), t)) {
                    throw new IOException("rename " + staging + " -> " + target + " failed");
                }
                return;
            }
            Path previous = new Path(t.getParent(), "." + t.getName() + PREVIOUS + UUID.randomUUID());
            if (!fs.rename(t, previous)) {
                throw new IOException("cannot move the old " + target + " aside");
            }
            if (!fs.rename(new Path(staging), t)) {
                fs.rename(previous, t);
                throw new IOException("rename " + staging + " -> " + target + " failed; the old output is kept");
            }
            fs.delete(previous, true);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot commit output " + target + ": " + e.getMessage(), e);
        }
    }

    private static final String STAGING = ".staging-";
    private static final String PREVIOUS = ".previous-";
    /** {@code .NAME.staging-UUID} or {@code .NAME.previous-UUID}, and a local filesystem's {@code .crc} of either. */
    private static final Pattern LEFTOVER = Pattern.compile(
            "^\\.?\\.(.+)(\\.staging-|\\.previous-)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(\\.crc)?$");

    /**
     * Tidies what killed jobs left beside {@code target}: staging paths are deleted; an old output moved aside by an
     * interrupted {@link #commit} is moved back when {@code target} itself is missing, and deleted otherwise. Returns
     * the leftovers removed or restored (for the log).
     */
    public static List<String> removeLeftovers(String target, Configuration conf) {
        Path t = new Path(target);
        return t.getParent() == null ? List.of() : tidy(t.getParent(), t.getName(), conf);
    }

    /** {@link #removeLeftovers} for every output directly inside {@code dir} (a run directory on resume). */
    public static List<String> removeLeftoversInside(String dir, Configuration conf) {
        return tidy(new Path(dir), null, conf);
    }

    private static List<String> tidy(Path dir, String onlyName, Configuration conf) {
        List<String> done = new ArrayList<>();
        try {
            FileSystem fs = fs(dir.toString(), conf);
            if (!fs.isDirectory(dir)) {
                return done;
            }
            Map<String, List<FileStatus>> previous = new TreeMap<>();
            for (FileStatus st : fs.listStatus(dir)) {
                Matcher m = LEFTOVER.matcher(st.getPath().getName());
                if (!m.matches() || onlyName != null && !m.group(1).equals(onlyName)) {
                    continue;
                }
                if (m.group(2).equals(PREVIOUS) && m.group(3) == null) {
                    previous.computeIfAbsent(m.group(1), k -> new ArrayList<>()).add(st);
                } else if (fs.delete(st.getPath(), true)) {
                    done.add("removed " + st.getPath());
                }
            }
            for (Map.Entry<String, List<FileStatus>> e : previous.entrySet()) {
                Path target = new Path(dir, e.getKey());
                List<FileStatus> old = new ArrayList<>(e.getValue());
                old.sort(Comparator.comparingLong(FileStatus::getModificationTime).reversed());
                if (!fs.exists(target) && fs.rename(old.get(0).getPath(), target)) {
                    done.add("restored " + target + " from an interrupted replacement");
                    old.remove(0);
                }
                for (FileStatus st : old) {
                    if (fs.delete(st.getPath(), true)) {
                        done.add("removed " + st.getPath());
                    }
                }
            }
            return done;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot tidy leftovers in " + dir + ": " + e.getMessage(), e);
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
