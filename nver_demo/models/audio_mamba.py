"""Audio-MAMBA (SSAM) encoder: patches of a log-mel window -> 12 unidirectional Mamba blocks.

Yadav & Tan, "Audio Mamba: Selective State Spaces for Self-Supervised Audio Representations",
Interspeech 2024, https://arxiv.org/abs/2406.02178. Written from the description in
../shared/docs/audio-mamba.md; module and parameter names equal the official state dict, so
converted weights load with ``strict=True``:

    cls_token, pos_embed, patch_embed.proj.{weight,bias}, blocks.{i}.norm.{weight,bias},
    blocks.{i}.mixer.{in_proj.weight, conv1d.{weight,bias}, x_proj.weight, dt_proj.{weight,bias},
    A_log, D, out_proj.weight}, encoder_norm.{weight,bias}

Tokens run time-major inside the blocks, (L, batch, D), the layout the scan wants.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .log_mel import N_MELS
from .selective_scan import causal_depthwise_conv, selective_scan


@dataclass(frozen=True)
class AudioMambaConfig:
    """Architecture of one Audio-MAMBA size (the official ``ssam_{size}_200_16x4`` models)."""

    size: str
    dim: int  # D
    depth: int = 12
    expand: int = 3  # d_inner = expand * D
    d_state: int = 24
    d_conv: int = 4
    window_frames: int = 200
    n_mels: int = N_MELS
    patch_time: int = 4
    patch_freq: int = 16
    norm_eps: float = 1e-6

    @property
    def d_inner(self) -> int:
        return self.expand * self.dim

    @property
    def dt_rank(self) -> int:
        return math.ceil(self.dim / 16)

    @property
    def grid(self) -> tuple[int, int]:
        """Patch grid (time, freq): (50, 5)."""
        return self.window_frames // self.patch_time, self.n_mels // self.patch_freq

    @property
    def n_patches(self) -> int:
        return self.grid[0] * self.grid[1]

    @property
    def embed_dim(self) -> int:
        """Clip embedding size: freq patches x D (960 / 1920 / 3840)."""
        return self.grid[1] * self.dim


CONFIGS: dict[str, AudioMambaConfig] = {
    "tiny": AudioMambaConfig("tiny", dim=192),
    "small": AudioMambaConfig("small", dim=384),
    "base": AudioMambaConfig("base", dim=768),
}


def config_for(size: str) -> AudioMambaConfig:
    """Config of ``size``; unknown sizes raise a ValueError listing the valid ones."""
    try:
        return CONFIGS[size]
    except KeyError:
        raise ValueError(f"Unknown Audio-MAMBA size {size!r}; valid: {', '.join(CONFIGS)}") from None


def encoder_param_count(cfg: AudioMambaConfig) -> int:
    """Trainable encoder parameters from the config alone (excludes the fixed ``pos_embed``)."""
    D, E, N, R, K = cfg.dim, cfg.d_inner, cfg.d_state, cfg.dt_rank, cfg.d_conv
    mixer = D * 2 * E + E * K + E + E * (R + 2 * N) + R * E + E + E * N + E + E * D
    block = 2 * D + mixer
    patch = D * cfg.patch_time * cfg.patch_freq + D
    return patch + D + cfg.depth * block + 2 * D  # + cls_token, + encoder_norm


def sincos_pos_embed(dim: int, grid: tuple[int, int]) -> torch.Tensor:
    """Fixed MAE-style 2-D sin-cos position embedding with a zero row for CLS.

    The first ``dim/2`` channels encode the frequency index, the last ``dim/2`` the time index;
    each half is ``[sin(p * w_k), cos(p * w_k)]`` with ``w_k = 10000 ** (-k / (dim/4))``.

    Returns
    -------
    Tensor, (1, 1 + T*F, dim), float32; patch ``t * F + f`` sits at row ``1 + t * F + f``.
    """
    if dim % 4:
        raise ValueError(f"dim must be a multiple of 4, got {dim}")
    n_time, n_freq = grid
    omega = 1.0 / 10000.0 ** (np.arange(dim // 4, dtype=np.float64) / (dim / 4.0))

    def encode(pos: np.ndarray) -> np.ndarray:  # (M,) -> (M, dim/2)
        angles = pos[:, None] * omega[None, :]
        return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)

    # (T, F) index grids, flattened time-major like the tokens
    t_idx, f_idx = np.meshgrid(np.arange(n_time), np.arange(n_freq), indexing="ij")
    emb = np.concatenate([encode(f_idx.reshape(-1)), encode(t_idx.reshape(-1))], axis=1)
    emb = np.concatenate([np.zeros((1, dim)), emb], axis=0)
    return torch.from_numpy(emb).float().unsqueeze(0)


class PatchEmbed(nn.Module):
    """(batch, 1, 200, 80) window -> (batch, 250, D) tokens, time-major (token = t * 5 + f)."""

    def __init__(self, cfg: AudioMambaConfig) -> None:
        super().__init__()
        patch = (cfg.patch_time, cfg.patch_freq)
        self.proj = nn.Conv2d(1, cfg.dim, kernel_size=patch, stride=patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class MambaMixer(nn.Module):
    """Mamba-1 mixer (in_proj -> causal conv -> selective scan, gated -> out_proj).

    ``forward`` takes and returns time-major tokens ``(L, batch, D)``.
    """

    def __init__(self, cfg: AudioMambaConfig) -> None:
        super().__init__()
        E, N, R = cfg.d_inner, cfg.d_state, cfg.dt_rank
        self.d_inner, self.d_state, self.dt_rank = E, N, R
        self.in_proj = nn.Linear(cfg.dim, 2 * E, bias=False)
        self.conv1d = nn.Conv1d(E, E, cfg.d_conv, groups=E, padding=cfg.d_conv - 1, bias=True)
        self.x_proj = nn.Linear(E, R + 2 * N, bias=False)
        self.dt_proj = nn.Linear(R, E, bias=True)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, N + 1, dtype=torch.float32)).repeat(E, 1))
        self.D = nn.Parameter(torch.ones(E))
        self.out_proj = nn.Linear(E, cfg.dim, bias=False)
        self._init_dt(dt_min=1e-3, dt_max=0.1)

    @torch.no_grad()
    def _init_dt(self, dt_min: float, dt_max: float) -> None:
        # Mamba's own init, so random-init models see realistic step sizes: dt in [dt_min, dt_max].
        nn.init.uniform_(self.dt_proj.weight, -(self.dt_rank**-0.5), self.dt_rank**-0.5)
        dt = torch.exp(torch.rand(self.d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # inverse softplus

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        E, N, R = self.d_inner, self.d_state, self.dt_rank
        u, z = self.in_proj(x).split(E, dim=-1)  # (L, batch, E) each
        u = causal_depthwise_conv(u, self.conv1d.weight, self.conv1d.bias)
        dt, B, C = self.x_proj(u).split([R, N, N], dim=-1)
        # dt is a strided view; dt_proj on it ran 2x slower than on a contiguous copy
        delta = nn.functional.softplus(self.dt_proj(dt.contiguous()).float())
        A = -torch.exp(self.A_log.float())
        y = selective_scan(u, delta, A, B, C, self.D, z)  # (L, batch, E), float32
        return self.out_proj(y.to(self.out_proj.weight.dtype))


class Block(nn.Module):
    """Pre-norm residual block: ``x + mixer(LayerNorm(x))``, residual in float32."""

    def __init__(self, cfg: AudioMambaConfig) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(cfg.dim, eps=cfg.norm_eps)
        self.mixer = MambaMixer(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mixer(self.norm(x)).float()


class AudioMambaEncoder(nn.Module):
    """Encoder of 200-frame log-mel windows into patch tokens (CLS dropped)."""

    def __init__(self, cfg: AudioMambaConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.patch_embed = PatchEmbed(cfg)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        # Fixed, but stored in the official checkpoint under this name: a persistent buffer.
        self.register_buffer("pos_embed", sincos_pos_embed(cfg.dim, cfg.grid))
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.encoder_norm = nn.LayerNorm(cfg.dim, eps=cfg.norm_eps)
        nn.init.normal_(self.cls_token, std=0.02)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        """Encode windows independently.

        Parameters
        ----------
        windows : Tensor, (batch, 1, 200, 80)
            Standardised log-mel windows, time first.

        Returns
        -------
        Tensor, (batch, 250, D)
            Tokens after ``encoder_norm``, CLS removed, time-major (token ``t * 5 + f``).
        """
        x = self.patch_embed(windows) + self.pos_embed[:, 1:]
        cls = (self.cls_token + self.pos_embed[:, :1]).expand(x.shape[0], -1, -1)
        # time-major (L, batch, D) from here on: the layout the scan works in
        x = torch.cat([cls, x], dim=1).transpose(0, 1).float().contiguous()
        for block in self.blocks:
            x = block(x)
        return self.encoder_norm(x)[1:].transpose(0, 1)
