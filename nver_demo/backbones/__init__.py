"""Backbone registry: every public backbone name, how to build it, and what it is.

>>> from nver_demo import backbones
>>> backbones.available()                       # doctest: +SKIP
>>> bb = backbones.load("ge2e")                  # doctest: +SKIP
>>> bb.embed(wave, sr).shape == (bb.dim,)        # doctest: +SKIP

Adapters register themselves in their own modules (one per family); this file only
keeps the table and imports the modules that fill it.
"""

from __future__ import annotations

import torch

from .base import FAMILIES, Backbone, BackboneSpec, WeightsUnavailable, pick_device

_REGISTRY: dict[str, BackboneSpec] = {}


def register(spec: BackboneSpec) -> BackboneSpec:
    """Add a backbone to the registry (names are unique)."""
    if spec.name in _REGISTRY:
        raise ValueError(f"Backbone {spec.name!r} is registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def available(family: str | None = None) -> list[str]:
    """Public backbone names, optionally of one family: grouped by family (in FAMILIES order),
    then in registration order."""
    if family is not None and family not in FAMILIES:
        raise ValueError(f"Unknown family {family!r}; valid: {sorted(FAMILIES)}")
    order = list(FAMILIES)
    names = sorted(_REGISTRY, key=lambda n: order.index(_REGISTRY[n].family))  # stable sort
    return [n for n in names if family is None or _REGISTRY[n].family == family]


def spec(name: str) -> BackboneSpec:
    """Registry entry for ``name``; unknown names raise a ValueError listing valid ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"Unknown backbone {name!r}. Available: {', '.join(available())}") from None


def load(name: str, *, random_init: bool = False, device: str | torch.device | None = None) -> Backbone:
    """Build backbone ``name``.

    ``random_init=True`` builds the real architecture with random weights and never touches
    the network (tests, benchmarks). ``device=None`` picks CUDA when available.
    """
    s = spec(name)
    return s.loader(random_init=random_init, device=pick_device(device))


# Adapters register on import; available() groups them by family (FAMILIES order).
from . import audio_mamba as _audio_mamba  # noqa: E402,F401
from . import binding as _binding  # noqa: E402,F401
from . import hf as _hf  # noqa: E402,F401
from . import imagebind as _imagebind  # noqa: E402,F401
from . import languagebind as _languagebind  # noqa: E402,F401
from . import offline as _offline  # noqa: E402,F401
from . import whisper as _whisper  # noqa: E402,F401
from . import whisper_ft as _whisper_ft  # noqa: E402,F401

__all__ = [
    "FAMILIES",
    "Backbone",
    "BackboneSpec",
    "WeightsUnavailable",
    "available",
    "load",
    "register",
    "spec",
]
