package org.chainrule.jobs;

import org.apache.spark.sql.SparkSession;
import org.chainrule.pipelines.io.ModelVersions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * {@code models}: the model versions of a run ({@code models/v1..vN}, the current one marked), and {@code --rollback}
 * to make an earlier one the run's {@code model/} again, e.g. after a bad nightly run. Runs as a Spark application like
 * the other commands, so that it reaches the same filesystems with the same Hadoop settings.
 */
@Command(name = "models", mixinStandardHelpOptions = true,
        description = "List a run's model versions (models/v1..vN), or make one of them the current model/ again.")
final class ModelsCommand extends Main.JobCommand {
    @Option(names = "--run", paramLabel = "DIR", description = "run directory (default: train.output)")
    String run;

    @Option(names = "--rollback", paramLabel = "VERSION", description = "make this version (v1, v2, ...) the run's"
            + " model/; its checkpoint, metrics and other versions stay")
    String rollback;

    @Override
    Consumer<SparkSession> prepareJob(Settings s) {
        String dir = run != null ? run : s.trainOutput();
        return spark -> {
            org.apache.hadoop.conf.Configuration conf = spark.sparkContext().hadoopConfiguration();
            if (rollback != null) {
                Map<String, Object> was = ModelVersions.current(dir, conf);
                ModelVersions.Version now = ModelVersions.rollback(dir, rollback, conf);
                System.out.println(dir + ": model/ is now " + now.name() + (was == null ? ""
                        : " (was v" + was.get("version") + ")"));
                return;
            }
            List<ModelVersions.Version> versions = ModelVersions.list(dir, conf);
            Map<String, Object> current = ModelVersions.current(dir, conf);
            if (versions.isEmpty()) {
                System.out.println(dir + ": no model versions (a run trained before versions were kept, or none)");
            }
            for (ModelVersions.Version v : versions) {
                boolean isCurrent = current != null && String.valueOf(v.number()).equals(
                        String.valueOf(current.get("version")));
                System.out.println(line(v, isCurrent));
            }
        };
    }

    /** "v3 * recorded 2026-12-03T01:02:03Z, 2 epochs, best valid NLL 98.123 nats, from runs/x/model (v2)". */
    private static String line(ModelVersions.Version v, boolean current) {
        StringBuilder b = new StringBuilder(v.name()).append(current ? " * " : "   ");
        b.append("recorded ").append(v.info().get("recorded"));
        if (v.info().get("epochs") != null) {
            b.append(", ").append(v.info().get("epochs")).append(" epochs");
        }
        if (v.info().get("bestValidNllNats") instanceof Number nll) {
            b.append(String.format(", best valid NLL %.3f nats", nll.doubleValue()));
        }
        if (v.info().get("initFrom") instanceof Map<?, ?> from) {
            b.append(", from ").append(from.get("path"));
            if (from.get("version") != null) {
                b.append(" (").append(from.get("version")).append(")");
            }
        }
        if (v.info().get("note") != null) {
            b.append(", ").append(v.info().get("note"));
        }
        return b.toString();
    }
}
