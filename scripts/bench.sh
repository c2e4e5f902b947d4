#!/usr/bin/env bash
# Throughput benchmark of MADE 784-500-784 on binarized MNIST (batch 100, Adam, conf/made-mnist.conf's learning rate
# and averaging frequency), from one run on the same data:
#   - training: single JVM (2 BLAS threads) vs parameter averaging on a standalone cluster of 2 executors x 1 core,
#     examples/s and validation NLL after each of 3 epochs, and where each averaging round's time goes
#   - scoring: single-JVM raw forward (2 threads, and 1 thread) vs the distributed evaluate job on 50,000 and 500,000
#     rows, so its fixed and per-row costs show apart, and the score job on the 50,000
#     rows
#   - cached vs naive autoregressive sampling (MADE, and a 28x28 PixelCNN), and the fp32 matrix-multiply ceiling
#     (ND4J's matmul op and BLAS directly)
#   - the PyTorch peer (same MADE, same rows) and its matrix multiply, when Debian's python3-torch is installed
# The Spark jobs run through scripts/submit.sh, whose default gives the training and scoring jobs' executors the JVM's
# quick compiler only (CHAINRULE_JIT, docs/throughput.md); the single-JVM baseline keeps the JVM's default.
# A benchmark, not a test: it prints figures, ends with machine-readable `RATIO <name> <value>` lines, and fails only
# if something does not run. Timings depend on whatever else runs on the machine: the load average is printed at
# every step.
#
# Usage: scripts/bench.sh
#   env: BENCH_ROWS (50000 training rows), BENCH_SCORE_COPIES (10: the evaluate data is that many copies of the
#        training rows), BENCH_EPOCHS (3), BENCH_DIR (runs/bench), BENCH_PORT (7277)
#        scripts/bench.sh --scale    prepare, train and evaluate on data larger than the executors' memory (bench-scale.sh)
# The benchmark mains live in the test tree (org.chainrule.bench, jobs' test jar), not in the application jar.
set -euo pipefail
if [[ "${1:-}" == --scale ]]; then exec "$(dirname "$0")/bench-scale.sh"; fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ROWS=${BENCH_ROWS:-50000}
COPIES=${BENCH_SCORE_COPIES:-10}
EPOCHS=${BENCH_EPOCHS:-3}
OUT=${BENCH_DIR:-$ROOT/runs/bench}
PORT=${BENCH_PORT:-7277}
CONF=conf/made-mnist.conf
LR=$(awk -F= '/^ *learning-rate *=/ {gsub(/ /, "", $2); print $2}' "$CONF")
FREQ=$(awk -F= '/^ *averaging-frequency *=/ {gsub(/ /, "", $2); print $2}' "$CONF")
SEED=42  # reference.conf's train.seed: the train job and the single JVM start from the same initialisation
mkdir -p "$OUT"
export CHAINRULE_CLUSTER_DIR="$OUT/cluster"
APP_JAR=jobs/target/chainrule-jobs-0.1.0-SNAPSHOT-app.jar
BENCH_JAR=jobs/target/chainrule-jobs-0.1.0-SNAPSHOT-tests.jar
load() { echo "bench: load average $(cut -d' ' -f1-3 /proc/loadavg) ($1)"; }
# a benchmark main from the test jar, in a local single JVM (OMP_NUM_THREADS decides ND4J's threads)
bench_main() { local class=$1; shift; scripts/submit.sh --master 'local[1]' --jars "$BENCH_JAR" --class "$class" -- "$@"; }

if [[ ! -f $APP_JAR || ! -f $BENCH_JAR || ! -d jobs/spark-runtime/target/spark-home/jars ]]; then
  echo "bench: building (mvn -B -q package -DskipTests)"
  mvn -B -q package -DskipTests
fi
if [[ ! -f data/prepared/mnist/manifest.json ]]; then
  scripts/fetch-data.sh mnist
  scripts/submit.sh prepare -c "$CONF"
fi

