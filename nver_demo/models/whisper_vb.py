"""The top of Whisper-base adapted to vocal bursts: tuned copies of its upper blocks and a
pooled clip embedding over time and layers.

    block-k output (B, T, d) of the frozen encoder
      -> tuned block(s) k+1 ... (Whisper's own architecture, initialised from its weights)
      -> per tuned block: mean and std over time; for the last one also attention pooling
         (a learned score per token, softmax over time; a zero-initialised scorer = the mean)

The frozen lower blocks' mean/std (computed by the caller) are concatenated in front, so with
the tuned block equal to Whisper's and the scorer at zero the embedding contains exactly the
``whisper-base`` features: fine-tuning starts from what the linear probe already knows.
Padded batches are handled by a boolean mask (True = real token), identical to running each
clip alone, which is how the backbone runs at inference.
"""

from __future__ import annotations

import torch
from torch import nn

from .whisper_encoder import EncoderLayer, WhisperEncoderConfig


def masked_mean_std(h: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """``h`` (B, T, d), ``mask`` (B, T) bool -> mean and population std over real tokens, (B, d) each."""
    if mask is None:
        return h.mean(1), h.std(1, unbiased=False)
    m = mask[..., None].to(h.dtype)
    n = m.sum(1).clamp(min=1.0)
    mean = (h * m).sum(1) / n
    var = ((h - mean[:, None]) ** 2 * m).sum(1) / n
    return mean, var.clamp(min=1e-12).sqrt()


class TunedTop(nn.Module):
    def __init__(self, config: WhisperEncoderConfig, n_blocks: int = 1) -> None:
        super().__init__()
        self.config = config
        self.blocks = nn.ModuleList(EncoderLayer(config.d_model, config.heads) for _ in range(n_blocks))
        self.score = nn.Linear(config.d_model, 1)
        nn.init.zeros_(self.score.weight)
        nn.init.zeros_(self.score.bias)

    @property
    def dim(self) -> int:
        """Size of what :meth:`forward` returns (before the frozen blocks' statistics)."""
        return (2 * len(self.blocks) + 1) * self.config.d_model

    def forward(self, h: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``h`` (B, T, d) output of the last frozen block -> (B, dim)."""
        pooled = []
        for block in self.blocks:
            h = block(h, mask)
            pooled.extend(masked_mean_std(h, mask))
        s = self.score(h)[..., 0]  # (B, T)
        if mask is not None:
            s = s.masked_fill(~mask, float("-inf"))
        a = torch.softmax(s, dim=1)
        pooled.append((a[..., None] * h).sum(1))
        return torch.cat(pooled, dim=1)
