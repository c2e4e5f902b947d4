package org.chainrule.models.conditionals;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;

/** log(1 + exp(z)) as max(z, 0) + log(1 + exp(-|z|)): finite in float32 for any z, unlike the fused op. */
final class Softplus {
    private Softplus() {
    }

    static SDVariable stable(SameDiff sd, SDVariable z) {
        SDVariable tail = sd.math().log(sd.math().exp(sd.math().abs(z).neg()).add(1.0));
        return sd.nn().relu(z, 0).add(tail);
    }
}
