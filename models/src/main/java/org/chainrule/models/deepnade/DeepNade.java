package org.chainrule.models.deepnade;

import org.chainrule.models.DensityModel;
import org.chainrule.models.LogMath;
import org.chainrule.models.Seeds;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.memory.conf.WorkspaceConfiguration;
import org.nd4j.linalg.api.memory.enums.AllocationPolicy;
import org.nd4j.linalg.api.memory.enums.LearningPolicy;
import org.nd4j.linalg.api.memory.enums.SpillPolicy;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A trained deep NADE / NADE-k ({@link DeepNadeSpec}) as a density: a snapshot of the network's parameters and a plain
 * ND4J forward pass that mirrors {@link DeepNadeLayer}'s graph operation for operation (the tests hold the two to
 * 1e-4), giving every conditional p(x_d = 1 | x_O) for any observed set O.
 *
 * <p>Exact likelihood under ordering pi (Uria et al. 2014): log p(x) = sum_i log p(x_{pi_i} | x_{pi_&lt;i}), term i one
 * network evaluation (k iterations) with the first i dimensions of pi observed. The D evaluations of a batch are
 * stacked into tall matrices ([prefixes * rows, D], in chunks), so they run as a few large matrix products. Each
 * conditional is a Bernoulli read from its own evaluation, so every ordering's product is exactly normalized whatever
 * the weights, although different orderings give different densities (the model is not consistent across orderings).
 * The test density is the uniform mixture of the spec's K orderings: log-mean-exp of their log-likelihoods. Cost: D *
 * k * K network passes per row, made cheaper in two exact ways: the first iteration's first layer is a running sum
 * along the ordering (O(D H1) per row and ordering, as in the original NADE), and the last iteration computes only the
 * one logit its prefix needs. For k = 1 and hidden [H1, H2] that leaves about D (H1 H2 + H2) multiply-adds per row
 * and ordering; each extra iteration adds D full passes.
 *
 * <p>Sampling is ancestral in one ordering of the mixture, chosen per row from its seed, so it samples the mixture
 * exactly: D evaluations per batch of rows sharing an ordering.
 */
public final class DeepNade implements DensityModel {
    /** Elements of the widest intermediate matrix of one stacked chunk in {@link #logProb(INDArray, int)}. */
    private static final long CHUNK_ELEMENTS = 1L << 21;

    /**
     * Scratch memory for the temporaries of one likelihood chunk or one sampling step, reused by the next. Without it
     * the temporaries live until the garbage collector finalizes them: a 784-dimensional NADE-k scoring 100 rows makes
     * gigabytes of them per call, and a JVM with a small heap runs out of native memory first.
     */
    private static final WorkspaceConfiguration SCRATCH = WorkspaceConfiguration.builder()
            .policyAllocation(AllocationPolicy.STRICT)
            .policyLearning(LearningPolicy.FIRST_LOOP)
            .policySpill(SpillPolicy.REALLOCATE)
            .build();
    private static final String SCRATCH_ID = "DEEP_NADE_SCRATCH";

    private final DeepNadeSpec spec;
    private final INDArray fill;          // sigmoid(a), [1, D]
    private final INDArray valueWeights;  // [D, H1]
    private final INDArray maskWeights;   // [D, H1]
    private final List<INDArray> weights; // weights.get(l) for hidden layer l >= 1; index 0 unused (null)
    private final List<INDArray> biases;  // [1, H_l]
    private final INDArray outputWeights; // [H_L, D]
    private final INDArray outputBias;    // [1, D]
    private final INDArray outputRows;    // V^T, [D, H_L]: row d = the output weights of dimension d
    private final INDArray[] prefixMaskTerms; // per ordering: row i = (first i of pi observed) Wm + b0, [D, H1]

    private DeepNade(DeepNadeSpec spec, INDArray fillLogits, INDArray valueWeights, INDArray maskWeights,
                     List<INDArray> weights, List<INDArray> biases, INDArray outputWeights, INDArray outputBias) {
        this.spec = spec;
        this.fill = Transforms.sigmoid(fillLogits, true);
        this.valueWeights = valueWeights;
        this.maskWeights = maskWeights;
        this.weights = weights;
        this.biases = biases;
        this.outputWeights = outputWeights;
        this.outputBias = outputBias;
        this.outputRows = outputWeights.transpose().dup('c');
        this.prefixMaskTerms = new INDArray[spec.orderings()];
    }

