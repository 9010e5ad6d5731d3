#!/usr/bin/env bash
# Re-train every checkpoint shipped in checkpoints/ on EmoGator (../shared/data/emogator).
#
#   bash scripts/train_shipped.sh            # all of them, one after another, into checkpoints/
#   bash scripts/train_shipped.sh reno       # only the names matching "reno"
#
# Each line: 5-fold speaker-grouped cross-validation (the numbers written into config.json and the
# README table), then a final fit on all speakers. Embeddings are cached ($NVER_CACHE), so the
# backbones run once per clip: whisper-base ~15 min, ge2e ~5 min on 2 CPU cores; heads 2-15 min each.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-checkpoints}
only=${1:-}
run() {
    local name=$1; shift
    [[ -n "$only" && "$name" != *"$only"* ]] && return 0
    echo "== $name"
    python -m nver_demo -v train "$@" --out "$OUT/$name"
}
run linear-whisper-base  --head linear --backbones whisper-base
run fcn-whisper-base     --head fcn    --backbones whisper-base
run cnn-whisper-base     --head cnn    --backbones whisper-base
run cnn-ge2e             --head cnn    --backbones ge2e
run reno-whisper-base+ge2e   --head reno   --backbones whisper-base ge2e
run concat-whisper-base+ge2e --head concat --backbones whisper-base ge2e
run mata-whisper-base+ge2e   --head mata   --backbones whisper-base ge2e
