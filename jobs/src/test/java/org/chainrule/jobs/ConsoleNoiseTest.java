package org.chainrule.jobs;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;

class ConsoleNoiseTest {
    @Test
    void dropsOnlySameDiffsGradientLines() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ConsoleNoise out = new ConsoleNoise(bytes);
        out.println("12:00:01 [train] epoch 1/2 step 4/21");
        out.println("Added differentiated op matmul_1");
        out.println("Added differentiated op ExternalErrorsFn");
        out.println("an Added differentiated op line that does not start so");
        out.print("no newline");
        out.flush();
        assertEquals(String.join(System.lineSeparator(), "12:00:01 [train] epoch 1/2 step 4/21",
                "an Added differentiated op line that does not start so", "no newline"),
                bytes.toString(StandardCharsets.UTF_8));
    }
}
