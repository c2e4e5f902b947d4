#!/usr/bin/env bash
# Scale benchmark (scripts/bench.sh --scale): prepare, one epoch of train and evaluate of MADE 784-500-784 on a
# generated CSV larger than the executors' memory, on a local standalone cluster of 2 executors x 1 core, with each
# step's rows/s and the executors' peak memory (Spark's executor metrics from the event log: JVM heap, and the
# process's resident memory, ND4J's off-heap buffers included).
# A benchmark, not a test: it prints figures and fails only if a step does not run; a step that fails or runs past
# its time limit is reported as such and the later steps that need its output are skipped.
#
# Usage: scripts/bench.sh --scale   (or scripts/bench-scale.sh)
# Environment:
#   SCALE_ROWS             generated rows of 784 binary values (default 5000000: a 7.8 GB CSV)
#   SCALE_EXECUTOR_MEMORY  heap of each of the 2 executors (default 1g)
#   SCALE_STEPS            which steps to run, of "prepare train evaluate" (default all three)
#   SCALE_STEP_TIMEOUT     seconds each step may run (default 7200); SCALE_TRAIN_TIMEOUT for train alone
#   BENCH_DIR              where data, logs and event logs go (default runs/bench-scale; the CSV is kept for reruns)
#   SCALE_EVAL_MODEL       a MADE on 28x28 binary data for evaluate when the train step did not produce one
#   BENCH_PORT             master port of the local cluster (default 7278)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ROWS=${SCALE_ROWS:-5000000}
MEM=${SCALE_EXECUTOR_MEMORY:-1g}
STEPS=${SCALE_STEPS:-prepare train evaluate}
LIMIT=${SCALE_STEP_TIMEOUT:-7200}
OUT=${BENCH_DIR:-$ROOT/runs/bench-scale}
PORT=${BENCH_PORT:-7278}
mkdir -p "$OUT/events"
OUT=$(cd "$OUT" && pwd)
export CHAINRULE_CLUSTER_DIR="$OUT/cluster"

if [[ ! -f jobs/target/chainrule-jobs-0.1.0-SNAPSHOT-app.jar || ! -d jobs/spark-runtime/target/spark-home/jars ]]; then
  echo "bench-scale: building (mvn -B -q package -DskipTests)"
  mvn -B -q package -DskipTests
fi

# --- the data: ROWS lines of 784 comma-separated bits (about 1 in 5 set), no header, no label
CSV=$OUT/raw/rows-$ROWS.csv
if [[ ! -f $CSV ]]; then
  mkdir -p "$OUT/raw"
  echo "bench-scale: generating $ROWS rows x 784 binary values -> $CSV"
  python3 - "$CSV.tmp" "$ROWS" <<'EOF'
import sys
import numpy as np
path, rows = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(16)
block = 20000
with open(path, "wb") as f:
    for start in range(0, rows, block):
        n = min(block, rows - start)
        text = np.full((n, 2 * 784), ord(","), dtype=np.uint8)
        text[:, 0::2] = (rng.random((n, 784)) < 0.2).astype(np.uint8) + ord("0")
        text[:, -1] = ord("\n")
        f.write(text.tobytes())
EOF
  mv "$CSV.tmp" "$CSV"
fi
BYTES=$(stat -c %s "$CSV")
echo "bench-scale: $CSV: $ROWS rows, $((BYTES / 1000000)) MB; executors: 2 x 1 core, $MEM heap each"

scripts/local-cluster.sh stop --port "$PORT" >/dev/null 2>&1 || true
MASTER=$(scripts/local-cluster.sh start --workers 2 --cores 1 --memory "$MEM" --port "$PORT" --webui-port 0)
trap 'scripts/local-cluster.sh stop --port "$PORT" >/dev/null 2>&1 || true' EXIT
SPARK_OPTS=(--master "$MASTER" --executor-memory "$MEM" --executor-cores 1
  --conf spark.eventLog.enabled=true --conf "spark.eventLog.dir=file:$OUT/events"
  --conf spark.eventLog.logStageExecutorMetrics=true --conf spark.executor.processTreeMetrics.enabled=true
  --conf spark.executor.metrics.pollingInterval=1s)

