#!/usr/bin/env bash
# Throughput benchmark of MADE 784-500-784 on binarized MNIST (batch 100, Adam), from one run on the same data:
#   - training examples/s: single JVM (2 threads) vs Spark parameter averaging on 2 executors (1 core each)
#   - scoring rows/s: single-JVM raw forward vs the distributed evaluate job (and the score job on the same rows)
#   - cached vs naive autoregressive sampling (MADE, and a 28x28 PixelCNN), and the fp32 matrix-multiply ceiling
#   - the PyTorch peer (same MADE), when Debian's python3-torch is installed
# A benchmark, not a test: it prints figures and ratios and fails only if something does not run.
#
# Usage: scripts/bench.sh            env: BENCH_ROWS (50000 training rows), BENCH_DIR (runs/bench), BENCH_PORT (7277)
#        scripts/bench.sh --scale    prepare, train and evaluate on data larger than the executors' memory (bench-scale.sh)
set -euo pipefail
if [[ "${1:-}" == --scale ]]; then exec "$(dirname "$0")/bench-scale.sh"; fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ROWS=${BENCH_ROWS:-50000}
OUT=${BENCH_DIR:-$ROOT/runs/bench}
PORT=${BENCH_PORT:-7277}
mkdir -p "$OUT"
export CHAINRULE_CLUSTER_DIR="$OUT/cluster"

if [[ ! -f jobs/target/chainrule-jobs-0.1.0-SNAPSHOT-app.jar || ! -d jobs/spark-runtime/target/spark-home/jars ]]; then
  echo "bench: building (mvn -B -q package -DskipTests)"
  mvn -B -q package -DskipTests
fi
if [[ ! -f data/prepared/mnist/manifest.json ]]; then
  scripts/fetch-data.sh mnist
  scripts/submit.sh prepare -c conf/made-mnist.conf
fi
# the same rows for every contender: the first ROWS training rows, 1000 for validation, the 10k test rows
scripts/submit.sh prepare -c conf/made-mnist.conf --overwrite --set data="$OUT/data" \
  --set prepare.limit=$((ROWS + 1000)) --set prepare.validation-rows=1000 > "$OUT/prepare.log" 2>&1

echo "bench: single JVM (local[1] driver, ND4J on 2 threads)"
OMP_NUM_THREADS=2 scripts/submit.sh --master 'local[1]' --class org.chainrule.jobs.Bench -- \
  "$OUT/data" "$ROWS" 3 500 "$OUT/rows.u8" 2>"$OUT/single.err" | tee "$OUT/single.out" | grep -E "^(BENCH|bench:)"

echo "bench: Spark standalone cluster, 2 workers x 1 core, parameter averaging every 10 steps"
scripts/local-cluster.sh stop --port "$PORT" >/dev/null 2>&1 || true
MASTER=$(scripts/local-cluster.sh start --workers 2 --cores 1 --memory 4g --port "$PORT" --webui-port 0)
trap 'scripts/local-cluster.sh stop --port "$PORT" >/dev/null 2>&1 || true' EXIT
SPARK_OPTS=(--master "$MASTER" --executor-memory 3g)
scripts/submit.sh "${SPARK_OPTS[@]}" -- train -c conf/made-mnist.conf --overwrite --set data="$OUT/data" \
  --set train.output="$OUT/run" --set train.epochs=2 --set train.workers=2 --set train.averaging-frequency=10 \
  --set train.learning-rate=0.001 --set train.train-eval-rows=1000 > "$OUT/spark-train.log" 2>&1
grep -E "\[train\] epoch [0-9]+/[0-9]+ done" "$OUT/spark-train.log"
# scores the same training rows the single-JVM figure scored
scripts/submit.sh "${SPARK_OPTS[@]}" -- evaluate -c conf/made-mnist.conf --overwrite --set data="$OUT/data" \
  --set evaluate.split=train --set evaluate.model="$OUT/run/model" --set evaluate.output="$OUT/eval" \
  > "$OUT/spark-eval.log" 2>&1
# --- score job: the same training rows evaluate just scored, read by the score job from the prepared split (its
# stored bytes, column x), on the same cluster; prints BENCH score_job <rows/s>. Self-contained block.
scripts/submit.sh "${SPARK_OPTS[@]}" -- score --overwrite --model "$OUT/run/model" --input "$OUT/data/train" \
  --format parquet --columns x --keep row_id --output "$OUT/score" > "$OUT/spark-score.log" 2>&1
