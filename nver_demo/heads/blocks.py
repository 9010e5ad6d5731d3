"""Building blocks shared by the heads: input standardisation, the conv block, self-attention
and the FCN classifier (method.md, "Heads")."""

from __future__ import annotations

import torch
from torch import nn


class Standardize(nn.Module):
    """``(x - mean) / std`` with statistics fitted on training data and saved in the state dict.

    Backbone embeddings differ wildly in scale (opensmile functionals span 1e-3..1e4), so every
    head standardises each input; keeping the statistics as buffers makes a checkpoint
    self-contained.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    @torch.no_grad()
    def fit(self, x: torch.Tensor) -> None:
        """Fit on a ``(n, dim)`` training matrix; constant features get std 1."""
        self.mean.copy_(x.mean(0))
        std = x.std(0, unbiased=False)
        self.std.copy_(torch.where(std > 1e-8, std, torch.ones_like(std)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Clamp: an outlier clip far outside the training range must not blow up the logits.
        return ((x - self.mean) / self.std).clamp(-10.0, 10.0)


class ConvBlock(nn.Module):
    """The papers' conv block over an embedding vector: ``(B, dim) -> (B, 64, tokens)``.

    Two 1-D conv layers (32 then 64 filters, kernel 3), each followed by batch norm, ReLU and
    max-pooling (2), then a learned linear map over positions, from dim // 4 to ``tokens``.

    Why the last step: the papers flatten straight after the second pooling, which for a
    768-d input gives 64 x 192 = 12,288 features and a 6.3M-parameter first dense layer, far
    from their reported 0.9-1.1M, so something shrinks the map that they do not describe. An
    adaptive max/avg pool to ``tokens`` positions was our first reading; it mixes ~30
    unrelated embedding dimensions into each position and the heads did not learn on Whisper
    features (chance level after 8 epochs, measured). A linear map over positions keeps each
    position's identity, costs dim // 4 x tokens parameters, and makes every backbone's output
    the same shape, which RENO and MATA need.
    """

    channels = 64

    def __init__(self, dim: int, tokens: int, dropout: float = 0.1) -> None:
        super().__init__()
        if dim < 4:
            raise ValueError(f"ConvBlock needs an embedding of at least 4 values, got {dim}")
        self.tokens = tokens
        self.net = nn.Sequential(
            nn.Conv1d(1, 32, kernel_size=3, padding=1),
            nn.BatchNorm1d(32),
            nn.ReLU(),
            nn.MaxPool1d(2),
            nn.Conv1d(32, 64, kernel_size=3, padding=1),
            nn.BatchNorm1d(64),
            nn.ReLU(),
            nn.MaxPool1d(2),
        )
        self.positions = nn.Linear(dim // 4, tokens)  # (B, 64, dim // 4) -> (B, 64, tokens)
        self.dropout = nn.Dropout(dropout)

    def compile(self) -> None:
        """Train the conv layers through ``torch.compile`` (same numbers, about 1.8x faster on CPU).

        The conv, batch-norm and pooling layers over a 3,072-d input are memory-bound and
        dominate a fusion head's training time; compilation fuses them. The compiled function
        is kept outside the module tree, so state dicts and checkpoints do not change, and it
        is used in training mode only (evaluation stays eager: no recompilation per mode).
        """
        self.__dict__["_compiled_net"] = torch.compile(self.net)

    @property
    def compiled(self) -> bool:
        """Whether training-mode passes go through ``torch.compile``."""
        return "_compiled_net" in self.__dict__

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        net = self.__dict__.get("_compiled_net") if self.training else None
        return self.dropout(self.positions((net or self.net)(x.unsqueeze(1))))


class SelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention, softmax(QK^T / sqrt(d)) V, over tokens.

    ``(B, T, d) -> (B, T, d)``. Learnable Wq, Wk, Wv (and the usual output projection), with a
    residual connection and LayerNorm so the block starts near identity and trains stably.
    """

    def __init__(self, dim: int, heads: int = 2, dropout: float = 0.1) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.attn(x, x, x, need_weights=False)
        return self.norm(x + out)


class FCN(nn.Module):
    """Dense 512 -> dense 128 -> class logits (softmax is applied by the loss / predictor).

    ``penultimate`` returns the 128-d representation the embedding map shows as "fused".
    """

    def __init__(self, in_dim: int, n_classes: int, dropout: float = 0.3) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(in_dim, 512),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(512, 128),
            nn.ReLU(),
            nn.Dropout(dropout),
        )
        self.out = nn.Linear(128, n_classes)

    def penultimate(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(x))
