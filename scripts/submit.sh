#!/usr/bin/env bash
# Run chainrule's application jar through Spark's SparkSubmit, as a plain
# `java -cp "$SPARK_HOME/jars/*" org.apache.spark.deploy.SparkSubmit` (SPARK_HOME is the Maven-built
# Spark "distribution", which has no bin/spark-submit).
#
# Usage: scripts/submit.sh [spark-submit options...] -- [chainrule args...]
#        scripts/submit.sh [chainrule args...]            (no literal --: every argument is the app's)
#
# Examples:
#   scripts/submit.sh train --set train.epochs=3                       # local[2]
#   scripts/submit.sh --master "$(scripts/local-cluster.sh url)" --executor-memory 2g -- train
#   SPARK_MASTER=spark://127.0.0.1:7077 scripts/submit.sh train
#
# Added unless the user's spark-submit options already say otherwise:
#   --master ${SPARK_MASTER:-local[2]}            --class org.chainrule.jobs.Main
#   --driver-memory ${CHAINRULE_DRIVER_MEMORY:-4g}
#   --conf spark.driver.host=127.0.0.1            only for local[...] and spark://127.0.0.1|localhost
#                                                 masters (then SPARK_LOCAL_IP=127.0.0.1 too)
# Always added, merged with the user's own values (the user's come last, so they win):
#   spark.driver.extraJavaOptions   = <Java 17 --add-opens list> -Djava.awt.headless=true
#       -Dorg.bytedeco.javacpp.maxbytes=${CHAINRULE_DRIVER_OFFHEAP:-6G}
#       -Dorg.bytedeco.javacpp.maxphysicalbytes=${CHAINRULE_DRIVER_MAXPHYSICAL:-12G}
#       -Dlog4j.configurationFile=file:${CHAINRULE_LOG4J:-<repo>/conf/log4j2.properties} (Spark at WARN)
#   spark.executor.extraJavaOptions = -Djava.awt.headless=true
#       -Dorg.bytedeco.javacpp.maxbytes=${CHAINRULE_EXECUTOR_OFFHEAP:-3G}
#       -Dorg.bytedeco.javacpp.maxphysicalbytes=${CHAINRULE_EXECUTOR_MAXPHYSICAL:-6G}
#   -XX:TieredStopAtLevel=1 (the JIT's quick compiler only) for the executors, and for the driver on local masters
#       and of evaluate and score, when the job trains or scores (every job but prepare); CHAINRULE_JIT=full keeps
#       the JVM's default (below)
#   (--driver-java-options and --conf spark.{driver,executor}.extraJavaOptions are folded in.)
#
# Client mode (the default) runs the driver inside the SparkSubmit JVM, so, as bin/spark-submit
# would, the script starts that JVM with -Xmx<driver memory>, the driver Java options and
# --driver-class-path / spark.driver.extraClassPath. Cluster mode (--deploy-mode cluster) starts a
# small (-Xmx1g) client JVM; the driver then runs on a worker with the options above. Note that a
# standalone cluster-mode submit returns once the driver is submitted, unless
# --conf spark.standalone.submit.waitAppCompletion=true is given.
# Options inside --properties-file / spark-defaults.conf are passed on but not inspected.
#
# Environment:
#   CHAINRULE_APP_JAR     the application jar (default <repo>/jobs/target/chainrule-jobs-0.1.0-SNAPSHOT-app.jar)
#   SPARK_HOME            (default <repo>/jobs/spark-runtime/target/spark-home)
#   SPARK_MASTER, CHAINRULE_DRIVER_MEMORY, CHAINRULE_DRIVER_OFFHEAP, CHAINRULE_DRIVER_MAXPHYSICAL,
#   CHAINRULE_EXECUTOR_OFFHEAP, CHAINRULE_EXECUTOR_MAXPHYSICAL
#   CHAINRULE_JIT         auto (default): quick for the model jobs, full for prepare and any other main class;
#                         quick: -XX:TieredStopAtLevel=1 (the client compiler only); full: the JVM's tiered default.
#                         Model jobs spend their time in native code called through DL4J's Java glue, whose C2
#                         compilation costs more CPU than it saves on executors of 1-2 cores (measured,
#                         docs/throughput.md: a 500,000-row evaluate 1.6x faster, training's first epochs 1.3-1.7x,
#                         a 5M-row evaluate 5% slower); prepare parses text in Java and is 1.5x slower without C2.
#   DNNL_MAX_CPU_ISA (default AVX2), OMP_NUM_THREADS (only when set)
#                         native settings of ND4J: the driver's environment on local masters, the executors'
#                         (spark.executorEnv.*) on clusters. Each task gets as many ND4J threads as it has CPUs
#                         (spark.task.cpus, default 1), set by the jobs themselves; without OMP_NUM_THREADS, the
#                         executors get OMP_NUM_THREADS = --executor-cores (or spark.executor.cores) when given.
#   HADOOP_CONF_DIR, YARN_CONF_DIR   put on the launcher's classpath, as bin/spark-submit does (--master yarn
#                         finds the resource manager there)
#   JAVA_HOME             java to use (else java on PATH); Java 17.
#
# The Spark UI is on (Spark picks the port, 4040 or the next free one; the job prints its address). With --verbose
# (the job's option, or spark-submit's own) the command run is printed first, on one line, to stderr. The exit
# code is SparkSubmit's.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/common.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

