#!/usr/bin/env bash
# Out-of-distribution benchmark (docs/detection.md, numbers in docs/results.md#out-of-distribution-detection):
# a MADE trained on MNIST digits 0-4 (threshold-binarized), a background MADE trained on a perturbed copy of the
# same data (prepare.perturb), then ood-eval of every method on in = test digits 0-4 against each OOD table:
# held-out digits 5-9, mirrored digits, near-empty images, uniform noise, and the sklearn 8x8 digits upsampled
# (when scripts/fetch-data.sh sklearn has fetched them). Prints one line per method and pair:
#   OOD <method> <pair> auroc=<..> auprc=<..> fpr95=<..>
#
# Usage: scripts/ood-bench.sh [WORK_DIR]      (default runs/ood-bench)
# Environment: CHAINRULE_DATA_DIR (default <repo>/data/raw; MNIST idx files in mnist/), OOD_ROWS (rows per table,
#   default 2000), OOD_GROUP (typicality batch size, default 10), OOD_EPOCHS (default 3), OOD_HIDDEN (default 500),
#   OOD_PERTURB (the background data's mu, default 0.2), OOD_METHODS (default: all four), OOD_PAIRS, OOD_DIGITS
#   (the sklearn digits.csv.gz, default $CHAINRULE_DATA_DIR/sklearn/digits.csv.gz).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

WORK=${1:-$CHAINRULE_ROOT/runs/ood-bench}
RAW=${CHAINRULE_DATA_DIR:-$CHAINRULE_ROOT/data/raw}
ROWS=${OOD_ROWS:-2000}
GROUP=${OOD_GROUP:-10}
EPOCHS=${OOD_EPOCHS:-3}
HIDDEN=${OOD_HIDDEN:-500}
PERTURB=${OOD_PERTURB:-0.2}
METHODS=${OOD_METHODS:-nll likelihood-ratio complexity typicality}
SUBMIT=("$CHAINRULE_ROOT/scripts/submit.sh")
mkdir -p "$WORK"
TABLES=$WORK/tables

digits=${OOD_DIGITS:-$RAW/sklearn/digits.csv.gz}
[[ -f "$digits" ]] || digits=""
if [[ ! -f "$TABLES/in.csv" ]]; then
  SKLEARN_DIGITS=$digits python3 "$CHAINRULE_ROOT/scripts/lib/ood_tables.py" "$RAW/mnist" "$TABLES" "$ROWS" "$GROUP"
fi
PAIRS=${OOD_PAIRS:-heldout flipped empty noise digits8}

# One config for both models: the background differs only in its data and run directory.
cat >"$WORK/made04.conf" <<CONF
chainrule {
  data = "$WORK/data04"
  prepare {
    format = csv
    train = ["$TABLES/train04.csv"]
    test = ["$TABLES/test04.csv"]
    train-labels = []
    test-labels = []
    csv { label-column = 0 }
    binarize = threshold
    validation-rows = 3000
  }
  model { type = made, made { hidden = [$HIDDEN], masks = 1 } }
  train {
    output = "$WORK/made04"
    epochs = $EPOCHS
    batch-size = 100
    learning-rate = 0.003
    averaging-frequency = 10
  }
}
CONF
background=(--set "data=$WORK/background04" --set "train.output=$WORK/background04-made"
  --set "prepare.perturb.fraction=$PERTURB")
[[ -f "$WORK/data04/manifest.json" ]] || "${SUBMIT[@]}" prepare -c "$WORK/made04.conf"
[[ -f "$WORK/background04/manifest.json" ]] || "${SUBMIT[@]}" prepare -c "$WORK/made04.conf" "${background[@]}"
[[ -d "$WORK/made04/model" ]] || "${SUBMIT[@]}" train -c "$WORK/made04.conf"
[[ -d "$WORK/background04-made/model" ]] || "${SUBMIT[@]}" train -c "$WORK/made04.conf" "${background[@]}"

for method in $METHODS; do
  for pair in $PAIRS; do
    [[ -f "$TABLES/$pair.csv" ]] || { echo "OOD $method $pair skipped: no table"; continue; }
    out=$WORK/eval/$method-$pair
    if [[ ! -f "$out/summary.json" ]]; then
      extra=()
      [[ $method == likelihood-ratio ]] && extra=(--background-model "$WORK/background04-made/model")
      [[ $method == typicality ]] && extra=(--group-column g --reference "$WORK/data04/valid")
      "${SUBMIT[@]}" ood-eval -q --model "$WORK/made04/model" --in "$TABLES/in.csv" --out "$TABLES/$pair.csv" \
        --format csv --columns p0..p783 --method "$method" "${extra[@]}" --output "$out"
    fi
    python3 - "$method" "$pair" "$out/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[3]))
print("OOD %s %s auroc=%.4f auprc=%.4f fpr95=%.4f" % (sys.argv[1], sys.argv[2], s["auroc"], s["auprc"], s["fprAt95Tpr"]))
PY
  done
done
