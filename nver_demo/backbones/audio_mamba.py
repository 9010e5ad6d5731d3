"""Audio-MAMBA tiny / small / base as backbones (family "state-space", our pure-PyTorch port).

Real weights come from a converted safetensors file (``python -m nver_demo.convert_audio_mamba``),
found through, in this order:

* ``NVER_AUDIO_MAMBA_{TINY,SMALL,BASE}``: path of that size's file (or of a folder holding it);
* ``NVER_AUDIO_MAMBA_DIR``: a folder holding ``audio-mamba-{size}.safetensors``;
* ``NVER_AUDIO_MAMBA_REPO`` (+ optional ``NVER_AUDIO_MAMBA_REVISION``): a Hugging Face Hub repo
  holding that file, fetched with huggingface_hub (cached; honours ``HF_HUB_OFFLINE``).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from pathlib import Path

import numpy as np
import torch

from ..models.audio_mamba import (
    CONFIGS,
    AudioMambaEncoder,
    config_for,
    encoder_param_count,
)
from ..models.audio_mamba_clip import MAX_WINDOWS_PER_FORWARD, AudioMamba
from ..models.audio_mamba_weights import load_safetensors, weights_filename
from ..models.log_mel import SAMPLE_RATE
from .base import Backbone, BackboneSpec, WeightsUnavailable
from .registry import register

log = logging.getLogger(__name__)

ENV_DIR = "NVER_AUDIO_MAMBA_DIR"
ENV_REPO = "NVER_AUDIO_MAMBA_REPO"
ENV_REVISION = "NVER_AUDIO_MAMBA_REVISION"
OFFICIAL_CODE = "https://github.com/SarthakYadav/audio-mamba-official"
AUTOCAST_DTYPES = (torch.float16, torch.bfloat16)


def env_file_var(size: str) -> str:
    """Per-size variable naming the weights file, e.g. ``NVER_AUDIO_MAMBA_BASE``."""
    return f"NVER_AUDIO_MAMBA_{size.upper()}"


class AudioMambaBackbone(Backbone):
    """Frozen Audio-MAMBA: clip -> official clip embedding (5 x D: 960 / 1920 / 3840).

    ``autocast_dtype`` (float16 / bfloat16, CUDA only) runs the matmuls at that precision, as the
    official features were computed; the scan and the residual stream stay float32.
    """

    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        model: AudioMamba,
        device: torch.device,
        *,
        autocast_dtype: torch.dtype | None = None,
        max_windows: int = MAX_WINDOWS_PER_FORWARD,
    ) -> None:
        if autocast_dtype is not None and (device.type != "cuda" or autocast_dtype not in AUTOCAST_DTYPES):
            raise ValueError(
                f"autocast_dtype must be one of {AUTOCAST_DTYPES} on CUDA, got {autocast_dtype} on {device}"
            )
        self.name = f"audio-mamba-{model.cfg.size}"
        self.dim = model.cfg.embed_dim
        self.device = device
        self.autocast_dtype = autocast_dtype
        self.max_windows = max_windows
        self.model = model.eval().requires_grad_(False).to(device)

    def _embed_prepared(self, waves: list[np.ndarray]) -> np.ndarray:
        clips = [torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32)).to(self.device) for w in waves]
        amp = (
            torch.autocast(device_type="cuda", dtype=self.autocast_dtype)
            if self.autocast_dtype is not None
            else contextlib.nullcontext()
        )
        with torch.inference_mode(), amp:
            emb = self.model(clips, max_windows=self.max_windows)
        return emb.float().cpu().numpy()


def _unavailable(size: str, looked: list[str]) -> WeightsUnavailable:
    fname = weights_filename(size)
    where = "\n".join(f"  - {item}" for item in looked) or "  - nothing is configured"
    return WeightsUnavailable(
        f"Audio-MAMBA {size} weights (audio-mamba-{size}) are not available.\n"
        f"Looked at:\n{where}\n"
        "No public copy is on the Hugging Face Hub. To use the real model:\n"
        f"  1. download the official checkpoint from the Google Drive folder linked in {OFFICIAL_CODE}:\n"
        f"     ssam_{size}_200_16x4_4x256_fp16_r1/checkpoints/checkpoint-<highest epoch>.pth\n"
        f"  2. python -m nver_demo.convert_audio_mamba checkpoint-<epoch>.pth {fname}\n"
        f"  3. export {ENV_DIR}=<folder holding {fname}>  (or {env_file_var(size)}=<that file>, or\n"
        f"     {ENV_REPO}=<Hub repo id holding {fname}>).\n"
        "Or load it with random_init=True for the architecture with random weights."
    )


def resolve_weights(size: str) -> Path:
    """Path of the converted weights for ``size``; raises WeightsUnavailable saying where it looked."""
    fname = weights_filename(size)
    looked: list[str] = []
    if path := os.environ.get(env_file_var(size)):
        p = Path(path).expanduser()
        p = p / fname if p.is_dir() else p
        if p.is_file():
            return p
        raise _unavailable(size, [f"{env_file_var(size)}={path}: no file {p}"])
    looked.append(f"{env_file_var(size)} (path of the file): not set")
    if folder := os.environ.get(ENV_DIR):
        p = Path(folder).expanduser() / fname
        if p.is_file():
            return p
        raise _unavailable(size, [*looked, f"{ENV_DIR}={folder}: no file {p}"])
    looked.append(f"{ENV_DIR} (folder holding {fname}): not set")
    if repo := os.environ.get(ENV_REPO):
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import (
            EntryNotFoundError,
            HfHubHTTPError,
            HFValidationError,
        )

        revision = os.environ.get(ENV_REVISION)
        try:
            return Path(hf_hub_download(repo_id=repo, filename=fname, revision=revision))
        except (EntryNotFoundError, HfHubHTTPError, HFValidationError, OSError) as e:
            # OSError covers offline mode, connection errors and a missing local cache entry.
            looked.append(
                f"{ENV_REPO}={repo} (Hub file {fname}): {type(e).__name__}: {str(e).splitlines()[0]}"
            )
            raise _unavailable(size, looked) from e
    looked.append(f"{ENV_REPO} (Hub repo id): not set")
    raise _unavailable(size, looked)


def load_audio_mamba(
    size: str,
    *,
    random_init: bool = False,
    device: torch.device | str = "cpu",
    autocast_dtype: torch.dtype | None = None,
) -> AudioMambaBackbone:
    """Build an Audio-MAMBA backbone.

    ``random_init=True`` builds the real architecture with (seeded, reproducible) random weights
    and reads no file; otherwise the weights are found by :func:`resolve_weights` and loaded
    with ``strict=True``.
    """
    cfg = config_for(size)
    if random_init:
        with torch.random.fork_rng(devices=[]):  # reproducible, global RNG untouched
            torch.manual_seed(0)
            encoder = AudioMambaEncoder(cfg)
    else:
        encoder = load_safetensors(resolve_weights(size), size)
    return AudioMambaBackbone(AudioMamba(cfg, encoder), torch.device(device), autocast_dtype=autocast_dtype)


def _register(size: str) -> None:
    cfg = CONFIGS[size]
    register(
        BackboneSpec(
            name=f"audio-mamba-{size}",
            family="state-space",
            dim=cfg.embed_dim,
            description=f"Audio-MAMBA {size} (SSAM, self-supervised on AudioSet; pure-PyTorch port)",
            source=OFFICIAL_CODE,
            loader=functools.partial(load_audio_mamba, size),
            needs_hub=True,
            params_m=round(encoder_param_count(cfg) / 1e6, 2),
            env_var=ENV_DIR,
        )
    )


for _size in CONFIGS:
    _register(_size)
