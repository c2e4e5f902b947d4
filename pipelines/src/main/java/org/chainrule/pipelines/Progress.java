package org.chainrule.pipelines;

import java.time.Duration;

/** Progress lines for people watching a job: one prefix per pipeline, plain text on standard output. */
public final class Progress {
    private Progress() {
    }

    public static void say(String pipeline, String message) {
        System.out.println("[" + pipeline + "] " + message);
        System.out.flush();
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
