package org.chainrule.pipelines.io;

import com.typesafe.config.Config;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The kinds of directory the jobs write, each recognisable on disk, so that a job can tell its own kind of output
 * (which {@code --overwrite} may replace) from anything else (which it never touches).
 *
 * <p>Every artefact directory holds a marker file {@link #MARKER} naming its kind. Directories written before the
 * marker existed are recognised by the files their job always wrote ({@link #signature}). The marker's name starts
 * with an underscore, which Spark and Hadoop skip when a directory is read as a table.
 */
public enum Artefact {
    /** A prepared dataset: Parquet shards per split and {@code manifest.json} (the prepare job). */
    DATASET("dataset", "a dataset", "prepare", List.of("manifest.json")),
    /** A training run: {@code checkpoint/}, {@code model/}, metrics and curve (the train job). */
    RUN("run", "a run", "train", List.of("checkpoint", "train-summary.json", "metrics.parquet")),
    /** A saved model: {@code model.json} and {@code network.zip} (a run's {@code model/} or {@code checkpoint/}). */
    MODEL("model", "a model", "train", List.of("model.json")),
    /** Per-row scores of a split and {@code summary.json} (the evaluate job). */
    EVALUATION("evaluation", "an evaluation", "evaluate", List.of("scores.parquet")),
    /** Drawn samples, their picture and summary (the sample job). */
    SAMPLES("samples", "samples", "sample", List.of("samples.parquet")),
    /** A latent interpolation strip (the interpolate job). */
    INTERPOLATION("interpolation", "an interpolation", "interpolate", List.of("interpolation.parquet")),
    /** Scored user rows (the score job); recognised by its marker only. */
    SCORES("scores", "scores", "score", List.of());

    /** The marker file every artefact directory holds. */
    public static final String MARKER = "_chainrule.json";

    private final String label;
    private final String phrase;
    private final String job;
    private final List<String> signature;

    Artefact(String label, String phrase, String job, List<String> signature) {
        this.label = label;
        this.phrase = phrase;
        this.job = job;
        this.signature = signature;
    }

    /** The kind as people and the marker name it: {@code dataset}, {@code run}, ... */
    public String label() {
        return label;
    }

    /** The job that writes this kind. */
    public String job() {
        return job;
    }

    /** "a dataset", "an evaluation", "samples". */
    public String withArticle() {
        return phrase;
    }

    /** Writes the marker into {@code dir} (a staging directory about to be committed, or a run being trained). */
    public void mark(String dir, Configuration conf) {
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("artefact", label);
        doc.put("writtenBy", "chainrule " + job);
        doc.put("format", 1);
        Outputs.writeText(dir + "/" + MARKER, Json.render(doc), conf);
    }

    /** What a path holds, as far as an output check needs to know. */
    public enum State { ABSENT, FILE, EMPTY, ARTEFACT, FOREIGN }

    /**
     * What was found at a path.
     *
     * @param state  absent, a plain file, an empty directory, an artefact, or a directory of other files
     * @param kind   the artefact's kind when {@code state == ARTEFACT}, else null
     * @param detail for a foreign directory, a few of its entries (for the message)
     */
    public record Found(State state, Artefact kind, String detail) {
        /** "a dataset", "an empty directory", "a file", "other files (a.txt, b/)". */
        public String describe() {
            return switch (state) {
                case ABSENT -> "nothing";
                case FILE -> "a file";
                case EMPTY -> "an empty directory";
                case ARTEFACT -> kind.withArticle() + " (written by the " + kind.job + " job)";
                case FOREIGN -> "files that are not a chainrule output (" + detail + ")";
            };
        }
    }

    /** Looks at {@code path}: its marker, else the files that identify an artefact written before markers. */
    public static Found at(String path, Configuration conf) {
        try {
            FileSystem fs = Outputs.fs(path, conf);
            Path p = new Path(path);
            if (!fs.exists(p)) {
                return new Found(State.ABSENT, null, null);
            }
            if (!fs.getFileStatus(p).isDirectory()) {
                return new Found(State.FILE, null, null);
            }
            Artefact kind = recognise(fs, p, conf);
            if (kind != null) {
                return new Found(State.ARTEFACT, kind, null);
            }
            FileStatus[] entries = fs.listStatus(p);
            java.util.Arrays.sort(entries, java.util.Comparator.comparing(st -> st.getPath().getName()));
            if (entries.length == 0) {
                return new Found(State.EMPTY, null, null);
            }
            StringBuilder some = new StringBuilder();
            for (int i = 0; i < Math.min(3, entries.length); i++) {
                some.append(i > 0 ? ", " : "").append(entries[i].getPath().getName())
                        .append(entries[i].isDirectory() ? "/" : "");
            }
            return new Found(State.FOREIGN, null, some + (entries.length > 3 ? ", ..." : ""));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot inspect " + path + ": " + e.getMessage(), e);
        }
    }

    /** The kind of an existing directory, or null when it is no artefact. */
    private static Artefact recognise(FileSystem fs, Path dir, Configuration conf) throws IOException {
        Path marker = new Path(dir, MARKER);
        if (fs.exists(marker)) {
            Config doc = Json.parse(Outputs.readText(marker.toString(), conf), marker.toString());
            String label = doc.hasPath("artefact") ? doc.getString("artefact") : "";
            for (Artefact a : values()) {
                if (a.label.equals(label)) {
                    return a;
                }
            }
            throw new IllegalArgumentException(marker + " names an artefact kind this build does not know: '" + label
                    + "'; refusing to touch " + dir);
        }
        for (Artefact a : values()) {
            for (String file : a.signature) {
                if (fs.exists(new Path(dir, file))) {
                    return a;
                }
            }
        }
        return null;
    }
}
