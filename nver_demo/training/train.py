"""Training and cross-validation of heads on cached embeddings (method.md, "Training").

Adam (lr 1e-3), batch 32, up to 20 epochs, dropout, early stopping on a validation split
taken from the *training* speakers (never the test fold), 5-fold cross-validation grouped by
speaker when speakers are known.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import (
    GroupShuffleSplit,
    StratifiedGroupKFold,
    StratifiedKFold,
    StratifiedShuffleSplit,
)

from .. import heads, metrics
from ..heads import Head
from ..heads.blocks import ConvBlock
from ..heads.compile_probe import compile_works

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 20
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 5  # epochs without validation macro-F1 improvement before stopping
    val_fraction: float = 0.15  # share of training speakers held out for early stopping
    seed: int = 0
    head_config: dict = field(default_factory=dict)
    #: Convex (full-batch) heads: after choosing their L2 strength on the held-out speakers, refit
    #: on them too. Cross-validation does; a shipped checkpoint does not, so the reference clips
    #: it stores (taken from those speakers) are clips its head never trained on.
    refit_on_validation: bool = True
    #: Train the heads' conv blocks through torch.compile (same results, ~1.8x faster on CPU).
    compile: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class FitResult:
    head: Head
    best_epoch: int
    history: list[dict[str, float]]
    seconds: float


def speaker_folds(
    y: np.ndarray, groups: np.ndarray | None, n_splits: int = 5, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Folds as (train_idx, test_idx); speaker-disjoint and label-stratified when ``groups``."""
    idx = np.zeros(len(y))
    if groups is None:
        splitter = StratifiedKFold(n_splits, shuffle=True, random_state=seed)
        return list(splitter.split(idx, y))
    splitter = StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed)
    return list(splitter.split(idx, y, groups))


