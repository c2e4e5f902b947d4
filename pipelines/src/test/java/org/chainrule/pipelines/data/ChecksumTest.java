package org.chainrule.pipelines.data;

import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.format.PageHeader;
import org.apache.parquet.format.Util;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.apache.spark.sql.SparkSession;
import org.chainrule.models.TrainingRecipe;
import org.chainrule.models.autoregressive.MadeSpec;
import org.chainrule.pipelines.SparkTesting;
import org.chainrule.pipelines.evaluate.Evaluate;
import org.chainrule.pipelines.io.SavedModel;
import org.chainrule.pipelines.score.Score;
import org.chainrule.pipelines.train.Train;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Data read must be the data prepare wrote (issue 20): a shard changed after prepare, with no Hadoop {@code .crc}
 * beside it to notice, is refused by every job that reads the split, naming the split and the shard.
 */
class ChecksumTest {
    @TempDir
    static Path shared;
    static String data;
    static Manifest manifest;
    static String model;
    private final SparkSession spark = SparkTesting.spark();

    @BeforeAll
    static void prepareAndSaveAModel() {
        Path raw = SparkTesting.mnistSlice(shared.resolve("raw"));
        data = shared.resolve("prepared").toString();
        manifest = Prepare.run(SparkTesting.spark(), SparkTesting.sliceSettings(raw, data, 200, 40));
        MadeSpec spec = MadeSpec.made(new long[]{28, 28}, new int[]{8}, 1, false, 3);
        MultiLayerNetwork net = new MultiLayerNetwork(spec.trainingConfiguration(new TrainingRecipe(1e-3, 1)));
        net.init();
        model = shared.resolve("model").toString();
        new SavedModel(spec, net, Map.of(), Map.of()).save(model, SparkTesting.spark().sparkContext()
                .hadoopConfiguration());
    }

    /** A copy of the prepared dataset. */
    private static Path copy(Path to) {
        return SparkTesting.copyTree(data, to);
    }

    /**
     * Flips one bit of a shard where Parquet still decodes it, to different values, and removes the shard's .crc so
     * Hadoop does not notice: the corruption the checksums exist for. The bit is in a literal run of the Snappy stream
     * of the shard's first page (its row ids), which Snappy copies verbatim (most other bytes of a compressed page fail
     * to decode, which is the other case, tested with the messages). Returns the offset.
     */
    static long flipSilently(Path shard) throws IOException {
        Files.deleteIfExists(shard.resolveSibling("." + shard.getFileName() + ".crc"));
        long page;
        try (ParquetFileReader reader = ParquetFileReader.open(HadoopInputFile.fromPath(
                new org.apache.hadoop.fs.Path(shard.toString()), new Configuration()))) {
            var column = reader.getFooter().getBlocks().get(0).getColumns().get(0);
            assertEquals(CompressionCodecName.SNAPPY, column.getCodec(), "prepare writes Snappy pages");
            page = column.getStartingPos();
        }
        byte[] bytes = Files.readAllBytes(shard);
        java.io.ByteArrayInputStream in = new java.io.ByteArrayInputStream(bytes, (int) page, bytes.length - (int) page);
        PageHeader header = Util.readPageHeader(in);
        int at = bytes.length - in.available();
        int end = at + header.getCompressed_page_size();
        while ((bytes[at++] & 0x80) != 0) {
            // the uncompressed length, a varint
        }
        while (at < end) {
            int tag = bytes[at++] & 0xFF;
            switch (tag & 3) {
                case 0 -> {
                    int len = tag >>> 2;
                    if (len >= 60) {
                        int extra = len - 59;
                        len = 0;
                        for (int i = 0; i < extra; i++) {
                            len |= (bytes[at++] & 0xFF) << (8 * i);
                        }
                    }
                    len++;
                    int flip = at + len / 2;
                    bytes[flip] ^= 0x01;
                    Files.write(shard, bytes);
                    return flip;
                }
                case 1 -> at += 1;
                case 2 -> at += 2;
                default -> at += 4;
            }
        }
        throw new AssertionError("no literal bytes in the first page of " + shard);
    }

