package org.chainrule.pipelines.score;

import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.chainrule.models.DensityModel;
import org.chainrule.models.Units;
import org.chainrule.pipelines.data.Batches;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;

/**
 * Scores the rows of one partition in batches: each row's values are read and checked into one float matrix per
 * batch, the density runs once on the rows that can be scored, and every input row comes out, in order, as its kept
 * columns followed by {@code log_prob_nats, nll_nats, bits_per_dim, score_error} (the scores null and the error set
 * when the row was refused).
 */
final class RowScorer implements MapPartitionsFunction<Row, Row> {
    private final Broadcast<ScoringModel> model;
    private final FeatureColumns features;
    private final ValueRule rule;
    private final int valuesOrdinal;
    private final int labelOrdinal;
    private final int[] kept;
    private final int batchSize;

    /**
     * @param valuesOrdinal the column of {@link FeatureColumns#values()}
     * @param labelOrdinal  the label column of a class-conditional model, or -1
     * @param kept          the input columns copied to the output, in output order
     */
    RowScorer(Broadcast<ScoringModel> model, FeatureColumns features, ValueRule rule, int valuesOrdinal,
              int labelOrdinal, int[] kept, int batchSize) {
        this.model = model;
        this.features = features;
        this.rule = rule;
        this.valuesOrdinal = valuesOrdinal;
        this.labelOrdinal = labelOrdinal;
        this.kept = kept;
        this.batchSize = batchSize;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> rows) {
        if (!rows.hasNext()) {
            return Collections.emptyIterator();
        }
        ScoringModel m = model.value();
        DensityModel density = m.borrow();
        return InBatches.map(rows, batchSize, batch -> score(m, density, batch), () -> m.giveBack(density));
    }

    private List<Row> score(ScoringModel m, DensityModel density, List<Row> batch) {
        int n = batch.size();
        int dims = m.dims();
        int classes = m.contextSize();
        float[] values = new float[n * dims];
        int[] labels = classes > 0 ? new int[n] : null;
        String[] refused = new String[n];
        int ok = 0;
        for (int i = 0; i < n; i++) {
            Row r = batch.get(i);
            String why = features.read(r.get(valuesOrdinal), rule, values, ok * dims);
            if (why == null && labels != null) {
                Object label = r.get(labelOrdinal);
                labels[ok] = rule.label(label);
                why = labels[ok] < 0 ? rule.labelRefusal(label) : null;
            }
            if (why == null) {
                ok++;
            } else {
                refused[i] = why;
            }
        }
        double[] logProb = new double[0];
        if (ok > 0) {
            INDArray x = Nd4j.create(ok == n ? values : Arrays.copyOf(values, ok * dims), new long[]{ok, dims},
                    DataType.FLOAT);
            INDArray context = labels == null ? null : Batches.oneHot(Arrays.copyOf(labels, ok), classes);
            logProb = density.logProb(x, context).toDoubleVector();
        }
        List<Row> out = new ArrayList<>(n);
        int scored = 0;
        for (int i = 0; i < n; i++) {
            Row r = batch.get(i);
            Object[] v = new Object[kept.length + 4];
            for (int k = 0; k < kept.length; k++) {
                v[k] = r.get(kept[k]);
            }
            if (refused[i] == null) {
                double lp = logProb[scored++];
                v[kept.length] = lp;
                v[kept.length + 1] = -lp;
                v[kept.length + 2] = Units.bitsPerDim(-lp, dims);
            } else {
                v[kept.length + 3] = refused[i];
            }
            out.add(RowFactory.create(v));
        }
        return out;
    }
}