DEFAULT_CLASS=org.chainrule.jobs.Main
APP_JAR=${CHAINRULE_APP_JAR:-$CHAINRULE_ROOT/jobs/target/chainrule-jobs-0.1.0-SNAPSHOT-app.jar}

# ------------------------------------------------------------------------- split the arguments
SPARK_ARGS=()
APP_ARGS=()
seen_dashdash=0
for a in "$@"; do
  if ((seen_dashdash == 0)) && [[ "$a" == "--" ]]; then
    seen_dashdash=1
  elif ((seen_dashdash)); then
    APP_ARGS+=("$a")
  else
    SPARK_ARGS+=("$a")
  fi
done
if ((seen_dashdash == 0)); then
  APP_ARGS=("${SPARK_ARGS[@]}")
  SPARK_ARGS=()
fi

# ------------------------------------------------------------------------- read the spark-submit options
# spark-submit options that take a value (SparkSubmitOptionParser); everything else is a flag.
takes_value() {
  case "$1" in
    --master|--deploy-mode|--class|--name|--jars|--packages|--exclude-packages|--repositories|\
    --py-files|--files|--archives|--conf|-c|--properties-file|--driver-memory|--driver-java-options|\
    --driver-library-path|--driver-class-path|--executor-memory|--proxy-user|--driver-cores|\
    --total-executor-cores|--executor-cores|--num-executors|--principal|--keytab|--queue|--kill|\
    --status) return 0 ;;
    *) return 1 ;;
  esac
}

master="" master_given=0 class_given=0 deploy_mode="" driver_memory="" dm_given=0 host_given=0
driver_cp="" user_driver_opts="" user_executor_opts="" executor_cores=""
KEPT=()  # the user's options, less the ones folded into ours

note_conf() {  # note_conf KEY=VALUE: returns 1 when the conf is folded in (to be dropped)
  local kv=$1 key val
  key=${kv%%=*}
  val=${kv#*=}
  [[ "$kv" == *=* ]] || val=""
  case "$key" in
    spark.master) master=$val; master_given=1 ;;
    spark.submit.deployMode) deploy_mode=$val ;;
    spark.driver.memory) driver_memory=$val; dm_given=1 ;;
    spark.driver.host) host_given=1 ;;
    spark.executor.cores) executor_cores=$val ;;
    spark.driver.extraClassPath) driver_cp=${driver_cp:+$driver_cp:}$val ;;
    spark.driver.extraJavaOptions) user_driver_opts="$user_driver_opts $val"; return 1 ;;
    spark.executor.extraJavaOptions) user_executor_opts="$user_executor_opts $val"; return 1 ;;
  esac
  return 0
}

verbose=0
for a in "${APP_ARGS[@]}"; do
  [[ "$a" == --verbose || "$a" == -v ]] && verbose=1
done
i=0
n=${#SPARK_ARGS[@]}
while ((i < n)); do
  opt=${SPARK_ARGS[i]}
  if [[ "$opt" == --*=* ]] && takes_value "${opt%%=*}"; then
    name=${opt%%=*} val=${opt#*=} consumed=1 form=joined
  elif takes_value "$opt"; then
    ((i + 1 < n)) || chainrule_die "spark-submit option $opt needs a value"
    name=$opt val=${SPARK_ARGS[i + 1]} consumed=2 form=split
  else
    [[ "$opt" == --verbose || "$opt" == -v ]] && verbose=1
    KEPT+=("$opt")
    i=$((i + 1))
    continue
  fi
  keep=1
  case "$name" in
    --master) master=$val; master_given=1 ;;
    --class) class_given=1 ;;
    --deploy-mode) deploy_mode=$val ;;
    --driver-memory) driver_memory=$val; dm_given=1 ;;
    --executor-cores) executor_cores=$val ;;
    --driver-class-path) driver_cp=${driver_cp:+$driver_cp:}$val ;;
    --driver-java-options) user_driver_opts="$user_driver_opts $val"; keep=0 ;;
    --conf|-c) note_conf "$val" || keep=0 ;;
  esac
  if ((keep)); then
    if [[ $form == joined ]]; then KEPT+=("$opt"); else KEPT+=("$name" "$val"); fi
  fi
  i=$((i + consumed))
