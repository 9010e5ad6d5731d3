"""Real checkpoints built in well under a second, for tests of the fast subset.

A shrinkage-LDA head fitted in closed form on logmel-stats embeddings of synthetic tones (five
pitches, six "speakers"), written with :func:`nver_demo.checkpoint.save` and read back by the real
loaders. No training loop and no UMAP (the session's ``tiny_checkpoint`` costs minutes): the
reference layouts, when asked for, are seeded random points.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

from nver_demo import checkpoint, heads

LABELS = ["low", "mid", "high", "higher", "highest"]
FREQS = [110.0, 196.0, 330.0, 587.0, 990.0]
SR = 16000
BACKBONE = "logmel-stats"
SPEAKERS = 6


def clip(label: str, speaker: int = 0, seconds: float = 0.6) -> np.ndarray:
    """A voice-like burst (harmonics of a gliding pitch, faded in and out: what the signal checks
    accept as a voice) around ``label``'s pitch, a little higher per speaker (float32 mono at :data:`SR`)."""
    k = LABELS.index(label)
    t = np.arange(int(seconds * SR)) / SR
    f0 = FREQS[k] * (1 + 0.03 * speaker) * (1 + 0.08 * np.sin(2 * np.pi * 1.5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / SR
    x = sum(np.sin(h * phase) / h for h in range(1, 6)) * np.hanning(len(t))
    x = 0.3 * x / np.max(np.abs(x)) + 0.005 * np.random.default_rng(10 * speaker + k).standard_normal(len(t))
    return x.astype(np.float32)


@functools.cache
def embeddings() -> tuple[np.ndarray, np.ndarray]:
    """``(x (30, 128), y (30,))``: the logmel-stats embedding of every label for every speaker."""
    from nver_demo.predict import get_backbone

    bb = get_backbone(BACKBONE)
    x = [bb.embed(clip(lab, spk), SR) for spk in range(SPEAKERS) for lab in LABELS]
    y = [k for _ in range(SPEAKERS) for k in range(len(LABELS))]
    return np.stack(x).astype(np.float32), np.array(y)


def lda_head(x: np.ndarray, y: np.ndarray, n_classes: int, shrinkage: float = 0.3) -> heads.Head:
    head = heads.build("lda", (x.shape[1],), n_classes, shrinkage=shrinkage)
    t = torch.from_numpy(x)
    head.fit_normalization([t])
    head.fit_full(t, torch.from_numpy(y).long())
    return head.eval()


def save(
    directory: Path,
    *,
    meta: dict | None = None,
    references: bool = True,
    umap: bool = False,
    backbone: str = BACKBONE,
) -> Path:
    """Write the LDA checkpoint to ``directory``; ``meta`` adds e.g. a ``calibration`` block.
    ``umap``: store (seeded, random) UMAP layouts with the references; ``backbone``: the name
    written in config.json (the embeddings are logmel-stats whatever it says)."""
    x, y = embeddings()
    head = lda_head(x, y, len(LABELS))
    refs = None
    if references:
        with torch.inference_mode():
            fused = head(torch.from_numpy(x)).views["fused"].numpy()
        views = {backbone: x, "fused": fused}
        rng = np.random.default_rng(0)
        coords = {f"umap.{v}": rng.standard_normal((len(y), 2)).astype(np.float32) for v in views} if umap else {}
        refs = checkpoint.References(y, views, [f"ref{i}.wav" for i in range(len(y))], coords)
    return checkpoint.save(directory, head, "lda", [backbone], LABELS, meta or {}, refs)
