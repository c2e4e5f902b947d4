package org.chainrule.pipelines.io;

import com.typesafe.config.Config;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.FileUtil;
import org.apache.hadoop.fs.Path;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The version history of a run's model: every finished train run adds its model as {@code models/vN} (N = 1, 2, ...),
 * and {@code model/} is a complete copy of the current version, so every reader of {@code <run>/model} (evaluate,
 * score, sample, {@code --init-from}) works unchanged on any Hadoop filesystem: no pointer files, no symbolic links.
 *
 * <p>Each version directory is a saved model ({@code network.zip}, {@code model.json} with its provenance) plus
 * {@link #VERSION_FILE}: its number, when it was recorded, and the inputs it was made from (what {@code --if-changed}
 * compares). {@code model/} carries the same file, so {@code model/version.json} says which version is current; a
 * {@code model/} without it is a run's best-so-far model that no finished run has recorded yet.
 *
 * <p>Every step is a staged copy renamed into place ({@link Outputs#staged}): a kill leaves the history and
 * {@code model/} as they were, or with the new version added and {@code model/} still the best-so-far copy, which the
 * next record of the same run recognises (identical {@code model.json}) instead of adding it twice.
 */
public final class ModelVersions {
    /** The directory of versions inside a run. */
    public static final String DIR = "models";
    /** The current model inside a run. */
    public static final String CURRENT = "model";
    /** The file naming a version and its inputs, in each version directory and in {@code model/}. */
    public static final String VERSION_FILE = "version.json";
    private static final Pattern NAME = Pattern.compile("v([1-9][0-9]*)");

    private ModelVersions() {
    }

    /**
     * One recorded version.
     *
     * @param number the N of {@code vN}
     * @param path   its directory
     * @param info   its {@link #VERSION_FILE}: version, recorded (time), inputs, and what the run reported
     */
    public record Version(int number, String path, Map<String, Object> info) {
        /** {@code vN}. */
        public String name() {
            return "v" + number;
        }
    }

    /** The versions of a run, oldest first (none for a run from before version history). */
    public static List<Version> list(String run, Configuration conf) {
        Path dir = new Path(run, DIR);
        FileSystem fs = Outputs.fs(run, conf);
        List<Version> out = new ArrayList<>();
        try {
            if (!fs.isDirectory(dir)) {
                return out;
            }
            for (FileStatus st : fs.listStatus(dir)) {
                Matcher m = NAME.matcher(st.getPath().getName());
                if (st.isDirectory() && m.matches() && fs.exists(new Path(st.getPath(), VERSION_FILE))) {
                    String path = st.getPath().toString();
                    out.add(new Version(Integer.parseInt(m.group(1)), path, info(path, conf)));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the model versions in " + dir + ": " + e.getMessage(), e);
        }
        out.sort(Comparator.comparingInt(Version::number));
        return out;
    }

    /** The version {@code model/} currently is, or null when it is none (no model, or not recorded yet). */
    public static Map<String, Object> current(String run, Configuration conf) {
        return versionOf(run + "/" + CURRENT, conf);
    }

    /** The {@link #VERSION_FILE} of a model directory (a version, or a run's {@code model/}), or null. */
    public static Map<String, Object> versionOf(String modelDir, Configuration conf) {
        String file = modelDir + "/" + VERSION_FILE;
        return Outputs.exists(file, conf) ? info(modelDir, conf) : null;
    }

    private static Map<String, Object> info(String dir, Configuration conf) {
        String file = dir + "/" + VERSION_FILE;
        Config c = Json.parse(Outputs.readText(file, conf), file);
        return new LinkedHashMap<>(c.root().unwrapped());
    }

    /**
     * Records {@code run/model} as the run's next version and makes {@code model/} that version's copy; returns its
     * name. Nothing is added when {@code model/} already is a recorded version (a finished run resumed without a
     * better epoch).
     *
     * @param run      the run directory being finished (the output itself, or the staging path of a replacement)
     * @param previous the run this one replaces, whose history it carries on (its versions are copied, and a
     *                 {@code model/} from before version history becomes v1), or null
     * @param info     what to record with the version: inputs, the run's summary figures
     * @param keep     versions to keep, newest first, beside the current one (0 = all)
     */
    public static String record(String run, String previous, Map<String, Object> info, int keep, Configuration conf) {
        String model = run + "/" + CURRENT;
        if (!Outputs.exists(model + "/" + SavedModel.DESCRIPTION, conf)) {
            throw new IllegalStateException("no model to record in " + run);
        }
        Outputs.removeLeftoversInside(run + "/" + DIR, conf);
        if (previous != null) {
            carryHistory(previous, run, keep, conf);
        }
        Map<String, Object> now = current(run, conf);
        if (now != null) {
            return "v" + now.get("version");
        }
        List<Version> versions = list(run, conf);
        String description = Outputs.readText(model + "/" + SavedModel.DESCRIPTION, conf);
        Version last = versions.isEmpty() ? null : versions.get(versions.size() - 1);
        if (last == null || !description.equals(Outputs.readText(last.path() + "/" + SavedModel.DESCRIPTION, conf))) {
            int number = last == null ? 1 : last.number() + 1;
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("version", number);
            doc.put("recorded", java.time.Instant.now().toString());
            doc.putAll(info);
            String target = run + "/" + DIR + "/v" + number;
            Outputs.staged(target, conf, staging -> {
                copy(model, staging, conf);
                Outputs.writeText(staging + "/" + VERSION_FILE, Json.render(doc), conf);
                return null;
            });
            last = new Version(number, target, doc);
        }
        // else: a kill fell between recording the version and replacing model/; it is that version
        String version = last.path();
        Outputs.staged(model, conf, staging -> {
            copy(version, staging, conf);
            return null;
        });
        prune(run, keep, last.number(), conf);
        return last.name();
    }

    /**
     * Makes an earlier (or later) version current: {@code model/} becomes a copy of {@code models/<version>}, in one
     * rename. The run's checkpoint, metrics and other versions stay as they are.
     */
    public static Version rollback(String run, String version, Configuration conf) {
        Version target = list(run, conf).stream().filter(v -> v.name().equals(version)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("run " + run + " has no model version '" + version
                        + "'; it has " + names(run, conf)));
        Outputs.removeLeftovers(run + "/" + CURRENT, conf);
        Outputs.staged(run + "/" + CURRENT, conf, staging -> {
            copy(target.path(), staging, conf);
            return null;
        });
        return target;
    }

    /** "[v1, v2, v3]", or "no versions". */
    private static String names(String run, Configuration conf) {
        List<String> names = list(run, conf).stream().map(Version::name).toList();
        return names.isEmpty() ? "no versions (it was trained before model versions were kept)" : names.toString();
    }

    /**
     * Copies the history of {@code from} into {@code to/models} (the newest {@code keep - 1}, when {@code keep > 0}:
     * the new version makes {@code keep}), or its unversioned {@code model/} as v1.
     */
    private static void carryHistory(String from, String to, int keep, Configuration conf) {
        List<Version> old = list(from, conf);
        List<Version> kept = keep > 0 ? old.subList(Math.max(0, old.size() - (keep - 1)), old.size()) : old;
        for (Version v : kept) {
            copy(v.path(), to + "/" + DIR + "/" + v.name(), conf);
        }
        String oldModel = from + "/" + CURRENT;
        if (old.isEmpty() && Outputs.exists(oldModel + "/" + SavedModel.DESCRIPTION, conf)) {
            String v1 = to + "/" + DIR + "/v1";
            copy(oldModel, v1, conf);
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("version", 1);
            doc.put("recorded", java.time.Instant.now().toString());
            doc.put("note", "the model of " + from + ", trained before model versions were kept");
            Outputs.writeText(v1 + "/" + VERSION_FILE, Json.render(doc), conf);
        }
    }

    /** Deletes the oldest versions beyond {@code keep}, never the current one. */
    private static void prune(String run, int keep, int current, Configuration conf) {
        if (keep <= 0) {
            return;
        }
        List<Version> versions = list(run, conf);
        for (int i = 0; i < versions.size() - keep; i++) {
            if (versions.get(i).number() != current) {
                Outputs.deleteQuietly(versions.get(i).path(), conf);
            }
        }
    }

    /** Copies the files of a directory tree on one filesystem (into a path that does not exist yet). */
    private static void copy(String from, String to, Configuration conf) {
        FileSystem fs = Outputs.fs(from, conf);
        try {
            if (!FileUtil.copy(fs, new Path(from), fs, new Path(to), false, conf)) {
                throw new IOException("copy reported failure");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot copy " + from + " to " + to + ": " + e.getMessage(), e);
        }
    }
}
