"""Audio-MAMBA weights: official state dict -> self-describing safetensors -> encoder.

A converted file holds exactly the encoder's state dict (official names) and records the model
size in its safetensors metadata, so it rebuilds itself without unpickling anything.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import torch

from .audio_mamba import CONFIGS, AudioMambaEncoder, config_for

log = logging.getLogger(__name__)

ARCHITECTURE = "audio-mamba"
#: Entries of the official checkpoint used only for masked pretraining.
PRETRAINING_ONLY = ("mask_token", "pred.")
_SIZE_BY_DIM = {cfg.dim: size for size, cfg in CONFIGS.items()}


def weights_filename(size: str) -> str:
    """File name the loaders look for: ``audio-mamba-{size}.safetensors``."""
    config_for(size)
    return f"audio-mamba-{size}.safetensors"


def encoder_state(official: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Keep the encoder entries of an official ``ckpt['model']`` as contiguous float32 copies.

    Drops ``mask_token`` and ``pred.*`` and a DistributedDataParallel ``module.`` prefix.
    """
    state: dict[str, torch.Tensor] = {}
    for key, value in official.items():
        key = key.removeprefix("module.")
        if key == "mask_token" or key.startswith("pred."):
            continue
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"Entry {key!r} of the checkpoint is a {type(value).__name__}, not a tensor")
        value = value.detach().to("cpu")
        state[key] = (value.float() if value.is_floating_point() else value).contiguous().clone()
    return state


def size_of(state: Mapping[str, torch.Tensor]) -> str:
    """Infer the size (tiny/small/base) from the patch embedding's width."""
    try:
        dim = int(state["patch_embed.proj.weight"].shape[0])
    except KeyError:
        raise ValueError("Not an Audio-MAMBA state dict: no 'patch_embed.proj.weight' entry") from None
    if dim not in _SIZE_BY_DIM:
        raise ValueError(f"Embedding width {dim} matches no Audio-MAMBA size ({_SIZE_BY_DIM})")
    return _SIZE_BY_DIM[dim]


def load_encoder(state: Mapping[str, torch.Tensor], size: str | None = None) -> AudioMambaEncoder:
    """Build the encoder for ``size`` (inferred when None) and load ``state`` with ``strict=True``."""
    inferred = size_of(state)
    if size is not None and size != inferred:
        raise ValueError(f"These weights are Audio-MAMBA {inferred}, not {size}")
    encoder = AudioMambaEncoder(config_for(inferred))
    try:
        encoder.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise ValueError(f"Weights do not match the Audio-MAMBA {inferred} architecture: {e}") from e
    return encoder


def save_safetensors(
    state: Mapping[str, torch.Tensor],
    path: str | Path,
    metadata: Mapping[str, str] | None = None,
) -> str:
    """Write an encoder state dict (after checking it loads strictly) with its size as metadata.

    Returns the size written.
    """
    from safetensors.torch import save_file

    size = size_of(state)
    load_encoder(state, size)  # refuse to write a file that would not load
    meta = {
        "format": "pt",
        "architecture": ARCHITECTURE,
        "size": size,
        **dict(metadata or {}),
    }
    save_file({k: v.contiguous() for k, v in state.items()}, str(path), metadata=meta)
    return size


def load_safetensors(path: str | Path, size: str | None = None) -> AudioMambaEncoder:
    """Encoder from a converted ``.safetensors`` file (no unpickling), loaded strictly.

    Raises ValueError when the file is not Audio-MAMBA weights or holds another size.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    if meta.get("architecture", ARCHITECTURE) != ARCHITECTURE:
        raise ValueError(f"{path} holds {meta['architecture']!r} weights, not {ARCHITECTURE!r}")
    if size is not None and meta.get("size", size) != size:
        raise ValueError(f"{path} holds Audio-MAMBA {meta['size']} weights, not {size}")
    encoder = load_encoder(load_file(str(path)), size)
    log.info("Loaded Audio-MAMBA %s weights from %s", encoder.cfg.size, path)
    return encoder
