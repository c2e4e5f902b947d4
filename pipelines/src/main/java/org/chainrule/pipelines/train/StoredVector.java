package org.chainrule.pipelines.train;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * The file format of a checkpoint's per-parameter training state besides the optimizer's (the weight average, the
 * block momentum): the constant that defines it (a decay, a momentum) as a double, then the vector in ND4J's binary
 * format. Reading refuses a file made with another constant or for another parameter count, naming the file.
 */
final class StoredVector {
    private StoredVector() {
    }

    static byte[] toBytes(double constant, INDArray vector) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            DataOutputStream out = new DataOutputStream(bytes);
            out.writeDouble(constant);
            Nd4j.write(vector, out);
            out.flush();
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The vector stored by {@link #toBytes}, checked against the run's constant and parameter count.
     *
     * @param what   what the vector is, for messages ("weight average")
     * @param name   the constant's name, for messages ("decay")
     * @param origin the file, for messages
     */
    static INDArray fromBytes(byte[] bytes, String what, String name, double constant, long params, String origin) {
        INDArray vector;
        double stored;
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes))) {
            stored = in.readDouble();
            vector = Nd4j.read(in);
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException(origin + ": corrupt " + what + ": " + e.getMessage(), e);
        }
        if (stored != constant || vector.length() != params) {
            throw new IllegalArgumentException(origin + ": a " + what + " with " + name + " " + stored + " over "
                    + vector.length() + " parameters; the run has " + name + " " + constant + " and " + params
                    + " parameters");
        }
        return vector;
    }
}