score_job=$(grep -o '"rowsPerSecond" : [0-9.eE+-]*' "$OUT/score/summary.json" | awk '{print $3}')
evaluate_job=$(grep -o '"rowsPerSecond" : [0-9.eE+-]*' "$OUT/eval/summary.json" | awk '{print $3}')
echo "BENCH score_job $score_job rows/s"
awk -v s="$score_job" -v e="$evaluate_job" \
  'BEGIN { printf "bench: score job %.0f rows/s, evaluate job %.0f rows/s on the same rows (%.2f)\n", s, e, s / e }'
# --- end of the score job block
scripts/local-cluster.sh stop --port "$PORT" >/dev/null 2>&1 || true
trap - EXIT

json() { grep -o "\"$2\" : [0-9.eE+-]*" "$1" | tail -1 | awk '{print $3}'; }
single_train=$(awk '/^BENCH train_single_jvm/{print $3}' "$OUT/single.out")
single_score=$(awk '/^BENCH score_single_jvm/{print $3}' "$OUT/single.out")
gemm=$(awk '/^BENCH gemm_fp32/{print $3}' "$OUT/single.out")
naive=$(awk '/^BENCH sample_naive/{print $3}' "$OUT/single.out")
cached=$(awk '/^BENCH sample_cached/{print $3}' "$OUT/single.out")
spark_train=$(json "$OUT/run/train-summary.json" examplesPerSecond)
spark_score=$(json "$OUT/eval/summary.json" rowsPerSecond)

torch_train="" torch_score=""
if /usr/bin/python3 -c "import torch" 2>/dev/null; then
  echo "bench: PyTorch peer ($(/usr/bin/python3 -c 'import torch; print(torch.__version__)'), 2 threads)"
  /usr/bin/python3 scripts/bench-torch.py "$OUT/rows.u8" 2 | tee "$OUT/torch.out"
  torch_train=$(awk '/^BENCH torch_train/{print $3}' "$OUT/torch.out")
  torch_score=$(awk '/^BENCH torch_score/{print $3}' "$OUT/torch.out")
else
  echo "bench: PyTorch peer skipped (apt-get install python3-torch libopenblas0-pthread to include it)"
fi

# MADE 784-500-784: ~1.57 MFLOP per example forward, ~4.7 MFLOP forward + backward
awk -v st="$single_train" -v pt="$spark_train" -v ss="$single_score" -v ps="$spark_score" -v g="$gemm" \
    -v n="$naive" -v c="$cached" -v tt="$torch_train" -v ts="$torch_score" 'BEGIN {
  printf "\n%-44s %12s %10s %12s\n", "MADE 784-500-784, MNIST, batch 100", "per second", "ratio", "of ceiling"
  printf "%-44s %12.0f %10s %11.1f%%\n", "train, single JVM (examples)", st, "1.00", 100*st*4.7e6/(g*1e9)
  printf "%-44s %12.0f %10.2f %11.1f%%\n", "train, Spark 2 executors x 1 core (examples)", pt, pt/st, 100*pt*4.7e6/(g*1e9)
  if (tt != "") printf "%-44s %12.0f %10.2f %11.1f%%\n", "train, PyTorch peer (examples)", tt, tt/st, 100*tt*4.7e6/(g*1e9)
  printf "%-44s %12.0f %10s %11.1f%%\n", "score, single JVM raw forward (rows)", ss, "1.00", 100*ss*1.57e6/(g*1e9)
  printf "%-44s %12.0f %10.2f %11.1f%%\n", "score, distributed evaluate job (rows)", ps, ps/ss, 100*ps*1.57e6/(g*1e9)
  if (ts != "") printf "%-44s %12.0f %10.2f %11.1f%%\n", "score, PyTorch peer (rows)", ts, ts/ss, 100*ts*1.57e6/(g*1e9)
  printf "%-44s %12.1f %10s\n", "sample, naive loop (samples)", n, "1.00"
  printf "%-44s %12.1f %10.1f\n", "sample, cached first layer (samples)", c, c/n
  printf "%-44s %12.1f %10s\n", "fp32 matrix multiply ceiling (GFLOP/s)", g, ""
}'

echo
echo "bench: PixelCNN 28x28 binary (32 filters, 3 residual blocks, untrained), one thread: naive vs cached sampling"
OMP_NUM_THREADS=1 scripts/submit.sh --master 'local[1]' --class org.chainrule.jobs.PixelBench -- pixelcnn 32 3 8 64 \
  2>"$OUT/pixel.err" | tee "$OUT/pixel.out" | grep -E "^BENCH"
awk '/^BENCH pixel_sample_naive/{n=$3} /^BENCH pixel_sample_cached/{c=$3} END {
  printf "%-44s %12.3f %10s\n", "PixelCNN sample, naive loop (samples)", n, "1.00"
  printf "%-44s %12.1f %10.0f\n", "PixelCNN sample, cached activations (samples)", c, c/n }' "$OUT/pixel.out"