# ---------------------------------------------------------------- data
# the same rows for every contender: the first ROWS training rows, 1000 for validation; the scoring data is COPIES
# copies of the training rows (fresh row ids)
scripts/submit.sh prepare -c "$CONF" --overwrite --set data="$OUT/data" \
  --set prepare.limit=$((ROWS + 1000)) --set prepare.validation-rows=1000 > "$OUT/prepare.log" 2>&1
scripts/submit.sh --jars "$BENCH_JAR" --class org.chainrule.bench.ScoringData -- "$OUT/data" "$OUT/data-scoring" \
  "$COPIES" 16 > "$OUT/scoring-data.log" 2>&1
grep "^bench:" "$OUT/scoring-data.log"

# ---------------------------------------------------------------- single JVM
load "single JVM"
echo "bench: single JVM (local[1] driver, ND4J on 2 threads), $EPOCHS epochs at learning rate $LR"
OMP_NUM_THREADS=2 bench_main org.chainrule.bench.Bench "$OUT/data" "$ROWS" "$EPOCHS" "$LR" "$SEED" "$OUT/rows.u8" \
  2>"$OUT/single.err" | tee "$OUT/single.out" | grep -E "^(BENCH|bench:)"
echo "bench: single JVM, ND4J on 1 thread (matrix multiply and scoring only)"
OMP_NUM_THREADS=1 bench_main org.chainrule.bench.Bench "$OUT/data" "$ROWS" 0 "$LR" "$SEED" \
  2>"$OUT/single1.err" | tee "$OUT/single1.out" | grep -E "^BENCH"

# ---------------------------------------------------------------- Spark standalone cluster
load "cluster"
rm -f "$OUT/evaluate.out"
echo "bench: Spark standalone cluster, 2 workers x 1 core, parameter averaging every $FREQ steps"
scripts/local-cluster.sh stop --port "$PORT" >/dev/null 2>&1 || true
MASTER=$(scripts/local-cluster.sh start --workers 2 --cores 1 --memory 4g --port "$PORT" --webui-port 0)
trap 'scripts/local-cluster.sh stop --port "$PORT" >/dev/null 2>&1 || true' EXIT
SPARK_OPTS=(--master "$MASTER" --executor-memory 3g)
# Training: one OpenMP thread per executor. ND4J's task threads follow spark.task.cpus (1 here), but each executor's
# OpenMP pool is sized at start-up by the machine's cores, and two 2-thread pools on 2 cores oversubscribe them: the
# same training ran at 1,578 ex/s without this setting and 4,260 ex/s with it (docs/throughput.md). Scoring's large
# matrix multiplies did not gain from it (evaluate of 500k rows: 22,306 rows/s without, 15,012 with).
scripts/submit.sh "${SPARK_OPTS[@]}" --conf spark.executorEnv.OMP_NUM_THREADS=1 -- train -c "$CONF" --overwrite \
  --set data="$OUT/data" \
  --set train.output="$OUT/run" --set train.epochs="$EPOCHS" --set train.workers=2 --set train.patience=0 \
  --set train.seed="$SEED" --set train.train-eval-rows=1000 > "$OUT/spark-train.log" 2>&1
grep -E "\[train\] epoch [0-9]+(/[0-9]+ done| averaging)" "$OUT/spark-train.log"
load "evaluate"
# 50k: the training rows the single JVM scored; then the COPIES-fold data. Each run's wall time (spark-submit to
# exit) and the CPU-seconds the whole machine spent meanwhile (driver, executors, workers; Linux's /proc/stat) are
# printed beside the job's own figures.
busy() { awk -v hz="$(getconf CLK_TCK)" '/^cpu /{printf "%.2f\n", ($2+$3+$4+$7+$8)/hz}' /proc/stat; }
for run in small:data large:data-scoring; do
  b0=$(busy); t0=$(date +%s.%N)
  scripts/submit.sh "${SPARK_OPTS[@]}" -- evaluate -c "$CONF" --overwrite --set data="$OUT/${run#*:}" \
    --set evaluate.split=train --set evaluate.model="$OUT/run/model" --set evaluate.output="$OUT/eval-${run%%:*}" \
    > "$OUT/spark-eval-${run%%:*}.log" 2>&1
  awk -v b0="$b0" -v b1="$(busy)" -v t0="$t0" -v t1="$(date +%s.%N)" -v r="${run%%:*}" \
    'BEGIN { printf "BENCH evaluate_%s_wall %.2f s\nBENCH evaluate_%s_cpu %.2f CPU-s\n", r, t1 - t0, r, b1 - b0 }' \
    | tee -a "$OUT/evaluate.out"
