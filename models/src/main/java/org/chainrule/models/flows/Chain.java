package org.chainrule.models.flows;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Transforms applied one after another: forward runs them in order and inverse in reverse, and the log-determinants
 * add (the chain rule for Jacobians). Parameters of step {@code i} are named {@code t<i><name>}: DL4J's updater reads
 * the text after the last underscore of a parameter key as the parameter, so flow parameter names hold letters and
 * digits only, and start with a letter, which keeps the prefix unambiguous.
 */
public final class Chain extends DescribedTransform {
    private static final long serialVersionUID = 1L;
    private final List<Transform> steps;

    public Chain(List<Transform> steps) {
        if (steps.isEmpty()) {
            throw new IllegalArgumentException("a chain needs at least one transform");
        }
        for (int i = 1; i < steps.size(); i++) {
            if (!Arrays.equals(steps.get(i - 1).outputShape(), steps.get(i).inputShape())) {
                throw new IllegalArgumentException("step " + i + " (" + steps.get(i).toMap().get("kind") + ") takes "
                        + Arrays.toString(steps.get(i).inputShape()) + " but step " + (i - 1) + " gives "
                        + Arrays.toString(steps.get(i - 1).outputShape()));
            }
        }
        for (Transform t : steps) {
            for (String name : t.parameterShapes().keySet()) {
                if (!name.matches("[A-Za-z][A-Za-z0-9]*")) {
                    throw new IllegalArgumentException("flow parameter name '" + name + "' of " + t.toMap().get("kind")
                            + " must be a letter followed by letters and digits");
                }
            }
        }
        this.steps = List.copyOf(steps);
    }

    public List<Transform> steps() {
        return steps;
    }

    static String prefix(int i) {
        return "t" + i;
    }

    /** The chain-level name of step {@code i}'s parameter {@code name}. */
    public static String parameterName(int i, String name) {
        return prefix(i) + name;
    }

    @Override
    public long[] inputShape() {
        return steps.get(0).inputShape();
    }

    @Override
    public long[] outputShape() {
        return steps.get(steps.size() - 1).outputShape();
    }

    @Override
    public Map<String, long[]> parameterShapes() {
        Map<String, long[]> all = new LinkedHashMap<>();
        for (int i = 0; i < steps.size(); i++) {
            for (Map.Entry<String, long[]> e : steps.get(i).parameterShapes().entrySet()) {
                all.put(prefix(i) + e.getKey(), e.getValue());
            }
        }
        return all;
    }

    @Override
    public void initialize(Map<String, INDArray> params, long seed) {
        for (int i = 0; i < steps.size(); i++) {
            steps.get(i).initialize(slice(params, i), org.chainrule.models.Seeds.derive(seed, i));
        }
    }

    @Override
    public void initializeFromData(Map<String, INDArray> params, INDArray x) {
        INDArray h = x;
        for (int i = 0; i < steps.size(); i++) {
            Map<String, INDArray> own = slice(params, i);
            steps.get(i).initializeFromData(own, h);
            if (i < steps.size() - 1) {
                h = Flows.forward(steps.get(i), own, h).value();
            }
        }
    }

    @Override
    public Flowed forward(SameDiff sd, SDVariable x, Map<String, SDVariable> params) {
        SDVariable h = x;
        SDVariable logDet = null;
        for (int i = 0; i < steps.size(); i++) {
            Flowed f = steps.get(i).forward(sd, h, slice(params, i));
            h = f.value();
            logDet = logDet == null ? f.logAbsDet() : logDet.add(f.logAbsDet());
        }
        return new Flowed(h, logDet);
    }

    @Override
    public Flowed inverse(SameDiff sd, SDVariable z, Map<String, SDVariable> params) {
        SDVariable h = z;
        SDVariable logDet = null;
        for (int i = steps.size() - 1; i >= 0; i--) {
            Flowed f = steps.get(i).inverse(sd, h, slice(params, i));
            h = f.value();
            logDet = logDet == null ? f.logAbsDet() : logDet.add(f.logAbsDet());
        }
        return new Flowed(h, logDet);
    }

    /** Step {@code i}'s own entries of a chain-level parameter map, under their unprefixed names. */
    private <V> Map<String, V> slice(Map<String, V> params, int i) {
        String p = prefix(i);
        Map<String, V> own = new LinkedHashMap<>();
        for (String name : steps.get(i).parameterShapes().keySet()) {
            V v = params.get(p + name);
            if (v == null) {
                throw new IllegalArgumentException("missing flow parameter " + p + name);
            }
            own.put(name, v);
        }
        return own;
    }

    @Override
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("kind", "chain");
        List<Object> list = new ArrayList<>();
        steps.forEach(s -> list.add(s.toMap()));
        m.put("steps", list);
        return m;
    }
}
