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
import java.util.List;

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
        byte[] out = new byte[Math.toIntExact(HEADER_BYTES + 4 * (params.length() + nUpdater))];
        MultiLayerConfiguration conf = net.getLayerWiseConfigurations();
        ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).putInt(conf.getIterationCount())
                .putInt(conf.getEpochCount()).putInt(Math.toIntExact(params.length()))
                .putInt(Math.toIntExact(nUpdater));
        copy(params, out, HEADER_BYTES, true);
        if (updater != null) {
            copy(updater, out, HEADER_BYTES + 4 * (int) params.length(), true);
        }
        return out;
    }

    /** Sets the network's parameters, updater state and counters from {@link #capture}d bytes. */
    static void restore(byte[] state, MultiLayerNetwork net) {
        ByteBuffer in = ByteBuffer.wrap(state).order(ByteOrder.LITTLE_ENDIAN);
        int iteration = in.getInt();
        int epoch = in.getInt();
        int nParams = in.getInt();
        int nUpdater = in.getInt();
        if (nParams != net.numParams()) {
            throw new IllegalStateException("state holds " + nParams + " parameters, the network has "
                    + net.numParams());
        }
        INDArray updater = updaterState(net);
        long have = updater == null ? 0 : updater.length();
        if (have != nUpdater) {
            throw new IllegalStateException("state holds " + nUpdater + " updater values, the network has " + have);
        }
        copy(net.params(), state, HEADER_BYTES, false);
        if (updater != null) {
            copy(updater, state, HEADER_BYTES + 4 * nParams, false);
        }
        net.getLayerWiseConfigurations().setIterationCount(iteration);
        net.getLayerWiseConfigurations().setEpochCount(epoch);
    }

    /**
     * Copies a float32 array's values to ({@code out}) or from bytes at {@code offset}: one memory copy when the array
     * is a whole contiguous buffer (as a network's parameter and updater-state views are), element by element
     * otherwise.
     */
    private static void copy(INDArray array, byte[] bytes, int offset, boolean out) {
        if (array.dataType() != DataType.FLOAT) {
            throw new IllegalStateException("training networks are float32; this one holds " + array.dataType());
        }
        int n = Math.toIntExact(array.length());
        boolean whole = array.offset() == 0 && array.data().length() == n && ByteOrder.nativeOrder()
                == ByteOrder.LITTLE_ENDIAN;
        if (whole) {
            ByteBuffer memory = array.data().asNio();
            memory.position(0);
            if (out) {
                memory.get(bytes, offset, 4 * n);
            } else {
                memory.put(bytes, offset, 4 * n);
            }
            return;
        }
        FloatBuffer floats = ByteBuffer.wrap(bytes, offset, 4 * n).order(ByteOrder.LITTLE_ENDIAN).slice()
                .order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        INDArray flat = array.reshape(n);
        if (out) {
            floats.put(flat.toFloatVector());
        } else {
            float[] values = new float[n];
            floats.get(values);
            array.assign(Nd4j.createFromArray(values).reshape(array.shape()));
        }
    }

    /** The iteration counter stored in a state. */
    static int iteration(byte[] state) {
        return ByteBuffer.wrap(state).order(ByteOrder.LITTLE_ENDIAN).getInt(0);
    }

    /**
     * Sets the network to the element-wise mean of several states' parameters and updater states (summed in the order
     * given, so the result does not depend on which task finished first), with the given counters.
     */
    static void restoreMean(List<byte[]> states, MultiLayerNetwork net, int iteration, int epoch) {
        if (states.isEmpty()) {
            throw new IllegalArgumentException("nothing to average");
        }
        restore(states.get(0), net);
        if (states.size() > 1) {
            INDArray params = net.params();
            INDArray updater = updaterState(net);
            INDArray otherParams = Nd4j.create(DataType.FLOAT, params.shape());
            INDArray otherUpdater = updater == null ? null : Nd4j.create(DataType.FLOAT, updater.shape());
            for (byte[] other : states.subList(1, states.size())) {
                copy(otherParams, other, HEADER_BYTES, false);
                params.addi(otherParams);
                if (updater != null) {
                    copy(otherUpdater, other, HEADER_BYTES + 4 * (int) params.length(), false);
                    updater.addi(otherUpdater);
                }
            }
            params.divi(states.size());
            if (updater != null) {
                updater.divi(states.size());
            }
        }
        net.getLayerWiseConfigurations().setIterationCount(iteration);
        net.getLayerWiseConfigurations().setEpochCount(epoch);
    }

    /** The updater's state array, or null when the optimizer keeps none (plain SGD). */
    private static INDArray updaterState(MultiLayerNetwork net) {
        Updater u = net.getUpdater();
        return u == null ? null : u.getStateViewArray();
    }
}
