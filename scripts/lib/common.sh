# shellcheck shell=bash
# Helpers shared by scripts/local-cluster.sh and scripts/submit.sh. Source it, do not run it.
#
# Provides:
#   CHAINRULE_ROOT           the repository root
#   CHAINRULE_JAVA17_OPENS   the Java 17 --add-opens flags for Master, Worker, SparkSubmit and
#                            cluster-mode driver JVMs (one string, words separated by spaces)
#   chainrule_java           prints the java binary ($JAVA_HOME/bin/java, else java on PATH)
#   chainrule_spark_home     prints $SPARK_HOME (default: <repo>/jobs/spark-runtime/target/spark-home)
#   chainrule_require_spark_home DIR   exits 1 with build instructions when DIR/jars has no jars
#   chainrule_log / chainrule_die MSG  messages to stderr, prefixed with the script's name

# shellcheck disable=SC2034  # the variables below are used by the scripts that source this file
CHAINRULE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# Proven on Java 17 with Spark 3.5.9 (shared/reference/stack-proof/cluster/java17-opens.txt).
# Executors do not need these: Spark adds its own list to executor JVMs.
CHAINRULE_JAVA17_OPENS="-XX:+IgnoreUnrecognizedVMOptions\
 --add-opens=java.base/java.lang=ALL-UNNAMED\
 --add-opens=java.base/java.lang.invoke=ALL-UNNAMED\
 --add-opens=java.base/java.lang.reflect=ALL-UNNAMED\
 --add-opens=java.base/java.io=ALL-UNNAMED\
 --add-opens=java.base/java.net=ALL-UNNAMED\
 --add-opens=java.base/java.nio=ALL-UNNAMED\
 --add-opens=java.base/java.util=ALL-UNNAMED\
 --add-opens=java.base/java.util.concurrent=ALL-UNNAMED\
 --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED\
 --add-opens=java.base/jdk.internal.ref=ALL-UNNAMED\
 --add-opens=java.base/sun.nio.ch=ALL-UNNAMED\
 --add-opens=java.base/sun.nio.cs=ALL-UNNAMED\
 --add-opens=java.base/sun.security.action=ALL-UNNAMED\
 --add-opens=java.base/sun.util.calendar=ALL-UNNAMED"

CHAINRULE_SPARK_HOME_BUILD="mvn -B -q -N install && mvn -B -q -pl jobs/spark-runtime package"

chainrule_log() {
  printf '%s: %s\n' "$(basename "$0")" "$*" >&2
}

chainrule_die() {
  chainrule_log "error: $*"
  exit 1
}

chainrule_java() {
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
    printf '%s\n' "$JAVA_HOME/bin/java"
  elif command -v java >/dev/null 2>&1; then
    command -v java
  else
    chainrule_die "no java found (set JAVA_HOME or put java 17 on PATH)"
  fi
}

chainrule_spark_home() {
  printf '%s\n' "${SPARK_HOME:-$CHAINRULE_ROOT/jobs/spark-runtime/target/spark-home}"
}

chainrule_require_spark_home() {
  local home=$1
  if ! compgen -G "$home/jars/spark-core_*.jar" >/dev/null; then
    chainrule_log "error: no Spark jars in $home/jars"
    chainrule_log "build them (from $CHAINRULE_ROOT) with:  mvn -B package -DskipTests"
    chainrule_log "or only the Spark runtime module with:   $CHAINRULE_SPARK_HOME_BUILD"
    chainrule_log "or point SPARK_HOME at a Spark 3.5 home whose jars/ holds the Spark jars"
    exit 1
  fi
}
