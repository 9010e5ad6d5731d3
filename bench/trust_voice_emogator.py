"""How many real vocal bursts the no-voice checks refuse: a seeded random sample of EmoGator clips
(every folder) through nver_demo.voice_check, with the count per check.

    PYTHONPATH=. python bench/trust_voice_emogator.py --n 1500
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np

from nver_demo import audio, voice_check
from nver_demo.training import datasets


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    ds = datasets.read_emogator()
    idx = np.random.default_rng(args.seed).choice(len(ds), min(args.n, len(ds)), replace=False)
    refused: Counter = Counter()
    names = []
    tonal = []
    for i in idx:
        wave, sr = audio.load(ds.items[i].path)
        v = voice_check.check(wave, sr)
        tonal.append(v.measures["tonal_share"])
        if not v.is_voice:
            refused.update(v.reasons)
            names.append(f"{ds.items[i].path.name} ({ds.items[i].label}): {', '.join(v.reasons)}")
    print(
        f"{len(names)} of {len(idx)} EmoGator clips refused as no voice (seed {args.seed}); by check: {dict(refused)}"
    )
    print(f"largest tonal share {max(tonal):.2f} (a clip is tonal at >= {voice_check.MOST})")
    for n in names:
        print("  " + n)


if __name__ == "__main__":
    main()
