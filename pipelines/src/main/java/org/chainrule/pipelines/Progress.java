package org.chainrule.pipelines;

import org.slf4j.LoggerFactory;

import java.time.Duration;

/**
 * Progress lines for people watching a job, {@code [pipeline] message}, logged at INFO through the logger of the class
 * that says them (one logger per class, found from the caller). {@code conf/log4j2.properties} prints them plainly on
 * standard output; {@code --quiet} turns them off.
 */
public final class Progress {
    private static final StackWalker CALLER = StackWalker.getInstance(StackWalker.Option.RETAIN_CLASS_REFERENCE);

    private Progress() {
    }

    public static void say(String pipeline, String message) {
        LoggerFactory.getLogger(CALLER.getCallerClass()).info("[{}] {}", pipeline, message);
    }

    /** "1h02m", "4m05s", "12s". */
    public static String duration(double seconds) {
        if (!Double.isFinite(seconds) || seconds < 0) {
            return "?";
        }
        Duration d = Duration.ofSeconds(Math.round(seconds));
        if (d.toHours() > 0) {
            return String.format("%dh%02dm", d.toHours(), d.toMinutesPart());
        }
        if (d.toMinutes() > 0) {
            return String.format("%dm%02ds", d.toMinutes(), d.toSecondsPart());
        }
        return d.toSeconds() + "s";
    }
}
