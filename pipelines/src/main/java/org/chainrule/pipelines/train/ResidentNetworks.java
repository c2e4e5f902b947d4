package org.chainrule.pipelines.train;

import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Training networks kept alive in an executor JVM between averaging rounds, so a round does not rebuild its network
 * (parsing the configuration and building SameDiff graphs costs more than a round's arithmetic for small models).
 *
 * <p>A task borrows a network for the whole of its round and gives it back when it succeeds; a task that fails drops
 * it. Tasks running at once in one JVM ({@code local[N]}, or executors with several cores) each get their own. Only
 * one configuration is kept: a different one (the next training run) empties the pool. What a borrowed network holds
 * does not matter: every task overwrites its parameters, updater state and counters from the round's broadcast.
 */
final class ResidentNetworks {
    private static String configuration;
    private static final Deque<MultiLayerNetwork> IDLE = new ArrayDeque<>();

    private ResidentNetworks() {
    }

    /** A network of this configuration (JSON), and whether it had to be built for this call. */
    static Borrowed borrow(String configurationJson) {
        synchronized (ResidentNetworks.class) {
            if (!configurationJson.equals(configuration)) {
                IDLE.clear();
                configuration = configurationJson;
            } else if (!IDLE.isEmpty()) {
                return new Borrowed(IDLE.pop(), false);
            }
        }
        MultiLayerNetwork net = new MultiLayerNetwork(MultiLayerConfiguration.fromJson(configurationJson));
        net.init();
        return new Borrowed(net, true);
    }

    /** Returns a network after a successful round. */
    static synchronized void giveBack(String configurationJson, MultiLayerNetwork net) {
        if (configurationJson.equals(configuration)) {
            IDLE.push(net);
        }
    }

    /** A borrowed network; {@code built}: it was constructed for this borrow, not found resident. */
    record Borrowed(MultiLayerNetwork network, boolean built) {
    }
}