# step NAME ARGS...: runs one job on the cluster, timed and bounded; its log is $OUT/NAME.log
declare -A SECONDS_OF STATUS_OF APP_OF
step() {
  local name=$1
  shift
  local before after start rc=0 limit=$LIMIT
  [[ $name != train ]] || limit=${SCALE_TRAIN_TIMEOUT:-$LIMIT}
  before=$(ls "$OUT/events")
  start=$(date +%s.%N)
  timeout "$limit" scripts/submit.sh "${SPARK_OPTS[@]}" -- "$@" >"$OUT/$name.log" 2>&1 || rc=$?
  SECONDS_OF[$name]=$(echo "$(date +%s.%N) - $start" | bc)
  STATUS_OF[$name]=$([[ $rc == 0 ]] && echo ok || { [[ $rc == 124 ]] && echo "timed out" || echo "failed ($rc)"; })
  after=$(ls "$OUT/events")
  APP_OF[$name]=$(comm -13 <(echo "$before") <(echo "$after") | head -1)
  grep -E "^\[$name\]" "$OUT/$name.log" | tail -3 || true
  [[ $rc == 0 ]] || { echo "bench-scale: $name ${STATUS_OF[$name]}; last lines of $OUT/$name.log:"; tail -5 "$OUT/$name.log"; }
}

DATA=$OUT/data
if [[ " $STEPS " == *" prepare "* ]]; then
  echo "bench-scale: prepare"
  step prepare prepare --overwrite --set data="$DATA" --set prepare.format=csv --set "prepare.train=[\"$CSV\"]" \
    --set "prepare.test=[]" --set "prepare.train-labels=[]" --set "prepare.test-labels=[]" --set "prepare.shape=[28, 28]" \
    --set prepare.max-value=1 --set prepare.binarize=none --set prepare.validation-rows=10000 \
    --set prepare.test-rows=10000 --set prepare.shards=16
fi
if [[ " $STEPS " == *" train "* ]]; then
  echo "bench-scale: train, one epoch"
  step train train -c conf/made-mnist.conf --overwrite --set data="$DATA" --set train.output="$OUT/run" \
    --set train.epochs=1 --set train.workers=2 --set train.train-eval-rows=1000 \
    --set train.valid-eval-rows=1000
fi
if [[ " $STEPS " == *" evaluate "* ]]; then
  echo "bench-scale: evaluate, the whole training split"
  MODEL=$OUT/run/model
  if [[ ! -d $MODEL && -n "${SCALE_EVAL_MODEL:-}" ]]; then
    echo "bench-scale: no model from the train step; evaluating $SCALE_EVAL_MODEL"
    MODEL=$SCALE_EVAL_MODEL
  fi
  step evaluate evaluate -c conf/made-mnist.conf --overwrite --set data="$DATA" --set evaluate.split=train \
    --set evaluate.model="$MODEL" --set evaluate.output="$OUT/eval"
fi
scripts/local-cluster.sh stop --port "$PORT" >/dev/null 2>&1 || true
trap - EXIT

# peak executor memory of an application's event log: the largest JVM heap and process RSS any executor reported
peaks() {
  [[ -n "$1" && -f "$OUT/events/$1" ]] || { echo "? ?"; return; }
  jq -r 'select(.Event == "SparkListenerStageExecutorMetrics" and ."Executor ID" != "driver")
         | ."Executor Metrics" | "\(.JVMHeapMemory) \(.ProcessTreeJVMRSSMemory)"' "$OUT/events/$1" \
    | awk 'BEGIN { h = 0; r = 0 } { if ($1 > h) h = $1; if ($2 > r) r = $2 }
           END { printf "%.0f %.0f\n", h / 1048576, r / 1048576 }'
}
train_rows=$(jq -r '.splits.train.rows' "$DATA/manifest.json" 2>/dev/null || echo "")
printf "\n%-10s %-10s %10s %12s %12s %16s %16s\n" "step" "status" "seconds" "rows" "rows/s" "peak heap (MB)" \
  "peak RSS (MB)"
for name in prepare train evaluate; do
  [[ -n "${STATUS_OF[$name]:-}" ]] || continue
  rows=$([[ $name == prepare ]] && echo "$ROWS" || echo "$train_rows")
  read -r heap rss < <(peaks "${APP_OF[$name]}")
  rate=-
  [[ ${STATUS_OF[$name]} != ok ]] || rate=$(printf "%.0f" "$(echo "${rows:-0} / ${SECONDS_OF[$name]}" | bc -l)")
  printf "%-10s %-10s %10.0f %12s %12s %16s %16s\n" "$name" "${STATUS_OF[$name]}" "${SECONDS_OF[$name]}" "$rows" \
    "$rate" "$heap" "$rss"
  echo "SCALE $name status=${STATUS_OF[$name]// /_} seconds=${SECONDS_OF[$name]} rows=$rows peak_heap_mb=$heap" \
    "peak_rss_mb=$rss executor_memory=$MEM executors=2"
done
