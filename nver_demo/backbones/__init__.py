"""Backbone registry: every public backbone name, how to build it, and what it is.

>>> from nver_demo import backbones
>>> backbones.available()                       # doctest: +SKIP
>>> bb = backbones.load("ge2e")                  # doctest: +SKIP
>>> bb.embed(wave, sr).shape == (bb.dim,)        # doctest: +SKIP

Adapters register themselves in their own modules (one per family) through
:mod:`.registry`, which keeps the table; this file imports the modules that fill it.
"""

from __future__ import annotations

# Adapters register on import; available() groups them by family (FAMILIES order).
from . import audio_mamba as _audio_mamba  # noqa: F401
from . import binding as _binding  # noqa: F401
from . import hf as _hf  # noqa: F401
from . import imagebind as _imagebind  # noqa: F401
from . import languagebind as _languagebind  # noqa: F401
from . import offline as _offline  # noqa: F401
from . import whisper as _whisper  # noqa: F401
from . import whisper_ft as _whisper_ft  # noqa: F401
from .base import FAMILIES, Backbone, BackboneSpec, WeightsUnavailable, pick_device  # noqa: F401
from .registry import available, load, register, spec

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
