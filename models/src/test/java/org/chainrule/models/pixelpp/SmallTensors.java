package org.chainrule.models.pixelpp;

import org.nd4j.linalg.factory.Nd4j;

/**
 * Runs ND4J single-threaded while a test class works on tiny tensors, and restores the previous setting after. At these
 * sizes every op is dispatch overhead, and on a shared 2-core machine OpenMP's waiting threads made each op 20-40x
 * slower (measured: a SameDiff add on 600 floats, 10-20 ms with 2 threads under load, 0.1-1 ms with one). Results do
 * not depend on it.
 */
final class SmallTensors {
    private static int threads;
    private static int masterThreads;

    private SmallTensors() {
    }

    static void begin() {
        threads = Nd4j.getEnvironment().maxThreads();
        masterThreads = Nd4j.getEnvironment().maxMasterThreads();
        Nd4j.getEnvironment().setMaxThreads(1);
        Nd4j.getEnvironment().setMaxMasterThreads(1);
    }

    static void end() {
        Nd4j.getEnvironment().setMaxThreads(threads);
        Nd4j.getEnvironment().setMaxMasterThreads(masterThreads);
    }
}
