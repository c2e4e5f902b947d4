package org.chainrule.pipelines.data;

import org.apache.spark.api.java.JavaSparkContext;
import org.chainrule.pipelines.io.HadoopConf;

import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * The pass over text sources that comes before encoding: the vocabulary (every character of every source file, in
 * code order, unless the config fixes one) and the characters that fall in no record (each file's tail shorter than a
 * sequence), which the manifest reports.
 */
final class TextScan {
    /** At most this many characters: values are stored one unsigned byte each. */
    static final int MAX_VOCABULARY = 256;

    private TextScan() {
    }

    static Readers.Options options(JavaSparkContext jsc, List<SourceFile> files, Readers.Options opt, HadoopConf conf,
                                   Map<String, Object> facts) {
        if (opt.sequenceLength() < 1) {
            throw new IllegalArgumentException("text.sequence-length must be >= 1, got " + opt.sequenceLength());
        }
        int t = opt.sequenceLength();
        List<long[]> scans = jsc.parallelize(files, files.size()).map(f -> {
            String text = Readers.readAll(f.path(), conf.get());
            long[] out = new long[2 + 65536 / 64];
            out[0] = text.length();
            out[1] = text.length() % t;
            for (int i = 0; i < text.length(); i++) {
                char c = text.charAt(i);
                out[2 + c / 64] |= 1L << (c % 64);
            }
            return out;
        }).collect();
        long chars = 0;
        long tail = 0;
        TreeSet<Character> seen = new TreeSet<>();
        for (long[] s : scans) {
            chars += s[0];
            tail += s[1];
            for (int c = 0; c < 65536; c++) {
                if ((s[2 + c / 64] >>> (c % 64) & 1) != 0) {
                    seen.add((char) c);
                }
            }
        }
        String vocabulary = opt.vocabulary();
        if (vocabulary == null || vocabulary.isEmpty()) {
            StringBuilder v = new StringBuilder();
            seen.forEach(v::append);
            vocabulary = v.toString();
            facts.put("vocabularySource", "every character of the source files");
        } else {
            facts.put("vocabularySource", "configured");
        }
        if (vocabulary.isEmpty()) {
            throw new IllegalArgumentException("the text sources are empty: no characters to model");
        }
        if (vocabulary.length() > MAX_VOCABULARY || vocabulary.chars().distinct().count() != vocabulary.length()) {
            throw new IllegalArgumentException("the vocabulary must be at most " + MAX_VOCABULARY
                    + " distinct characters; the text has " + vocabulary.length()
                    + " (restrict it with prepare.text.vocabulary)");
        }
        facts.put("sequenceLength", t);
        facts.put("characters", chars);
        facts.put("charactersInNoRecord", tail);
        return opt.withVocabulary(vocabulary);
    }
}
