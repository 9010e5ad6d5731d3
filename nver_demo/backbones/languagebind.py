"""LanguageBind's audio tower, ported onto transformers' CLIP vision model.

Zhu et al., "LanguageBind: Extending Video-Language Pretraining to N-modality by Language-based
Semantic Alignment", ICLR 2024 (https://arxiv.org/abs/2310.01852; code PKU-YuanGroup/LanguageBind,
files ``languagebind/audio/modeling_audio.py`` and ``processing_audio.py``). The ``languagebind``
package needs transformers 4.x, peft, torchaudio and torchvision; none of that is needed for
inference. Its audio encoder *is* transformers' ``CLIPVisionTransformer`` (same module names:
``vision_model.*``, ``visual_projection``) with one change, the patch grid: the input is a
3 x 112 x 1036 log-mel "image" cut into 14 x 14 patches, 8 x 74 = 592 of them, with a position
table resized to that grid at training time and stored in the checkpoint. We therefore build
``CLIPVisionModelWithProjection`` from the checkpoint's own ``vision_config`` and swap in
embeddings for that grid; the weights then load under their original names.

Preprocessing (``AudioTransform`` of the ``languagebind`` package on PyPI, which mirrors the
upstream repository): 16 kHz; remove the mean; Kaldi fbank (112 bands); a clip of fewer than 1036
frames (10.36 s) has its frames repeated up to 1036 and stacked three times; a longer one gives
three 1036-frame windows (front, middle, back); ``(x - audio_mean) / (2 audio_std)`` with the
checkpoint config's values. (One revision of the upstream file, PKU-YuanGroup/LanguageBind at
951a537, instead repeats the waveform and divides by ``audio_std``; see docs/binding_models.md.)
The embedding is the projected CLS token (768-d for LanguageBind_Audio_FT), L2-normalised, the
space LanguageBind aligns with language.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .base import Backbone, BackboneSpec, WeightsUnavailable
from .fbank import kaldi_fbank
from .registry import register

log = logging.getLogger(__name__)

HUB_ID = "LanguageBind/LanguageBind_Audio_FT"
ENV = "NVER_LANGUAGEBIND"
#: LanguageBind_Audio_FT's audio tower: CLIP ViT-L/14 with a 768-d projection. Used for random
#: init only; real weights bring their own config.json.
DEFAULT_CONFIG = dict(
    hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16, patch_size=14,
    num_channels=3, hidden_act="gelu", layer_norm_eps=1e-5, projection_dim=768, num_mel_bins=112,
    target_length=1036, audio_sample_rate=16000, audio_mean=-4.2677393, audio_std=4.5689974,
)  # fmt: skip
_CLIP_KEYS = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "patch_size",
              "num_channels", "hidden_act", "layer_norm_eps", "projection_dim")  # fmt: skip


class AudioPatchEmbeddings(nn.Module):
    """CLIP's vision embeddings for a non-square (mel x frames) grid, without interpolation."""

    def __init__(self, dim: int, channels: int, patch: int, n_mels: int, frames: int) -> None:
        super().__init__()
        self.class_embedding = nn.Parameter(torch.randn(dim) * dim**-0.5)
        self.patch_embedding = nn.Conv2d(channels, dim, patch, patch, bias=False)
        n_positions = 1 + (n_mels // patch) * (frames // patch)
        self.position_embedding = nn.Embedding(n_positions, dim)
        self.register_buffer("position_ids", torch.arange(n_positions)[None], persistent=False)

    def forward(self, pixel_values: torch.Tensor, interpolate_pos_encoding: bool = False) -> torch.Tensor:
        x = self.patch_embedding(pixel_values.to(self.patch_embedding.weight.dtype))
        x = x.flatten(2).transpose(1, 2)  # (B, 8 * 74, dim), mel-major as in the checkpoint's table
        x = torch.cat([self.class_embedding.expand(len(x), 1, -1), x], dim=1)
        return x + self.position_embedding(self.position_ids)


def build_tower(config: dict) -> nn.Module:
    """``CLIPVisionModelWithProjection`` for LanguageBind's audio grid (random weights)."""
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    model = CLIPVisionModelWithProjection(CLIPVisionConfig(**{k: config[k] for k in _CLIP_KEYS}))
    model.vision_model.embeddings = AudioPatchEmbeddings(
        config["hidden_size"], config["num_channels"], config["patch_size"], config["num_mel_bins"],
        config["target_length"],
    )  # fmt: skip
    return model


def map_state_dict(original: dict[str, torch.Tensor], lora_scale: float = 1.0) -> dict[str, torch.Tensor]:
    """Audio-tower tensors of a LanguageBindAudio state dict, LoRA adapters merged.

    The text tower and ``logit_scale`` are dropped, as is the saved ``position_ids`` buffer.
    LoRA checkpoints (``lora_r > 0``) store peft-wrapped names (``base_model.model.``,
    ``.base_layer``) and ``lora_A``/``lora_B``; merged as W + scale * B @ A, scale = alpha / r.
    """
    out, lora = {}, {}
    for key, value in original.items():
        if not key.startswith(("vision_model.", "visual_projection.")) or key.endswith("position_ids"):
            continue
        key = key.replace("base_model.model.", "").replace(".base_layer", "")
        if ".lora_A." in key or ".lora_B." in key:
            lora[key] = value
            continue
        out[key] = value
    for key in [k for k in lora if ".lora_A." in k]:
        module = key.split(".lora_A.")[0]
        a, b = lora[key], lora[key.replace(".lora_A.", ".lora_B.")]
        out[module + ".weight"] = out[module + ".weight"] + lora_scale * (b @ a).to(out[module + ".weight"])
    return out


class LanguageBind(Backbone):
    """Frozen LanguageBind audio tower."""

    name = "languagebind"

    def __init__(self, model: nn.Module, config: dict, device: torch.device) -> None:
        self.device = device
        self.model = model.to(device).eval().requires_grad_(False)
        self.config = config
        self.sample_rate = int(config["audio_sample_rate"])
        self.dim = int(config["projection_dim"])

    def _embed_prepared(self, waves: list[np.ndarray]) -> np.ndarray:
        x = torch.from_numpy(np.stack([mel_image(w, self.config) for w in waves])).to(self.device)
        return F.normalize(self.model(pixel_values=x).image_embeds.float(), dim=-1).cpu().numpy()


def mel_image(wave: np.ndarray, config: dict) -> np.ndarray:
    """``AudioTransform``: one clip -> normalised (3, n_mels, target_length) float32 image."""
    target, n_mels = int(config["target_length"]), int(config["num_mel_bins"])
    if len(wave) == 0:
        wave = np.zeros(1, dtype=np.float32)
    mel = kaldi_fbank(wave - wave.mean(), n_mels)  # (frames, n_mels)
    if len(mel) > target:
        # LanguageBind draws each window's start at random inside its third of the recording;
        # we take the first start of each third (its commented-out "fixed" variant): same
        # windows family, deterministic embeddings.
        thirds = np.array_split(np.arange(len(mel) - target + 1), 3)
        chunks = [mel[(t[0] if len(t) else 0) :][:target] for t in thirds]
    else:
        chunks = [np.tile(mel, (target // len(mel) + 1, 1))[:target]] * 3  # repeat the frames
    image = np.stack([c.T for c in chunks])
    return ((image - config["audio_mean"]) / (2 * config["audio_std"])).astype(np.float32)


def load_pretrained(device: torch.device, source: str | None = None) -> LanguageBind:
    """Weights from ``source`` or ``$NVER_LANGUAGEBIND`` (a local copy of the Hub repo), else
    the Hub id. Raises :class:`WeightsUnavailable` with instructions when nothing loads."""
    source = source or os.environ.get(ENV) or HUB_ID
    try:
        folder = Path(source) if Path(source).is_dir() else _download(source)
        raw = json.loads((folder / "config.json").read_text())
        config = {**DEFAULT_CONFIG, "projection_dim": raw.get("projection_dim", 768), **raw["vision_config"]}
        state = _read_weights(folder)
        r = config.get("lora_r", 0) or 0
        model = build_tower(config)
        model.load_state_dict(
            map_state_dict(state, config.get("lora_alpha", r) / r if r else 1.0), strict=True
        )
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        reason = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
        raise WeightsUnavailable(_how_to_provide(source, reason)) from None
    return LanguageBind(model, config, device)


def _download(repo_id: str) -> Path:
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, allow_patterns=["config.json", "*.safetensors", "*.bin"]))
    except Exception as e:  # huggingface_hub raises many types (HTTP, offline, auth, not found)
        raise OSError(f"cannot download {repo_id}: {e}") from e


def _read_weights(folder: Path) -> dict[str, torch.Tensor]:
    st = sorted(folder.glob("*.safetensors"))
    if st:
        from safetensors.torch import load_file

        return {k: v for f in st for k, v in load_file(str(f)).items()}
    bins = sorted(folder.glob("*.bin"))
    if not bins:
        raise OSError(f"no *.safetensors or *.bin weights in {folder}")
    return {k: v for f in bins for k, v in torch.load(f, map_location="cpu", weights_only=True).items()}


def _how_to_provide(source: str, reason: str) -> str:
    return (
        f"Could not load weights for backbone 'languagebind' from '{source}' ({reason}).\n"
        f"Provide them in one of these ways:\n"
        f"  - on a machine with Hub access, they download automatically from {HUB_ID};\n"
        f"  - copy them once (e.g. `huggingface-cli download {HUB_ID} --local-dir DIR`) and set {ENV}=DIR;\n"
        f"  - or use an offline backbone (see `python -m nver_demo list`)."
    )


def _load(random_init: bool = False, device: torch.device = torch.device("cpu")) -> LanguageBind:
    if random_init:
        torch.manual_seed(0)
        return LanguageBind(build_tower(DEFAULT_CONFIG), DEFAULT_CONFIG, device)
    return load_pretrained(device)


register(BackboneSpec(
    name="languagebind", family="binding", dim=768,
    description="LanguageBind audio tower (CLIP ViT-L/14 over 112-band log-mel patches, "
                "LanguageBind_Audio_FT): audio aligned to language; embedding = its 768-d joint space.",
    source=f"https://huggingface.co/{HUB_ID}", loader=_load, needs_hub=True, params_m=304.3, env_var=ENV,
))  # fmt: skip
