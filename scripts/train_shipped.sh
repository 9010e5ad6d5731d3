#!/usr/bin/env bash
# Re-train every checkpoint shipped in checkpoints/ (and the fine-tuned Whisper encoder in weights/) on
# EmoGator: ../shared/data/emogator and, when present, ../shared/data/emogator_extra (200 speakers).
#
#   bash scripts/train_shipped.sh            # everything, in order, into checkpoints/ and weights/
#   bash scripts/train_shipped.sh reno       # only the steps whose name contains "reno"
#   bash scripts/train_shipped.sh ft         # only the fine-tuned default (the longest step)
#
# Every step shows a tqdm progress bar and resumes where it stopped (cached embeddings and states,
# finished CV folds). Set NVER_CACHE for the cache folder and JOBS=2 to run the two extraction
# shards and the CV folds two at a time (one thread each). Times on 2 CPU cores: README.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-checkpoints}
JOBS=${JOBS:-1}
WORK=${WORK:-runs/adapt}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
only=${1:-}
want() { [[ -z "$only" || "$1" == *"$only"* ]]; }
parallel() {  # run the given commands JOBS at a time
    local pids=() cmd
    for cmd in "$@"; do
        bash -c "$cmd" & pids+=($!)
        if (( ${#pids[@]} >= JOBS )); then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
    done
    for p in "${pids[@]}"; do wait "$p"; done
}
run() {
    local name=$1; shift
    want "$name" || return 0
    echo "== $name"
    python -m nver_demo -v train "$@" --out "$OUT/$name"
}

# 1. Frozen Whisper-base states (blocks 0-6 statistics, block 2/3 outputs) + the whisper-base cache.
if want states || [[ "$only" == *vb* ]]; then
    echo "== whisper states"
    cmds=(); for i in $(seq 0 $((JOBS - 1))); do cmds+=("python -m nver_demo.training.whisper_states --shard $i/$JOBS"); done
    parallel "${cmds[@]}"
fi
# 2. The default: Whisper-base's conv stem + blocks 1-4 fine-tuned in each CV fold (the nested CV),
#    then on all 200 speakers (weights/whisper-base-ft.safetensors), then LDA on its features.
FT=${FT_WORK:-runs/encoder_finetune}
if want ft; then
    echo "== lda-whisper-base-ft (encoder fine-tuning: 5 folds, the final fit, the LDA checkpoint)"
    cmds=("python -m nver_demo.training.encoder_final --work $FT")
    for k in 0 1 2 3 4; do cmds+=("python -m nver_demo.training.encoder_finetune --work $FT --fold $k"); done
    parallel "${cmds[@]}"
    python -m nver_demo.training.encoder_final --work "$FT" --checkpoint --out "$OUT/lda-whisper-base-ft"
fi
# Not shipped (it did not beat the frozen block; docs/accuracy.md), so only when asked for by name:
# block 4 alone fine-tuned in each CV fold, then the final fit (weights/ + checkpoint).
if [[ "$only" == *vb* ]]; then
    echo "== linear-whisper-base-vb (fine-tuning, 5 folds)"
    cmds=(); for k in 0 1 2 3 4; do cmds+=("python -m nver_demo.training.adapt cv --fold $k --work $WORK"); done
    parallel "${cmds[@]}"
    python -m nver_demo.training.adapt final --work "$WORK" --out "$OUT/linear-whisper-base-vb"
fi
# 3. Heads on cached embeddings. The default first: LDA on Whisper-base (docs/accuracy.md).
run lda-whisper-base     --head lda    --backbones whisper-base
run linear-whisper-base  --head linear --backbones whisper-base
run fcn-whisper-base     --head fcn    --backbones whisper-base
run cnn-whisper-base     --head cnn    --backbones whisper-base --compile --patience 3
run cnn-ge2e             --head cnn    --backbones ge2e
# Fusion heads: as in scripts/fusion_ablation.sh (same settings as the README's ablation rows).
run reno-whisper-base+ge2e   --head reno   --backbones whisper-base ge2e --compile --patience 3
run concat-whisper-base+ge2e --head concat --backbones whisper-base ge2e --compile --patience 3
run mata-whisper-base+ge2e   --head mata   --backbones whisper-base ge2e --compile --patience 3