done

# ------------------------------------------------------------------------- checks
SPARK_HOME=$(chainrule_spark_home)
chainrule_require_spark_home "$SPARK_HOME"
SPARK_HOME=$(cd "$SPARK_HOME" && pwd)
JAVA=$(chainrule_java)
if [[ ! -f "$APP_JAR" ]]; then
  chainrule_log "error: application jar not found: $APP_JAR"
  chainrule_log "build it (from $CHAINRULE_ROOT) with:  mvn -B package -DskipTests"
  chainrule_log "(or set CHAINRULE_APP_JAR to another jar)"
  exit 1
fi

# ------------------------------------------------------------------------- the command
master=${master:-${SPARK_MASTER:-local[2]}}
driver_memory=${driver_memory:-${CHAINRULE_DRIVER_MEMORY:-4g}}
loopback=0
case "$master" in
  local|local\[*|local-cluster\[*|spark://127.0.0.1:*|spark://localhost:*) loopback=1 ;;
esac

# Spark logs at WARN unless the user points elsewhere: the jobs' own progress lines stay readable.
log4j=${CHAINRULE_LOG4J:-$CHAINRULE_ROOT/conf/log4j2.properties}
log4j_opt=""
[[ -f "$log4j" ]] && log4j_opt=" -Dlog4j.configurationFile=file:$log4j"
# ND4J's arrays live off the Java heap and are freed by the garbage collector; JavaCPP only forces a collection when
# its limits are reached, and its default (4 x heap) let a local-mode NADE run grow to 13 GB of garbage. The driver
# runs the tasks in local mode, so it gets room for two workers.
driver_opts="$CHAINRULE_JAVA17_OPENS -Djava.awt.headless=true${log4j_opt}"
driver_opts+=" -Dorg.bytedeco.javacpp.maxbytes=${CHAINRULE_DRIVER_OFFHEAP:-6G}"
driver_opts+=" -Dorg.bytedeco.javacpp.maxphysicalbytes=${CHAINRULE_DRIVER_MAXPHYSICAL:-12G}"
executor_opts="-Djava.awt.headless=true"
executor_opts+=" -Dorg.bytedeco.javacpp.maxbytes=${CHAINRULE_EXECUTOR_OFFHEAP:-3G}"
executor_opts+=" -Dorg.bytedeco.javacpp.maxphysicalbytes=${CHAINRULE_EXECUTOR_MAXPHYSICAL:-6G}"
# The JIT (CHAINRULE_JIT above): the model jobs' executors, and the driver where it runs the tasks or only plans a
# scoring job, compile with C1 only. The user's own options come after, so an explicit -XX:TieredStopAtLevel wins.
jit=${CHAINRULE_JIT:-auto}
case "$jit" in
  auto)
    jit=full
    if ((class_given == 0)); then
      case "${APP_ARGS[0]:-}" in train|evaluate|score|sample|detect|ood-eval|interpolate) jit=quick ;; esac
    fi ;;
  quick|full) ;;
  *) chainrule_die "CHAINRULE_JIT must be auto, quick or full, got '$jit'" ;;
esac
if [[ $jit == quick ]]; then
  executor_opts+=" -XX:TieredStopAtLevel=1"
  # the driver too where it runs the tasks, and for the scoring jobs, whose driver only plans the job and commits
  # it (a 500,000-row evaluate on the bench's cluster: 3 CPU-seconds and ~1 s of wall time less); train's driver
  # averages the workers' parameters every round and keeps the default
  case "$master" in
    local|local\[*) driver_opts+=" -XX:TieredStopAtLevel=1" ;;
    *) case "${APP_ARGS[0]:-}" in evaluate|score) ((class_given)) || driver_opts+=" -XX:TieredStopAtLevel=1" ;; esac ;;
  esac
fi
driver_opts+=$user_driver_opts
executor_opts+=$user_executor_opts

