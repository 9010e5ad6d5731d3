"""Synthetic non-voice signals between pauses through the Timeline's burst detector and the
signal checks: how many sounds the detector cuts out, and how many would still count as bursts
(the Timeline keeps exactly those that pass voice_check; timeline.classify).

    PYTHONPATH=. python bench/trust_timeline.py
"""

from __future__ import annotations

import numpy as np

from nver_demo import voice_check
from nver_demo.app import bursts
from nver_demo.training import trust_sounds


def main() -> None:
    pause = np.zeros(trust_sounds.SR, np.float32)
    print("| kind | level (dBFS peak) | lengths (s) | sounds detected | counted as bursts |")
    print("|---|---|---|---|---|")
    for kind in trust_sounds.NON_VOICE:
        for dbfs in trust_sounds.LEVELS_DBFS:
            parts = [
                trust_sounds.non_voice(kind, s, dbfs, seed=i) for i, s in enumerate((0.5, 2.0, 8.0, 20.0))
            ]
            x = np.concatenate([pause] + [p for part in parts for p in (part, pause)])
            found = bursts.detect(x, trust_sounds.SR)
            left = sum(voice_check.check(b.wave, bursts.SAMPLE_RATE).is_voice for b in found)
            print(f"| {kind} | {dbfs:g} | 0.5, 2, 8, 20 | {len(found)} | {left} |")


if __name__ == "__main__":
    main()
