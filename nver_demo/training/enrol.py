"""Speaker enrolment as a model feature: fit the speaker-normalised head, and measure it.

The enrolled head is the checkpoint's head type (LDA for the default) fitted on embeddings minus
the mean of ``k`` random *other* clips of the same speaker, ``k`` drawn per clip from
``K_TRAIN`` (the app's range: a visitor's handful of clips up to a Timeline recording's tens of
bursts). :func:`evaluate` scores it in speaker-grouped folds: every test clip is normalised by
``k`` other clips of its own speaker (never itself) for each ``k`` in ``KS``; ``k = 0`` is the
plain head. Out-of-fold probabilities per ``k`` give each column's macro-F1 and ECE.

    python -m nver_demo.training.enrol --model checkpoints/lda-whisper-base-ft      # CV + write
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

import numpy as np

from .. import calibration, metrics
from ..enrolment import DEFAULT_MIN_CLIPS, other_clip_means
from ..heads import Head
from . import train

log = logging.getLogger(__name__)

#: Enrolment sizes scored in CV (0 = no enrolment: the plain head).
KS = (0, 3, 5, 10, 20)
#: Range of enrolment sizes the enrolled head is trained with (drawn uniformly per clip).
K_TRAIN = (5, 30)


def draw_k(n: int, rng: np.random.Generator, k_range: tuple[int, int] = K_TRAIN) -> np.ndarray:
    return rng.integers(k_range[0], k_range[1] + 1, size=n)


def fit_enrolled(
    head_name: str,
    xs: list[np.ndarray],
    y: np.ndarray,
    groups: np.ndarray,
    n_classes: int,
    config: train.TrainConfig = train.TrainConfig(),
    k_range: tuple[int, int] = K_TRAIN,
) -> Head:
    """The enrolled head: ``head_name`` fitted (as ``train.fit`` fits it, regularisation chosen on
    held-out training speakers) on each backbone's embeddings minus ``k``-clip speaker means."""
    rng = np.random.default_rng(config.seed)
    ks = draw_k(len(y), rng, k_range)
    normed = [x - other_clip_means(x, groups, ks, rng) for x in xs]
    return train.fit(head_name, normed, y, n_classes, groups, config).head


def _folds(y: np.ndarray, groups: np.ndarray, test_pool: np.ndarray | None, n_splits: int, seed: int):
    """Speaker-grouped folds; with ``test_pool`` (a row mask), test clips come only from the pool's
    speakers and every other row always trains (e.g. speakers a tuned encoder never saw)."""
    if test_pool is None:
        yield from train.speaker_folds(y, groups, n_splits, seed)
        return
    pool = np.flatnonzero(test_pool)
    rest = np.flatnonzero(~test_pool)
    for tr, te in train.speaker_folds(y[pool], groups[pool], n_splits, seed):
        yield np.sort(np.concatenate([rest, pool[tr]])), pool[te]


def evaluate(
    head_name: str,
    xs: list[np.ndarray],
    y: np.ndarray,
    groups: np.ndarray,
    n_classes: int,
    *,
    test_pool: np.ndarray | None = None,
    ks: tuple[int, ...] = KS,
    n_splits: int = 5,
    config: train.TrainConfig = train.TrainConfig(),
    k_range: tuple[int, int] = K_TRAIN,
) -> dict:
    """Out-of-fold scores of the plain head (``k = 0``) and the enrolled head at each ``k``.

    Returns ``{"ks": {k: {"macro_f1", "accuracy", "ece_before", "ece" (after temperature scaling,
    cross-fitted by fold), "temperature", "macro_f1_folds"}}, "n_test", "folds", "seconds",
    "oof": {k: (n_test, C) probabilities}, "test_index", "fold_of"}``.
    """
    t0 = time.perf_counter()
    rng = np.random.default_rng(config.seed + 1)
    test_rows, fold_of = [], []
    oof: dict[int, list[np.ndarray]] = {k: [] for k in ks}
    per_fold: dict[int, list[float]] = {k: [] for k in ks}
    for f, (tr, te) in enumerate(_folds(y, groups, test_pool, n_splits, config.seed)):
        g = groups[tr]
        plain = train.fit(head_name, [x[tr] for x in xs], y[tr], n_classes, g, config).head
        enrolled = fit_enrolled(head_name, [x[tr] for x in xs], y[tr], g, n_classes, config, k_range)
        for k in ks:
            if k == 0:
                p = train.predict_proba(plain, [x[te] for x in xs])
            else:
                p = train.predict_proba(enrolled, [x[te] - other_clip_means(x[te], groups[te], k, rng) for x in xs])
            oof[k].append(p)
            per_fold[k].append(metrics.scores(y[te], p.argmax(1), n_classes)["macro_f1"])
        test_rows.append(te)
        fold_of.append(np.full(len(te), f))
        log.info("fold %d: %s", f + 1, {k: round(v[-1], 2) for k, v in per_fold.items()})
    te_all = np.concatenate(test_rows)
    out = {"ks": {}, "n_test": len(te_all), "folds": len(test_rows), "k_train": list(k_range),
           "oof": {}, "test_index": te_all, "fold_of": np.concatenate(fold_of)}  # fmt: skip
    for k in ks:
        p = np.concatenate(oof[k])
        s = metrics.scores(y[te_all], p.argmax(1), n_classes)
        cal = calibration.summarize_oof(p, y[te_all], out["fold_of"])
        out["ks"][k] = {**s, "ece_before": cal["ece_before"], "ece": cal["ece_after"],
                        "temperature": cal["temperature"], "macro_f1_folds": per_fold[k]}  # fmt: skip
        out["oof"][k] = p
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def break_even(scores: dict[int, dict], plain_key: int = 0) -> int:
    """The smallest scored ``k`` from which every larger ``k`` beats the plain head's macro-F1."""
    plain = scores[plain_key]["macro_f1"]
    ks = sorted(k for k in scores if k != plain_key)
    for i, k in enumerate(ks):
        if all(scores[j]["macro_f1"] > plain for j in ks[i:]):
            return k
    return DEFAULT_MIN_CLIPS if not ks else ks[-1] + 1