done
grep -h "\[evaluate\].*rows/s" "$OUT/spark-eval-small.log" "$OUT/spark-eval-large.log"
# --- score job: the 50,000 training rows evaluate just scored, read by the score job from the prepared split (its
# stored bytes, column x), on the same cluster; prints BENCH score_job <rows/s>. Self-contained block.
scripts/submit.sh "${SPARK_OPTS[@]}" -- score --overwrite --model "$OUT/run/model" --input "$OUT/data/train" \
  --format parquet --columns x --keep row_id --output "$OUT/score" > "$OUT/spark-score.log" 2>&1
score_job=$(grep -o '"rowsPerSecond" : [0-9.eE+-]*' "$OUT/score/summary.json" | awk '{print $3}')
evaluate_job=$(grep -o '"rowsPerSecond" : [0-9.eE+-]*' "$OUT/eval-small/summary.json" | awk '{print $3}')
echo "BENCH score_job $score_job rows/s"
awk -v s="$score_job" -v e="$evaluate_job" \
  'BEGIN { printf "bench: score job %.0f rows/s, evaluate job %.0f rows/s on the same rows (%.2f)\n", s, e, s / e }'
# --- end of the score job block
scripts/local-cluster.sh stop --port "$PORT" >/dev/null 2>&1 || true
trap - EXIT

# ---------------------------------------------------------------- PyTorch peer
torch_train="" torch_score="" torch_gemm=""
if /usr/bin/python3 -c "import torch" 2>/dev/null; then
  load "PyTorch"
  echo "bench: PyTorch peer ($(/usr/bin/python3 -c 'import torch; print(torch.__version__)'), 2 threads)"
  OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 /usr/bin/python3 scripts/bench-torch.py "$OUT/rows.u8" 2 "$LR" \
    | tee "$OUT/torch.out"
  torch_train=$(awk '/^BENCH torch_train/{print $3}' "$OUT/torch.out")
  torch_score=$(awk '/^BENCH torch_score/{print $3}' "$OUT/torch.out")
  torch_gemm=$(awk '/^BENCH torch_gemm_fp32_2048/{print $3}' "$OUT/torch.out")
else
  echo "bench: PyTorch peer: torch is not installed, so its figures and ratios are n/a"
  echo "       (apt-get install -y python3-torch libopenblas0-pthread to include it)"
fi

# ---------------------------------------------------------------- PixelCNN sampling
load "PixelCNN sampling"
echo "bench: PixelCNN 28x28 binary (32 filters, 3 residual blocks, untrained), one thread: naive vs cached sampling"
OMP_NUM_THREADS=1 bench_main org.chainrule.bench.PixelBench pixelcnn 32 3 8 64 \
  2>"$OUT/pixel.err" | tee "$OUT/pixel.out" | grep -E "^BENCH"

