package org.chainrule.pipelines.score;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.function.Function;

/**
 * A lazy map over an iterator, one batch at a time: {@code batchSize} inputs are taken, turned into exactly as many
 * outputs by one call, handed out, and only then is the next batch read. A task therefore holds one batch, never its
 * whole partition, and the model runs once per batch, never once per row.
 */
public final class InBatches {
    private InBatches() {
    }

    /**
     * @param rows      the input
     * @param batchSize inputs per call of {@code perBatch}
     * @param perBatch  one output per input, in order
     * @param onEnd     runs once when the input is used up (e.g. to hand a borrowed model back)
     */
    public static <T, R> Iterator<R> map(Iterator<T> rows, int batchSize, Function<List<T>, List<R>> perBatch,
                                         Runnable onEnd) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        }
        return new Iterator<>() {
            private List<R> ready = Collections.emptyList();
            private int next;
            private boolean ended;

            @Override
            public boolean hasNext() {
                while (next >= ready.size()) {
                    if (ended) {
                        return false;
                    }
                    List<T> batch = new ArrayList<>(batchSize);
                    while (rows.hasNext() && batch.size() < batchSize) {
                        batch.add(rows.next());
                    }
                    if (batch.isEmpty()) {
                        ended = true;
                        onEnd.run();
                        return false;
                    }
                    ready = perBatch.apply(batch);
                    if (ready.size() != batch.size()) {
                        throw new IllegalStateException(batch.size() + " inputs gave " + ready.size() + " outputs");
                    }
                    next = 0;
                }
                return true;
            }

            @Override
            public R next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                return ready.get(next++);
            }
        };
    }
}
