"""Hugging Face Spaces helpers: ZeroGPU's ``spaces.GPU`` when it applies, a no-op elsewhere.

On a ZeroGPU Space (``SPACES_ZERO_GPU=true``) the ``spaces`` package must be imported before
anything initialises CUDA, so ``app.py`` calls :func:`gpu` (which imports it) before any model
is built. Everywhere else nothing is imported and the function is returned unchanged.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable)


def on_spaces() -> bool:
    return os.environ.get("SYSTEM") == "spaces"


def on_zero_gpu() -> bool:
    return os.environ.get("SPACES_ZERO_GPU", "").lower() == "true"


def init() -> None:
    """Import ``spaces`` on ZeroGPU (it must come before anything initialises CUDA); else nothing."""
    if on_zero_gpu():
        try:
            import spaces  # noqa: F401
        except ImportError:
            log.warning("SPACES_ZERO_GPU is set but the spaces package is missing")


def gpu(fn: F, duration: int = 20) -> F:
    """``spaces.GPU(duration=...)(fn)`` on ZeroGPU when ``spaces`` is importable, else ``fn``."""
    if not on_zero_gpu():
        return fn
    try:
        import spaces
    except ImportError:
        log.warning("SPACES_ZERO_GPU is set but the spaces package is missing: running without spaces.GPU")
        return fn
    return spaces.GPU(duration=duration)(fn)


def where() -> str:
    """One line for the page footer: where the app runs."""
    if on_zero_gpu():
        return "Hugging Face Space (ZeroGPU)"
    if on_spaces():
        return f"Hugging Face Space ({os.environ.get('ACCELERATOR', 'cpu')})"
    return "local"
