package org.chainrule.pipelines.score;

import org.chainrule.models.DensityModel;
import org.chainrule.models.ModelSpec;
import org.chainrule.pipelines.data.Domain;
import org.chainrule.pipelines.io.SavedModel;

import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A saved model as executors receive it (once, as a broadcast): the spec, the network bytes and the data domain, with
 * an identity computed from their content.
 *
 * <p>Rebuilding a density from bytes costs far more than scoring a batch, and a density serves one thread at a time
 * (its methods are synchronized). So each JVM keeps the densities it rebuilt, per model identity: a task or a SQL
 * call {@link #borrow borrows} an idle one (or rebuilds one when all are busy) and {@link #giveBack gives it back}.
 * A JVM thus holds about as many densities per model as it runs tasks at once, for the last few models used.
 */
public final class ScoringModel implements Serializable {
    /** Models whose idle densities a JVM keeps; older ones are dropped to the garbage collector. */
    private static final int MODELS_KEPT = 4;
    private static final Map<String, Deque<DensityModel>> IDLE = new LinkedHashMap<>(8, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Deque<DensityModel>> eldest) {
            return size() > MODELS_KEPT;
        }
    };

    private final SavedModel.Payload payload;
    private final String id;
    private final String origin;

    /**
     * @param model  the loaded model
     * @param origin where it was loaded from (for messages and summaries)
     */
    public ScoringModel(SavedModel model, String origin) {
        this.payload = model.payload();
        this.origin = origin;
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(payload.network());
            sha.update(model.spec().toMap().toString().getBytes(StandardCharsets.UTF_8));
            sha.update(model.domain().toMap().toString().getBytes(StandardCharsets.UTF_8));
            this.id = HexFormat.of().formatHex(sha.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public ModelSpec spec() {
        return payload.spec();
    }

    public Domain domain() {
        return payload.domain();
    }

    /** Values per event. */
    public int dims() {
        long n = 1;
        for (long d : spec().eventShape()) {
            n *= d;
        }
        return Math.toIntExact(n);
    }

    /** Label classes of a class-conditional model; 0 when unconditional. */
    public int contextSize() {
        return spec().contextSize();
    }

    /** A content hash of the model: the same files give the same id on every machine. */
    public String id() {
        return id;
    }

    public String origin() {
        return origin;
    }

    /** A density of the data in its original units, for this thread until {@link #giveBack}. */
    public DensityModel borrow() {
        DensityModel idle;
        synchronized (IDLE) {
            Deque<DensityModel> pool = IDLE.get(id);
            idle = pool == null ? null : pool.pollFirst();
        }
        return idle != null ? idle : payload.density();
    }

    /** Returns a borrowed density for the next task or call in this JVM. */
    public void giveBack(DensityModel density) {
        synchronized (IDLE) {
            IDLE.computeIfAbsent(id, k -> new ArrayDeque<>()).offerFirst(density);
        }
    }
}
