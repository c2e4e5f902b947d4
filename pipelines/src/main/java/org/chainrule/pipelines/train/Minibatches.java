package org.chainrule.pipelines.train;

import org.chainrule.models.ModelSpec;
import org.chainrule.pipelines.data.Batches;
import org.chainrule.pipelines.data.Domain;
import org.chainrule.pipelines.data.Example;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns a minibatch of rows into the network's input: values standardized per the domain, the label context of a
 * conditional model, and the connectivity variant and step seed the epoch's schedule gives the minibatch's step.
 *
 * @param spec   the model
 * @param domain the data's encoding
 * @param dims   values per row
 */
record Minibatches(ModelSpec spec, Domain domain, int dims) implements Serializable {

    /**
     * The training DataSet of the minibatch {@code rows} at global step {@code step} of the epoch {@code order}: the
     * connectivity variant and the step's seed (dropout) come from the order, so any worker, retry or resume fits
     * exactly the same input.
     */
    DataSet of(List<Example> rows, EpochOrder order, long step) {
        List<Example> batch = rows;
        if (rows.size() == 1) {
            // ND4J's strided-slice backprop fails on a 1-row minibatch; two copies of the row have exactly the same
            // mean loss and gradient
            batch = new ArrayList<>(rows);
            batch.add(rows.get(0));
        }
        INDArray x = domain.standardize(Batches.matrix(batch, dims, domain.isReal()));
        INDArray context = spec.contextSize() == 0 ? null : Batches.oneHotLabels(batch, spec.contextSize());
        int variant = order.variant(step, spec.variantCount());
        return new DataSet(spec.trainingFeatures(x, context, variant, order.stepSeed(step)), spec.trainingLabels(x));
    }
}