    /** A snapshot of a network built from {@code spec.trainingConfiguration}: its parameters are copied. */
    public static DeepNade of(DeepNadeSpec spec, MultiLayerNetwork network) {
        Layer layer = network.getLayer(0);
        if (!(layer.conf().getLayer() instanceof DeepNadeLayer)) {
            throw new IllegalArgumentException("layer 0 is not a DeepNadeLayer: " + layer.conf().getLayer());
        }
        int depth = spec.hidden().length;
        List<INDArray> w = new ArrayList<>();
        List<INDArray> b = new ArrayList<>();
        for (int l = 0; l < depth; l++) {
            w.add(l == 0 ? null : layer.getParam(DeepNadeLayer.weightName(l)).dup());
            b.add(layer.getParam(DeepNadeLayer.biasName(l)).dup());
        }
        return new DeepNade(spec, layer.getParam(DeepNadeLayer.FILL).dup(),
                layer.getParam(DeepNadeLayer.VALUE_WEIGHTS).dup(), layer.getParam(DeepNadeLayer.MASK_WEIGHTS).dup(),
                w, b, layer.getParam(DeepNadeLayer.OUTPUT_WEIGHTS).dup(),
                layer.getParam(DeepNadeLayer.OUTPUT_BIAS).dup());
    }

    public DeepNadeSpec spec() {
        return spec;
    }

    @Override
    public long[] eventShape() {
        return spec.eventShape();
    }

    /**
     * The logits of every iteration, given events and observed masks of the same shape: entry t is sigmoid^-1 of
     * v_{t+1} before observed values are put back, so the last entry holds the conditionals p(x_d = 1 | x_O) of the
     * unobserved d. Values of x where m = 0 are never read.
     *
     * @param x events {@code [rows, D]}
     * @param m observed masks {@code [rows, D]} (1 = observed)
     * @return k matrices {@code [rows, D]}, float
     */
    public List<INDArray> iterationLogits(INDArray x, INDArray m) {
        checkColumns(x);
        checkColumns(m);
        INDArray mf = m.castTo(valueWeights.dataType());
        return forward(x, mf, mf.mmul(maskWeights).addiRowVector(biases.get(0)), true);
    }

    /** The last iteration's logits: the conditionals of the unobserved dimensions given the observed ones. */
    public INDArray logits(INDArray x, INDArray m) {
        List<INDArray> all = iterationLogits(x, m);
        return all.get(all.size() - 1);
    }

    /**
     * The k iterations. {@code maskTerm} = m Wm + b0, the mask's share of the first layer, the same for every
     * iteration. The mask and its term either have one row per row of x, or a single row shared by all rows (one
     * prefix, as in the sampler). Keeps only the last logits unless {@code keepAll}.
     */
    private List<INDArray> forward(INDArray x, INDArray m, INDArray maskTerm, boolean keepAll) {
        INDArray known = times(x.castTo(m.dataType()).dup(), m);
        INDArray free = m.rsub(1.0);
        INDArray v = plus(known.dup(), free.mulRowVector(fill));
        List<INDArray> out = new ArrayList<>();
        for (int t = 0; t < spec.iterations(); t++) {
            INDArray z = top(v, maskTerm).mmul(outputWeights).addiRowVector(outputBias);
            if (keepAll || t == spec.iterations() - 1) {
                out.add(z);
            }
            if (t < spec.iterations() - 1) {
                v = times(Transforms.sigmoid(z, true), free).addi(known);
            }
        }
        return out;
    }

