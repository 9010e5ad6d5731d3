"""2-D maps of embeddings: where a new clip falls among a checkpoint's reference clips.

- PCA: fitted on the reference clips at request time (cheap), the new clip projected exactly.
- UMAP: the reference layout is computed once at training time (``reference_coords``) and
  stored in the checkpoint, because UMAP's first call compiles for ~15 s; a new clip is placed
  at the distance-weighted mean of its k nearest reference clips (what UMAP's own
  ``transform`` approximates), so serving never runs UMAP.

t-SNE is not offered: it cannot place a new point without refitting the whole map.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

METHODS = ("pca", "umap")
K_NEIGHBOURS = 10


def _standardize(refs: np.ndarray, *points: np.ndarray) -> list[np.ndarray]:
    mean = refs.mean(0)
    std = refs.std(0)
    std = np.where(std > 1e-8, std, 1.0)
    return [(x - mean) / std for x in (refs, *points)]


def reference_coords(views: dict[str, np.ndarray], seed: int = 0) -> dict[str, np.ndarray]:
    """UMAP layouts of each reference view: ``{"umap.<view>": (n, 2)}``. Run at training time."""
    import umap

    out = {}
    for name, mat in views.items():
        (z,) = _standardize(mat.astype(np.float64))
        n_neighbors = max(2, min(15, len(z) - 1))
        reducer = umap.UMAP(n_neighbors=n_neighbors, min_dist=0.3, random_state=seed, n_jobs=1)
        out[f"umap.{name}"] = reducer.fit_transform(z).astype(np.float32)
    return out


@dataclass
class Map2D:
    """Reference points and the new clip(s) in the same 2-D frame."""

    method: str
    refs: np.ndarray  # (n, 2)
    points: np.ndarray  # (m, 2)
    neighbours: np.ndarray  # (m, k) indices of each point's nearest reference clips
    note: str


def project(method: str, refs: np.ndarray, points: np.ndarray, ref_coords: np.ndarray | None = None) -> Map2D:
    """Place ``points`` ``(m, d)`` among ``refs`` ``(n, d)`` with ``method`` ("pca" or "umap").

    For UMAP, ``ref_coords`` is the stored layout of ``refs``.
    """
    if method not in METHODS:
        raise ValueError(f"Unknown projection {method!r}; valid: {', '.join(METHODS)}")
    refs64, pts64 = refs.astype(np.float64), np.atleast_2d(points).astype(np.float64)
    z_refs, z_pts = _standardize(refs64, pts64)
    d = np.linalg.norm(z_pts[:, None, :] - z_refs[None, :, :], axis=-1)  # (m, n)
    k = min(K_NEIGHBOURS, len(refs))
    nn = np.argsort(d, axis=1)[:, :k]
    if method == "pca":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2, svd_solver="full").fit(z_refs)
        ratio = pca.explained_variance_ratio_.sum() * 100
        return Map2D("pca", pca.transform(z_refs), pca.transform(z_pts), nn,
                     f"PCA of the reference clips ({ratio:.0f}% of variance); the clip is projected exactly.")  # fmt: skip
    if ref_coords is None:
        raise ValueError("UMAP needs the reference layout stored with the checkpoint")
    nd = np.take_along_axis(d, nn, axis=1)
    w = 1.0 / (nd + 1e-6)
    w /= w.sum(1, keepdims=True)
    placed = (ref_coords[nn] * w[..., None]).sum(1)
    return Map2D("umap", ref_coords, placed, nn,
                 f"UMAP layout of the reference clips; the clip sits at the weighted mean of its {k} "
                 "nearest reference clips.")  # fmt: skip
