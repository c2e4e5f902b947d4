package org.chainrule.jobs;

import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.config.Configurator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How much a command prints: {@code --quiet} only warnings and errors, the default chainrule's progress lines (and
 * whatever the log4j2 configuration lets through from Spark: warnings, with {@code conf/log4j2.properties}),
 * {@code --verbose} also Spark's and DL4J's INFO messages and chainrule's DEBUG lines (each Spark phase as it starts).
 *
 * <p>Levels are set on the log4j2 loggers Spark ships with (slf4j's binding); under another binding the flags do
 * nothing but say so.
 */
enum Verbosity {
    QUIET, NORMAL, VERBOSE;

    private static final Logger LOG = LoggerFactory.getLogger(Verbosity.class);
    static final String CHAINRULE = "org.chainrule";

    /** The level the flags ask for; giving both is a usage error. */
    static Verbosity of(boolean quiet, boolean verbose) {
        if (quiet && verbose) {
            throw new ConfigErrors(java.util.List.of("--quiet and --verbose contradict each other; give one"));
        }
        return quiet ? QUIET : verbose ? VERBOSE : NORMAL;
    }

    /**
     * Sets the loggers' levels. Idempotent: called again once Spark is up, because Spark installs its own default
     * configuration (and so resets levels) when it finds no log4j2 configuration file.
     */
    void apply() {
        if (this == NORMAL) {
            return;
        }
        try {
            if (this == QUIET) {
                Configurator.setLevel(CHAINRULE, Level.WARN);
            } else {
                Configurator.setAllLevels(LogManager.ROOT_LOGGER_NAME, Level.INFO);
                Configurator.setLevel(CHAINRULE, Level.DEBUG);
            }
        } catch (LinkageError | ClassCastException e) {
            LOG.warn("--{} has no effect: slf4j is not bound to log4j2 here ({})", name().toLowerCase(), e);
        }
    }
}
