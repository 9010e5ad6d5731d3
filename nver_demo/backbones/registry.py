"""The backbone table: every public backbone name and how to build it.

Adapters call :func:`register` when they are imported (``from .registry import register``);
``nver_demo/backbones/__init__.py`` imports every adapter module, so importing
:mod:`nver_demo.backbones` fills the table. It lives here rather than in the package's
``__init__`` so that no adapter imports the package that imports it (no import cycle).
"""

from __future__ import annotations

import torch

from .base import FAMILIES, Backbone, BackboneSpec, pick_device

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