def validation_split(
    y: np.ndarray, groups: np.ndarray | None, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split training indices into (fit, val), by speaker when speakers are known."""
    idx = np.arange(len(y))
    if groups is not None and len(np.unique(groups)) >= 4:
        splitter = GroupShuffleSplit(1, test_size=fraction, random_state=seed)
        return next(splitter.split(idx, y, groups))
    try:
        return next(StratifiedShuffleSplit(1, test_size=fraction, random_state=seed).split(idx, y))
    except ValueError:  # a class with a single example: fall back to a plain split
        rng = np.random.default_rng(seed)
        perm = rng.permutation(idx)
        n_val = max(1, round(fraction * len(idx)))
        return perm[n_val:], perm[:n_val]


def _tensors(xs: list[np.ndarray], index: np.ndarray) -> list[torch.Tensor]:
    return [torch.from_numpy(np.ascontiguousarray(x[index], dtype=np.float32)) for x in xs]


def predict_proba(head: Head, xs: list[np.ndarray], batch_size: int | None = None) -> np.ndarray:
    """Class probabilities ``(n, C)`` for embedding matrices ``xs``.

    Batches of 512 by default; one clip at a time for heads whose output depends on the rest of
    the batch (``head.batch_dependent``, MATA's batch reading), since the app sees one clip.
    """
    if batch_size is None:
        batch_size = 1 if head.batch_dependent else 512
    head.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(xs[0]), batch_size):
            chunk = [
                torch.from_numpy(np.asarray(x[start : start + batch_size], dtype=np.float32)) for x in xs
            ]
            out.append(torch.softmax(head(*chunk).logits, dim=-1).numpy())
    return np.concatenate(out) if out else np.zeros((0, head.n_classes), dtype=np.float32)


def _compile_conv_blocks(head: Head) -> None:
    """Compile the head's conv blocks if a child process showed torch.compile works here;
    otherwise warn and train eagerly (same results, slower)."""
    works, why = compile_works()
    if not works:
        warnings.warn(f"--compile ignored, training eagerly: {why}", RuntimeWarning, stacklevel=3)
        return
    for module in head.modules():
        if isinstance(module, ConvBlock):
            module.compile()


def fit(
    head_name: str,
    xs: list[np.ndarray],
    y: np.ndarray,
    n_classes: int,
    groups: np.ndarray | None = None,
    config: TrainConfig = TrainConfig(),
    val_index: tuple[np.ndarray, np.ndarray] | None = None,
) -> FitResult:
    """Train a fresh head on ``xs`` (one ``(n, d_i)`` matrix per backbone) and labels ``y``.

    Early stopping keeps the weights of the epoch with the best validation macro-F1. Heads
    marked ``full_batch`` (the linear probe, LDA) are fitted by :func:`fit_full_batch` instead.
    """
    if getattr(heads.spec(head_name).cls, "full_batch", False):
        return fit_full_batch(head_name, xs, y, n_classes, groups, config, val_index)
    t0 = time.perf_counter()
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    fit_idx, val_idx = val_index or validation_split(y, groups, config.val_fraction, config.seed)
    head = heads.build(head_name, tuple(x.shape[1] for x in xs), n_classes, **config.head_config)
    head.fit_normalization(_tensors(xs, fit_idx))
    if config.compile:
        _compile_conv_blocks(head)
    opt = torch.optim.Adam(head.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    x_fit, y_fit = _tensors(xs, fit_idx), torch.from_numpy(y[fit_idx]).long()
    best = (-1.0, 0, copy.deepcopy(head.state_dict()))
    history, stale = [], 0
    for epoch in range(1, config.epochs + 1):
        head.train()
        perm = torch.from_numpy(rng.permutation(len(fit_idx)))
        total = 0.0
        for start in range(0, len(perm), config.batch_size):
            b = perm[start : start + config.batch_size]
            if len(b) < 2:  # BatchNorm needs two samples
                continue
            out = head(*[x[b] for x in x_fit])
            loss = head.loss(out, y_fit[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(b)
        val_pred = predict_proba(head, [x[val_idx] for x in xs]).argmax(1)
        val = metrics.scores(y[val_idx], val_pred, n_classes)
        history.append(
            {"epoch": epoch, "train_loss": total / len(fit_idx), **{f"val_{k}": v for k, v in val.items()}}
        )
        if val["macro_f1"] > best[0]:
            best, stale = (val["macro_f1"], epoch, copy.deepcopy(head.state_dict())), 0
        else:
            stale += 1
            if stale >= config.patience:
                break
    head.load_state_dict(best[2])
    head.eval()
    return FitResult(head, best[1], history, time.perf_counter() - t0)


def fit_full_batch(
    head_name: str,
    xs: list[np.ndarray],
    y: np.ndarray,
    n_classes: int,
    groups: np.ndarray | None = None,
    config: TrainConfig = TrainConfig(),
    val_index: tuple[np.ndarray, np.ndarray] | None = None,
) -> FitResult:
    """Convex heads: pick the regularisation (the head class's ``grid_param``: the logistic
    probe's L2 strength ``C``, LDA's ``shrinkage``) on held-out speakers, then refit on all of ``xs``
    (or, with ``config.refit_on_validation=False``, on the fit split only).

    ``config.head_config[grid_param]`` fixes the value and skips the search.
    """
    cls = heads.spec(head_name).cls
    key = cls.grid_param
    t0 = time.perf_counter()
    fit_idx, val_idx = val_index or validation_split(y, groups, config.val_fraction, config.seed)
    dims = tuple(x.shape[1] for x in xs)
    grid = [config.head_config[key]] if key in config.head_config else list(cls.grid)
    other = {k: v for k, v in config.head_config.items() if k != key}
    history = []
    for c in grid if len(grid) > 1 else []:
        head = heads.build(head_name, dims, n_classes, **{key: c}, **other)
        head.fit_normalization(_tensors(xs, fit_idx))
        iters = head.fit_full(*_tensors(xs, fit_idx), torch.from_numpy(y[fit_idx]).long())
        val = metrics.scores(y[val_idx], predict_proba(head, [x[val_idx] for x in xs]).argmax(1), n_classes)
        history.append({key: c, "iterations": iters, **{f"val_{k}": v for k, v in val.items()}})
    best = max(history, key=lambda h: h["val_macro_f1"])[key] if history else grid[0]
    head = heads.build(head_name, dims, n_classes, **{key: best}, **other)
    final = np.arange(len(y)) if config.refit_on_validation else fit_idx
    head.fit_normalization(_tensors(xs, final))
    head.fit_full(*_tensors(xs, final), torch.from_numpy(y[final]).long())
    head.eval()
    return FitResult(head, 0, history, time.perf_counter() - t0)


@dataclass
class CVResult:
    folds: list[dict[str, float]]
    summary: dict[str, float]
    confusion: list[list[int]]
    oof_proba: np.ndarray  # (n, C) out-of-fold probabilities
    seconds: float
    fold_of: np.ndarray | None = None  # (n,) which fold each clip was a test clip of

    def to_dict(self) -> dict:
        return {"folds": self.folds, **self.summary, "confusion": self.confusion, "seconds": self.seconds}

    @classmethod
    def from_folds(cls, folds: list[dict], y: np.ndarray, oof: np.ndarray, seconds: float,
                   fold_of: np.ndarray | None = None) -> CVResult:  # fmt: skip
        """Summary (mean/std of accuracy and macro-F1) and confusion of finished folds' scores and
        out-of-fold probabilities."""
        summary = metrics.summarize([{k: f[k] for k in ("accuracy", "macro_f1")} for f in folds])
        conf = metrics.confusion(y, oof.argmax(1), oof.shape[1])
        return cls(folds, summary, conf, oof, seconds, fold_of)


def cross_validate(
    head_name: str,
    xs: list[np.ndarray],
    y: np.ndarray,
    n_classes: int,
    groups: np.ndarray | None = None,
    config: TrainConfig = TrainConfig(),
    n_splits: int = 5,
    work: str | Path | None = None,
) -> CVResult:
    """k-fold CV: train on k-1 folds (minus a validation split), score on the held-out fold.

    ``work``: a folder where each finished fold is kept (its test indices, out-of-fold
    probabilities and scores), so an interrupted run resumes at the first unfinished fold. A
    fold is reused only if the head, config, data shapes and test indices all match.
    """
    t0 = time.perf_counter()
    oof = np.zeros((len(y), n_classes), dtype=np.float32)
    fold_of = np.full(len(y), -1)
    folds = []
    key = _fold_key(head_name, xs, y, config, n_splits)
    for k, (train_idx, test_idx) in enumerate(speaker_folds(y, groups, n_splits, config.seed)):
        fold_of[test_idx] = k
        done = _load_fold(work, k, key, test_idx)
        if done is not None:
            oof[test_idx], fold = done
            log.info("fold %d: reused from %s", k + 1, work)
        else:
            g = groups[train_idx] if groups is not None else None
            res = fit(head_name, [x[train_idx] for x in xs], y[train_idx], n_classes, g, config)
            oof[test_idx] = predict_proba(res.head, [x[test_idx] for x in xs])
            s = metrics.scores(y[test_idx], oof[test_idx].argmax(1), n_classes)
            fold = {
                **s,
                "best_epoch": res.best_epoch,
                "n_test": len(test_idx),
                "seconds": round(res.seconds, 1),
            }
            _save_fold(work, k, key, test_idx, oof[test_idx], fold)
        folds.append(fold)
        log.info(
            "fold %d: acc %.2f  macro-F1 %.2f  (epoch %d)",
            k + 1,
            fold["accuracy"],
            fold["macro_f1"],
            fold["best_epoch"],
        )
    return CVResult.from_folds(folds, y, oof, time.perf_counter() - t0, fold_of)


def _fold_key(head_name: str, xs: list[np.ndarray], y: np.ndarray, config: TrainConfig, n_splits: int) -> str:
    desc = json.dumps(
        [head_name, [list(x.shape) for x in xs], int(y.sum()), config.to_dict(), n_splits], sort_keys=True
    )
    return hashlib.sha1(desc.encode()).hexdigest()[:16]


def _load_fold(work, k: int, key: str, test_idx: np.ndarray) -> tuple[np.ndarray, dict] | None:
    if work is None:
        return None
    path = Path(work) / f"fold{k}-{key}.npz"
    if not path.is_file():
        return None
    z = np.load(path)
    if not np.array_equal(z["test_idx"], test_idx):
        return None
    return z["proba"], json.loads(str(z["fold"]))


def _save_fold(work, k: int, key: str, test_idx: np.ndarray, proba: np.ndarray, fold: dict) -> None:
    if work is None:
        return
    Path(work).mkdir(parents=True, exist_ok=True)
    path = Path(work) / f"fold{k}-{key}.npz"
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, test_idx=test_idx, proba=proba, fold=json.dumps(fold))
    os.replace(tmp, path)
