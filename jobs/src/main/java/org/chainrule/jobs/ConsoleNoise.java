package org.chainrule.jobs;

import java.io.OutputStream;
import java.io.PrintStream;

/**
 * Keeps the console readable: ND4J 1.0.0-M2.1's SameDiff prints {@code Added differentiated op <name>} with
 * {@code System.out.println}, once per op whenever a SameDiff layer builds its gradient (every task of every averaging
 * round), some twenty lines per progress line in local mode. Standard output wrapped in this drops exactly those lines
 * and passes everything else through. Jobs install it unless {@code --verbose}.
 */
final class ConsoleNoise extends PrintStream {
    static final String SAMEDIFF_GRADIENT_LINE = "Added differentiated op ";

    ConsoleNoise(OutputStream out) {
        super(out, true);
    }

    /** Wraps {@link System#out} (once). */
    static synchronized void filterStandardOutput() {
        if (!(System.out instanceof ConsoleNoise)) {
            System.setOut(new ConsoleNoise(System.out));
        }
    }

    @Override
    public void println(String line) {
        if (line == null || !line.startsWith(SAMEDIFF_GRADIENT_LINE)) {
            super.println(line);
        }
    }
}
