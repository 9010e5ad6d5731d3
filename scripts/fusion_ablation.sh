#!/usr/bin/env bash
# The fusion ablation of docs/fusion.md ("Does fusion help?"): 5-fold
# speaker-grouped cross-validation on cached embeddings of all 200 EmoGator speakers.
#
#   bash scripts/fusion_ablation.sh            # every row not yet measured, in priority order
#   bash scripts/fusion_ablation.sh reno       # only rows whose name contains "reno"
#   python scripts/fusion_table.py --write     # the docs/fusion.md table from what was measured
#
# Rows that are shipped checkpoints (reno, concat, mata) run `train` into checkpoints/ (their
# config.json holds the CV numbers); the other rows run `evaluate` into records/fusion/<row>.json.
# A row whose result exists is skipped, and finished CV folds are kept in records/fusion/work/
# (git-ignored), so an interrupted run resumes at the first unfinished fold. Every row uses the same
# settings: Adam 1e-3, batch 32, up to 20 epochs, early stopping on 15 % of the training
# speakers with patience $PATIENCE (3: our budget; the authors use 10), conv blocks compiled
# (same numbers, ~1.8x faster). One thread: OMP_NUM_THREADS=1.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
A=${A:-whisper-base}
B=${B:-ge2e}
PATIENCE=${PATIENCE:-3}
only=${1:-}
COMMON=(--compile --patience "$PATIENCE")
mkdir -p records/fusion

ship() {  # ship NAME HEAD [--set ...]: CV + final fit into checkpoints/NAME
    local name=$1 head=$2; shift 2
    [[ -n "$only" && "$name" != *"$only"* ]] && return 0
    [[ -f "checkpoints/$name/config.json" && -f "records/fusion/$name.done" ]] && return 0
    echo "== $name"
    python -m nver_demo -v train --head "$head" --backbones "$A" "$B" "${COMMON[@]}" "$@" \
        --work "records/fusion/work/$name" --out "checkpoints/$name"
    touch "records/fusion/$name.done"
}
row() {  # row NAME HEAD BACKBONES... [-- --set ...]: CV only, into records/fusion/NAME.json
    local name=$1 head=$2; shift 2
    [[ -n "$only" && "$name" != *"$only"* ]] && return 0
    [[ -f "records/fusion/$name.json" ]] && return 0
    echo "== $name"
    python -m nver_demo -v evaluate --head "$head" "${COMMON[@]}" "$@" \
        --work "records/fusion/work/$name" --out "records/fusion/$name.json"
}

ship "reno-$A+$B" reno
ship "concat-$A+$B" concat
row "linear-$B" linear --backbones "$B"
row "reno-no-renyi-$A+$B" reno --backbones "$A" "$B" --set lam=1
row "reno-no-attention-$A+$B" reno --backbones "$A" "$B" --set attention=false
row "reno-lam0.2-$A+$B" reno --backbones "$A" "$B" --set lam=0.2
row "reno-lam0.7-$A+$B" reno --backbones "$A" "$B" --set lam=0.7
row "reno-beta0.5-$A+$B" reno --backbones "$A" "$B" --set beta=0.5
row "reno_token-$A+$B" reno_token --backbones "$A" "$B"
ship "mata-$A+$B" mata
row "mata_batch-$A+$B" mata_batch --backbones "$A" "$B"
# Last: the shipped linear-whisper-base checkpoint (scripts/train_shipped.sh) already measures it on
# the same folds; scripts/fusion_table.py takes the best single-backbone measurement it finds.
row "linear-$A" linear --backbones "$A"
