package org.chainrule.pipelines.io;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.chainrule.pipelines.Progress;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.List;

/**
 * The check every job makes on its output before any work, so that no job deletes or replaces what it must not:
 *
 * <ul>
 *   <li>the output is never one of the job's inputs, nor a directory above or below one (paths are compared after
 *       qualifying them: scheme, relative paths, {@code ..}, repeated and trailing slashes, and on the local
 *       filesystem symbolic links, are all resolved first);</li>
 *   <li>an existing output is replaced only with {@code --overwrite}, and only when it is empty or the same kind of
 *       artefact the job writes: never a dataset, model, run or other job's output, never a directory of other
 *       files, never a plain file;</li>
 *   <li>the output never lies inside a dataset, a model, or another job's output (it may lie inside a run:
 *       evaluations and samples live there by default).</li>
 * </ul>
 *
 * It also tidies what an earlier killed job left beside the output (see {@link Outputs#removeLeftovers}).
 */
public final class OutputGuard {
    private OutputGuard() {
    }

    /**
     * Checks that the job of {@code kind} may write it at {@code output}; returns true when an existing output will be
     * replaced (the caller then builds the new one at a staging path and commits it when complete), false when there
     * is nothing to keep (no output, or an empty directory).
     *
     * @param inputs every path the job reads (datasets, models, source files or directories)
     */
    public static boolean claim(String output, Artefact kind, List<String> inputs, boolean overwrite,
                                Configuration conf) {
        String job = kind.job();
        checkApartFromInputs(output, kind, inputs, conf);
        checkAncestors(output, job, conf);
        for (String line : Outputs.removeLeftovers(output, conf)) {
            Progress.say(job, "leftover of an interrupted job: " + line);
        }
        Artefact.Found found = Artefact.at(output, conf);
        switch (found.state()) {
            case ABSENT:
            case EMPTY:
                return false;
            case ARTEFACT:
                if (found.kind() != kind) {
                    throw new IllegalStateException(job + " output " + output + " holds " + found.describe()
                            + ", not " + kind.withArticle() + "; the " + job + " job never replaces it, even with"
                            + " --overwrite: choose another output");
                }
                if (!overwrite) {
                    throw new IllegalStateException("output " + output + " already exists; remove it or pass"
                            + " --overwrite" + (kind == Artefact.RUN ? " (or --resume to continue it)" : ""));
                }
                return true;
            default:
                throw new IllegalStateException(job + " output " + output + " holds " + found.describe() + "; the "
                        + job + " job replaces only " + kind.withArticle() + " or an empty directory, even with"
                        + " --overwrite: choose another output");
        }
    }

    /** Fails when {@code output} is one of {@code inputs}, or a directory above or below one of them. */
    public static void checkApartFromInputs(String output, Artefact kind, List<String> inputs, Configuration conf) {
        String out = canonical(output, conf);
        for (String input : inputs) {
            if (input == null || input.isBlank()) {
                continue;
            }
            String in = canonical(input, conf);
            String relation = out.equals(in) ? "is" : contains(out, in) ? "contains" : contains(in, out)
                    ? "lies inside" : null;
            if (relation != null) {
                throw new IllegalArgumentException(kind.job() + " output " + output + " " + relation + " its input "
                        + input + (relation.equals("is") ? "" : " (" + in + ")") + "; writing it would replace or"
                        + " change what the job reads: choose another output");
            }
        }
    }

    /** Fails when a directory above {@code output} is an artefact other than a run. */
    private static void checkAncestors(String output, String job, Configuration conf) {
        Path p = new Path(canonical(output, conf)).getParent();
        while (p != null) {
            Artefact.Found found;
            try {
                found = Artefact.at(p.toString(), conf);
            } catch (UncheckedIOException e) {
                // a directory this user may not look into (a cluster's / or /user): no output of ours is there
                p = p.getParent();
                continue;
            }
            if (found.state() == Artefact.State.ARTEFACT && found.kind() != Artefact.RUN) {
                throw new IllegalArgumentException(job + " output " + output + " lies inside " + p + ", which holds "
                        + found.describe() + "; an output may lie inside a run directory, not inside another"
                        + " artefact: choose another output");
            }
            p = p.getParent();
        }
    }

    /** Whether {@code dir} is a proper ancestor of {@code other} (both canonical). */
    static boolean contains(String dir, String other) {
        return other.startsWith(dir.endsWith("/") ? dir : dir + "/");
    }

    /**
     * The path as one string per location: qualified with the filesystem's scheme and working directory, dot segments,
     * repeated and trailing slashes removed; on the local filesystem, symbolic links of its existing part resolved.
     */
    public static String canonical(String path, Configuration conf) {
        Path p = new Path(path);
        Path q = Outputs.fs(path, conf).makeQualified(p);
        if (!"file".equals(q.toUri().getScheme())) {
            return q.toString();
        }
        java.nio.file.Path local = Paths.get(q.toUri()).normalize();
        java.nio.file.Path existing = local;
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        if (existing == null) {
            return q.toString();
        }
        try {
            java.nio.file.Path real = existing.toRealPath().resolve(existing.relativize(local));
            return new Path("file", null, real.toString()).toString();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot resolve " + path + ": " + e.getMessage(), e);
        }
    }
}
