package org.chainrule.pipelines.train;

import java.io.IOException;
import java.io.InputStream;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;

/** Versions and git commit of the running build, for provenance. */
public final class BuildInfo {
    private BuildInfo() {
    }

    public static Map<String, Object> versions() {
        Map<String, Object> v = new LinkedHashMap<>();
        Properties p = new Properties();
        try (InputStream in = BuildInfo.class.getResourceAsStream("/chainrule-build.properties")) {
            if (in != null) {
                p.load(in);
            }
        } catch (IOException ignored) {
            // provenance then says "unknown"
        }
        v.put("chainruleVersion", p.getProperty("version", "unknown"));
        v.put("gitCommit", p.getProperty("git.commit", "unknown"));
        v.put("dl4jVersion", p.getProperty("dl4j.version", "unknown"));
        v.put("sparkVersion", org.apache.spark.package$.MODULE$.SPARK_VERSION());
        v.put("javaVersion", System.getProperty("java.version"));
        return v;
    }
}
