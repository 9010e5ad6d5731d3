"""ImageBind's audio tower, ported: architecture, preprocessing and weight mapping.

Girdhar et al., "ImageBind: One Embedding Space To Bind Them All", CVPR 2023
(https://arxiv.org/abs/2305.05665; code facebookresearch/ImageBind, files
``imagebind/models/imagebind_model.py``, ``transformer.py``, ``multimodal_preprocessors.py``,
``data.py``). The ``imagebind`` package itself cannot be installed here (it pulls torchaudio,
torchvision, pytorchvideo and decord); this file rebuilds only what the audio path needs.

Architecture (``imagebind_huge``, the only released model; its audio tower is a ViT-B):
128-band Kaldi log-mel image (1, 128, 204) -> Conv2d 16x16, stride 10, no bias -> 12 x 19 = 228
patches -> LayerNorm -> [CLS] + learned positions -> 12 pre-norm blocks (768-d, 12 heads,
``nn.MultiheadAttention`` with ``add_bias_kv``, GELU MLP 3072, LayerNorm eps 1e-6) -> LayerNorm
-> CLS -> Linear 768 -> 1024 (no bias) -> L2 normalisation. 86.2M parameters.

Preprocessing (``data.load_and_transform_audio_data``): 16 kHz; three 2 s clips evenly spaced
over the recording (the same clip three times when it is shorter than 2 s); per clip: remove
the mean, Kaldi fbank (128 bands), pad with zeros or cut to 204 frames, normalise with
mean -4.268 and std 9.138. The model embeds each clip and averages the three normalised
embeddings (ImageBind multiplies them by a fixed logit scale of 20 first; we leave that
constant out, so our vector is ImageBind's divided by 20).

Weights: ``imagebind_huge.pth`` (4.5 GB, all six modalities; CC-BY-NC 4.0) from
https://dl.fbaipublicfiles.com/imagebind/imagebind_huge.pth. ``$NVER_IMAGEBIND`` names that
file, or the 0.35 GB audio-only safetensors file :func:`save_audio_tower` writes from it.
"""

from __future__ import annotations

import logging
import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .base import Backbone, BackboneSpec, WeightsUnavailable
from .fbank import fit_frames, kaldi_fbank
from .registry import register

log = logging.getLogger(__name__)

WEIGHTS_URL = "https://dl.fbaipublicfiles.com/imagebind/imagebind_huge.pth"
ENV = "NVER_IMAGEBIND"
MEAN, STD = -4.268, 9.138
N_MELS, TARGET_FRAMES, CLIP_S, N_CLIPS = 128, 204, 2, 3


class Block(nn.Module):
    """ImageBind's ``BlockWithMasking`` without layer scale: pre-norm attention + MLP."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.norm_1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = nn.MultiheadAttention(dim, heads, bias=True, add_bias_kv=True, batch_first=True)
        self.norm_2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential()
        self.mlp.add_module("fc1", nn.Linear(dim, 4 * dim))
        self.mlp.add_module("act", nn.GELU())
        self.mlp.add_module("fc2", nn.Linear(4 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm_1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.norm_2(x))


class ImageBindAudio(nn.Module):
    """ImageBind's audio preprocessor stem, trunk and head: ``(B, 1, 128, 204) -> (B, out_dim)``
    unit vectors. Defaults are ``imagebind_huge``'s audio settings."""

    def __init__(
        self, dim: int = 768, depth: int = 12, heads: int = 12, out_dim: int = 1024, n_mels: int = N_MELS,
        frames: int = TARGET_FRAMES, kernel: int = 16, stride: int = 10,
    ) -> None:  # fmt: skip
        super().__init__()
        self.config = dict(dim=dim, depth=depth, heads=heads, out_dim=out_dim, n_mels=n_mels, frames=frames,
                           kernel=kernel, stride=stride)  # fmt: skip
        self.stem = nn.Conv2d(1, dim, kernel, stride, bias=False)
        self.stem_norm = nn.LayerNorm(dim)
        n_patches = ((n_mels - kernel) // stride + 1) * ((frames - kernel) // stride + 1)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * dim**-0.5)
        self.pos_embed = nn.Parameter(torch.randn(1, 1 + n_patches, dim) * dim**-0.5)
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(depth))
        self.head_norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, out_dim, bias=False)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.stem_norm(self.stem(mel).flatten(2).transpose(1, 2))  # (B, 228, dim), mel-major order
        x = torch.cat([self.cls_token.expand(len(x), -1, -1), x], dim=1) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return F.normalize(self.head(self.head_norm(x)[:, 0]), dim=-1)


# Original state-dict prefix -> ours. Everything else in imagebind_huge.pth (other modalities,
# the audio postprocessor's fixed logit scale) is not needed.
_PREFIXES = {
    "modality_preprocessors.audio.rgbt_stem.proj.": "stem.",
    "modality_preprocessors.audio.rgbt_stem.norm_layer.": "stem_norm.",
    "modality_preprocessors.audio.cls_token": "cls_token",
    "modality_preprocessors.audio.pos_embedding_helper.pos_embed": "pos_embed",
    "modality_trunks.audio.blocks.": "blocks.",
    "modality_heads.audio.0.": "head_norm.",
    "modality_heads.audio.2.": "head.",
}


