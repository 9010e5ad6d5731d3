"""Speaker-grouped 5-fold CV of the linear probe on combined feature sets (issue: adapt Whisper).

    python scripts/probe_combos.py whisper-base egemaps          # concatenated, standardised
    python scripts/probe_combos.py whisper-base ge2e --head lda  # LDA instead of logistic regression

Prints accuracy and macro-F1 (mean ± std over folds), in the folds every checkpoint uses. The rows
on other Whisper blocks and on more statistics over time (``--whisper-layers``, ``--pool``) read a
cache of Whisper's block states that is gone with the block-4 path: at git tag ``pre-house-experiments``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nver_demo.training import cache, datasets, experiment, train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("backbones", nargs="+")
    ap.add_argument(
        "--head", choices=("linear", "lda"), default="linear", help="logistic probe or shrinkage LDA"
    )
    ap.add_argument("--C", type=float, default=None, help="fix the L2 strength (skips the search)")
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args()
    if args.C and args.head != "linear":
        ap.error("--C is the logistic probe's L2 strength; --head lda chooses its shrinkage itself")
    ds = datasets.read_emogator()
    feats = experiment.load_features(ds, args.backbones, cache.EmbeddingCache(), progress=False)
    xs = list(feats.xs)
    label = "+".join(args.backbones)
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
