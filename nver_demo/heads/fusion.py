"""Pair heads: the Concat baseline and RENO (Rényi-divergence alignment + self-attention)."""

from __future__ import annotations

import torch
from torch import nn

from .base import Head, HeadOutput, zero
from .blocks import FCN, ConvBlock, SelfAttention
from .renyi import renyi_divergence


class ConcatHead(Head):
    """Baseline fusion: each embedding through its own conv block, flatten, concatenate, FCN.

    Exactly RENO without the self-attention blocks and without the Rényi loss, so the two
    differ only by what the paper adds. 1.40M parameters with the default 20 tokens per branch
    (for a 768-d pair; the position maps add (d1 + d2) // 4 x 20).
    """

    n_inputs = 2

    def __init__(self, dims: tuple[int, ...], n_classes: int, tokens: int = 20, dropout: float = 0.3) -> None:
        super().__init__(dims, n_classes)
        self.tokens, self.dropout = tokens, dropout
        self.branches = nn.ModuleList(ConvBlock(d, tokens, dropout / 3) for d in dims)
        self.fcn = FCN(2 * ConvBlock.channels * tokens, n_classes, dropout)

    def _forward(self, x1: torch.Tensor, x2: torch.Tensor) -> HeadOutput:
        a, b = (branch(x).flatten(1) for branch, x in zip(self.branches, (x1, x2)))
        h = self.fcn.penultimate(torch.cat([a, b], dim=1))
        return HeadOutput(self.fcn.out(h), zero(x1), {"branch1": a, "branch2": b, "fused": h})

    def config(self) -> dict:
        return {"tokens": self.tokens, "dropout": self.dropout}


class RENOHead(Head):
    """RENO: two-branch fusion with Rényi-divergence alignment and self-attention (seed paper).

    Our reading of the paper, step by step (shapes for the defaults, B = batch):

    1. Each embedding ``(B, d_i)`` -> standardise -> conv block -> ``(B, 64, T)`` with T = 20
       positions (a learned linear map over positions, see ConvBlock). The *tokens* are the T
       positions, each a 64-d vector of filter responses: ``(B, T, 64)``. That position map is
       also the "projection": both branches end at the same shape whatever their sizes.
    2. Per-branch self-attention, 2 heads, over the T tokens: ``(B, T, 64)``.
    3. Rényi alignment: P = softmax over the flattened branch-1 features (T x 64 = 1280
       values), Q likewise for branch 2; ``D_alpha(P || Q)`` averaged over the batch.
    4. Concatenate the two token sequences -> ``(B, 2T, 64)`` -> self-attention (2 heads)
       -> flatten ``(B, 2T x 64)`` -> FCN 512 -> 128 -> classes.
    5. Loss = cross-entropy + ``lam`` x D_alpha.

    The paper fixes alpha, eps and lambda but their values are lost from our copy; defaults
    here are alpha = 0.5 (a symmetric, bounded order: twice the Bhattacharyya distance),
    eps = 1e-8, lam = 0.1. 1.45M trainable parameters with the defaults for a 768-d pair and
    1.47M for Audio-MAMBA base + a 768-d model, inside the paper's 1.3-1.5M band (the position
    maps add (d1 + d2) // 4 x 20; only pairs of two ComParE-sized 6,373-d inputs leave it).
    """

    n_inputs = 2

    def __init__(
        self,
        dims: tuple[int, ...],
        n_classes: int,
        tokens: int = 20,
        heads: int = 2,
        alpha: float = 0.5,
        eps: float = 1e-8,
        lam: float = 0.1,
        dropout: float = 0.3,
    ) -> None:
        super().__init__(dims, n_classes)
        if alpha <= 0:
            raise ValueError(f"Rényi order alpha must be > 0, got {alpha}")
        self.tokens, self.heads, self.dropout = tokens, heads, dropout
        self.alpha, self.eps, self.lam = alpha, eps, lam
        c = ConvBlock.channels
        self.branches = nn.ModuleList(ConvBlock(d, tokens, dropout / 3) for d in dims)
        self.branch_attn = nn.ModuleList(SelfAttention(c, heads, dropout / 3) for _ in dims)
        self.fuse_attn = SelfAttention(c, heads, dropout / 3)
        self.fcn = FCN(2 * c * tokens, n_classes, dropout)

    def _forward(self, x1: torch.Tensor, x2: torch.Tensor) -> HeadOutput:
        tok = [
            attn(conv(x).transpose(1, 2))  # (B, T, 64)
            for conv, attn, x in zip(self.branches, self.branch_attn, (x1, x2))
        ]
        a, b = tok[0].flatten(1), tok[1].flatten(1)
        div = renyi_divergence(a, b, alpha=self.alpha, eps=self.eps)
        fused = self.fuse_attn(torch.cat(tok, dim=1)).flatten(1)  # (B, 2T*64)
        h = self.fcn.penultimate(fused)
        return HeadOutput(self.fcn.out(h), self.lam * div, {"branch1": a, "branch2": b, "fused": h})

    def config(self) -> dict:
        return {
            "tokens": self.tokens,
            "heads": self.heads,
            "alpha": self.alpha,
            "eps": self.eps,
            "lam": self.lam,
            "dropout": self.dropout,
        }
