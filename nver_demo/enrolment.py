"""Speaker enrolment: remove what a voice adds to every clip before the head reads it.

Most of what separates two vocal bursts is who made them, not the emotion (data.md). With a few
*other* clips of the same speaker, their mean embedding estimates that speaker's offset; the
enrolled head was trained on embeddings minus such means (k random other clips per training
clip, k drawn as the app sees it), so at inference it reads ``x - mean(enrolment clips)``.

Below ``min_clips`` enrolment clips the estimate is worse than none (one or two clips hurt in
cross-validation, data.md), so the plain head answers instead. The scored clip is never part of
its own enrolment: callers pass the *other* clips.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Break-even from cross-validation when a checkpoint does not say (data.md: enrolment pays from ~5).
DEFAULT_MIN_CLIPS = 5


@dataclass(frozen=True)
class Enrolment:
    """Per-backbone mean embedding of a speaker's enrolment clips."""

    means: dict[str, np.ndarray]  # backbone -> (dim,)
    n_clips: int

    @classmethod
    def from_embeddings(cls, clips: Sequence[dict[str, np.ndarray]]) -> Enrolment:
        """``clips``: one ``{backbone: (dim,) embedding}`` dict per enrolment clip."""
        if not clips:
            return cls({}, 0)
        names = set(clips[0])
        if any(set(c) != names for c in clips):
            raise ValueError("every enrolment clip needs the same backbones' embeddings")
        means = {b: np.mean([np.asarray(c[b], dtype=np.float64) for c in clips], axis=0) for b in names}
        return cls({b: m.astype(np.float32) for b, m in means.items()}, len(clips))

    def normalise(self, embeddings: dict[str, np.ndarray], backbones: Sequence[str]) -> dict[str, np.ndarray]:
        missing = [b for b in backbones if b not in self.means]
        if missing:
            raise ValueError(f"the enrolment has no embeddings from {missing}")
        return {b: np.asarray(embeddings[b], dtype=np.float32) - self.means[b] for b in backbones}


def other_clip_means(
    x: np.ndarray, groups: np.ndarray, k: int | Sequence[int] | None, rng: np.random.Generator
) -> np.ndarray:
    """For each row of ``x`` (n, d), the mean of ``k`` random *other* rows of the same group.

    ``k``: an int (the same for every row), a sequence of ints (one per row, e.g. drawn as the app
    sees it), or None for all other rows of the group. A group with fewer other rows than ``k``
    gives all of them. Rows of a group of one get a zero mean (no enrolment is possible).
    """
    n = len(x)
    ks = np.full(n, -1) if k is None else (np.full(n, int(k)) if np.isscalar(k) else np.asarray(k, dtype=int))
    if len(ks) != n:
        raise ValueError(f"k: one value per row expected ({n}), got {len(ks)}")
    out = np.zeros_like(x, dtype=np.float32)
    for g in np.unique(groups):
        rows = np.flatnonzero(groups == g)
        if len(rows) < 2:
            continue
        total = x[rows].astype(np.float64).sum(0)
        for r in rows:
            others = rows[rows != r]
            kk = ks[r]
            if kk < 0 or kk >= len(others):
                out[r] = (total - x[r]) / len(others)
            else:
                out[r] = x[rng.choice(others, size=kk, replace=False)].astype(np.float64).mean(0)
    return out
