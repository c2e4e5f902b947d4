package org.chainrule.pipelines.evaluate;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.CollectionAccumulator;
import org.apache.spark.util.StatCounter;
import org.chainrule.models.ModelSpec;
import org.chainrule.models.Units;
import org.chainrule.pipelines.Progress;
import org.chainrule.pipelines.data.Domain;
import org.chainrule.pipelines.data.Manifest;
import org.chainrule.pipelines.data.Shards;
import org.chainrule.pipelines.io.Artefact;
import org.chainrule.pipelines.io.Json;
import org.chainrule.pipelines.io.OutputGuard;
import org.chainrule.pipelines.io.Outputs;
import org.chainrule.pipelines.io.SavedModel;
import org.chainrule.pipelines.spark.JobLabels;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The evaluate pipeline: exact per-row log-likelihood of a dataset split under a saved model, written as
 * {@code scores.parquet} (row_id, log_prob_nats, bits_per_dim) and {@code summary.json} (count, mean NLL in nats,
 * its standard error, bits/dim). The summary is gathered in the same pass from the very values written, and its count
 * checked against the written files' footers and the manifest, so the two always agree without reading the scores
 * back (which cost a second job and ~1.5 s of planning on a cluster). The shards are read and the scores written with
 * parquet-hadoop directly ({@link Shards#readTallied}, {@link ScoreFiles}): one plain Spark job, with none of Spark
 * SQL's start-up, planning and code generation, which took several seconds of a short job's driver and executors.
 */
public final class Evaluate {
    public static final StructType SCHEMA = new StructType()
            .add("row_id", DataTypes.LongType, false)
            .add("log_prob_nats", DataTypes.DoubleType, false)
            .add("bits_per_dim", DataTypes.DoubleType, false);

    private Evaluate() {
    }

    /**
     * @param model     saved model directory
     * @param data      prepared dataset directory
     * @param split     split to score (train, valid, test)
     * @param output    output directory to create
     * @param batchSize rows per forward pass
     * @param overwrite replace an existing output
     */
    public record Settings(String model, String data, String split, String output, int batchSize, boolean overwrite) {
    }

    /** Checks that a model fits a dataset: same number of dimensions and a value type it is a density over. */
    public static void checkCompatible(ModelSpec spec, Manifest manifest, String dataDir) {
        long dims = Arrays.stream(spec.eventShape()).reduce(1, (a, b) -> a * b);
        if (dims != manifest.dims()) {
            throw new IllegalArgumentException("model events have " + dims + " dimensions but dataset " + dataDir
                    + " has " + manifest.dims() + " (shape " + Arrays.toString(manifest.shape()) + ")");
        }
        if (!spec.valueType().equals(manifest.valueType())) {
            throw new IllegalArgumentException("a " + spec.type() + " model is a density over " + spec.valueType()
                    + " data, but dataset " + dataDir + " holds " + manifest.valueType() + " values"
                    + (spec.valueType().equals("binary") ? " (prepare it with binarize = stochastic or threshold)" : ""));
        }
        if (spec.levels() != manifest.domain().levels()) {
            throw new IllegalArgumentException("a " + spec.type() + " model has " + spec.levels()
                    + " values per dimension, but dataset " + dataDir + " has " + manifest.domain().levels());
        }
        if (spec.contextSize() > 0 && spec.contextSize() != manifest.domain().classes()) {
            throw new IllegalArgumentException("a model conditioned on " + spec.contextSize()
                    + " classes cannot score dataset " + dataDir + ", whose labels have "
                    + manifest.domain().classes() + " classes");
        }
    }

    /**
     * Puts into a summary what its numbers are: {@code likelihood} (exact, or the model's caveat: a bound or an
     * estimate), {@code units}, and for real data the mean log-likelihood. Returns the caveat (null when exact).
     */
    public static String putUnits(Map<String, Object> summary, ModelSpec spec, Domain domain, double meanNll) {
        String caveat = spec.likelihoodCaveat();
        summary.put("likelihood", caveat == null ? "exact" : caveat);
        summary.put("units", (caveat == null ? domain.unitsDescription()
                : domain.unitsDescription().replace("exact ", "") + " (not exact: see likelihood)")
                + "; bits/dim = nats / (dims * ln 2)");
        if (domain.isReal()) {
            summary.put("meanLogLikelihoodNats", -meanNll);
        }
        return caveat;
    }

    /** Runs the evaluation; returns the summary written. */
    public static Map<String, Object> run(SparkSession spark, Settings s) {
        Configuration hconf = spark.sparkContext().hadoopConfiguration();
        OutputGuard.claim(s.output(), Artefact.EVALUATION, List.of(s.model(), s.data()), s.overwrite(), hconf);
        Manifest manifest = Manifest.read(s.data(), hconf);
        SavedModel model = SavedModel.load(s.model(), false, hconf);
        checkCompatible(model.spec(), manifest, s.data());
        String vocabulary = model.domain().vocabulary();
        if (vocabulary != null && !vocabulary.equals(manifest.domain().vocabulary())) {
            throw new IllegalArgumentException("dataset " + s.data() + " encodes characters with a different vocabulary"
                    + " than the model's; prepare it with prepare.text.vocabulary set to the model's (in "
                    + s.model() + "/model.json, data.vocabulary)");
        }
        manifest.split(s.split(), s.data());
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Broadcast<SavedModel.Payload> payload = jsc.broadcast(model.payload());
        try {
            return Outputs.staged(s.output(), hconf, staging -> score(spark, s, model, manifest, payload, staging));
        } finally {
            payload.destroy();
        }
    }

    /** Scores into {@code staging}: the Parquet, then the summary computed from the Parquet as written. */
    private static Map<String, Object> score(SparkSession spark, Settings s, SavedModel model, Manifest manifest,
                                             Broadcast<SavedModel.Payload> payload, String staging) {
        int dims = manifest.dims();
        Configuration hconf = spark.sparkContext().hadoopConfiguration();
        long expected = manifest.split(s.split(), s.data()).rows();
        long start = System.nanoTime();
        Progress.say("evaluate", "scoring " + expected + " rows of " + s.data() + "/" + s.split() + " with " + s.model());
        JobLabels.describe(spark, "evaluate %s: score", s.split());
        Shards.Tallied data = Shards.readTallied(spark, s.data(), s.split(), manifest);
        CollectionAccumulator<Object[]> tally = spark.sparkContext().collectionAccumulator("scores of " + s.split());
        JavaRDD<Scorer.Scored> rows = Scorer.score(data.rows(), payload, dims, s.batchSize())
                .mapPartitions(it -> tallied(it, tally));
        String scores = staging + "/scores.parquet";
        ScoreFiles.write(rows, scores, dims, hconf);
        // the rows just scored are the rows prepare wrote, shard by shard, or nothing is committed
        data.verify();
        double seconds = (System.nanoTime() - start) / 1e9;

        // the summary of the very values written (gathered as they were written, one tally per partition), checked
        // against the row counts in the written files' footers and the manifest
        StatCounter st = new StatCounter();
        long nonFinite = 0;
        Map<Integer, Object[]> once = new HashMap<>();
        for (Object[] e : tally.value()) {
            once.putIfAbsent((Integer) e[0], e); // a task that ran twice counts once
        }
        for (Object[] e : once.values()) {
            st.merge((StatCounter) e[1]);
            nonFinite += (Long) e[2];
        }
        long count = st.count();
        long written = Outputs.parquetRows(scores, hconf);
        if (count != expected || written != expected) {
            throw new IllegalStateException("scored " + count + " rows and wrote " + written + " but the manifest of "
                    + s.data() + " lists " + expected + " in split " + s.split() + "; the dataset changed or is damaged");
        }
        double meanNll = -st.mean();
        double stdErr = count > 1 ? st.sampleStdev() / Math.sqrt(count) : 0.0;
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("model", s.model());
        summary.put("modelType", model.spec().type());
        summary.put("data", s.data());
        summary.put("split", s.split());
        summary.put("count", count);
        summary.put("meanNllNats", meanNll);
        summary.put("stdErrNats", stdErr);
        summary.put("bitsPerDim", Units.bitsPerDim(meanNll, dims));
        summary.put("dims", dims);
        summary.put("nonFiniteRows", nonFinite);
        String caveat = putUnits(summary, model.spec(), model.domain(), meanNll);
        summary.put("seconds", seconds);
        summary.put("rowsPerSecond", count / seconds);
        Outputs.writeText(staging + "/summary.json", Json.render(summary), hconf);
        Artefact.EVALUATION.mark(staging, hconf);
        Progress.say("evaluate", String.format("%s/%s: mean NLL %.3f ± %.3f nats (%.4f bits/dim)%s over %d rows,"
                        + " %.0f rows/s -> %s", s.data(), s.split(), meanNll, stdErr, Units.bitsPerDim(meanNll, dims),
                caveat == null ? "" : " [bound/estimate: see summary.json]", count, count / seconds, s.output()));
        return summary;
    }

    /**
     * Passes a partition's scores through and, once it is used up, adds (partition, statistics of the log-likelihoods,
     * NaN count) to {@code tally}.
     */
    private static Iterator<Scorer.Scored> tallied(Iterator<Scorer.Scored> scored, CollectionAccumulator<Object[]> tally) {
        StatCounter st = new StatCounter();
        long[] nan = new long[1];
        return new Iterator<>() {
            private boolean reported;

            @Override
            public boolean hasNext() {
                boolean more = scored.hasNext();
                if (!more && !reported) {
                    reported = true;
                    tally.add(new Object[]{TaskContext.getPartitionId(), st, nan[0]});
                }
                return more;
            }

            @Override
            public Scorer.Scored next() {
                Scorer.Scored r = scored.next();
                st.merge(r.logProbNats());
                if (Double.isNaN(r.logProbNats())) {
                    nan[0]++;
                }
                return r;
            }
        };
    }
}
