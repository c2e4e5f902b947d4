package org.chainrule.jobs;

import java.util.List;

/** Every problem found in a job's configuration, reported together before any Spark work starts. */
public final class ConfigErrors extends RuntimeException {
    private final List<String> problems;

    public ConfigErrors(List<String> problems) {
        super(problems.size() + " configuration problem(s):\n  - " + String.join("\n  - ", problems));
        this.problems = List.copyOf(problems);
    }

    public List<String> problems() {
        return problems;
    }
}