    /**
     * The same k iterations, but the last one computes a single logit per row: row r's logit of the dimension whose
     * output weights are row r of {@code readRows} (rows of V^T, {@code [rows, H_L]}, or one row shared by all) and
     * whose bias is {@code readBiases[r]} (or its single entry). The likelihood and the sampler read one conditional
     * per evaluation, so the last output layer shrinks from H_L x D to H_L multiply-adds per row.
     *
     * @param firstPre the first iteration's first-layer pre-activation v_0 Wv + m Wm + b0, {@code [rows, H1]}, which
     *                 the callers keep as a running sum along the ordering
     * @param x        events, {@code m} masks and {@code maskTerm} = m Wm + b0 as in {@link #forward}; read only when
     *                 k > 1 (may be null when k = 1)
     * @return {@code [rows]}
     */
    private INDArray selectedLogits(INDArray firstPre, INDArray x, INDArray m, INDArray maskTerm, INDArray readRows,
                                    INDArray readBiases) {
        INDArray h = above(Transforms.relu(firstPre, true));
        if (spec.iterations() > 1) {
            INDArray known = times(x.castTo(m.dataType()).dup(), m);
            INDArray free = m.rsub(1.0);
            for (int t = 1; t < spec.iterations(); t++) {
                INDArray z = h.mmul(outputWeights).addiRowVector(outputBias);
                h = top(times(Transforms.sigmoid(z, false), free).addi(known), maskTerm);
            }
        }
        INDArray z = times(h, readRows).sum(1);
        return readBiases.length() == 1 ? z.addi(readBiases.getDouble(0)) : z.addi(readBiases.reshape(-1));
    }

    /** a *= b in place, b either shaped like a or a single row broadcast over a's rows. */
    private static INDArray times(INDArray a, INDArray b) {
        return b.rows() == a.rows() ? a.muli(b) : a.muliRowVector(b);
    }

    /** a += b in place, b either shaped like a or a single row broadcast over a's rows. */
    private static INDArray plus(INDArray a, INDArray b) {
        return b.rows() == a.rows() ? a.addi(b) : a.addiRowVector(b);
    }

    /** The last hidden layer for the current values: ReLU(v Wv + maskTerm), then the further ReLU layers. */
    private INDArray top(INDArray v, INDArray maskTerm) {
        return above(Transforms.relu(plus(v.mmul(valueWeights), maskTerm), false));
    }

    /** The hidden layers after the first, applied to the first one's activation (in place where possible). */
    private INDArray above(INDArray h) {
        for (int l = 1; l < weights.size(); l++) {
            h = Transforms.relu(h.mmul(weights.get(l)).addiRowVector(biases.get(l)), false);
        }
        return h;
    }

    /**
     * The training objective of each row, computed here: D / (D - o) * sum over unobserved d of -log p(x_d | x_O) for
     * the last iteration (or the mean over iterations when the spec trains on intermediate losses). Equal to
     * {@link DeepNadeLayer}'s output for the same features, which ties training to {@link #logProb}.
     *
     * @param features {@code [batch, 2D]} as {@link DeepNadeSpec#trainingFeatures} makes them
     * @return {@code [batch]}, double
     */
    public INDArray trainingLoss(INDArray features) {
        int d = spec.dim();
        if (features.rank() != 2 || features.columns() != 2L * d) {
            throw new IllegalArgumentException("expected features [batch, " + 2 * d + "], got "
                    + Arrays.toString(features.shape()));
        }
        INDArray x = features.get(NDArrayIndex.all(), NDArrayIndex.interval(0, d));
        INDArray m = features.get(NDArrayIndex.all(), NDArrayIndex.interval(d, 2 * d)).castTo(valueWeights.dataType());
        INDArray free = m.rsub(1.0);
        INDArray weight = Transforms.max(free.sum(1), 1.0, false).rdivi(d).castTo(DataType.DOUBLE);
        List<INDArray> all = iterationLogits(x, m);
        int from = spec.intermediateLoss() ? 0 : all.size() - 1;
        INDArray total = Nd4j.zeros(DataType.DOUBLE, x.rows());
        for (int t = from; t < all.size(); t++) {
            INDArray signed = x.castTo(free.dataType()).mul(-2.0).addi(1.0).muli(all.get(t));
            total.addi(LogMath.softplus(signed).muli(free).sum(1).castTo(DataType.DOUBLE));
        }
        return total.muli(weight).divi(all.size() - from);
    }

    /** (First i dims of ordering k observed) Wm + b0 for every prefix length i, {@code [D, H1]}, cached. */
    private synchronized INDArray prefixMaskTerms(int k) {
        if (prefixMaskTerms[k] == null) {
            prefixMaskTerms[k] = prefixMasks(k).mmul(maskWeights).addiRowVector(biases.get(0));
        }
        return prefixMaskTerms[k];
    }

