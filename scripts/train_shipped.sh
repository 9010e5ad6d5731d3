#!/usr/bin/env bash
# Re-train every checkpoint shipped in checkpoints/ and the fine-tuned Whisper encoder in weights/.
set -euo pipefail
usage() {
    cat <<'EOF'
usage: bash scripts/train_shipped.sh [-h|--help] [STEP]

Re-train every checkpoint shipped in checkpoints/ and the fine-tuned encoder in weights/ on EmoGator
(the folders beside the checkout that nver_demo.training.datasets reads by default: ../shared/data/
emogator, emogator_extra, emogator_more when present).

  STEP  run only the steps whose name contains STEP (default: every step, in this order):
          lda-whisper-base-ft       the default: Whisper-base's stem + blocks 1-4 fine-tuned in each of
                                    the 5 folds (nested CV), then on every speaker (weights/whisper-base-ft
                                    .safetensors), then LDA on its features (the longest step; "ft")
          enrol-default             the default's LDA refitted on every speaker with a speaker-enrolled
                                    head beside it, cross-validated on the emogator_more speakers only
                                    (the encoder never heard them), then its novelty threshold
          lda-whisper-base  linear-whisper-base  fcn-whisper-base  cnn-whisper-base  cnn-ge2e
          reno-whisper-base+ge2e  concat-whisper-base+ge2e  mata-whisper-base+ge2e

Resumable: embeddings (NVER_CACHE) and log-mels are cached, finished fine-tuning folds and the finished
final fit (their records in FT_WORK) are skipped, the heads' finished CV folds are kept in WORK/<name>.
Delete a record to redo its step. Every step shows a progress bar.

Environment:
  OUT=checkpoints             where the checkpoints go
  FT_WORK=runs/encoder_finetune  fine-tuning records (fold<k>.json, final.json), log-mels
  WORK=runs/heads             the heads' CV folds
  JOBS=1                      processes at a time for the fine-tuning folds (one thread each)
  NVER_CACHE                  the embedding cache (default ~/.cache/nver_demo)
Times on 2 CPU cores: docs/accuracy.md.
EOF
}
case "${1:-}" in -h | --help) usage; exit 0 ;; -*) usage >&2; exit 2 ;; esac
cd "$(dirname "$0")/.."
OUT=${OUT:-checkpoints}
FT=${FT_WORK:-runs/encoder_finetune}
WORK=${WORK:-runs/heads}
JOBS=${JOBS:-1}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
only=${1:-}
want() { [[ -z "$only" || "$1" == *"$only"* ]]; }
parallel() {  # run the given commands JOBS at a time; fail if any fails
    local pids=() cmd p
    for cmd in "$@"; do
        bash -c "$cmd" & pids+=($!)
        if (( ${#pids[@]} >= JOBS )); then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
    done
    for p in "${pids[@]}"; do wait "$p"; done
}
run() {  # run NAME ARGS...: cross-validate and train one head on cached embeddings
    local name=$1; shift
    want "$name" || return 0
    echo "== $name"
    python -m nver_demo -v train "$@" --work "$WORK/$name" --out "$OUT/$name"
    # its novelty threshold, out of fold on every folder's speakers (docs/trust.md)
    python -m nver_demo.training.novelty_fit --model "$OUT/$name"
}

# 1. The default, lda-whisper-base-ft (docs/accuracy.md). The frozen whisper-base embeddings (the
#    probe's features) and the log-mels first, once, so that parallel folds do not each compute them.
if want lda-whisper-base-ft; then
    echo "== lda-whisper-base-ft (encoder fine-tuning: 5 folds, the final fit, the LDA checkpoint)"
    python -m nver_demo -v extract --backbones whisper-base
    cmds=()
    for k in 0 1 2 3 4; do
        [[ -f "$FT/fold$k.json" ]] || cmds+=("python -m nver_demo -v finetune fold --work $FT --fold $k")
    done
    [[ -f "$FT/final.json" ]] || cmds=("python -m nver_demo -v finetune final --work $FT" "${cmds[@]}")
    if (( ${#cmds[@]} )); then  # the first alone: it writes the log-mel cache the others read
        bash -c "${cmds[0]}"
        parallel "${cmds[@]:1}"
    fi
    python -m nver_demo -v finetune checkpoint --work "$FT" --out "$OUT/lda-whisper-base-ft"
fi
# 1b. Speaker enrolment for the default (docs/models.md#speaker-enrolment): plain and enrolled LDA on all
#     297 speakers; test folds only from emogator_more, whose 97 speakers the shipped encoder (tuned on
#     emogator + emogator_extra) never heard. Then the novelty threshold, out of fold on those speakers.
if want enrol-default; then
    echo "== enrol-default"
    python -m nver_demo.training.enrol --model "$OUT/lda-whisper-base-ft" --test-folders emogator_more \
        --procedure "5-fold speaker-grouped CV whose test folds hold only the 97 emogator_more speakers"
    python -m nver_demo.training.novelty_fit --model "$OUT/lda-whisper-base-ft" --folders emogator_more
fi
# 2. Heads on cached embeddings of the frozen backbones.
run lda-whisper-base     --head lda    --backbones whisper-base
run linear-whisper-base  --head linear --backbones whisper-base
run fcn-whisper-base     --head fcn    --backbones whisper-base
run cnn-whisper-base     --head cnn    --backbones whisper-base --compile --patience 3
run cnn-ge2e             --head cnn    --backbones ge2e
# Fusion heads: as in scripts/fusion_ablation.sh (the settings of docs/fusion.md's ablation rows).
run reno-whisper-base+ge2e   --head reno   --backbones whisper-base ge2e --compile --patience 3
run concat-whisper-base+ge2e --head concat --backbones whisper-base ge2e --compile --patience 3
run mata-whisper-base+ge2e   --head mata   --backbones whisper-base ge2e --compile --patience 3