def map_state_dict(original: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The audio tower's tensors of an ImageBind state dict, under :class:`ImageBindAudio` names."""
    out = {}
    for key, value in original.items():
        for old, new in _PREFIXES.items():
            if key.startswith(old):
                out[new + key[len(old) :]] = value
                break
    return out


class ImageBind(Backbone):
    """Frozen ImageBind audio tower: 1024-d embedding in ImageBind's joint space."""

    name, sample_rate = "imagebind", 16000

    def __init__(self, model: ImageBindAudio, device: torch.device) -> None:
        self.device = device
        self.model = model.to(device).eval().requires_grad_(False)
        self.dim = model.config["out_dim"]

    def _embed_prepared(self, waves: list[np.ndarray]) -> np.ndarray:
        mels = np.stack([clip_mel(c) for w in waves for c in clips(w, self.sample_rate)])
        x = torch.from_numpy(mels)[:, None].to(self.device)  # (B * 3, 1, 128, 204)
        emb = self.model(x).float().reshape(len(waves), N_CLIPS, -1)
        return emb.mean(1).cpu().numpy()


def clips(wave: np.ndarray, sr: int) -> list[np.ndarray]:
    """Three 2 s clips evenly spaced over ``wave``, as pytorchvideo's
    ``ConstantClipsPerVideoSampler(clip_duration=2, clips_per_video=3)`` picks them."""
    if len(wave) == 0:
        wave = np.zeros(1, dtype=np.float32)
    # Same arithmetic as pytorchvideo: float duration, Fraction from the float difference.
    step = Fraction(max(len(wave) / sr - CLIP_S, 0)) / (N_CLIPS - 1)
    return [wave[int(step * i * sr) : int((step * i + CLIP_S) * sr)] for i in range(N_CLIPS)]


def clip_mel(clip: np.ndarray) -> np.ndarray:
    """One clip -> normalised (128, 204) log-mel image (``data.waveform2melspec`` + Normalize)."""
    fbank = fit_frames(kaldi_fbank(clip - clip.mean(), N_MELS), TARGET_FRAMES)
    return ((fbank.T - MEAN) / STD).astype(np.float32)


def save_audio_tower(src: str | Path, dst: str | Path) -> Path:
    """Write the audio tower of ``imagebind_huge.pth`` to a small safetensors file."""
    from safetensors.torch import save_file

    state = map_state_dict(torch.load(src, map_location="cpu", weights_only=True, mmap=True))
    save_file({k: v.contiguous() for k, v in state.items()}, str(dst))
    return Path(dst)


def load_pretrained(device: torch.device, source: str | None = None) -> ImageBind:
    """Weights from ``source`` or ``$NVER_IMAGEBIND``: ``imagebind_huge.pth`` or the audio-only
    safetensors file. Raises :class:`WeightsUnavailable` with instructions otherwise."""
    source = source or os.environ.get(ENV)
    if not source or not Path(source).is_file():
        raise WeightsUnavailable(_how_to_provide(source))
    try:
        if source.endswith(".safetensors"):
            from safetensors.torch import load_file

            state = load_file(source)
        else:
            state = map_state_dict(torch.load(source, map_location="cpu", weights_only=True, mmap=True))
        model = from_state_dict(state)
    except (OSError, RuntimeError, ValueError, KeyError) as e:
        raise WeightsUnavailable(_how_to_provide(source, f"{type(e).__name__}: {str(e)[:200]}")) from None
    return ImageBind(model, device)


def from_state_dict(state: dict[str, torch.Tensor]) -> ImageBindAudio:
    """An :class:`ImageBindAudio` sized from the tensors themselves (width, depth, output size;
    64-d attention heads, as in ImageBind's audio trunk), loaded strictly."""
    dim = state["pos_embed"].shape[-1]
    depth = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("blocks."))
    model = ImageBindAudio(
        dim=dim, depth=depth, heads=max(1, dim // 64), out_dim=state["head.weight"].shape[0]
    )
    model.load_state_dict(state, strict=True)
    return model


def _how_to_provide(source: str | None, reason: str = "no such file") -> str:
    where = f"from '{source}'" if source else f"(${ENV} is not set)"
    return (
        f"Could not load weights for backbone 'imagebind' {where}: {reason}.\n"
        f"ImageBind's weights are not on the Hugging Face Hub. Download {WEIGHTS_URL} (4.5 GB, "
        f"CC-BY-NC 4.0) and set {ENV} to the file; optionally shrink it to the audio tower with "
        f"`nver_demo.backbones.imagebind.save_audio_tower(src, 'imagebind-audio.safetensors')`."
    )


def _load(random_init: bool = False, device: torch.device = torch.device("cpu")) -> ImageBind:
    if random_init:
        torch.manual_seed(0)
        return ImageBind(ImageBindAudio(), device)
    return load_pretrained(device)


register(BackboneSpec(
    name="imagebind", family="binding", dim=1024,
    description="ImageBind audio tower (ViT-B over 128-band log-mel patches, imagebind_huge): audio bound "
                "to images, text and four other modalities; embedding = its 1024-d joint space. Weights: "
                "imagebind_huge.pth (not on the Hub; CC-BY-NC 4.0).",
    source="https://github.com/facebookresearch/ImageBind", loader=_load, needs_hub=True, params_m=86.2,
    env_var=ENV,
))  # fmt: skip
