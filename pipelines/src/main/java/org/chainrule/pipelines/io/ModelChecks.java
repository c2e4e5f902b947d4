package org.chainrule.pipelines.io;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigRenderOptions;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.TrainingRecipe;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.samediff.AbstractSameDiffLayer;
import org.deeplearning4j.nn.conf.layers.samediff.SDLayerParams;

import java.util.Arrays;

/**
 * Checks on a saved model's two files before anything is allocated from them, so that a damaged or edited model fails
 * with a message naming the file instead of an {@code OutOfMemoryError} or a wrapped integer product: the sizes in
 * {@code model.json} must be representable, the network archive's configuration must declare no more parameters than
 * its coefficients hold, and the model {@code model.json} describes must have exactly the network's parameters, layer
 * by layer.
 */
final class ModelChecks {
    private ModelChecks() {
    }

    /** The spec of a model.json, or a clear failure naming it. */
    static ModelSpec spec(Config doc, String origin) {
        try {
            Config spec = doc.getConfig("spec");
            if (spec.hasPath("eventShape")) {
                long dims = 1;
                for (Number d : spec.getNumberList("eventShape")) {
                    if (!(d instanceof Integer || d instanceof Long) || d.longValue() < 1) {
                        throw new IllegalArgumentException(origin + ": eventShape " + spec.getValue("eventShape")
                                .render(ConfigRenderOptions.concise()) + " must hold positive whole sizes");
                    }
                    dims = Math.multiplyExact(dims, d.longValue());
                }
                if (dims > Integer.MAX_VALUE) {
                    throw new ArithmeticException();
                }
            }
            return ModelSpec.fromConfig(spec);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(origin + ": eventShape "
                    + doc.getValue("spec.eventShape").render(ConfigRenderOptions.concise()) + " has more dimensions than an event can (at most " + Integer.MAX_VALUE + ")");
        } catch (ConfigException | IllegalArgumentException | IllegalStateException e) {
            String m = e.getMessage();
            throw new IllegalArgumentException(m != null && m.startsWith(origin) ? m
                    : origin + ": not a model this build can read: " + m, e);
        }
    }

    /** Fails when a network archive's configuration declares more parameters than its coefficients hold. */
    static void checkArchive(String configurationJson, long coefficientBytes, String origin) {
        long[] declared = parameters(configuration(configurationJson, origin), origin + " (configuration.json)");
        long total = Arrays.stream(declared).sum();
        if (total > coefficientBytes / Float.BYTES) {
            throw new IllegalArgumentException(origin + ": configuration.json declares " + total + " parameters, but"
                    + " coefficients.bin holds " + coefficientBytes + " bytes (at most " + coefficientBytes / Float.BYTES
                    + " parameters): the archive is damaged or was edited");
        }
    }

    /** Fails unless the model a spec describes has exactly the stored network's parameters, layer by layer. */
    static void checkSpecFits(ModelSpec spec, MultiLayerConfiguration stored, String modelJson, String network) {
        long[] described;
        try {
            described = parameters(spec.trainingConfiguration(new TrainingRecipe(1e-3, 0)), modelJson);
        } catch (IllegalArgumentException | IllegalStateException | ArithmeticException e) {
            throw new IllegalArgumentException(modelJson + ": the " + spec.type() + " model it describes cannot be"
                    + " built: " + e.getMessage(), e);
        }
        long[] held = parameters(stored, network);
        if (!Arrays.equals(described, held)) {
            throw new IllegalArgumentException(modelJson + " describes a " + spec.type() + " model of shape "
                    + Arrays.toString(spec.eventShape()) + " with " + Arrays.stream(described).sum()
                    + " parameters (per layer " + Arrays.toString(described) + "), but " + network + " holds "
                    + Arrays.stream(held).sum() + " (" + Arrays.toString(held) + "): the two files do not belong"
                    + " together, or one was edited");
        }
    }

    private static MultiLayerConfiguration configuration(String json, String origin) {
        try {
            return MultiLayerConfiguration.fromJson(json);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(origin + ": unreadable configuration.json: " + e.getMessage(), e);
        }
    }

    /** Parameters per layer, counted from the configuration alone (nothing allocated), overflow checked. */
    static long[] parameters(MultiLayerConfiguration conf, String origin) {
        long[] out = new long[conf.getConfs().size()];
        try {
            for (int i = 0; i < out.length; i++) {
                NeuralNetConfiguration c = conf.getConf(i);
                Layer layer = c.getLayer();
                long n = 0;
                if (layer instanceof AbstractSameDiffLayer sd) {
                    // from the layer's own fields: the parameter shapes a configuration.json also stores need not
                    // agree with them, and the fields are what the layer builds its graph (and masks) from
                    SDLayerParams defined = new SDLayerParams();
                    sd.defineParameters(defined);
                    for (long[] shape : defined.getParamShapes().values()) {
                        long p = 1;
                        for (long d : shape) {
                            p = Math.multiplyExact(p, d);
                        }
                        n = Math.addExact(n, p);
                    }
                } else {
                    n = layer.initializer().numParams(c);
                }
                if (n < 0) {
                    throw new ArithmeticException();
                }
                out[i] = n;
            }
            Arrays.stream(out).reduce(0L, Math::addExact);
            return out;
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(origin + ": the layer sizes multiply to more parameters than can exist"
                    + " (a long overflows)", e);
        }
    }
}
