package org.chainrule.pipelines.train;

import org.deeplearning4j.nn.api.Updater;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;

/**
 * Everything one step of training reads and writes besides the data: the parameters, the optimizer (updater) state
 * and the iteration and epoch counters (Adam's bias correction and any schedule read them). Encoded as one flat
 * little-endian float32 array behind a small header, so it travels between driver and executors as plain bytes with
 * no Java serialization of ND4J objects, and averages as one array.
 *
 * <p>Layout: int iteration, int epoch, int parameter count, int updater-state count, then the parameters and the
 * updater state as float32.
 */
final class NetworkState {
    private static final int HEADER_BYTES = 16;

    private NetworkState() {
    }

    /** The network's state as bytes. Training networks are float32 (every spec builds them so). */
    static byte[] capture(MultiLayerNetwork net) {
        INDArray params = net.params();
        INDArray updater = updaterState(net);
        long nUpdater = updater == null ? 0 : updater.length();
        ByteBuffer out = ByteBuffer.allocate(Math.toIntExact(HEADER_BYTES + 4 * (params.length() + nUpdater)))
                .order(ByteOrder.LITTLE_ENDIAN);
        MultiLayerConfiguration conf = net.getLayerWiseConfigurations();
        out.putInt(conf.getIterationCount()).putInt(conf.getEpochCount())
                .putInt(Math.toIntExact(params.length())).putInt(Math.toIntExact(nUpdater));
        FloatBuffer floats = out.asFloatBuffer();
        floats.put(floats(params));
        if (updater != null) {
            floats.put(floats(updater));
        }
        return out.array();
    }

    /** Sets the network's parameters, updater state and counters from {@link #capture}d bytes. */
    static void restore(byte[] state, MultiLayerNetwork net) {
        ByteBuffer in = ByteBuffer.wrap(state).order(ByteOrder.LITTLE_ENDIAN);
        int iteration = in.getInt();
        int epoch = in.getInt();
        int nParams = in.getInt();
        int nUpdater = in.getInt();
        if (nParams != net.numParams()) {
            throw new IllegalStateException("state holds " + nParams + " parameters, the network has " + net.numParams());
        }
        FloatBuffer floats = in.asFloatBuffer();
        float[] params = new float[nParams];
        floats.get(params);
        net.setParams(Nd4j.createFromArray(params).reshape(1, nParams));
        INDArray updater = updaterState(net);
        long have = updater == null ? 0 : updater.length();
        if (have != nUpdater) {
            throw new IllegalStateException("state holds " + nUpdater + " updater values, the network has " + have);
        }
        if (updater != null) {
            float[] u = new float[nUpdater];
            floats.get(u);
            updater.assign(Nd4j.createFromArray(u).reshape(updater.shape()));
        }
        net.getLayerWiseConfigurations().setIterationCount(iteration);
        net.getLayerWiseConfigurations().setEpochCount(epoch);
    }

    /** The iteration counter stored in a state. */
    static int iteration(byte[] state) {
        return ByteBuffer.wrap(state).order(ByteOrder.LITTLE_ENDIAN).getInt(0);
    }

    /**
     * The element-wise mean of several states' parameters and updater state (summed in the order given, so the result
     * does not depend on which task finished first), with the given iteration and epoch counters.
     */
    static byte[] average(java.util.List<byte[]> states, int iteration, int epoch) {
        if (states.isEmpty()) {
            throw new IllegalArgumentException("nothing to average");
        }
        ByteBuffer first = ByteBuffer.wrap(states.get(0)).order(ByteOrder.LITTLE_ENDIAN);
        int nParams = first.getInt(8);
        int nUpdater = first.getInt(12);
        float[] sum = new float[nParams + nUpdater];
        float[] buf = new float[sum.length];
        for (byte[] s : states) {
            ByteBuffer b = ByteBuffer.wrap(s).order(ByteOrder.LITTLE_ENDIAN);
            if (b.getInt(8) != nParams || b.getInt(12) != nUpdater) {
                throw new IllegalStateException("states of different networks cannot be averaged");
            }
            b.position(HEADER_BYTES);
            b.asFloatBuffer().get(buf);
            for (int i = 0; i < sum.length; i++) {
                sum[i] += buf[i];
            }
        }
        float n = states.size();
        for (int i = 0; i < sum.length; i++) {
            sum[i] /= n;
        }
        ByteBuffer out = ByteBuffer.allocate(HEADER_BYTES + 4 * sum.length).order(ByteOrder.LITTLE_ENDIAN);
        out.putInt(iteration).putInt(epoch).putInt(nParams).putInt(nUpdater);
        out.asFloatBuffer().put(sum);
        return out.array();
    }

    /** The updater's state array, or null when the optimizer keeps none (plain SGD). */
    private static INDArray updaterState(MultiLayerNetwork net) {
        Updater u = net.getUpdater();
        return u == null ? null : u.getStateViewArray();
    }

    private static float[] floats(INDArray a) {
        if (a.dataType() != DataType.FLOAT) {
            throw new IllegalStateException("training networks are float32; this one holds " + a.dataType());
        }
        return a.reshape(a.length()).toFloatVector();
    }
}