# ---------------------------------------------------------------- report
bench() { awk -v n="$2" '$1 == "BENCH" && $2 == n {print $3}' "$1"; }
json() { grep -o "\"$2\" : [0-9.eE+-]*" "$1" | tail -1 | awk '{print $3}'; }
single_train=$(bench "$OUT/single.out" train_single_jvm)
single_nll=$(bench "$OUT/single.out" "train_valid_nll_epoch_$EPOCHS")
single_score=$(bench "$OUT/single.out" score_single_jvm)
single1_score=$(bench "$OUT/single1.out" score_single_jvm)
gemm_mmul=$(bench "$OUT/single.out" gemm_fp32_mmul_2048)
gemm_blas=$(bench "$OUT/single.out" gemm_fp32_blas_2048)
gemm1_blas=$(bench "$OUT/single1.out" gemm_fp32_blas_2048)
naive=$(bench "$OUT/single.out" sample_naive)
cached=$(bench "$OUT/single.out" sample_cached)
pixel_naive=$(bench "$OUT/pixel.out" pixel_sample_naive)
pixel_cached=$(bench "$OUT/pixel.out" pixel_sample_cached)
# the Spark epochs' rates (fitting only; the per-epoch scoring is not in them): the median of epochs 2.., like the
# single JVM's (the mean of the middle two of an even count), since epoch 1 warms up every JVM
spark_train=$(grep -o '"examplesPerSecond" : [0-9.eE+-]*' "$OUT/run/train-summary.json" | awk '{print $3}' \
  | tail -n +2 | sort -g | awk '{v[NR]=$1} END {print NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}')
spark_nll=$(grep -o '"validNll" : [0-9.eE+-]*' "$OUT/run/train-summary.json" | sed -n "${EPOCHS}p" | awk '{print $3}')
small_rows=$(json "$OUT/eval-small/summary.json" count)
small_sec=$(json "$OUT/eval-small/summary.json" seconds)
large_rows=$(json "$OUT/eval-large/summary.json" count)
large_sec=$(json "$OUT/eval-large/summary.json" seconds)
small_wall=$(bench "$OUT/evaluate.out" evaluate_small_wall)
large_wall=$(bench "$OUT/evaluate.out" evaluate_large_wall)
small_cpu=$(bench "$OUT/evaluate.out" evaluate_small_cpu)
large_cpu=$(bench "$OUT/evaluate.out" evaluate_large_cpu)

