"""MATA in its authors' batch-transport reading (first author's re-implementation; method.md,
MATA paragraph). Registered as ``mata_batch``; ``mata`` is our per-clip token reading
(:mod:`.mata`), see the README's ablation for how the two measure.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import Head, HeadOutput, zero
from .blocks import ConvBlock
from .sinkhorn import sinkhorn


def batch_transport(
    x1: torch.Tensor, x2: torch.Tensor, eps: float = 0.05, n_iters: int = 50
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Transport across the rows of a mini-batch: ``(x2->x1, x1->x2, plan)``.

    Cost ``M_ij = ||x1_i - x2_j||_2``, divided by its maximum (so ``eps`` is scale-free); plan
    ``P = Sinkhorn(M)`` with uniform marginals 1/B, computed without gradients as in the
    re-implementation. ``x2->x1 = B P x2`` and ``x1->x2 = B P^T x1``: each clip's vector is
    replaced by a convex combination (the barycentric projection) of the *other clips'* vectors
    of the other branch.

    A batch of one clip: M is 1 x 1, P = [[1]], so ``x2->x1 = x2`` and ``x1->x2 = x1``: the
    transport only swaps the two branches and carries nothing from any other clip.
    """
    b = x1.shape[0]
    with torch.no_grad():
        cost = torch.cdist(x1.float(), x2.float())
        cost = cost / cost.max().clamp_min(1e-8)
        plan = sinkhorn(cost, eps=eps, n_iters=n_iters)  # (B, B), rows sum to 1/B
    weights = (plan * b).to(x1.dtype)
    return weights @ x2, weights.transpose(0, 1) @ x1, plan


class BatchMATAHead(Head):
    """MATA, the authors' reading (method.md): shapes for the defaults, B = batch.

    1. Each embedding -> standardise -> the papers' conv block (32, 64 filters) -> ``(B, 64, 20)``
       (our position map, see ConvBlock) -> flatten -> linear projection to **120-d**: x1, x2.
    2. Transport across the mini-batch (:func:`batch_transport`, **eps = 0.05, 50 iterations**).
    3. Six 120-d tokens ``[x2->x1, x1, x2, x1->x2, x2, x1]`` -> **8-head** self-attention with a
       residual connection and layer norm -> flatten 720 -> dense 128 -> classes.

    Because step 2 mixes clips, a clip's output depends on which other clips share its batch.
    The app classifies one clip at a time, where the transported tokens are simply the other
    branch's own vector (see :func:`batch_transport`); ``batch_dependent`` makes training
    scripts score this head one clip at a time too, so its cross-validated numbers are what
    the app delivers. 0.48M trainable parameters for a 768-d pair and 30 classes, 0.49M for
    Whisper-base + GE2E (the MATA paper states no parameter count).
    """

    n_inputs = 2
    batch_dependent = True

    def __init__(
        self,
        dims: tuple[int, ...],
        n_classes: int,
        tokens: int = 20,
        proj_dim: int = 120,
        heads: int = 8,
        eps: float = 0.05,
        n_iters: int = 50,
        dropout: float = 0.3,
    ) -> None:
        super().__init__(dims, n_classes)
        if eps <= 0:
            raise ValueError(f"Sinkhorn eps must be > 0, got {eps}")
        if n_iters < 1:
            raise ValueError(f"Sinkhorn n_iters must be >= 1, got {n_iters}")
        self.tokens, self.proj_dim, self.heads = tokens, proj_dim, heads
        self.eps, self.n_iters, self.dropout = eps, n_iters, dropout
        self.branches = nn.ModuleList(ConvBlock(d, tokens, dropout / 3) for d in dims)
        self.proj = nn.ModuleList(nn.Linear(ConvBlock.channels * tokens, proj_dim) for _ in dims)
        self.attn = nn.MultiheadAttention(proj_dim, heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(proj_dim)
        self.body = nn.Sequential(nn.Linear(6 * proj_dim, 128), nn.ReLU(), nn.Dropout(dropout))
        self.out = nn.Linear(128, n_classes)

    def project(self, x1: torch.Tensor, x2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x1, x2`` ``(B, proj_dim)`` for standardised inputs (step 1)."""
        v = [p(conv(x).flatten(1)) for conv, p, x in zip(self.branches, self.proj, (x1, x2))]
        return v[0], v[1]

    def _forward(self, x1: torch.Tensor, x2: torch.Tensor) -> HeadOutput:
        v1, v2 = self.project(x1, x2)
        t21, t12, _ = batch_transport(v1, v2, self.eps, self.n_iters)
        tok = torch.stack([t21, v1, v2, t12, v2, v1], dim=1)  # (B, 6, proj_dim)
        att, _ = self.attn(tok, tok, tok, need_weights=False)
        h = self.body(self.norm(tok + att).flatten(1))
        return HeadOutput(self.out(h), zero(x1), {"branch1": v1, "branch2": v2, "fused": h})

    def config(self) -> dict:
        return {
            "tokens": self.tokens,
            "proj_dim": self.proj_dim,
            "heads": self.heads,
            "eps": self.eps,
            "n_iters": self.n_iters,
            "dropout": self.dropout,
        }
