"""Score ensembles of measured rows from their out-of-fold probabilities (no training).

    python scripts/oof_ensemble.py linear-whisper-base concat-whisper-base+ge2e
    python scripts/oof_ensemble.py linear-whisper-base linear-ge2e --weights 0.7 0.3
    python scripts/oof_ensemble.py linear-whisper-base --balance   # one row, prior-corrected

Each name is a finished cross-validation's work folder, records/fusion/work/<name> (written by
scripts/fusion_ablation.sh: every fold's test indices and probabilities). All rows must share the
folds and the clip list (the scripts' runs do: same seed, same usable clips), which is checked. The
ensemble averages log-probabilities with the given weights (equal by default), the usual product
of experts; scores are per fold (accuracy, macro-F1), mean ± std, in the folds every checkpoint uses.

``--balance``: the probes predict some emotions two to three times as often as others although the
classes are balanced, so also score a per-class bias fitted, cross-fitted by fold (on the other
four folds' out-of-fold scores), to make the mean predicted distribution uniform.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nver_demo import metrics
from nver_demo.training import cache, datasets, experiment

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "records" / "fusion" / "work"


def load_oof(name: str, n_folds: int = 5) -> tuple[np.ndarray, list[np.ndarray]]:
    """``(n, C)`` out-of-fold probabilities and each fold's test indices, in fold order."""
    by_key: dict[str, dict[int, Path]] = {}  # fold files are named fold<k>-<config key>.npz
    for f in (WORK / name).glob("fold*-*.npz"):
        k, key = f.stem[4:].split("-", 1)
        by_key.setdefault(key, {})[int(k)] = f
    complete = [folds for folds in by_key.values() if sorted(folds) == list(range(n_folds))]
    if len(complete) != 1:
        raise SystemExit(f"{name}: {len(complete)} complete sets of {n_folds} folds in {WORK / name}; need one")
    by_fold = complete[0]
    folds = [np.load(by_fold[k]) for k in sorted(by_fold)]
    n = sum(len(z["test_idx"]) for z in folds)
    proba = np.zeros((n, folds[0]["proba"].shape[1]), dtype=np.float64)
    for z in folds:
        proba[z["test_idx"]] = z["proba"]
    return proba, [z["test_idx"] for z in folds]


def balancing_bias(logp: np.ndarray, iters: int = 300, step: float = 0.5) -> np.ndarray:
    """Per-class bias ``b`` such that the mean of softmax(logp + b) over clips is uniform."""
    n_classes = logp.shape[1]
    b = np.zeros(n_classes)
    for _ in range(iters):
        z = logp + b
        z = np.exp(z - z.max(1, keepdims=True))
        z /= z.sum(1, keepdims=True)
        b -= step * (np.log(z.mean(0) + 1e-9) + np.log(n_classes))
    return b


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rows", nargs="+")
    ap.add_argument("--weights", nargs="*", type=float, default=None)
    ap.add_argument("--balance", action="store_true", help="also score the cross-fitted prior correction")
    args = ap.parse_args()
    weights = args.weights or [1.0] * len(args.rows)
    if len(weights) != len(args.rows):
        raise SystemExit("one weight per row")
    loaded = [load_oof(r) for r in args.rows]
    folds = loaded[0][1]
    for r, (p, f) in zip(args.rows, loaded):
        if len(p) != len(loaded[0][0]) or any(not np.array_equal(a, b) for a, b in zip(f, folds)):
            raise SystemExit(f"{r}: other folds or clips than {args.rows[0]}")
    feats = experiment.load_features(
        datasets.read_emogator(), ["whisper-base"], cache.EmbeddingCache(), progress=False
    )
    y = feats.y
    if len(y) != len(loaded[0][0]):
        raise SystemExit(f"{len(loaded[0][0])} clips in the rows, {len(y)} usable whisper-base clips")
    logp = sum(w * np.log(np.clip(p, 1e-12, 1.0)) for w, (p, _) in zip(weights, loaded)) / sum(weights)
    rows = [metrics.scores(y[t], logp[t].argmax(1), feats.n_classes) for t in folds]
    s = metrics.summarize([{k: r[k] for k in ("accuracy", "macro_f1")} for r in rows])
    for name, (p, _) in zip(args.rows, loaded):
        single = [metrics.scores(y[t], p[t].argmax(1), feats.n_classes)["macro_f1"] for t in folds]
        print(f"  {name}: macro-F1 {np.mean(single):.2f} ± {np.std(single):.2f}")
    print(f"ensemble of {' + '.join(args.rows)} (weights {weights}): accuracy {s['accuracy_mean']:.2f} ± "
          f"{s['accuracy_std']:.2f}  macro-F1 {s['macro_f1_mean']:.2f} ± {s['macro_f1_std']:.2f}")  # fmt: skip
    if args.balance:
        rows = []
        for k, t in enumerate(folds):
            rest = np.concatenate([f for j, f in enumerate(folds) if j != k])
            rows.append(
                metrics.scores(y[t], (logp[t] + balancing_bias(logp[rest])).argmax(1), feats.n_classes)
            )
        s = metrics.summarize([{k: r[k] for k in ("accuracy", "macro_f1")} for r in rows])
        print(
            f"balanced: accuracy {s['accuracy_mean']:.2f} ± {s['accuracy_std']:.2f}  "
            f"macro-F1 {s['macro_f1_mean']:.2f} ± {s['macro_f1_std']:.2f}"
        )


if __name__ == "__main__":
    main()
