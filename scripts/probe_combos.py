"""Speaker-grouped 5-fold CV of the linear probe on combined feature sets (issue: adapt Whisper).

    python scripts/probe_combos.py whisper-base egemaps          # concatenated, standardised
    python scripts/probe_combos.py --whisper-layers 1 2 3 4 5 6  # mean/std of these Whisper blocks
    python scripts/probe_combos.py whisper-base --pool delta max  # + other statistics over time of
                                                                  # the cached block 2/3 outputs
    python scripts/probe_combos.py whisper-base ge2e --head lda   # LDA instead of logistic regression

Prints accuracy and macro-F1 (mean ± std over folds), in the folds every checkpoint uses.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nver_demo.training import cache, datasets, experiment, train


def _delta(h: np.ndarray) -> np.ndarray:
    """Mean absolute and std of frame-to-frame differences: how fast each feature moves (a laugh's
    pulses, a scream's steadiness), which mean and std over time do not see."""
    d = np.diff(h, axis=0) if len(h) > 1 else np.zeros_like(h)
    return np.concatenate([np.abs(d).mean(0), d.std(0)])


#: Statistics over time of a ``(T, d)`` block output, beyond the embedding's mean and std.
POOLS = {"delta": _delta, "max": lambda h: h.max(0), "min": lambda h: h.min(0)}


def _states(items, sub: str, rows=None):
    """Per clip, the states cache's ``<sub>/<key>.npy`` (optionally only ``rows``), lazily, in order."""
    from nver_demo.training.cache import file_key
    from nver_demo.training.whisper_states import states_root

    root = states_root(cache.default_root())
    for it in items:
        a = np.load(root / sub / f"{file_key(it.path)}.npy")
        yield a if rows is None else a[rows]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("backbones", nargs="*", default=[])
    ap.add_argument("--whisper-layers", nargs="*", type=int, default=None, help="use the states cache rows")
    ap.add_argument(
        "--pool",
        nargs="*",
        default=[],
        choices=sorted(POOLS),
        help="more statistics over time of the cached block-2/3 outputs (free at inference)",
    )
    ap.add_argument(
        "--head", choices=("linear", "lda"), default="linear", help="logistic probe or shrinkage LDA"
    )
    ap.add_argument("--C", type=float, default=None, help="fix the L2 strength (skips the search)")
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args()
    if args.C and args.head != "linear":
        ap.error("--C is the logistic probe's L2 strength; --head lda chooses its shrinkage itself")
    ds = datasets.read_emogator()
    names = list(args.backbones) or ["whisper-base"]
    feats = experiment.load_features(ds, names, cache.EmbeddingCache(), progress=False)
    xs = list(feats.xs)
    label = "+".join(args.backbones)
    if args.whisper_layers is not None:
        rows = np.stack([a.reshape(-1) for a in _states(feats.dataset.items, "stats", args.whisper_layers)])
        xs = ([] if not args.backbones else xs) + [rows]
        label = "+".join([*args.backbones, f"whisper-blocks{','.join(map(str, args.whisper_layers))}"])
    if args.pool:
        from nver_demo.training.whisper_states import KEEP

        per_block = [_states(feats.dataset.items, f"h{k}") for k in KEEP]
        xs.append(np.stack([np.concatenate([POOLS[p](h.astype(np.float32)) for h in hs for p in args.pool])
                            for hs in zip(*per_block)]))  # fmt: skip
        label = "+".join(
            [label or "whisper-base", *(f"{p}(blocks {','.join(map(str, KEEP))})" for p in args.pool)]
        )
    x = np.concatenate(xs, axis=1).astype(np.float32)
    config = train.TrainConfig(head_config={"C": args.C} if args.C else {})
    cv = train.cross_validate(args.head, [x], feats.y, feats.n_classes, feats.groups, config, args.folds)
    s = cv.summary
    fam = experiment.cv_metrics(cv, feats.y, feats.dataset.labels).get("family_accuracy_mean")
    print(
        f"{args.head} on {label} ({x.shape[1]} dims, {len(feats.y)} clips): accuracy {s['accuracy_mean']:.2f} ± "
        f"{s['accuracy_std']:.2f}  macro-F1 {s['macro_f1_mean']:.2f} ± {s['macro_f1_std']:.2f}  family {fam:.1f}"
    )


if __name__ == "__main__":
    main()
