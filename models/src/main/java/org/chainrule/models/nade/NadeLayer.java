package org.chainrule.models.nade;

import org.chainrule.models.HashedDropout;
import org.chainrule.models.Ordering;
import org.nd4j.shade.jackson.annotation.JsonInclude;
import org.chainrule.models.conditionals.OutputFamily;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.samediff.SDLayerParams;
import org.deeplearning4j.nn.conf.layers.samediff.SameDiffLayer;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.autodiff.samediff.SDIndex;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The whole NADE as one SameDiff layer: input {@code [batch, D + contextSize + 1]} (events, context, ordering
 * index), output each example's exact negative log-likelihood {@code [batch, 1]} under the minibatch's ordering
 * (read from row 0 of the last column, so the data schedule, not worker state, picks the ordering).
 *
 * <p>The hidden pre-activations of all D conditionals come from one cumulative sum over positions, O(D H) per example
 * like the running sum of Larochelle &amp; Murray (2011), not D separate passes. With the dimensions permuted into the
 * ordering o, A[t] = c + Wc^T y + sum_{s&lt;t} (x[o_s] W[o_s] + U[o_s]) is the exclusive cumulative sum of the
 * per-position terms; the layer builds it as the inclusive running sum of the terms shifted down by one position, with
 * the biases in position 0, so that all of it comes from one batched matrix product of small per-position features with
 * per-position weights: ND4J 1.0.0-M2.1 differentiates a batched matrix product in tens of milliseconds at MNIST size,
 * but the equivalent elementwise broadcast product x[:, :, None] * W[:, None, :] in seconds. Each position's
 * conditional parameters are then one batched product with its own output weights.
 *
 * <p>Memory: the sum, the hidden activations and their gradients are {@code [D, batch, H]} tensors, about 157 MB each
 * in float32 for D = 784, H = 500, batch 100; a training step holds about six of them (roughly 1 GB). Orderings are
 * applied by permuting the D-row parameter matrices and the events, never the big tensors.
 *
 * <p>Parameters: {@code W [D, H]} (row j = the hidden contribution of input j), {@code c [1, H]},
 * {@code V [D * P, H]} (row d * P + q = output weights of parameter q of dimension d), {@code b [1, D * P]}; with
 * several orderings {@code U [D, H]}; with a context {@code Wc [C, H]} and {@code Vc [C, D * P]}.
 *
 * <p>Every field has bean accessors: DL4J and dl4j-spark rebuild layers from JSON on executors, and a field without
 * them would silently come back empty.
 */
public class NadeLayer extends SameDiffLayer {
    static final String W = "W";
    static final String C = "c";
    static final String V = "V";
    static final String B = "b";
    static final String U = "U";
    static final String WC = "Wc";
    static final String VC = "Vc";

    private int dim;
    private int hidden;
    private String output = "bernoulli";
    private int levels = 2;
    private int components;
    private String activation = "sigmoid";
    private int orderings = 1;
    private long orderSeed;
    /** Null for the raster ordering, so the JSON of raster layers stays what it was before orderings. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    private String ordering;
    private int contextSize;
    /** Dropout rate on the hidden units while training; 0 in layers saved before it existed. */
    private double dropout;

    /** For JSON deserialization. */
    public NadeLayer() {
    }

    public NadeLayer(NadeSpec spec) {
        this.dim = spec.dim();
        this.hidden = spec.hidden();
        this.output = spec.family().name();
        this.levels = spec.family().levels();
        this.components = spec.family().components();
        this.activation = spec.activation();
        this.orderings = spec.orderings();
        this.orderSeed = spec.orderSeed();
        this.dropout = spec.dropout();
        this.ordering = spec.ordering().equals(Ordering.RASTER) ? null : spec.ordering();
        this.contextSize = spec.contextSize();
        this.weightInit = WeightInit.XAVIER;
    }

    /** The conditional family these fields describe. */
    public OutputFamily family() {
        return OutputFamily.of(output, levels, components);
    }

    @Override
    public SDVariable defineLayer(SameDiff sd, SDVariable layerInput, Map<String, SDVariable> paramTable,
                                  SDVariable inputMask) {
        OutputFamily family = family();
        SDVariable x = layerInput.get(SDIndex.all(), SDIndex.interval(0, dim));
        SDVariable context = contextSize == 0 ? null
                : layerInput.get(SDIndex.all(), SDIndex.interval(dim, dim + contextSize));
        SDVariable rank = null;
        if (orderings > 1) {
            SDVariable variant = layerInput.get(SDIndex.point(0), SDIndex.point(dim + contextSize))
                    .castTo(DataType.INT).reshape(1);
            rank = sd.gather(sd.constant("nadeRanks", rankTable()), variant, 0).reshape(dim);
        } else if (ordering != null) {
            rank = sd.constant("nadeRank", rankTable().reshape(dim));
        }
        SDVariable key = dropout > 0 ? layerInput.get(SDIndex.interval(0, 1),
                SDIndex.interval(dim + contextSize + 1, dim + contextSize + 2)) : null;
        SDVariable[] params = orderedParams(sd, x, context, rank, key, paramTable);
        return family.nll(sd, params[0], params[1], dim);
    }

