"""Inference cost of the default model against another, on the same 2 s clip, in one run.

    python bench/bench_default.py                                 # checkpoint.DEFAULT vs linear-whisper-base
    python bench/bench_default.py --models lda-whisper-base-ft lda-whisper-base --reps 30

Backbones are loaded and warmed first (the app does this once at start-up); each repetition is a
whole ``Predictor.predict`` (embedding + head). Prints medians and the ratio of the first model's
median to the second's (the issue's target: <= 1.5x). One thread, as the app's policy runs a
model on a 2-core machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch

from nver_demo import audio, checkpoint
from nver_demo.predict import Predictor

CLIP = Path(__file__).resolve().parent.parent / "examples" / "amusement_000292-02-2.mp3"


def two_seconds() -> tuple[np.ndarray, int]:
    wave, sr = audio.load(CLIP)
    wave = audio.to_mono(audio.to_float(wave))
    reps = int(np.ceil(2 * sr / len(wave)))
    return np.tile(wave, reps)[: 2 * sr], sr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs=2, default=[checkpoint.DEFAULT, "linear-whisper-base"])
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    wave, sr = two_seconds()
    models = [Predictor.load(m) for m in args.models]
    for m in models:  # load + warm every backbone (first calls compile / allocate)
        for _ in range(3):
            m.predict(wave, sr)
    times = {m.name: [] for m in models}
    for _ in range(args.reps):  # interleaved, so load changes hit both alike
        for m in models:
            t = time.perf_counter()
            m.predict(wave, sr)
            times[m.name].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in med.items():
        print(f"{k:<28} median {v * 1000:7.1f} ms per 2 s clip ({args.reps} runs, {args.threads} thread)")
    a, b = (m.name for m in models)
    print(f"ratio {a} / {b}: {med[a] / med[b]:.2f}x")


if __name__ == "__main__":
    main()
