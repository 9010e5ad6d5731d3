"""Whisper's audio encoder (Radford et al., 2022, https://arxiv.org/abs/2212.04356) in plain torch.

Parameter names follow transformers' ``WhisperEncoder`` so a Hub checkpoint's
``model.encoder.*`` tensors load as they are; :mod:`nver_demo.models.ct2` maps CTranslate2
files onto the same names. Unlike transformers' module this one accepts clips shorter than
Whisper's 30 s window (positions are truncated, as in the original code), and can stop after
the layer that is needed: a 2 s vocal burst costs 100 tokens instead of 1,500.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

SAMPLE_RATE = 16000
N_FFT, HOP = 400, 160


@dataclass(frozen=True)
class WhisperEncoderConfig:
    d_model: int
    layers: int
    heads: int
    n_mels: int = 80
    max_positions: int = 1500  # 30 s after the stride-2 conv


SIZES = {
    "tiny": WhisperEncoderConfig(384, 4, 6),
    "base": WhisperEncoderConfig(512, 6, 8),
    "small": WhisperEncoderConfig(768, 12, 12),
    "medium": WhisperEncoderConfig(1024, 24, 16),
}


def sinusoids(length: int, channels: int, max_timescale: float = 10000.0) -> torch.Tensor:
    """Whisper's fixed position table ``(length, channels)``: [sin | cos] halves."""
    log_inc = math.log(max_timescale) / (channels // 2 - 1)
    inv = torch.exp(-log_inc * torch.arange(channels // 2))
    t = torch.arange(length)[:, None] * inv[None, :]
    return torch.cat([torch.sin(t), torch.cos(t)], dim=1)


class LogMel(nn.Module):
    """Whisper's front end: |STFT|^2 (n_fft 400, hop 160, periodic Hann, last frame dropped) ->
    Slaney mel (librosa defaults) -> log10 clamped at 1e-10 -> floor at max - 8 -> (x + 4) / 4."""

    def __init__(self, n_mels: int = 80) -> None:
        super().__init__()
        import librosa

        fb = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=n_mels)
        self.register_buffer("filters", torch.from_numpy(fb.astype(np.float32)), persistent=False)
        self.register_buffer("window", torch.hann_window(N_FFT), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``(N,)`` samples at 16 kHz -> ``(n_mels, N // 160)`` features."""
        spec = torch.stft(wave, N_FFT, HOP, window=self.window, return_complex=True)[..., :-1]
        mel = self.filters @ spec.abs().square()
        logmel = mel.clamp(min=1e-10).log10()
        logmel = torch.maximum(logmel, logmel.max() - 8.0)
        return (logmel + 4.0) / 4.0


class Attention(nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q_proj = nn.Linear(d, d)
        self.k_proj = nn.Linear(d, d, bias=False)  # Whisper's key projection has no bias
        self.v_proj = nn.Linear(d, d)
        self.out_proj = nn.Linear(d, d)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``mask`` (b, t) bool, True where a token may be attended to (padded batches)."""
        b, t, d = x.shape
        q, k, v = (p(x).view(b, t, self.heads, d // self.heads).transpose(1, 2)
                   for p in (self.q_proj, self.k_proj, self.v_proj))  # fmt: skip
        attn_mask = None if mask is None else mask[:, None, None, :]
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # (b, heads, t, d_head)
        return self.out_proj(y.transpose(1, 2).reshape(b, t, d))


class EncoderLayer(nn.Module):
    """Pre-LN transformer block: x + attn(LN(x)), then x + MLP(LN(x)) with GELU, 4x width."""

    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.self_attn = Attention(d, heads)
        self.self_attn_layer_norm = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, 4 * d)
        self.fc2 = nn.Linear(4 * d, d)
        self.final_layer_norm = nn.LayerNorm(d)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.self_attn(self.self_attn_layer_norm(x), mask)
        return x + self.fc2(F.gelu(self.fc1(self.final_layer_norm(x))))


class WhisperEncoder(nn.Module):
    """Conv stem (2 x conv k3, the second stride 2, GELU) + sinusoidal positions + pre-LN blocks."""

    def __init__(self, config: WhisperEncoderConfig) -> None:
        super().__init__()
        c = self.config = config
        self.conv1 = nn.Conv1d(c.n_mels, c.d_model, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(c.d_model, c.d_model, kernel_size=3, stride=2, padding=1)
        self.embed_positions = nn.Embedding(c.max_positions, c.d_model)
        self.embed_positions.weight.data.copy_(sinusoids(c.max_positions, c.d_model))
        self.embed_positions.requires_grad_(False)
        self.layers = nn.ModuleList(EncoderLayer(c.d_model, c.heads) for _ in range(c.layers))
        self.layer_norm = nn.LayerNorm(c.d_model)

    def forward(self, mel: torch.Tensor, upto: int | None = None) -> list[torch.Tensor]:
        """``(B, n_mels, T)`` -> hidden states ``[(B, ceil(T/2), d)] * (upto + 1)``.

        Entry 0 is the embedding (conv stem + positions), entry i the output of block i; the
        output of the last block has the final LayerNorm applied, as in transformers'
        ``hidden_states``. ``upto`` stops after that many blocks (default: all).
        """
        upto = self.config.layers if upto is None else upto
        if not 0 <= upto <= self.config.layers:
            raise ValueError(f"upto must be in 0..{self.config.layers}, got {upto}")
        x = F.gelu(self.conv2(F.gelu(self.conv1(mel)))).transpose(1, 2)
        if x.shape[1] > self.config.max_positions:
            raise ValueError(
                f"At most {self.config.max_positions * 2} mel frames (30 s), got {mel.shape[-1]}"
            )
        x = x + self.embed_positions.weight[: x.shape[1]]
        states = [x]
        for i in range(upto):
            x = self.layers[i](x)
            states.append(self.layer_norm(x) if i == self.config.layers - 1 else x)
        return states


class PooledEncoder(nn.Module):
    """Conv stem + blocks 1..max(blocks) of an encoder (sharing its modules) -> mean and std over the
    valid tokens of each of ``blocks``, concatenated, for a padded batch of log-mels. With blocks 2-4
    of Whisper-base: the ``whisper-base`` backbone's embedding, batched (fine-tuning trains it)."""

    def __init__(self, encoder: WhisperEncoder, blocks: tuple[int, ...] = (2, 3, 4)) -> None:
        super().__init__()
        self.blocks = tuple(blocks)
        self.conv1, self.conv2 = encoder.conv1, encoder.conv2
        self.embed_positions = encoder.embed_positions
        self.layers = encoder.layers[: max(self.blocks)]
        self.dim = 2 * encoder.config.d_model * len(self.blocks)

    def forward(self, mel: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """``mel`` (B, n_mels, T) zero beyond each clip's ``frames`` (B,) -> (B, dim)."""
        t = mel.shape[-1]
        fmask = (torch.arange(t, device=mel.device)[None] < frames[:, None]).to(mel.dtype)
        # Zeroing the stem's output beyond the clip makes the stride-2 conv see what it sees at
        # the end of a lone clip (zero padding), so batching does not change any feature.
        x = F.gelu(self.conv1(mel)) * fmask[:, None]
        x = F.gelu(self.conv2(x)).transpose(1, 2)
        x = x + self.embed_positions.weight[: x.shape[1]]
        tokens = (frames + 1) // 2
        tmask = torch.arange(x.shape[1], device=x.device)[None] < tokens[:, None]
        m, n = tmask[..., None].to(x.dtype), tokens[:, None].to(x.dtype)
        out = []
        for i, layer in enumerate(self.layers, 1):
            x = layer(x, tmask)
            if i in self.blocks:
                mu = (x * m).sum(1) / n
                out += [mu, (((x - mu[:, None]).square() * m).sum(1) / n).clamp_min(0).sqrt()]
        return torch.cat(out, 1)