    /**
     * The conditional parameters of every dimension in ordering order, {@code [batch, D * P]} (block t belongs to
     * dimension o_t), and the events permuted the same way, {@code [batch, D]}. The family's NLL is a sum over
     * dimensions, so it can be taken in ordering order directly.
     *
     * <p>Rows are permuted into the ordering with a segment sum (row d goes to position rank[d]), not a gather: in
     * ND4J 1.0.0-M2.1 the gradient of a gather with computed indices is an interpreted loop that also breaks when a
     * graph holds several of them, while the segment sum's gradient is one native op.
     *
     * @param rank rank[d] = position of dimension d in the ordering, an int vector {@code [D]}; null for the natural
     *             order
     * @param key  the minibatch's dropout key {@code [1, 1]} ({@link HashedDropout}), or null without dropout: each
     *             example's hidden units are dropped alike at every position
     */
    SDVariable[] orderedParams(SameDiff sd, SDVariable x, SDVariable context, SDVariable rank, SDVariable key,
                               Map<String, SDVariable> paramTable) {
        int p = family().paramsPerDim();
        SDVariable xt = x.permute(1, 0);                                   // [D, batch]
        SDVariable w = paramTable.get(W);                                  // [D, H]
        SDVariable v = paramTable.get(V).reshape(dim, p, hidden);          // [D, P, H]
        SDVariable b = paramTable.get(B).reshape(dim, p);                  // [D, P]
        SDVariable u = orderings > 1 ? paramTable.get(U) : null;           // [D, H]
        if (rank != null) {
            xt = sd.unsortedSegmentSum(xt, rank, dim);
            w = sd.unsortedSegmentSum(w, rank, dim);
            v = sd.unsortedSegmentSum(v, rank, dim);
            b = sd.unsortedSegmentSum(b, rank, dim);
            if (u != null) {
                u = sd.unsortedSegmentSum(u, rank, dim);
            }
        }
        // Row t of the running sum's input, shifted by one position so that an inclusive cumsum over t is the
        // exclusive one of the paper with the biases riding along: P[0] = c + Wc^T y, P[t] = x[o_{t-1}] W[o_{t-1}]
        // (+ U[o_{t-1}]). P is one batched matrix product of per-position features [D, batch, m] with per-position
        // weights [D, m, H], whose gradient is cheap (an elementwise broadcast product's is not, in ND4J M2.1).
        SDVariable c = paramTable.get(C);                                  // [1, H]
        SDVariable ones = sd.onesLike(xt.get(SDIndex.interval(0, 1), SDIndex.all()));   // [1, batch]
        SDVariable xs = dim == 1 ? ones : sd.concat(0, ones, xt.get(SDIndex.interval(0, dim - 1), SDIndex.all()));
        SDVariable ws = dim == 1 ? c : sd.concat(0, c, w.get(SDIndex.interval(0, dim - 1), SDIndex.all()));
        List<SDVariable> features = new ArrayList<>(List.of(xs.reshape(dim, -1, 1)));
        List<SDVariable> weights = new ArrayList<>(List.of(ws.reshape(dim, 1, hidden)));
        if (u != null) {
            SDVariable us = dim == 1 ? sd.zerosLike(c)
                    : sd.concat(0, sd.zerosLike(c), u.get(SDIndex.interval(0, dim - 1), SDIndex.all()));
            features.add(sd.onesLike(xs).reshape(dim, -1, 1));
            weights.add(us.reshape(dim, 1, hidden));
        }
        SDVariable outContext = null;
        if (context != null) {
            // the context enters at position 0 only: features e_0 (outer) y, weights Wc at every position
            float[] first = new float[dim];
            first[0] = 1f;
            SDVariable e0 = sd.constant("nadeFirst", Nd4j.create(first, new long[]{dim, 1}, DataType.FLOAT)
                    .castTo(c.dataType()));
            features.add(e0.mmul(context.reshape(1, -1)).reshape(dim, -1, contextSize));
            weights.add(sd.tile(paramTable.get(WC).reshape(1, contextSize, hidden), dim, 1, 1));
            outContext = context.mmul(paramTable.get(VC)).reshape(-1, dim, p).permute(1, 0, 2);   // [D, batch, P]
            if (rank != null) {
                outContext = sd.unsortedSegmentSum(outContext, rank, dim);
            }
        }
        SDVariable in = features.size() == 1 ? features.get(0) : sd.concat(2, features.toArray(new SDVariable[0]));
        SDVariable wt = weights.size() == 1 ? weights.get(0) : sd.concat(1, weights.toArray(new SDVariable[0]));
        SDVariable pre = runningSum(sd, sd.mmul(in, wt), dim);             // [D, batch, H]
        SDVariable h = activation.equals("relu") ? sd.nn().relu(pre, 0) : sd.nn().sigmoid(pre);
        if (key != null) {
            SDVariable mask = HashedDropout.mask(sd, "nadeDropout", key, x, 0, hidden, dropout);   // [batch, H]
            h = h.mul(mask.reshape(1, -1, hidden));
        }
        // [D, batch, H] x [D, P, H]^T -> [D, batch, P]: position t's parameters from its own output weights
        SDVariable out = sd.mmul(h, v, false, true, false).add(b.reshape(dim, 1, p));
        if (outContext != null) {
            out = out.add(outContext);
        }
        return new SDVariable[]{out.permute(1, 0, 2).reshape(-1, (long) dim * p), xt.permute(1, 0)};
    }

