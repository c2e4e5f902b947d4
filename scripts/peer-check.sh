#!/usr/bin/env bash
# Peer check: trains chainrule's MADE 784-500-784 and the PyTorch peer (scripts/peer-made.py) on the very rows of a
# prepared binarized MNIST (exported by org.chainrule.jobs.PeerExport) with the same recipe (Adam, L2 weight decay,
# step decay, batch 100, one worker: plain sequential training) and prints both validation curves side by side.
# The two differ in initialisation, hidden degrees, the random permutation (ordering=random) and the minibatch order,
# not in the model or the recipe; their curves should agree to about a nat.
#
# Usage: scripts/peer-check.sh [prepared dataset (data/prepared/mnist)] [epochs (10)] [ordering (random)] [out dir]
# Needs /usr/bin/python3 with torch (Debian python3-torch) and a packaged jar (mvn package -DskipTests).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA=${1:-data/prepared/mnist}
EPOCHS=${2:-10}
ORDERING=${3:-random}
OUT=${4:-$(mktemp -d -t chainrule-peer.XXXXXX)}
LR=0.001 L2=0.0001 EVERY=45 GAMMA=0.1
mkdir -p "$OUT"
cd "$ROOT"

if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
  echo "peer-check: /usr/bin/python3 has no torch (apt-get install python3-torch)" >&2
  exit 2
fi
echo "peer-check: exporting the rows of $DATA to $OUT"
scripts/submit.sh --master 'local[1]' --class org.chainrule.jobs.PeerExport -- "$DATA" "$OUT/rows" train,valid \
  > "$OUT/export.log" 2>&1 || { cat "$OUT/export.log" >&2; exit 1; }

echo "peer-check: chainrule MADE, $EPOCHS epochs, ordering $ORDERING"
scripts/submit.sh --master 'local[1]' -- train -c conf/made-mnist-recipe.conf --set data="$DATA" \
  --set model.made.ordering="$ORDERING" --set train.epochs="$EPOCHS" --set train.patience=0 \
  --set train.learning-rate=$LR --set train.l2=$L2 --set train.schedule.every=$EVERY \
  --set train.schedule.gamma=$GAMMA --set train.output="$OUT/chainrule" --overwrite > "$OUT/chainrule.log" 2>&1 \
  || { tail -20 "$OUT/chainrule.log" >&2; exit 1; }

echo "peer-check: PyTorch peer, $EPOCHS epochs, ordering $ORDERING"
/usr/bin/python3 scripts/peer-made.py "$OUT/rows" --epochs "$EPOCHS" --ordering "$ORDERING" --lr $LR --l2 $L2 \
  --every $EVERY --gamma $GAMMA --threads 2 > "$OUT/peer.out"

# the epochs' validation NLLs of train-summary.json's history, in order
grep -o '"validNll" : [0-9.eE+-]*' "$OUT/chainrule/train-summary.json" | awk '{print $3}' > "$OUT/chainrule.valid"
awk '/^PEER epoch/ {print $5}' "$OUT/peer.out" > "$OUT/peer.valid"
echo
echo "validation NLL (nats), MADE 784-500-784, ordering $ORDERING, Adam $LR, L2 $L2, x$GAMMA every $EVERY epochs"
paste "$OUT/chainrule.valid" "$OUT/peer.valid" | awk -F'\t' '
  BEGIN { printf "%5s  %10s  %10s  %8s\n", "epoch", "chainrule", "pytorch", "diff" }
  { printf "%5d  %10.3f  %10.3f  %+8.3f\n", NR, $1, $2, $1 - $2 }'
echo "(runs and logs in $OUT)"
