package org.chainrule.pipelines.train;

import org.apache.spark.TaskContext;
import org.apache.spark.TaskKilledException;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The driver's end of the sockets over which the workers of a {@link BarrierRounds} epoch send their states after each
 * round and receive the mean back: one TCP connection per worker task, opened by the task and kept for its whole
 * epoch. Every connection starts with the epoch's random token (a stray or stale client is dropped), the Spark stage
 * attempt and the worker number; then the worker sends one {@link Frame} per round and reads one state per round back.
 *
 * <p>Reader threads turn what arrives into events ({@link Hello}, {@link Frame}, {@link Lost}) on one queue, which the
 * driver's training thread consumes in order; sends go straight to the worker's socket.
 */
final class StateExchange implements AutoCloseable {
    /** A worker task connected: {@code attempt} is its stage attempt. */
    record Hello(int attempt, int worker) {
    }

    /**
     * A worker's state after round {@code round} ({@code steps} minibatches; an empty state when it had none), with how
     * long its parts took: building minibatches, fitting, encoding the state and decoding the previous round's mean.
     */
    record Frame(int attempt, int worker, int round, int steps, long batchNanos, long fitNanos, long encodeNanos,
                 long restoreNanos, byte[] state) {
        long workNanos() {
            return batchNanos + fitNanos + encodeNanos + restoreNanos;
        }
    }

    /** A worker's connection ended before its epoch did. */
    record Lost(int attempt, int worker, String why) {
    }

    private final ServerSocket server;
    private final long token = new SecureRandom().nextLong();
    private final BlockingQueue<Object> events = new LinkedBlockingQueue<>();
    private final Map<Long, Socket> sockets = new ConcurrentHashMap<>();
    private final Map<Long, DataOutputStream> outputs = new ConcurrentHashMap<>();
    private volatile boolean closed;