def config_for(head_name: str, head_config: dict) -> train.TrainConfig:
    """The training config the checkpoint was fitted with, regularisation fixed to its value."""
    return replace(train.TrainConfig(), head_config=dict(head_config))


def pool_of(feats, folders: tuple[str, ...]) -> np.ndarray | None:
    """Row mask of the clips whose EmoGator folder is in ``folders`` (None when ``folders`` is empty)."""
    if not folders:
        return None
    mask = np.array([it.path.parent.parent.name in folders or it.path.parent.name in folders
                     for it in feats.dataset.items])  # fmt: skip
    if not mask.any():
        raise ValueError(f"no clip comes from {list(folders)}; the folders read: "
                         f"{[s['folder'] for s in feats.dataset.sources]}")  # fmt: skip
    return mask


def enrolled_checkpoint(feats, head_name: str, out, *, head_config: dict | None = None,
                        test_folders: tuple[str, ...] = (), procedure: str = "", extra_training: dict | None = None,
                        n_splits: int = 5):  # fmt: skip
    """Cross-validate (plain and enrolled, per ``k``), then fit both heads on every clip and save
    one checkpoint. ``test_folders``: test clips only from these folders' speakers (for a backbone
    tuned on the others); ``procedure`` says so in the checkpoint."""
    from . import experiment

    config = replace(train.TrainConfig(), head_config=dict(head_config or {}))
    pool = pool_of(feats, test_folders)
    r = evaluate(head_name, feats.xs, feats.y, feats.groups, feats.n_classes, test_pool=pool,
                 n_splits=n_splits, config=config)  # fmt: skip
    rows = r["test_index"]
    order = np.argsort(rows)  # CVResult rows follow feats' order
    folds = [{**metrics.scores(feats.y[rows][r["fold_of"] == f], r["oof"][0][r["fold_of"] == f].argmax(1),
                               feats.n_classes), "n_test": int((r["fold_of"] == f).sum())}
             for f in range(r["folds"])]  # fmt: skip
    cv = train.CVResult.from_folds(folds, feats.y[rows][order], r["oof"][0][order], r["seconds"], r["fold_of"][order])
    min_clips = break_even(r["ks"])
    enrolled = fit_enrolled(head_name, feats.xs, feats.y, feats.groups, feats.n_classes, config)
    k_cal = 10 if 10 in r["ks"] else max(r["ks"])
    cal = calibration.summarize_oof(r["oof"][k_cal][order], feats.y[rows][order], r["fold_of"][order])
    enrol_meta = {
        "min_clips": int(min_clips),
        "k_train": list(K_TRAIN),
        "method": "embeddings minus the mean of k random other clips of the same speaker (k drawn per "
        f"training clip from {K_TRAIN[0]}-{K_TRAIN[1]}); below min_clips the plain head answers",
        "cv": {str(k): {kk: v[kk] for kk in ("macro_f1", "accuracy", "ece_before", "ece", "macro_f1_folds")}
               for k, v in r["ks"].items()},
        "calibration": {**cal, "fitted_at_k": k_cal},
    }
    extra = {"cv_procedure": procedure or f"{n_splits}-fold speaker-grouped CV", **(extra_training or {}),
             "cv_test_clips": len(rows)}  # fmt: skip
    return experiment.train_checkpoint(feats, head_name, out, config, cv, extra_training=extra,
                                       cv_rows=np.sort(rows), enrolled=enrolled,
                                       extra_meta={"enrolment": enrol_meta}), r  # fmt: skip


def main(argv=None) -> None:
    import argparse
    import json
    from pathlib import Path

    from .. import checkpoint
    from . import cache, datasets, experiment

    ap = argparse.ArgumentParser(prog="python -m nver_demo.training.enrol", description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="the checkpoint to refit (its head, backbones, head_config)")
    ap.add_argument("--out", type=Path, default=None, help="where to write (default: over --model)")
    ap.add_argument("--test-folders", nargs="*", default=[],
                    help="test clips only from these data folders (e.g. emogator_more: speakers a tuned "
                    "backbone never saw)")  # fmt: skip
    ap.add_argument("--procedure", default="", help="how the CV was run, in words (stored in the checkpoint)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    src = checkpoint.resolve(args.model)
    meta = checkpoint.read_meta(src)
    feats = experiment.load_features(datasets.read_emogator(), meta["backbones"], cache.EmbeddingCache())
    keep = {k: meta["training"][k] for k in ("backbone_weights",) if k in meta.get("training", {})}
    ck, r = enrolled_checkpoint(feats, meta["head"], args.out or src, head_config=meta.get("head_config"),
                                test_folders=tuple(args.test_folders), procedure=args.procedure,
                                extra_training=keep)  # fmt: skip
    print(json.dumps({"checkpoint": str(ck.path), "min_clips": ck.meta["enrolment"]["min_clips"],
                      **{f"k={k}": round(v["macro_f1"], 2) for k, v in r["ks"].items()}}))  # fmt: skip


if __name__ == "__main__":
    main()