    /**
     * The inclusive running sum over axis 0 of {@code terms [D, batch, H]}: D - 1 additions of {@code [batch, H]}
     * slices, then one stack, O(D batch H) forward and backward, each step on a cache-sized slice.
     *
     * <p>Not ND4J's cumsum op: in 1.0.0-M2.1 every call of the native cumsum leaks native memory, about 0.7 times its
     * input (a [784, 100, 500] training step lost about 370 MB, so a NADE training process grew without bound and
     * ended out of memory). The chain of additions does not leak and is also faster at MNIST size.
     */
    static SDVariable runningSum(SameDiff sd, SDVariable terms, int dim) {
        if (dim == 1) {
            return terms;
        }
        SDVariable[] parts = sd.unstack(terms, 0, dim);
        SDVariable[] sums = new SDVariable[dim];
        sums[0] = parts[0];
        for (int t = 1; t < dim; t++) {
            sums[t] = sums[t - 1].add(parts[t]);
        }
        return sd.stack(0, sums);
    }

    /** rank[k][d] = position of dimension d in ordering k, as an int matrix {@code [K, D]}. */
    private INDArray rankTable() {
        int[][] all = new int[orderings][dim];
        for (int k = 0; k < orderings; k++) {
            int[] o = NadeSpec.ordering(dim, ordering == null ? Ordering.RASTER : ordering, orderSeed, k);
            for (int t = 0; t < dim; t++) {
                all[k][o[t]] = t;
            }
        }
        return Nd4j.createFromArray(all);
    }

    @Override
    public void defineParameters(SDLayerParams params) {
        params.clear();
        int p = family().paramsPerDim();
        params.addWeightParam(W, dim, hidden);
        params.addBiasParam(C, 1, hidden);
        params.addWeightParam(V, (long) dim * p, hidden);
        params.addBiasParam(B, 1, (long) dim * p);
        if (orderings > 1) {
            params.addWeightParam(U, dim, hidden);
        }
        if (contextSize > 0) {
            params.addWeightParam(WC, contextSize, hidden);
            params.addWeightParam(VC, contextSize, (long) dim * p);
        }
    }

    @Override
    public void initializeParameters(Map<String, INDArray> params) {
        WeightInit init = weightInit == null ? WeightInit.XAVIER : weightInit;
        int p = family().paramsPerDim();
        initWeights(dim, hidden, init, params.get(W));
        params.get(C).assign(0);
        initWeights(hidden, p, init, params.get(V));
        params.get(B).assign(0);
        if (orderings > 1) {
            initWeights(dim, hidden, init, params.get(U));
        }
        if (contextSize > 0) {
            initWeights(contextSize, hidden, init, params.get(WC));
            initWeights(contextSize, p, init, params.get(VC));
        }
    }

    @Override
    public InputType getOutputType(int layerIndex, InputType inputType) {
        return InputType.feedForward(1);
    }

    @Override
    public void setNIn(InputType inputType, boolean override) {
        // fixed by the spec
    }

    public int getDim() {
        return dim;
    }

    public void setDim(int dim) {
        this.dim = dim;
    }

    public int getHidden() {
        return hidden;
    }

    public void setHidden(int hidden) {
        this.hidden = hidden;
    }

    public String getOutput() {
        return output;
    }

    public void setOutput(String output) {
        this.output = output;
    }

    public int getLevels() {
        return levels;
    }

    public void setLevels(int levels) {
        this.levels = levels;
    }

    public int getComponents() {
        return components;
    }

    public void setComponents(int components) {
        this.components = components;
    }

    public String getActivation() {
        return activation;
    }

    public void setActivation(String activation) {
        this.activation = activation;
    }

    public int getOrderings() {
        return orderings;
    }

    public void setOrderings(int orderings) {
        this.orderings = orderings;
    }

    public long getOrderSeed() {
        return orderSeed;
    }

    public void setOrderSeed(long orderSeed) {
        this.orderSeed = orderSeed;
    }

    /** Ordering 0 ({@link Ordering}); layers saved before it was a setting are raster. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public String getOrdering() {
        return ordering;
    }

    public void setOrdering(String ordering) {
        this.ordering = ordering == null || ordering.equals(Ordering.RASTER) ? null : ordering;
    }

    public int getContextSize() {
        return contextSize;
    }

    public void setContextSize(int contextSize) {
        this.contextSize = contextSize;
    }

    /** Dropout rate on the hidden units while training (omitted from the JSON when 0, as before it existed). */
    @JsonInclude(JsonInclude.Include.NON_DEFAULT)
    public double getDropout() {
        return dropout;
    }

    public void setDropout(double dropout) {
        this.dropout = dropout;
    }
}
