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
 * conditional model, and the connectivity variant the epoch's schedule gives the minibatch's step.
 *
 * @param spec   the model
 * @param domain the data's encoding
 * @param dims   values per row
 */
record Minibatches(ModelSpec spec, Domain domain, int dims) implements Serializable {

    /** The training DataSet of {@code rows} fitted with connectivity variant {@code variant}. */
    DataSet of(List<Example> rows, int variant) {
        List<Example> batch = rows;
        if (rows.size() == 1) {
            // ND4J's strided-slice backprop fails on a 1-row minibatch; two copies of the row have exactly the same
            // mean loss and gradient
            batch = new ArrayList<>(rows);
            batch.add(rows.get(0));
        }
        INDArray x = domain.standardize(Batches.matrix(batch, dims, domain.isReal()));
        INDArray context = spec.contextSize() == 0 ? null : Batches.oneHotLabels(batch, spec.contextSize());
        return new DataSet(spec.trainingFeatures(x, context, variant), spec.trainingLabels(x));
    }
}