# MADE 784-500-784: ~1.57 MFLOP per example forward, ~4.7 MFLOP forward + backward
awk -v st="$single_train" -v pt="$spark_train" -v ss="$single_score" -v ss1="$single1_score" -v g="$gemm_blas" \
    -v gm="$gemm_mmul" -v g1="$gemm1_blas" -v n="$naive" -v c="$cached" -v tt="$torch_train" -v ts="$torch_score" \
    -v tg="$torch_gemm" -v sn="$single_nll" -v pn="$spark_nll" -v ep="$EPOCHS" -v pxn="$pixel_naive" \
    -v pxc="$pixel_cached" -v sr="$small_rows" -v sse="$small_sec" -v lgr="$large_rows" -v lse="$large_sec" \
    -v sw="$small_wall" -v lw="$large_wall" -v sc="$small_cpu" -v lc="$large_cpu" 'BEGIN {
  ceil = (tg != "" && tg > g) ? tg : g
  printf "\n%-50s %12s %10s %11s\n", "MADE 784-500-784, MNIST, batch 100", "per second", "ratio", "of ceiling"
  printf "%-50s %12.0f %10s %10.1f%%\n", "train, single JVM, 2 threads (examples)", st, "1.00", 100*st*4.7e6/(ceil*1e9)
  printf "%-50s %12.0f %10.2f %10.1f%%\n", "train, Spark 2 executors x 1 core (examples)", pt, pt/st, 100*pt*4.7e6/(ceil*1e9)
  if (tt != "") printf "%-50s %12.0f %10.2f %10.1f%%\n", "train, PyTorch peer, 2 threads (examples)", tt, tt/st, 100*tt*4.7e6/(ceil*1e9)
  printf "%-50s %12.3f %10s\n", "valid NLL after epoch " ep ", single JVM (nats)", sn, ""
  printf "%-50s %12.3f %+10.3f\n", "valid NLL after epoch " ep ", Spark (nats)", pn, pn-sn
  printf "%-50s %12.0f %10s %10.1f%%\n", "score, single JVM raw forward, 2 threads (rows)", ss, "1.00", 100*ss*1.57e6/(ceil*1e9)
  printf "%-50s %12.0f %10.2f %10.1f%%\n", "score, single JVM raw forward, 1 thread (rows)", ss1, ss1/ss, 100*ss1*1.57e6/(ceil*1e9)
  if (ts != "") printf "%-50s %12.0f %10.2f %10.1f%%\n", "score, PyTorch peer, 2 threads (rows)", ts, ts/ss, 100*ts*1.57e6/(ceil*1e9)
  printf "%-50s %12.0f %10.2f\n", sprintf("score, evaluate job, %d rows (rows)", sr), sr/sse, sr/sse/ss
  printf "%-50s %12.0f %10.2f\n", sprintf("score, evaluate job, %d rows (rows)", lgr), lgr/lse, lgr/lse/ss
  if (lgr > sr && lse > sse) {
    per_row = (lse - sse) / (lgr - sr); fixed = sse - sr * per_row
    printf "%-50s %12.0f %10.2f\n", "  evaluate per-row cost alone (rows)", 1/per_row, 1/per_row/ss
    printf "%-50s %12.1f %10s\n", "  evaluate fixed cost (seconds)", fixed, ""
  }
  printf "%-50s %5.1f / %4.1f %10s\n", sprintf("  evaluate %d rows: wall / machine CPU (s)", sr), sw, sc, ""
  printf "%-50s %5.1f / %4.1f %10s\n", sprintf("  evaluate %d rows: wall / machine CPU (s)", lgr), lw, lc, ""
  printf "%-50s %12.1f %10s\n", sprintf("  raw forward, 2 threads, %d rows: CPU (s)", lgr), 2 * lgr / ss, ""
  printf "%-50s %12.1f %10s\n", "sample MADE, naive loop (samples)", n, "1.00"
  printf "%-50s %12.1f %10.1f\n", "sample MADE, cached first layer (samples)", c, c/n
  printf "%-50s %12.3f %10s\n", "sample PixelCNN, naive loop (samples)", pxn, "1.00"
  printf "%-50s %12.1f %10.0f\n", "sample PixelCNN, cached activations (samples)", pxc, pxc/pxn
  printf "%-50s %12.1f %10s\n", "fp32 GEMM 2048, ND4J matmul op, 2 threads (GFLOP/s)", gm, ""
  printf "%-50s %12.1f %10s\n", "fp32 GEMM 2048, ND4J BLAS, 2 threads (GFLOP/s)", g, ""
  printf "%-50s %12.1f %10s\n", "fp32 GEMM 2048, ND4J BLAS, 1 thread (GFLOP/s)", g1, ""
  if (tg != "") printf "%-50s %12.1f %10s\n", "fp32 GEMM 2048, PyTorch, 2 threads (GFLOP/s)", tg, ""
  printf "(of ceiling: the share of the faster 2-thread GEMM the workload reaches at ~4.7 / 1.57 MFLOP per example)\n"
  na = "n/a"
  printf "\nRATIO spark_train_vs_single %.3f\n", pt/st
  printf "RATIO spark_valid_nll_gap_nats %.3f\n", pn-sn
  printf "RATIO evaluate_vs_raw_500k %.3f\n", lgr/lse/ss
  printf "RATIO evaluate_vs_raw_50k %.3f\n", sr/sse/ss
  if (ts != "") printf "RATIO raw_score_vs_torch %.3f\n", ss/ts; else print "RATIO raw_score_vs_torch " na
  if (tt != "") printf "RATIO train_vs_torch %.3f\n", st/tt; else print "RATIO train_vs_torch " na
  if (tg != "") printf "RATIO gemm_vs_torch %.3f\n", g/tg; else print "RATIO gemm_vs_torch " na
  printf "RATIO cached_vs_naive_sampling %.1f\n", c/n
  printf "RATIO pixel_cached_vs_naive_sampling %.0f\n", pxc/pxn
}'