    StateExchange() {
        try {
            server = new ServerSocket();
            server.bind(new InetSocketAddress(0));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the averaging exchange's server socket", e);
        }
        Thread acceptor = new Thread(this::accept, "chainrule-exchange-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    int port() {
        return server.getLocalPort();
    }

    long token() {
        return token;
    }

    /** The next event, or null after {@code millis} without one. */
    Object next(long millis) throws InterruptedException {
        return events.poll(millis, TimeUnit.MILLISECONDS);
    }

    /**
     * Sends round {@code round}'s mean state to the given workers of stage attempt {@code attempt}; a worker whose
     * connection is gone is skipped (its loss arrives as a {@link Lost} event and Spark reruns the stage).
     */
    void send(int attempt, int workers, int round, byte[] state) {
        for (int w = 0; w < workers; w++) {
            DataOutputStream out = outputs.get(key(attempt, w));
            if (out == null) {
                continue;
            }
            try {
                synchronized (out) {
                    out.writeInt(round);
                    out.writeInt(state.length);
                    out.write(state);
                    out.flush();
                }
            } catch (IOException e) {
                drop(attempt, w);
            }
        }
    }

    /** Closes the connections of every stage attempt before {@code attempt} (their tasks then stop). */
    void dropAttemptsBefore(int attempt) {
        for (Long k : new ArrayList<>(sockets.keySet())) {
            if ((int) (k >> 32) < attempt) {
                drop((int) (k >> 32), (int) (long) k);
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException ignored) {
            // closing: nothing more to do with it
        }
        for (Long k : new ArrayList<>(sockets.keySet())) {
            drop((int) (k >> 32), (int) (long) k);
        }
    }

    private static long key(int attempt, int worker) {
        return ((long) attempt << 32) | (worker & 0xffffffffL);
    }

    private void drop(int attempt, int worker) {
        outputs.remove(key(attempt, worker));
        Socket s = sockets.remove(key(attempt, worker));
        if (s != null) {
            try {
                s.close();
            } catch (IOException ignored) {
                // already gone
            }
        }
    }

    private void accept() {
        while (!closed) {
            try {
                Socket s = server.accept();
                Thread reader = new Thread(() -> read(s), "chainrule-exchange-read");
                reader.setDaemon(true);
                reader.start();
            } catch (IOException e) {
                if (!closed) {
                    events.add(new Lost(-1, -1, "accept failed: " + e));
                }
                return;
            }
        }
    }

    private void read(Socket s) {
        int attempt = -1;
        int worker = -1;
        try {
            s.setTcpNoDelay(true);
            DataInputStream in = new DataInputStream(new BufferedInputStream(s.getInputStream(), 1 << 16));
            if (in.readLong() != token) {
                s.close();
                return;
            }
            attempt = in.readInt();
            worker = in.readInt();
            sockets.put(key(attempt, worker), s);
            outputs.put(key(attempt, worker), new DataOutputStream(new BufferedOutputStream(s.getOutputStream(),
                    1 << 16)));
            events.add(new Hello(attempt, worker));
            while (!closed) {
                int round = in.readInt();
                int steps = in.readInt();
                long batch = in.readLong();
                long fit = in.readLong();
                long encode = in.readLong();
                long restore = in.readLong();
                byte[] state = new byte[in.readInt()];
                in.readFully(state);
                events.add(new Frame(attempt, worker, round, steps, batch, fit, encode, restore, state));
            }
        } catch (IOException e) {
            if (!closed && attempt >= 0) {
                events.add(new Lost(attempt, worker, e instanceof EOFException ? "connection closed" : e.toString()));
            }
            drop(attempt, worker);
        }
    }

    /**
     * A worker task's end of the exchange. Reads wait in one-second slices so that a task Spark kills (its stage
     * attempt failed elsewhere) stops instead of waiting for a mean that will never come.
     */
    static final class Client implements AutoCloseable {
        private final Socket socket;
        private final InputStream in;
        private final DataOutputStream out;
        private final TaskContext context;

        Client(String host, int port, long token, int attempt, int worker, TaskContext context) throws IOException {
            this.context = context;
            this.socket = new Socket(host, port);
            socket.setTcpNoDelay(true);
            socket.setSoTimeout(1000);
            this.in = socket.getInputStream();
            this.out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream(), 1 << 16));
            out.writeLong(token);
            out.writeInt(attempt);
            out.writeInt(worker);
            out.flush();
        }

        void send(int round, int steps, long batchNanos, long fitNanos, long encodeNanos, long restoreNanos,
                  byte[] state) throws IOException {
            out.writeInt(round);
            out.writeInt(steps);
            out.writeLong(batchNanos);
            out.writeLong(fitNanos);
            out.writeLong(encodeNanos);
            out.writeLong(restoreNanos);
            out.writeInt(state.length);
            out.write(state);
            out.flush();
        }

        /** The driver's mean after round {@code round}. */
        byte[] receive(int round) throws IOException {
            byte[] header = new byte[8];
            readFully(header);
            int got = ((header[0] & 0xff) << 24) | ((header[1] & 0xff) << 16) | ((header[2] & 0xff) << 8)
                    | (header[3] & 0xff);
            int length = ((header[4] & 0xff) << 24) | ((header[5] & 0xff) << 16) | ((header[6] & 0xff) << 8)
                    | (header[7] & 0xff);
            if (got != round || length < 0) {
                throw new IOException("the driver sent round " + got + "'s state while round " + round
                        + "'s was due");
            }
            byte[] state = new byte[length];
            readFully(state);
            return state;
        }

        private void readFully(byte[] b) throws IOException {
            int off = 0;
            while (off < b.length) {
                int n;
                try {
                    n = in.read(b, off, b.length - off);
                } catch (SocketTimeoutException e) {
                    if (context.isInterrupted()) {
                        throw new TaskKilledException("stage attempt ended while waiting for the averaged state");
                    }
                    continue;
                }
                if (n < 0) {
                    throw new EOFException("the driver closed the averaging exchange");
                }
                off += n;
            }
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    /** The frames of one round in worker order (the order the mean is summed in). */
    static List<byte[]> statesInOrder(Frame[] frames) {
        List<byte[]> states = new ArrayList<>();
        for (Frame f : frames) {
            if (f.steps() > 0) {
                states.add(f.state());
            }
        }
        return states;
    }
}