    @Test
    void aFlippedByteIsRefusedByTrainEvaluateScoreAndTheVerification(@TempDir Path tmp) throws IOException {
        Path copy = copy(tmp.resolve("data"));
        Path shard = copy.resolve("train/part-00001.parquet");
        flipSilently(shard);
        String expected = "split train: shard " + copy.resolve("train") + "/part-00001.parquet holds ";

        IllegalStateException verify = assertThrows(IllegalStateException.class,
                () -> Shards.verify(spark, copy.toString(), "train", manifest));
        assertTrue(verify.getMessage().contains(expected) && verify.getMessage().contains("but the manifest says"),
                verify.getMessage());

        String run = tmp.resolve("run").toString();
        Train.Settings t = new Train.Settings(copy.toString(), run, MadeSpec.made(new long[]{28, 28}, new int[]{8},
                1, false, 3), new TrainingRecipe(1e-3, 1), new Train.Schedule(1, 20, 0), new Train.Averaging(1, 1, 0),
                new Train.Scoring(20, 0, 50), false, false, Map.of());
        IllegalStateException train = assertThrows(IllegalStateException.class, () -> Train.run(spark, t));
        assertTrue(train.getMessage().contains(expected), train.getMessage());
        assertFalse(Files.exists(Path.of(run)), "nothing was trained on the changed data");

        String eval = tmp.resolve("eval").toString();
        IllegalStateException evaluate = assertThrows(IllegalStateException.class, () -> Evaluate.run(spark,
                new Evaluate.Settings(model, copy.toString(), "train", eval, 64, false)));
        assertTrue(evaluate.getMessage().contains(expected), evaluate.getMessage());
        assertFalse(Files.exists(Path.of(eval)));

        String scores = tmp.resolve("scores").toString();
        IllegalStateException score = assertThrows(IllegalStateException.class, () -> Score.run(spark,
                Score.Settings.builder(model, copy.resolve("train").toString(), scores).columns("x").keep("row_id")
                        .batchSize(64).build()));
        assertTrue(score.getMessage().contains(expected), score.getMessage());
        assertFalse(Files.exists(Path.of(scores)));

        // the other splits are untouched and still read
        Shards.verify(spark, copy.toString(), "test", manifest);
    }

    @Test
    void aMissingOrAnExtraShardIsNamed(@TempDir Path tmp) throws IOException {
        Path copy = copy(tmp.resolve("data"));
        Files.copy(copy.resolve("valid/part-00000.parquet"), copy.resolve("valid/part-00009.parquet"));
        IllegalStateException extra = assertThrows(IllegalStateException.class,
                () -> Shards.verify(spark, copy.toString(), "valid", manifest));
        assertTrue(extra.getMessage().contains("split valid: shard " + copy.resolve("valid/part-00009.parquet")
                + " is not in the manifest"), extra.getMessage());
        Files.delete(copy.resolve("valid/part-00009.parquet"));
        Files.delete(copy.resolve("valid/part-00002.parquet"));
        IllegalStateException missing = assertThrows(IllegalStateException.class,
                () -> Shards.read(spark, copy.toString(), "valid", manifest));
        assertTrue(missing.getMessage().contains("split valid: shard " + copy.resolve("valid/part-00002.parquet")
                + " is missing"), missing.getMessage());
    }

    @Test
    void aManifestWithoutShardChecksumsStillCatchesAChangeAndListsTheShards(@TempDir Path tmp) throws IOException {
        Path copy = copy(tmp.resolve("data"));
        Manifest old = new Manifest(manifest.shape(), manifest.domain(), Map.of("test",
                new Manifest.Split(manifest.splits().get("test").rows(), manifest.splits().get("test").checksum())),
                manifest.rejected(), manifest.details());
        Shards.verify(spark, copy.toString(), "test", old);
        flipSilently(copy.resolve("test/part-00002.parquet"));
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> Shards.verify(spark, copy.toString(), "test", old));
        assertTrue(e.getMessage().startsWith("dataset " + copy + ", split test: its shards [part-00000.parquet,"
                + " part-00001.parquet, part-00002.parquet] hold " + old.splits().get("test").rows()
                + " rows with checksum "), e.getMessage());
    }

    @Test
    void theManifestRecordsEveryShard() {
        Manifest.Split test = manifest.splits().get("test");
        assertEquals(List.of("part-00000.parquet", "part-00001.parquet", "part-00002.parquet"),
                List.copyOf(test.shards().keySet()));
        assertEquals(test.rows(), test.shards().values().stream().mapToLong(Manifest.Shard::rows).sum());
        assertEquals(manifest.splits(), Manifest.read(data, new Configuration()).splits());
    }
}
