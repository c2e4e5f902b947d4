package org.chainrule.pipelines.data;

import com.typesafe.config.Config;
import org.chainrule.models.DataInfo;
import org.chainrule.models.DensityModel;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.Standardized;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.Serializable;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What the values of a prepared dataset are, as a model trained on it must know them: the value type, the number of
 * levels of discrete data, the number of label classes (for class-conditional models), the per-column standardization
 * of real-valued data, and the character vocabulary of text. Written in the dataset manifest and copied into every
 * model trained on it, so scoring or sampling later applies exactly the same encoding.
 *
 * @param valueType  {@code binary} (0/1), {@code uint8} (integers 0..levels-1) or {@code real} (float32)
 * @param levels     values per dimension of discrete data (2 for binary); 0 for real
 * @param classes    1 + the largest label in the training split; 0 when the data has no labels
 * @param mean       real data: per-column training mean (null otherwise)
 * @param std        real data: per-column training standard deviation (1 for a constant column; null otherwise)
 * @param vocabulary text data: the characters, index i standing for value i (null otherwise)
 * @param binarization integer data (not text): how raw values 0..max-value became the stored ones; null for real data,
 *                     text, and datasets or models written before it was recorded (their values are taken as stored)
 */
public record Domain(String valueType, int levels, int classes, double[] mean, double[] std, String vocabulary,
                     Binarization binarization) implements Serializable {
    public static final List<String> VALUE_TYPES = List.of("binary", "uint8", "real");

    public Domain {
        if (!VALUE_TYPES.contains(valueType)) {
            throw new IllegalArgumentException("value type must be one of " + VALUE_TYPES + ", got " + valueType);
        }
        if ((mean == null) != (std == null) || mean != null && mean.length != std.length) {
            throw new IllegalArgumentException("standardization needs a mean and a std per column");
        }
    }

    /** A domain without a recorded binarization rule. */
    public Domain(String valueType, int levels, int classes, double[] mean, double[] std, String vocabulary) {
        this(valueType, levels, classes, mean, std, vocabulary, null);
    }

    /** The same domain with the given binarization rule. */
    public Domain withBinarization(Binarization rule) {
        return new Domain(valueType, levels, classes, mean, std, vocabulary, rule);
    }

    /** The domain a spec implies by itself: its value type and levels, no labels, standardization or vocabulary. */
    public static Domain of(ModelSpec spec) {
        return new Domain(spec.valueType(), spec.levels(), 0, null, null, null);
    }

    /** What a model family needs to know of data of this domain with events of {@code eventShape}. */
    public DataInfo dataInfo(long[] eventShape) {
        return new DataInfo(eventShape, valueType, levels, classes, vocabulary != null);
    }

    /** Bytes one value takes in a shard's {@code x} column: 4 (float32, little-endian) for real data, else 1. */
    public int bytesPerValue() {
        return valueType.equals("real") ? 4 : 1;
    }

    public boolean isReal() {
        return valueType.equals("real");
    }

    /**
     * The density of the data in its original units: for standardized real data, the model's density of the
     * standardized values composed with the scaling (log-likelihood minus sum_d log std_d), so scores, samples and
     * likelihoods all speak of the data as the user gave it.
     */
    public DensityModel originalUnits(DensityModel standardizedModel) {
        return mean == null ? standardizedModel : new Standardized(standardizedModel, mean, std);
    }

    /** (x - mean) / std per column for standardized real data; x itself otherwise. */
    public INDArray standardize(INDArray x) {
        if (mean == null) {
            return x;
        }
        INDArray m = Nd4j.createFromArray(mean).castTo(x.dataType()).reshape(1, mean.length);
        INDArray s = Nd4j.createFromArray(std).castTo(x.dataType()).reshape(1, std.length);
        return x.subRowVector(m).divRowVector(s);
    }

    /** One phrase for summaries: what the numbers are a likelihood of. */
    public String unitsDescription() {
        return switch (valueType) {
            case "real" -> "nats per example, exact log-density of the real values in their original units (the"
                    + " per-column standardization's Jacobian, -sum log std, is included)";
            case "uint8" -> vocabulary != null
                    ? "nats per sequence, exact log-probability of the characters (bits/dim is bits per character)"
                    : "nats per example, exact log-probability of the integer values 0.." + (levels - 1);
            default -> "nats per example, exact log-probability of the binary data as stored";
        };
    }

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("valueType", valueType);
        m.put("levels", levels);
        m.put("classes", classes);
        if (mean != null) {
            m.put("mean", Arrays.stream(mean).boxed().toList());
            m.put("std", Arrays.stream(std).boxed().toList());
        }
        if (vocabulary != null) {
            m.put("vocabulary", vocabulary);
        }
        if (binarization != null) {
            m.put("binarize", binarization.mode());
            m.put("maxValue", binarization.maxValue());
        }
        return m;
    }

    /** Reads {@link #toMap()}; {@code fallbackLevels} serves files written before levels were recorded. */
    public static Domain fromConfig(Config c, int fallbackLevels) {
        String type = c.getString("valueType");
        int levels = c.hasPath("levels") ? c.getInt("levels") : fallbackLevels;
        int classes = c.hasPath("classes") ? c.getInt("classes") : 0;
        double[] mean = c.hasPath("mean") ? c.getDoubleList("mean").stream().mapToDouble(Double::doubleValue).toArray()
                : null;
        double[] std = c.hasPath("std") ? c.getDoubleList("std").stream().mapToDouble(Double::doubleValue).toArray()
                : null;
        Binarization rule = c.hasPath("binarize") && c.hasPath("maxValue")
                ? new Binarization(c.getString("binarize"), c.getDouble("maxValue")) : null;
        return new Domain(type, levels, classes, mean, std, c.hasPath("vocabulary") ? c.getString("vocabulary") : null,
                rule);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Domain d && valueType.equals(d.valueType) && levels == d.levels && classes == d.classes
                && Arrays.equals(mean, d.mean) && Arrays.equals(std, d.std)
                && Objects.equals(vocabulary, d.vocabulary) && Objects.equals(binarization, d.binarization);
    }

    @Override
    public int hashCode() {
        return toMap().hashCode();
    }
}
