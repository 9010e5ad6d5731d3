"""Cost of the trust checks: the signal checks (voice_check) plus the novelty score, as a share of
one whole prediction (decode excluded; embed + head + checks), measured in one run.

    PYTHONPATH=. python bench/bench_trust.py [--model lda-whisper-base-ft] [--repeats 10]

Target (issue 28): the two together add at most 5 % to a prediction's time.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from nver_demo import audio, novelty, voice_check
from nver_demo.predict import Predictor

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.mp3"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="lda-whisper-base-ft")
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(1)
    p = Predictor.load(args.model)
    if p.novelty is None:
        raise SystemExit(
            f"{args.model} has no novelty model: python -m nver_demo.training.novelty_fit --model ..."
        )
    clips = [audio.load(f) for f in EXAMPLES]
    p.predict(*clips[0])  # warm-up: backbone load, first-call costs
    total, checks, score = [], [], []
    for _ in range(args.repeats):
        for wave, sr in clips:
            t0 = time.perf_counter()
            pred = p.predict(wave, sr)
            total.append(time.perf_counter() - t0)
            checks.append(pred.timings["voice check"])
            score.append(pred.timings["novelty"])
    # the novelty score alone, timed apart from the head (it is inside predict_embeddings)
    x = novelty.concat(pred.embeddings, p.backbones)
    t0 = time.perf_counter()
    for _ in range(200):
        p.novelty.score(x)
    alone = (time.perf_counter() - t0) / 200
    t0 = time.perf_counter()
    for wave, sr in clips:
        voice_check.check(wave, sr)
    print(f"{len(total)} predictions of {len(clips)} example clips with {args.model} (1 thread)")
    print(f"  whole prediction  median {1000 * statistics.median(total):7.1f} ms")
    print(f"  signal checks     median {1000 * statistics.median(checks):7.2f} ms")
    print(
        f"  novelty score     median {1000 * statistics.median(score):7.3f} ms (alone {1000 * alone:.3f} ms)"
    )
    ratio = sum(c + s for c, s in zip(checks, score)) / sum(total)
    print(f"  checks + novelty / whole prediction = {100 * ratio:.2f} % (target <= 5 %)")


if __name__ == "__main__":
    main()
