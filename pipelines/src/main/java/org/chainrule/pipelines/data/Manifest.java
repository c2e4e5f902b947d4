package org.chainrule.pipelines.data;

import com.typesafe.config.Config;
import org.apache.hadoop.conf.Configuration;
import org.chainrule.pipelines.io.Json;
import org.chainrule.pipelines.io.Outputs;

import java.io.Serializable;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;

/**
 * What a prepared dataset directory holds: its event shape, value type, and per split the row count and an
 * order-independent content checksum (so a reader can tell a damaged or half-copied dataset from a good one).
 *
 * @param shape     event shape, e.g. [28, 28]
 * @param domain    what the values are: type, levels, label classes, standardization, vocabulary
 * @param splits    split name -> rows and checksum
 * @param rejected  split name -> rows rejected and quarantined (0 when none)
 * @param details   how it was made: source files, binarization, seed, time
 */
public record Manifest(long[] shape, Domain domain, Map<String, Split> splits, Map<String, Long> rejected,
                       Map<String, Object> details) implements Serializable {
    public static final String FILE = "manifest.json";

    /**
     * Rows and checksum of one split, and of each of its shard files (by file name; empty in manifests written before
     * shards were recorded, which can then only be checked as a whole).
     */
    public record Split(long rows, String checksum, Map<String, Shard> shards) implements Serializable {
        public Split(long rows, String checksum) {
            this(rows, checksum, Map.of());
        }
    }

    /** Rows and checksum of one shard file. */
    public record Shard(long rows, String checksum) implements Serializable {
    }

    /** A checksum as the manifest writes it: 16 hex digits of the sum (mod 2^64) of the rows' {@link #rowHash}. */
    public static String checksum(long sum) {
        return String.format("%016x", sum);
    }

    /** {@code binary}, {@code uint8} or {@code real}. */
    public String valueType() {
        return domain.valueType();
    }

    public int dims() {
        return Math.toIntExact(Arrays.stream(shape).reduce(1, (a, b) -> a * b));
    }

    public Split split(String name, String dir) {
        Split s = splits.get(name);
        if (s == null) {
            throw new IllegalArgumentException("dataset " + dir + " has no split '" + name + "'; it has " + splits.keySet());
        }
        return s;
    }

    /** Checksum contribution of one row; summed (mod 2^64) over a split. */
    public static long rowHash(long rowId, int label, byte[] x) {
        CRC32 crc = new CRC32();
        crc.update(x);
        long z = rowId * 0x9E3779B97F4A7C15L ^ crc.getValue() << 20 ^ (label + 1L) << 52;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    public String toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("format", "chainrule-dataset/1");
        m.put("shape", Arrays.stream(shape).boxed().toList());
        m.putAll(domain.toMap());
        m.put("encoding", "parquet: row_id int64, label int32 (-1 = none), x binary ("
                + (domain.isReal() ? "float32 little-endian" : "one unsigned byte") + " per value, row-major)");
        Map<String, Object> s = new LinkedHashMap<>();
        splits.forEach((k, v) -> {
            Map<String, Object> split = new LinkedHashMap<>();
            split.put("rows", v.rows());
            split.put("checksum", v.checksum());
            Map<String, Object> shards = new LinkedHashMap<>();
            v.shards().forEach((f, sh) -> shards.put(f, Map.of("rows", sh.rows(), "checksum", sh.checksum())));
            split.put("shards", shards);
            s.put(k, split);
        });
        m.put("splits", s);
        m.put("rejected", rejected);
        m.put("details", details);
        return Json.render(m);
    }

    /** Reads {@code dir/manifest.json}, with a clear error when the directory is not a prepared dataset. */
    public static Manifest read(String dir, Configuration conf) {
        String path = dir + "/" + FILE;
        if (!Outputs.exists(path, conf)) {
            throw new IllegalArgumentException("not a prepared dataset (no " + FILE + "): " + dir
                    + " — run the prepare job first");
        }
        Config c = Json.parse(Outputs.readText(path, conf), path);
        long[] shape = c.getLongList("shape").stream().mapToLong(Long::longValue).toArray();
        Map<String, Split> splits = new LinkedHashMap<>();
        for (String k : c.getObject("splits").keySet()) {
            Config s = c.getConfig("splits").getConfig(k);
            Map<String, Shard> shards = new LinkedHashMap<>();
            if (s.hasPath("shards")) {
                // file names hold dots, so read the object's keys rather than paths
                s.getObject("shards").forEach((f, v) -> {
                    Config sh = ((com.typesafe.config.ConfigObject) v).toConfig();
                    shards.put(f, new Shard(sh.getLong("rows"), sh.getString("checksum")));
                });
            }
            splits.put(k, new Split(s.getLong("rows"), s.getString("checksum"), shards));
        }
        Map<String, Long> rejected = new LinkedHashMap<>();
        for (String k : c.getObject("rejected").keySet()) {
            rejected.put(k, c.getConfig("rejected").getLong(k));
        }
        Config details = c.getConfig("details");
        int fallbackLevels = c.getString("valueType").equals("binary") ? 2
                : details.hasPath("maxValue") ? (int) details.getDouble("maxValue") + 1 : 256;
        Domain domain = Domain.fromConfig(c, fallbackLevels);
        if (domain.binarization() == null && !domain.isReal() && domain.vocabulary() == null
                && details.hasPath("binarize") && details.hasPath("maxValue")) {
            // written before the rule was part of the domain: it is in the details
            domain = domain.withBinarization(new Binarization(details.getString("binarize"),
                    details.getDouble("maxValue")));
        }
        return new Manifest(shape, domain, splits, rejected, details.root().unwrapped());
    }
}
