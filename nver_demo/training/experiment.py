"""From a dataset to numbers and checkpoints: assemble cached features, cross-validate, train
the final head, pick reference clips, save. Shared by the CLI and the scripts."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, replace

import numpy as np
import torch

from .. import __version__, calibration, checkpoint, families, heads, metrics, projection
from . import cache, train
from .datasets import Dataset

log = logging.getLogger(__name__)


@dataclass
class Features:
    """Embedding matrices of the usable clips of a dataset, aligned row by row."""

    dataset: Dataset  # the usable clips only
    backbones: list[str]
    xs: list[np.ndarray]  # one (n, d_i) per backbone
    y: np.ndarray  # (n,) class indices into dataset.labels
    groups: np.ndarray | None  # (n,) speakers, when known
    excluded: dict[str, int]  # reason -> count

    @property
    def n_classes(self) -> int:
        return len(self.dataset.labels)


def load_features(
    dataset: Dataset,
    backbone_names: list[str],
    emb_cache: cache.EmbeddingCache | None = None,
    *,
    include_quiet: bool = False,
    random_init: bool = False,
    device: str | None = None,
    progress: bool = True,
) -> Features:
    """Extract (or read from cache) every backbone's embeddings and keep the usable clips.

    Undecodable clips are always dropped; near-silent ones (< -50 dBFS) unless ``include_quiet``.
    """
    ex = [
        cache.extract(dataset, b, emb_cache, random_init=random_init, device=device, progress=progress)
        for b in backbone_names
    ]
    keep = np.ones(len(dataset), dtype=bool)
    failed = set().union(*(e.failed for e in ex))
    quiet = set(ex[0].quiet) - failed
    keep[list(failed)] = False
    if not include_quiet:
        keep[list(quiet)] = False
    for e in ex:
        keep &= np.isfinite(e.vectors).all(1)
    idx = np.flatnonzero(keep)
    sub = dataset.subset(idx)
    groups = np.array(sub.speakers) if sub.speakers is not None else None
    excluded = {"undecodable": len(failed), "near-silent": 0 if include_quiet else len(quiet)}
    return Features(
        sub, list(backbone_names), [e.vectors[idx] for e in ex], np.array(sub.targets), groups, excluded
    )


def pick_references(y: np.ndarray, candidates: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Up to ``per_class`` indices per class, drawn from ``candidates``."""
    rng = np.random.default_rng(seed)
    out = []
    for c in np.unique(y[candidates]):
        pool = candidates[y[candidates] == c]
        out.extend(rng.choice(pool, size=min(per_class, len(pool)), replace=False))
    return np.sort(np.array(out, dtype=int))


def train_checkpoint(
    feats: Features,
    head_name: str,
    out_dir,
    config: train.TrainConfig = train.TrainConfig(),
    cv: train.CVResult | None = None,
    refs_per_class: int = 10,
    extra_training: dict | None = None,
    *,
    cv_rows: np.ndarray | None = None,
    enrolled: heads.Head | None = None,
    extra_meta: dict | None = None,
) -> checkpoint.Checkpoint:
    """Train the final head and save it with CV metrics and references.

    The head trains on every usable clip except those of a held-out share of the speakers
    (``config.val_fraction``), which serve early stopping (or, for convex heads, the choice of
    L2 strength). Reference clips for the embedding map come from those same speakers, so the
    map shows clips the head never trained on. ``extra_training`` adds entries to the
    checkpoint's ``training`` description (e.g. where the backbone weights came from).
    ``cv_rows``: the rows of ``feats`` that ``cv`` scored (default all), e.g. only speakers a tuned
    backbone never saw; ``enrolled`` and ``extra_meta`` (its ``enrolment`` block) are saved with it.
    """
    fit_idx, val_idx = train.validation_split(feats.y, feats.groups, config.val_fraction, config.seed)
    final = replace(config, refit_on_validation=False)  # keep the reference speakers out
    res = train.fit(head_name, feats.xs, feats.y, feats.n_classes, feats.groups, final, (fit_idx, val_idx))
    ref_idx = pick_references(feats.y, val_idx, refs_per_class, config.seed)
    # One clip at a time for heads whose output depends on the batch (the app sees one clip).
    chunks = [ref_idx[i : i + 1] for i in range(len(ref_idx))] if res.head.batch_dependent else [ref_idx]
    with torch.inference_mode():
        fused = [res.head(*[torch.from_numpy(x[c]) for x in feats.xs]).views["fused"] for c in chunks]
    views = {b: x[ref_idx] for b, x in zip(feats.backbones, feats.xs)}
    views["fused"] = torch.cat(fused).numpy()
    refs = checkpoint.References(
        feats.y[ref_idx],
        views,
        [feats.dataset.items[i].path.name for i in ref_idx],
        projection.reference_coords(views, seed=config.seed),
    )
    y_cv = feats.y if cv_rows is None else feats.y[cv_rows]
    meta = {
        "metrics": {"cv": cv_metrics(cv, y_cv, feats.dataset.labels)} if cv is not None else {},
        **({"calibration": calibration.summarize_oof(cv.oof_proba, y_cv, cv.fold_of)}
           if cv is not None and cv.fold_of is not None else {}),
        "training": {
            "data": feats.dataset.description,
            "sources": feats.dataset.sources,
            "n_clips": len(feats.y),
            "excluded": feats.excluded,
            "config": config.to_dict(),
            "best_epoch": res.best_epoch,
            "final_fit_seconds": round(res.seconds, 1),
            "cv_seconds": round(cv.seconds, 1) if cv is not None else None,
            "date": dt.date.today().isoformat(),
            "nver_demo": __version__,
            "torch": torch.__version__,
            **(extra_training or {}),
        },
        **(extra_meta or {}),
    }
    path = checkpoint.save(out_dir, res.head, head_name, feats.backbones, feats.dataset.labels, meta, refs, enrolled)
    log.info("saved %s (%d parameters)", path, heads.count_parameters(res.head))
    return checkpoint.load(path)


def family_scores(y: np.ndarray, pred: np.ndarray, labels: list[str]) -> float | None:
    """Share of clips whose predicted category is in the true category's family (None when the
    labels are not EmoGator's)."""
    if not families.covers(labels):
        return None
    fam = families.family_index(labels)
    return float((fam[y] == fam[pred]).mean() * 100)


def cv_metrics(cv: train.CVResult, y: np.ndarray, labels: list[str]) -> dict:
    """The CV record of a checkpoint: per-fold and summary scores, plus emotion-family accuracy."""
    out = cv.to_dict()
    if cv.fold_of is None or not families.covers(labels):
        return out
    pred = cv.oof_proba.argmax(1)
    per_fold = [family_scores(y[cv.fold_of == k], pred[cv.fold_of == k], labels) for k in range(len(cv.folds))]
    for f, v in zip(out["folds"], per_fold):
        f["family_accuracy"] = v
    s = metrics.summarize([{"family_accuracy": v} for v in per_fold])
    out.update({k: v for k, v in s.items()})
    return out
