"""Cheap screening of which second backbone gains most from fusion with Whisper-base.

    NVER_CACHE=/work/cache python scripts/pair_screen.py ge2e egemaps compare

For each candidate B: a linear probe (the `linear` head: logistic regression, L2 chosen on held-out
speakers) on B alone and on the concatenation [Whisper-base | B], 5-fold speaker-grouped CV on
cached embeddings of all EmoGator clips (same folds as every other row). The gain of the
concatenation over Whisper-base alone ranks the candidates: a screening proxy, far cheaper than
training a fusion head per pair. Needs complete caches (it never extracts: a missing embedding
is an error). Writes results/fusion/screen-<B>.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nver_demo.training import cache, datasets, experiment, train

ROOT = Path(__file__).resolve().parent.parent
A = "whisper-base"


def main(names: list[str]) -> None:
    ds = datasets.read("emogator", None)
    c = cache.EmbeddingCache()
    out_dir = ROOT / "results" / "fusion"
    out_dir.mkdir(parents=True, exist_ok=True)
    for b in names:
        feats = experiment.load_features(ds, [A, b], c, progress=False)
        if len(feats.y) < 0.95 * len(ds):
            raise SystemExit(f"{b}: only {len(feats.y)} usable clips of {len(ds)}; is its cache complete?")
        rows = {}
        for label, xs in ((b, [feats.xs[1]]), (f"{A}|{b}", [np.hstack(feats.xs)])):
            cv = train.cross_validate("linear", xs, feats.y, feats.n_classes, feats.groups)
            rows[label] = {**cv.summary, "folds": cv.folds, "seconds": round(cv.seconds, 1)}
            s = cv.summary
            print(f"linear on {label}: acc {s['accuracy_mean']:.2f} ± {s['accuracy_std']:.2f}  "
                  f"macro-F1 {s['macro_f1_mean']:.2f} ± {s['macro_f1_std']:.2f}  ({cv.seconds:.0f} s)", flush=True)  # fmt: skip
        result = {"data": feats.dataset.description, "n_clips": len(feats.y), "rows": rows}
        (out_dir / f"screen-{b}.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:] or ["ge2e", "egemaps", "compare"])
