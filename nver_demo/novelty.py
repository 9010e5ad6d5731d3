"""Novelty: how unlike the training bursts a clip's embedding is, in the directions that tell
emotions apart.

The score is the Mahalanobis distance from the clip to the *nearest emotion centre* in the
discriminant subspace of a shrinkage LDA fitted on the training embeddings (the checkpoint's
backbones, standardised and concatenated). In that subspace the pooled within-emotion covariance
is the identity, so the distance counts how many "typical spreads of an emotion" the clip lies
from the closest emotion. Directions that do not separate emotions — most of what the recording
channel (level, microphone, codec, room) changes — are left out, which is why this and not a
full-space Mahalanobis distance: docs/trust.md measures both, on channel-shifted EmoGator clips
and on sounds the models never saw.

Stored per checkpoint in ``novelty.safetensors`` (``mean``, ``std``, ``proj`` (d, r),
``centres`` (K, r)) with ``config.json["novelty"]`` saying the threshold and how it was fitted
(``python -m nver_demo.training.novelty_fit --model checkpoints/NAME``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

FILE = "novelty.safetensors"
#: The score this module computes (config.json["novelty"]["score"] must name it).
SCORE = "lda-nearest-centre"
#: Standardised features are clamped like the heads' inputs (heads.blocks.Standardize).
CLAMP = 10.0


@dataclass
class NoveltyModel:
    """Everything needed to score a clip: ``score(embeddings) -> float``."""

    mean: np.ndarray  # (d,) concatenated backbone embeddings' training mean
    std: np.ndarray  # (d,)
    proj: np.ndarray  # (d, r): standardised embedding -> whitened discriminant coordinates
    centres: np.ndarray  # (K, r) emotion centres in those coordinates
    threshold: float | None = None  # scores above it are out of domain
    info: dict = field(default_factory=dict)  # how the threshold was fitted (config.json["novelty"])

    def coordinates(self, x: np.ndarray) -> np.ndarray:
        """(n, d) or (d,) concatenated embeddings -> (n, r) discriminant coordinates."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        z = np.clip((x - self.mean) / self.std, -CLAMP, CLAMP)
        return z @ self.proj

    def scores(self, x: np.ndarray) -> np.ndarray:
        """(n,) distances to the nearest centre (in within-emotion standard deviations)."""
        u = self.coordinates(x)
        d2 = (u * u).sum(1)[:, None] - 2 * u @ self.centres.T + (self.centres**2).sum(1)[None]
        return np.sqrt(np.maximum(d2.min(1), 0.0))

    def score(self, x: np.ndarray) -> float:
        return float(self.scores(x)[0])

    def to_tensors(self) -> dict:
        import torch

        return {k: torch.from_numpy(np.ascontiguousarray(getattr(self, k), dtype=np.float32))
                for k in ("mean", "std", "proj", "centres")}  # fmt: skip


def concat(
    embeddings: dict[str, np.ndarray] | list[np.ndarray], backbones: list[str] | None = None
) -> np.ndarray:
    """Backbone embeddings side by side, in the checkpoint's backbone order."""
    if isinstance(embeddings, dict):
        embeddings = [embeddings[b] for b in backbones or list(embeddings)]
    return np.concatenate([np.atleast_2d(np.asarray(e, dtype=np.float64)) for e in embeddings], axis=1)


def fit(x: np.ndarray, y: np.ndarray, n_classes: int, shrinkage: float = 0.6) -> NoveltyModel:
    """Fit the discriminant subspace on training embeddings ``x`` (n, d) with labels ``y`` (n,).

    Pooled within-class covariance ``S`` of the standardised features, shrunk as the LDA head's
    (``(1 - a) S + a tr(S)/d I``); whitening by it, then the principal axes of the whitened class
    means (at most ``K - 1``) span the subspace. Solved in float64.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y)
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError(f"x must be (n, d) with one label per row; got {x.shape} and {y.shape}")
    counts = np.bincount(y, minlength=n_classes)
    if (counts == 0).any():
        raise ValueError(
            f"every class needs examples; classes {np.flatnonzero(counts == 0).tolist()} have none"
        )
    mean = x.mean(0)
    std = x.std(0)
    std = np.where(std > 1e-8, std, 1.0)
    z = np.clip((x - mean) / std, -CLAMP, CLAMP)
    means = np.stack([z[y == k].mean(0) for k in range(n_classes)])
    resid = z - means[y]
    cov = resid.T @ resid / max(1, len(y) - n_classes)
    cov = (1 - shrinkage) * cov + shrinkage * (np.trace(cov) / len(cov)) * np.eye(len(cov))
    evals, evecs = np.linalg.eigh(cov)
    whiten = evecs / np.sqrt(np.maximum(evals, 1e-12))  # (d, d): z @ whiten has identity covariance
    mw = (means - means.mean(0)) @ whiten  # (K, d) whitened centred class means
    _, s, vt = np.linalg.svd(mw, full_matrices=False)
    r = int(min(n_classes - 1, (s > 1e-9 * s[0]).sum()))
    proj = whiten @ vt[:r].T  # (d, r)
    return NoveltyModel(mean, std, proj, means @ proj)


def save(model: NoveltyModel, directory: str | Path) -> Path:
    """Write ``novelty.safetensors`` into a checkpoint folder (the config is written by the caller)."""
    from safetensors.torch import save_file

    path = Path(directory) / FILE
    save_file(model.to_tensors(), str(path), metadata={"score": SCORE})
    path.chmod(0o644)  # readable like the checkpoint's other files
    return path


def load(directory: str | Path, info: dict | None = None) -> NoveltyModel | None:
    """The checkpoint's novelty model, or None when it ships none (it was never fitted).

    ``info`` is ``config.json["novelty"]``; read from the folder when not given. A threshold that
    is not a finite number, or a score this module does not compute, is refused (ValueError)."""
    directory = Path(directory)
    path = directory / FILE
    if info is None:
        cfg = directory / "config.json"
        info = json.loads(cfg.read_text(encoding="utf-8")).get("novelty") if cfg.is_file() else None
    if not path.is_file() or not info:
        return None
    if info.get("score") != SCORE:
        raise ValueError(
            f"{directory}: novelty score {str(info.get('score'))[:40]!r}; this code computes {SCORE}"
        )
    thr = info.get("threshold")
    if not isinstance(thr, (int, float)) or isinstance(thr, bool) or not np.isfinite(thr):
        raise ValueError(f"{directory}: novelty threshold must be a finite number, got {str(thr)[:40]}")
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        t = load_file(str(path))
        parts = [t[k] for k in ("mean", "std", "proj", "centres")]
    except (SafetensorError, KeyError) as e:  # not a safetensors file, or not a novelty model's
        raise ValueError(f"{path.name} is not a readable novelty model ({type(e).__name__}: {e})") from e
    mean, std, proj, centres = (a.astype(np.float64) for a in parts)
    return NoveltyModel(mean, std, proj, centres, float(thr), dict(info))