    /** Row i = the observed mask with the first i dimensions of ordering k observed, {@code [D, D]}. */
    private INDArray prefixMasks(int k) {
        int d = spec.dim();
        int[] order = spec.ordering(k);
        float[] m = new float[d * d];
        for (int i = 0; i < d; i++) {
            for (int j = 0; j < i; j++) {
                m[i * d + order[j]] = 1f;
            }
        }
        return Nd4j.create(m, new long[]{d, d}, DataType.FLOAT).castTo(valueWeights.dataType());
    }

    /**
     * Exact log p(x) in nats under ordering {@code k} alone, {@code [batch]} double: sum over i of log p(x_{pi_i} |
     * x_{pi_&lt;i}), all D prefixes of all rows evaluated as stacked chunks.
     */
    public INDArray logProb(INDArray x, int k) {
        checkColumns(x);
        long widest = spec.dim();
        for (int h : spec.hidden()) {
            widest = Math.max(widest, h);
        }
        return logProb(x, k, (int) Math.max(1, Math.min(spec.dim(), CHUNK_ELEMENTS / (widest * Math.max(1, x.rows())))));
    }

    /**
     * {@link #logProb(INDArray, int)} evaluating {@code chunk} prefixes per stacked matrix. The first iteration's first
     * layer is a running sum along the ordering, as in NADE (Larochelle and Murray 2011): with pi_0..pi_{i-1} observed,
     * v_0 Wv + m Wm + b0 = fill Wv + sum_{j&lt;i} ((x_{pi_j} - fill_{pi_j}) Wv[pi_j] + Wm[pi_j]) + b0, so its cost is O(D
     * H1) per row and ordering (plus O(chunk H1) per prefix within a chunk) rather than O(D^2 H1); the other layers and
     * iterations run in full for each prefix.
     */
    INDArray logProb(INDArray x, int k, int chunk) {
        checkColumns(x);
        int d = spec.dim();
        int n = Math.toIntExact(x.rows());
        INDArray total = Nd4j.zeros(DataType.DOUBLE, n);
        if (n == 0) {
            return total;
        }
        int[] order = spec.ordering(k);
        INDArray masks = spec.iterations() > 1 ? prefixMasks(k) : null;
        INDArray terms = prefixMaskTerms(k);
        INDArray xf = x.castTo(valueWeights.dataType());
        INDArray valueRows = valueWeights.getRows(order);                                   // Wv[pi_j], [D, H1]
        INDArray delta = xf.getColumns(order).subiRowVector(fill.getColumns(order));        // x_{pi_j} - fill, [n, D]
        INDArray running = Nd4j.zeros(valueWeights.dataType(), n, valueWeights.columns())
                .addiRowVector(fill.mmul(valueWeights));                                     // prefix i0: v_0 Wv
        INDArray before = strictlyLower(chunk, valueWeights.dataType());
        for (int i0 = 0; i0 < d; i0 += chunk) {
            try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().getAndActivateWorkspace(SCRATCH, SCRATCH_ID)) {
                scoreChunk(xf, order, i0, Math.min(chunk, d - i0), delta, valueRows, before, running, masks, terms,
                        total);
            }
        }
        return total;
    }

    /**
     * One chunk of {@link #logProb(INDArray, int, int)}: prefixes i0 .. i0 + c - 1. Subtracts their NLL terms from
     * {@code total} and advances {@code running} (both allocated outside the scratch workspace) in place.
     */
    private void scoreChunk(INDArray xf, int[] order, int i0, int c, INDArray delta, INDArray valueRows,
                            INDArray before, INDArray running, INDArray masks, INDArray terms, INDArray total) {
        int n = Math.toIntExact(xf.rows());
        // block j (rows j*n .. j*n+n-1) evaluates prefix i0 + j and reads only dimension pi_{i0+j}
        int[] read = Arrays.copyOfRange(order, i0, i0 + c);
        INDArray deltaChunk = delta.get(NDArrayIndex.all(), NDArrayIndex.interval(i0, i0 + c));
        INDArray rowsChunk = valueRows.get(NDArrayIndex.interval(i0, i0 + c), NDArrayIndex.all());
        INDArray lower = stack(before.get(NDArrayIndex.interval(0, c), NDArrayIndex.interval(0, c)), n);
        INDArray firstPre = tile(deltaChunk, c).muli(lower).mmul(rowsChunk)
                .addi(tile(running, c))
                .addi(stack(terms.get(NDArrayIndex.interval(i0, i0 + c), NDArrayIndex.all()), n));
        running.addi(deltaChunk.mmul(rowsChunk));
        INDArray xs = null;
        INDArray m = null;
        INDArray term = null;
        if (spec.iterations() > 1) {
            xs = tile(xf, c);
            m = stack(masks.get(NDArrayIndex.interval(i0, i0 + c), NDArrayIndex.all()), n);
            term = stack(terms.get(NDArrayIndex.interval(i0, i0 + c), NDArrayIndex.all()), n);
        }
        INDArray z = selectedLogits(firstPre, xs, m, term, stack(outputRows.getRows(read), n),
                stack(outputBias.getColumns(read).reshape(c, 1), n).reshape(-1));
        INDArray xRead = xf.getColumns(read).transpose().dup('c').reshape(-1);
        INDArray nll = LogMath.softplus(xRead.mul(-2.0).addi(1.0).muli(z)).castTo(DataType.DOUBLE);
        total.subi(nll.reshape(c, n).sum(0));
    }

    /** {@code [c, c]}: entry (j, i) = 1 iff i &lt; j. */
    private static INDArray strictlyLower(int c, DataType type) {
        float[] v = new float[c * c];
        for (int j = 0; j < c; j++) {
            for (int i = 0; i < j; i++) {
                v[j * c + i] = 1f;
            }
        }
        return Nd4j.create(v, new long[]{c, c}, DataType.FLOAT).castTo(type);
    }

    /** The whole matrix {@code a} ({@code [n, w]}) c times over: {@code [c * n, w]}, every block = a. */
    private static INDArray tile(INDArray a, int c) {
        return a.reshape(1, a.rows(), a.columns()).repeat(0, c).reshape('c', c * a.rows(), a.columns());
    }

    /** Repeats each row of {@code rows} ({@code [c, w]}) n times in a row: {@code [c * n, w]}, block j = row j. */
    private static INDArray stack(INDArray rows, int n) {
        long c = rows.rows();
        long w = rows.columns();
        return rows.reshape(c, 1, w).repeat(1, n).reshape('c', c * n, w);
    }

    /** Log-likelihood under each of the K orderings, {@code [batch, K]} double. */
    public INDArray logProbPerOrdering(INDArray x) {
        INDArray all = Nd4j.create(DataType.DOUBLE, x.rows(), spec.orderings());
        for (int k = 0; k < spec.orderings(); k++) {
            all.putColumn(k, logProb(x, k));
        }
        return all;
    }

    /**
     * Exact log-likelihood of the mixture over the spec's K orderings, log (1/K) sum_k p_k(x), in nats, {@code [batch]}
     * double. D * k * K network passes per row.
     */
    @Override
    public INDArray logProb(INDArray x) {
        checkColumns(x);
        return spec.orderings() == 1 ? logProb(x, 0) : LogMath.logMeanExp(logProbPerOrdering(x));
    }

    @Override
    public INDArray logProb(INDArray x, INDArray context) {
        if (context != null) {
            throw new IllegalArgumentException("a " + spec.type() + " model is unconditional but was given a context");
        }
        return logProb(x);
    }

    @Override
    public INDArray sample(long[] seeds) {
        return sample(seeds, null, 1.0);
    }

    /**
     * Ancestral sampling of the ordering mixture. Row i picks its ordering uniformly from
     * {@code Seeds.derive(seeds[i], -1)} (when K > 1), then at step t sets dimension pi_t to 1 iff
     * {@code Seeds.uniform(Seeds.derive(seeds[i], t)) < sigmoid(z / temperature)}, z the logit of pi_t given the
     * dimensions already drawn. Rows sharing an ordering are evaluated together, but a row depends only on its seed.
     *
     * @param context     must be null (unconditional model)
     * @param temperature positive; 1 samples the model itself, lower sharpens every conditional
     * @return binary samples {@code [seeds.length, D]}, float
     */
    @Override
    public INDArray sample(long[] seeds, INDArray context, double temperature) {
        if (context != null) {
            throw new IllegalArgumentException("a " + spec.type() + " model is unconditional but was given a context");
        }
        if (!(temperature > 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be positive and finite, got " + temperature);
        }
        int n = seeds.length;
        int d = spec.dim();
        int kCount = spec.orderings();
        int[] chosen = new int[n];
        for (int i = 0; i < n; i++) {
            chosen[i] = kCount == 1 ? 0 : (int) (Seeds.uniform(Seeds.derive(seeds[i], -1L)) * kCount);
        }
        float[] out = new float[n * d];
        for (int k = 0; k < kCount; k++) {
            List<Integer> rows = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                if (chosen[i] == k) {
                    rows.add(i);
                }
            }
            if (rows.isEmpty()) {
                continue;
            }
            long[] groupSeeds = rows.stream().mapToLong(i -> seeds[i]).toArray();
            float[][] x = sampleOrdering(k, groupSeeds, temperature);
            for (int j = 0; j < rows.size(); j++) {
                System.arraycopy(x[j], 0, out, rows.get(j) * d, d);
            }
        }
        return Nd4j.create(out, new long[]{n, d}, DataType.FLOAT);
    }

    /**
     * D evaluations, one per prefix of ordering k, for a group of rows; x's unobserved entries are never read. The first
     * iteration's first layer is kept as a running sum (see {@link #logProb(INDArray, int, int)}).
     */
    private float[][] sampleOrdering(int k, long[] seeds, double temperature) {
        int n = seeds.length;
        int d = spec.dim();
        int[] order = spec.ordering(k);
        INDArray masks = spec.iterations() > 1 ? prefixMasks(k) : null;
        INDArray terms = prefixMaskTerms(k);
        INDArray x = Nd4j.zeros(valueWeights.dataType(), n, d);
        INDArray running = Nd4j.zeros(valueWeights.dataType(), n, valueWeights.columns())
                .addiRowVector(fill.mmul(valueWeights));
        float[][] out = new float[n][d];
        for (int t = 0; t < d; t++) {
            try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().getAndActivateWorkspace(SCRATCH, SCRATCH_ID)) {
                sampleStep(t, order[t], seeds, temperature, x, running, masks, terms, out);
            }
        }
        return out;
    }

    /** Step t of {@link #sampleOrdering}: draws dimension pi_t for every row, updating x, running and out in place. */
    private void sampleStep(int t, int dimension, long[] seeds, double temperature, INDArray x, INDArray running,
                            INDArray masks, INDArray terms, float[][] out) {
        int n = seeds.length;
        // one prefix for the whole group: the mask, its term and the read-out are rows shared by all rows
        INDArray term = terms.getRow(t, true);
        INDArray z = selectedLogits(running.addRowVector(term), x, masks == null ? null : masks.getRow(t, true),
                term, outputRows.getRow(dimension, true), outputBias.getColumn(dimension));
        double[] logit = z.castTo(DataType.DOUBLE).toDoubleVector();
        float[] drawn = new float[n];
        float f = fill.getFloat(dimension);
        float[] delta = new float[n];
        for (int i = 0; i < n; i++) {
            boolean one = Seeds.uniform(Seeds.derive(seeds[i], t)) < LogMath.sigmoid(logit[i] / temperature);
            drawn[i] = one ? 1f : 0f;
            delta[i] = drawn[i] - f;
            out[i][dimension] = drawn[i];
        }
        x.putColumn(dimension, Nd4j.create(drawn, new long[]{n}, DataType.FLOAT).castTo(x.dataType()));
        INDArray deltaColumn = Nd4j.create(delta, new long[]{n, 1}, DataType.FLOAT).castTo(x.dataType());
        running.addi(deltaColumn.mmul(valueWeights.getRow(dimension, true)));
    }

    private void checkColumns(INDArray x) {
        if (x.rank() != 2 || x.columns() != spec.dim()) {
            throw new IllegalArgumentException("expected [batch, " + spec.dim() + "], got "
                    + Arrays.toString(x.shape()));
        }
    }
}