SUBMIT=()
((master_given)) || SUBMIT+=(--master "$master")
((class_given)) || SUBMIT+=(--class "$DEFAULT_CLASS")
((dm_given)) || SUBMIT+=(--driver-memory "$driver_memory")
((loopback && !host_given)) && SUBMIT+=(--conf spark.driver.host=127.0.0.1)
SUBMIT+=(--conf "spark.driver.extraJavaOptions=$driver_opts")
SUBMIT+=(--conf "spark.executor.extraJavaOptions=$executor_opts")
# The user's options come after ours: for a key given twice SparkSubmit keeps the last value.
SUBMIT+=("${KEPT[@]}")

classpath="$SPARK_HOME/jars/*"
# As bin/spark-class: the Hadoop/YARN client configuration (yarn-site.xml, core-site.xml) comes from the classpath.
for d in "${HADOOP_CONF_DIR:-}" "${YARN_CONF_DIR:-}"; do
  [[ -n "$d" ]] && classpath="$d:$classpath"
done
JVM=()
if [[ "$deploy_mode" == cluster ]]; then
  # Only a submission client: the driver runs on a worker with spark.driver.extraJavaOptions.
  read -r -a opens <<<"$CHAINRULE_JAVA17_OPENS"
  JVM=(-Xmx1g "${opens[@]}")
  # The client only reports on the application: quiet (our log4j2 configuration) unless --verbose (Spark's INFO).
  ((verbose)) || [[ -z "$log4j_opt" ]] || JVM+=("${log4j_opt# }")
else
  # Client mode: this JVM is the driver.
  read -r -a jvm_driver_opts <<<"$driver_opts"
  JVM=("-Xmx$driver_memory" "${jvm_driver_opts[@]}")
  [[ -z "$driver_cp" ]] || classpath="$driver_cp:$classpath"
fi

ENV=("SPARK_HOME=$SPARK_HOME" SPARK_SCALA_VERSION=2.12)
# Threads: each task sets ND4J's native threads to its own CPUs (org.chainrule.pipelines.spark.TaskThreads, from
# spark.task.cpus), so N one-core tasks use N threads rather than N x cores fighting for the cores (measured: 2
# workers on 2 cores, 3.0k -> 4.0k examples/s). OMP_NUM_THREADS, when set, still reaches the JVMs (work outside tasks,
# such as the Bench class, follows it). Local masters: the driver JVM's environment; clusters: the executors'.
# oneDNN (ND4J's convolutions) is capped at AVX2 kernels: on AVX-512 CPUs it would pick Winograd 3x3 convolutions,
# whose rounding makes a pixel's conditional move by ~1e-8 with later pixels; direct kernels keep masked taps exactly
# zero, which the autoregressive likelihood relies on (cost measured: 77 -> 69 PixelCNN training images/s).
# (oneDNN 2.3, the version ND4J links, reads DNNL_MAX_CPU_ISA; later ones also ONEDNN_MAX_CPU_ISA.) Set it to override.
# Executors: their OpenMP pool is sized once, at start-up, by the machine's cores unless OMP_NUM_THREADS says
# otherwise, and the per-task settings above only bound it. With --executor-cores N (or spark.executor.cores) and no
# OMP_NUM_THREADS given, the executors get OMP_NUM_THREADS=N: measured on 2 one-core executors of a 2-core machine,
# 2.7x faster training (1,578 -> 4,260 examples/s, docs/throughput.md).
native_env=("DNNL_MAX_CPU_ISA=${DNNL_MAX_CPU_ISA:-AVX2}")
if [[ -n "${OMP_NUM_THREADS:-}" ]]; then
  native_env+=("OMP_NUM_THREADS=$OMP_NUM_THREADS")
elif [[ "$executor_cores" =~ ^[1-9][0-9]*$ && "$master" != local* ]]; then
  native_env+=("OMP_NUM_THREADS=$executor_cores")
fi
for kv in "${native_env[@]}"; do
  case "$master" in
    local|local\[*) ENV+=("$kv") ;;
    *) [[ " ${KEPT[*]} " == *"spark.executorEnv.${kv%%=*}"* ]] || SUBMIT+=(--conf "spark.executorEnv.$kv") ;;
  esac
done
if ((loopback)) && [[ -z "${SPARK_LOCAL_IP:-}" ]]; then ENV+=(SPARK_LOCAL_IP=127.0.0.1); fi

CMD=("$JAVA" "${JVM[@]}" -cp "$classpath" org.apache.spark.deploy.SparkSubmit "${SUBMIT[@]}" "$APP_JAR" "${APP_ARGS[@]}")
if ((verbose)); then
  # One line, shell-quoted, runnable as printed.
  printf '%q ' "${ENV[@]}" "${CMD[@]:0:${#CMD[@]}-1}" >&2
  printf '%q\n' "${CMD[-1]}" >&2
fi
exec env "${ENV[@]}" "${CMD[@]}"
