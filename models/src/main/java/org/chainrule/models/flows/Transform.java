package org.chainrule.models.flows;

import org.chainrule.models.Described;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Map;

/**
 * One invertible, differentiable map of a batch of events, the building block of a normalizing flow.
 *
 * <p>Both directions are written once, as SameDiff graphs over the transform's parameters: the training network
 * differentiates {@link #forward} (data to latent), the sampler runs {@link #inverse} (latent to data) with the same
 * parameter values, and {@link Flows#forward} / {@link Flows#inverse} run either on plain arrays. Each direction
 * returns its output and the per-example {@code log |det J|} of the map it computes, so
 * {@code forward(x).logAbsDet = -inverse(forward(x).value).logAbsDet}.
 *
 * <p>A tensor is {@code [batch, inputShape()...]}; parameters are named by {@link #parameterShapes()} and arrive in
 * the {@code params} map under those names (a {@link Chain} prefixes them). A parameter may also arrive with a leading
 * batch dimension instead of a leading 1 (amortised flows, whose parameters are computed per example); transforms
 * whose formulas broadcast say so.
 */
public interface Transform extends Described, java.io.Serializable {

    /** Shape of one input event, e.g. {@code [D]} or {@code [C, H, W]}. */
    long[] inputShape();

    /** Shape of one output event; the same as the input except for reshaping transforms (squeeze). */
    default long[] outputShape() {
        return inputShape();
    }

    /** Parameter names and shapes; an ordered map, empty for a fixed map. */
    Map<String, long[]> parameterShapes();

    /**
     * Initial parameter values (arrays of the shapes declared, already allocated): the map should start close to the
     * identity or at a known-stable point.
     */
    void initialize(Map<String, INDArray> params, long seed);

    /**
     * Data-dependent initialisation (Glow's actnorm): sets parameters from a batch of this transform's inputs before
     * training. Most transforms have none.
     */
    default void initializeFromData(Map<String, INDArray> params, INDArray x) {
    }

    /** x to z, with {@code log |det dz/dx|} per example ({@code [batch]}). */
    Flowed forward(SameDiff sd, SDVariable x, Map<String, SDVariable> params);

    /** z to x, with {@code log |det dx/dz|} per example ({@code [batch]}). */
    Flowed inverse(SameDiff sd, SDVariable z, Map<String, SDVariable> params);

    /** Description that {@link Transforms#fromMap} reads back; always has a {@code kind} key. */
    @Override
    Map<String, Object> toMap();

    /** A transformed tensor and the log-determinant of the map that produced it, per example. */
    record Flowed(SDVariable value, SDVariable logAbsDet) {
    }
}
