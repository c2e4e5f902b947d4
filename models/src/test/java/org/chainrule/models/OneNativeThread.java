package org.chainrule.models;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Runs ND4J on one native thread (OpenMP and BLAS) while a test class works on tiny networks, and restores the
 * previous settings after it: {@code @ExtendWith(OneNativeThread.class)}. At these sizes every op is dispatch
 * overhead, and on a busy 2-core machine the threads mostly waited on each other: a SameDiff add on 600 floats took
 * 10-20 ms with two threads under load and 0.1-1 ms with one; LSTM steps and small convolutions were 5-10 times
 * slower. Results do not depend on it.
 */
public final class OneNativeThread implements BeforeAllCallback, AfterAllCallback {
    private static final ExtensionContext.Namespace SAVED = ExtensionContext.Namespace.create(OneNativeThread.class);

    @Override
    public void beforeAll(ExtensionContext context) {
        context.getStore(SAVED).put("threads", new int[]{Nd4j.getEnvironment().maxThreads(),
                Nd4j.getEnvironment().maxMasterThreads(), Nd4j.factory().blas().getMaxThreads()});
        set(1, 1, 1);
    }

    @Override
    public void afterAll(ExtensionContext context) {
        int[] saved = context.getStore(SAVED).remove("threads", int[].class);
        if (saved != null) {
            set(saved[0], saved[1], saved[2]);
        }
    }

    private static void set(int threads, int masterThreads, int blasThreads) {
        Nd4j.getEnvironment().setMaxThreads(threads);
        Nd4j.getEnvironment().setMaxMasterThreads(masterThreads);
        Nd4j.factory().blas().setMaxThreads(blasThreads);
    }
}
