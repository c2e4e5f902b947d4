#!/usr/bin/env bash
# Out-of-distribution benchmark (docs/detection.md, numbers in docs/results.md#out-of-distribution-detection):
# a model (MADE by default, any model section via OOD_MODEL) trained on MNIST digits 0-4 (threshold-binarized), a
# background model of the same settings trained on a perturbed copy of the same data (prepare.perturb), then ood-eval
# of every method on in = test digits 0-4 against each OOD table:
# held-out digits 5-9, mirrored digits, near-empty images, uniform noise, and the sklearn 8x8 digits upsampled
# (when scripts/fetch-data.sh sklearn has fetched them). Prints one line per method and pair:
#   OOD <method> <pair> auroc=<..> auprc=<..> fpr95=<..>
#
# Usage: scripts/ood-bench.sh [WORK_DIR]      (default runs/ood-bench)
# Environment: CHAINRULE_DATA_DIR (default <repo>/data/raw; MNIST idx files in mnist/), OOD_ROWS (rows per table,
#   default 2000), OOD_GROUP (typicality batch size, default 10), OOD_EPOCHS (default 3), OOD_HIDDEN (default 500),
#   OOD_PERTURB (the background data's mu, default 0.2), OOD_METHODS (default: all four), OOD_PAIRS, OOD_DIGITS
#   (the sklearn digits.csv.gz, default $CHAINRULE_DATA_DIR/sklearn/digits.csv.gz).
# The model: OOD_MODEL (the body of the config's model section, HOCON; default the MADE of OOD_HIDDEN units below),
#   OOD_TAG (names the run directories <tag>04, background04-<tag> and eval-<tag>; default made, eval unsuffixed), OOD_LR (default 0.003),
#   OOD_BATCH (default 100), OOD_AVERAGING (train.averaging-frequency, default 10), OOD_TRAIN (more HOCON lines for
#   the train section, default none). E.g. a PixelCNN:
#   OOD_TAG=pixelcnn OOD_MODEL='type = pixelcnn, pixelcnn { filters = 16, blocks = 2 }' OOD_LR=0.001 \
#     OOD_BATCH=32 scripts/ood-bench.sh runs/ood-pixelcnn
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
TAG=${OOD_TAG:-made}
MODEL=${OOD_MODEL:-"type = made, made { hidden = [$HIDDEN], masks = 1 }"}
LR=${OOD_LR:-0.003}
BATCH=${OOD_BATCH:-100}
AVERAGING=${OOD_AVERAGING:-10}
TRAIN_EXTRA=${OOD_TRAIN:-}
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
CONF_FILE=$WORK/${TAG}04.conf
RUN=$WORK/${TAG}04
BACKGROUND_RUN=$WORK/background04-$TAG
# Several models can share one WORK (its tables and prepared data): each named model gets its own eval directory.
EVAL=$WORK/eval${OOD_TAG:+-$TAG}
cat >"$CONF_FILE" <<CONF
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
  model { $MODEL }
  train {
    output = "$RUN"
    epochs = $EPOCHS
    batch-size = $BATCH
    learning-rate = $LR
    averaging-frequency = $AVERAGING
    $TRAIN_EXTRA
  }
}
CONF
background=(--set "data=$WORK/background04" --set "train.output=$BACKGROUND_RUN"
  --set "prepare.perturb.fraction=$PERTURB")
[[ -f "$WORK/data04/manifest.json" ]] || "${SUBMIT[@]}" prepare -c "$CONF_FILE"
[[ -d "$RUN/model" ]] || "${SUBMIT[@]}" train -c "$CONF_FILE"
# The background model only serves likelihood-ratio: skip its data and training when that method is not asked for.
if [[ " $METHODS " == *" likelihood-ratio "* ]]; then
  [[ -f "$WORK/background04/manifest.json" ]] || "${SUBMIT[@]}" prepare -c "$CONF_FILE" "${background[@]}"
  [[ -d "$BACKGROUND_RUN/model" ]] || "${SUBMIT[@]}" train -c "$CONF_FILE" "${background[@]}"
fi

for method in $METHODS; do
  for pair in $PAIRS; do
    [[ -f "$TABLES/$pair.csv" ]] || { echo "OOD $method $pair skipped: no table"; continue; }
    out=$EVAL/$method-$pair
    if [[ ! -f "$out/summary.json" ]]; then
      extra=()
      [[ $method == likelihood-ratio ]] && extra=(--background-model "$BACKGROUND_RUN/model")
      [[ $method == typicality ]] && extra=(--group-column g --reference "$WORK/data04/valid")
      "${SUBMIT[@]}" ood-eval -q --model "$RUN/model" --in "$TABLES/in.csv" --out "$TABLES/$pair.csv" \
        --format csv --columns p0..p783 --method "$method" "${extra[@]}" --output "$out"
    fi
    python3 - "$method" "$pair" "$out/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[3]))
print("OOD %s %s auroc=%.4f auprc=%.4f fpr95=%.4f" % (sys.argv[1], sys.argv[2], s["auroc"], s["auprc"], s["fprAt95Tpr"]))
PY
  done
done
