"""Detection alone on the Timeline benchmark's recordings (bench_timeline.build: EmoGator clips at
known times, half in pink background noise): recall and precision of the bursts the detector finds
and the signal checks keep, no model run. ``--hold-s 0`` turns the detector's hold off, for the
comparison in docs/trust.md.

    python bench/timeline_detection.py --seeds 0 1 2 3 [--hold-s 0]
"""

from __future__ import annotations

import argparse
from types import SimpleNamespace

import bench_timeline as bt

from nver_demo import voice_check
from nver_demo.app import bursts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--hold-s", type=float, default=bursts.DetectorConfig().hold_s)
    args = ap.parse_args()
    config = bursts.DetectorConfig(hold_s=args.hold_s)
    for seed in args.seeds:
        x, truth = bt.build(args.minutes, seed)
        found = bursts.detect(x, bursts.SAMPLE_RATE, config)
        kept = [b for b in found if voice_check.check(b.wave, bursts.SAMPLE_RATE).is_voice]
        s = bt.score(truth, [SimpleNamespace(start=b.start, end=b.end) for b in kept])
        print(f"seed {seed}: {len(truth)} bursts, {len(found)} detected, {len(kept)} kept as voice, "
              f"recall {100 * s['recall']:.1f} %, precision {100 * s['precision']:.1f} %")  # fmt: skip


if __name__ == "__main__":
    main()
