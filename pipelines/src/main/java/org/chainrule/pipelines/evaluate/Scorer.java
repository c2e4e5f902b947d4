package org.chainrule.pipelines.evaluate;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.broadcast.Broadcast;
import org.chainrule.models.DensityModel;
import org.chainrule.pipelines.data.Example;
import org.chainrule.pipelines.io.SavedModel;
import org.chainrule.pipelines.score.InBatches;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * Distributed exact log-likelihood: the model travels once per executor as a broadcast, each partition rebuilds it once
 * and scores its rows in large batches ({@link InBatches}, shared with the score pipeline), decoded into one buffer the
 * partition reuses.
 */
public final class Scorer {
    private Scorer() {
    }

    /** Log-likelihood of one row. */
    public record Scored(long rowId, double logProbNats) implements Serializable {
    }

    /** Per-row log p(x) in nats. */
    public static JavaRDD<Scored> score(JavaRDD<Example> data, Broadcast<SavedModel.Payload> model, int dims,
                                        int batchSize) {
        return data.mapPartitions(rows -> scorePartition(rows, model.value(), dims, batchSize));
    }

    private static Iterator<Scored> scorePartition(Iterator<Example> rows, SavedModel.Payload payload, int dims,
                                                   int batchSize) {
        if (!rows.hasNext()) {
            return java.util.Collections.emptyIterator();
        }
        DensityModel model = payload.density();
        INDArray buffer = Nd4j.create(DataType.FLOAT, batchSize, dims); // reused by every batch of the partition
        return InBatches.map(rows, batchSize, batch -> {
            double[] lp = model.logProb(payload.values(batch, dims, buffer), payload.context(batch))
                    .toDoubleVector();
            List<Scored> out = new ArrayList<>(lp.length);
            for (int i = 0; i < lp.length; i++) {
                out.add(new Scored(batch.get(i).rowId(), lp[i]));
            }
            return out;
        }, () -> { });
    }

    /** Mean negative log-likelihood (nats) of a dataset, and its standard error. */
    public static double[] meanNll(JavaRDD<Example> data, Broadcast<SavedModel.Payload> model, int dims, int batchSize) {
        org.apache.spark.util.StatCounter st = score(data, model, dims, batchSize)
                .mapToDouble(s -> -s.logProbNats()).stats();
        return new double[]{st.mean(), st.count() > 1 ? st.sampleStdev() / Math.sqrt(st.count()) : 0.0, st.count()};
    }
}
