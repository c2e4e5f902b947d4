package org.chainrule.pipelines.sample;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.chainrule.models.DensityModel;
import org.chainrule.models.Latent;
import org.chainrule.pipelines.Progress;
import org.chainrule.pipelines.data.Batches;
import org.chainrule.pipelines.data.Example;
import org.chainrule.pipelines.data.Manifest;
import org.chainrule.pipelines.data.Shards;
import org.chainrule.pipelines.evaluate.Evaluate;
import org.chainrule.pipelines.io.Artefact;
import org.chainrule.pipelines.io.Json;
import org.chainrule.pipelines.io.OutputGuard;
import org.chainrule.pipelines.io.Outputs;
import org.chainrule.pipelines.io.Pictures;
import org.chainrule.pipelines.io.SavedModel;
import org.chainrule.pipelines.spark.JobLabels;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Latent-space interpolation for flows (Kingma & Dhariwal 2018, Glow, section 5): two real images of a dataset split
 * are encoded, their latent codes are mixed linearly in {@code steps} equal steps, and every mixture is decoded.
 * Writes {@code interpolation.png} (the strip: the two encoded-decoded ends and the images between) and
 * {@code interpolation.parquet} (step, alpha, values).
 */
public final class Interpolate {
    public static final StructType SCHEMA = new StructType()
            .add("step", DataTypes.IntegerType, false)
            .add("alpha", DataTypes.DoubleType, false)
            .add("values", DataTypes.createArrayType(DataTypes.FloatType, false), false);

    private Interpolate() {
    }

    /**
     * @param model  saved flow model directory
     * @param data   prepared dataset directory
     * @param split  split the two images come from
     * @param first  position (by row id) of the first image in the split
     * @param second position of the second image
     * @param steps  images in the strip, ends included (at least 2)
     */
    public record Settings(String model, String data, String split, int first, int second, int steps, String output,
                           boolean overwrite) {
        public Settings {
            if (steps < 2) {
                throw new IllegalArgumentException("an interpolation needs at least 2 steps, got " + steps);
            }
            if (first < 0 || second < 0) {
                throw new IllegalArgumentException("rows must be >= 0, got " + first + ", " + second);
            }
        }
    }


    /** Runs the interpolation on the driver (two images need no cluster); returns its summary. */
    public static Map<String, Object> run(SparkSession spark, Settings s) {
        Configuration hconf = spark.sparkContext().hadoopConfiguration();
        OutputGuard.claim(s.output(), Artefact.INTERPOLATION, List.of(s.model(), s.data()), s.overwrite(), hconf);
        SavedModel model = SavedModel.load(s.model(), false, hconf);
        Manifest manifest = Manifest.read(s.data(), hconf);
        Evaluate.checkCompatible(model.spec(), manifest, s.data());
        long[] shape = manifest.shape();
        if (manifest.domain().isReal() || shape.length != 2) {
            throw new IllegalArgumentException("interpolation writes a picture strip, so it needs single-channel image"
                    + " data ([height, width], discrete values); " + s.data() + " holds " + manifest.domain().valueType()
                    + " events of shape " + java.util.Arrays.toString(shape));
        }
        DensityModel density = model.spec().densityOf(model.network());
        if (!(density instanceof Latent latent)) {
            throw new IllegalArgumentException("a " + model.spec().type() + " model has no latent space to interpolate"
                    + " in; interpolation needs a flow (maf, iaf, realnvp, glow, planar, radial)");
        }
        int need = Math.max(s.first(), s.second()) + 1;
        JobLabels.describe(spark, "interpolate: read rows %d and %d", s.first(), s.second());
        List<Example> rows = Shards.read(spark, s.data(), s.split(), manifest).takeOrdered(need, Example.BY_ROW_ID);
        if (rows.size() < need) {
            throw new IllegalArgumentException("the " + s.split() + " split of " + s.data() + " has " + rows.size()
                    + " rows; row " + (need - 1) + " was asked for");
        }
        int dims = manifest.dims();
        INDArray x = Batches.matrix(List.of(rows.get(s.first()), rows.get(s.second())), dims, false);
        INDArray z = latent.encode(x);
        INDArray mix = z.getRow(0).reshape(1, dims).repeat(0, s.steps()).dup();
        for (int i = 0; i < s.steps(); i++) {
            double a = i / (double) (s.steps() - 1);
            mix.getRow(i).assign(z.getRow(0).mul(1 - a).addi(z.getRow(1).mul(a)));
        }
        float[][] images = latent.decode(mix).toFloatMatrix();
        return Outputs.staged(s.output(), hconf, staging -> {
            List<Row> out = new ArrayList<>();
            for (int i = 0; i < images.length; i++) {
                Float[] boxed = new Float[images[i].length];
                for (int d = 0; d < boxed.length; d++) {
                    boxed[d] = images[i][d];
                }
                out.add(RowFactory.create(i, i / (double) (s.steps() - 1), boxed));
            }
            JobLabels.describe(spark, "interpolate: write the strip");
            spark.createDataFrame(out, SCHEMA).coalesce(1).write().parquet(staging + "/interpolation.parquet");
            float[][] scaled = new float[images.length][];
            for (int i = 0; i < images.length; i++) {
                scaled[i] = images[i].clone();
                for (int d = 0; d < scaled[i].length; d++) {
                    scaled[i][d] /= Math.max(1, manifest.domain().levels() - 1);
                }
            }
            Outputs.writeBytes(staging + "/interpolation.png", Pictures.imageGrid(scaled, (int) shape[0],
                    (int) shape[1], 1, images.length, 3), hconf);
            Map<String, Object> summary = new LinkedHashMap<>();
            summary.put("model", s.model());
            summary.put("data", s.data());
            summary.put("split", s.split());
            summary.put("rows", List.of(s.first(), s.second()));
            summary.put("rowIds", List.of(rows.get(s.first()).rowId(), rows.get(s.second()).rowId()));
            summary.put("steps", s.steps());
            summary.put("latent", "z(a) = (1 - a) z(first) + a z(second), decoded; the ends are the two images"
                    + " encoded and decoded again");
            Outputs.writeText(staging + "/summary.json", Json.render(summary), hconf);
            Artefact.INTERPOLATION.mark(staging, hconf);
            Progress.say("interpolate", "strip of " + s.steps() + " images -> " + s.output() + "/interpolation.png");
            return summary;
        });
    }
}
