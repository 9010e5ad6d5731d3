"""MATA: intra-modality alignment through transport attention (the second seed paper).

Phukan et al., "Strong Alone, Stronger Together: Synergizing Modality-Binding Foundation Models
with Optimal Transport for Non-Verbal Emotion Recognition", 2024 (https://arxiv.org/abs/2409.14221).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .base import Head, HeadOutput, zero
from .blocks import FCN, ConvBlock
from .sinkhorn import sinkhorn


class MATAHead(Head):
    """Two branches, each carried into the other's feature space by an entropic OT plan, four
    views fused by an FCN.

    What the paper fixes (method.md): two backbone branches; optimal transport (Sinkhorn)
    carries each branch's features into the other's space; U11 and U22 are each branch's own
    features, U12 branch 2 transported into branch 1's space, U21 the reverse; the four are
    fused and classified by an FCN. Our reading, step by step (shapes for the defaults):

    1. Each embedding ``(B, d_i)`` -> standardise -> the papers' conv block -> ``(B, 64, T)``
       with T = 10 positions; the tokens are the T positions: ``t1, t2`` of shape ``(B, T, 64)``
       (as in RENO and Concat, so any pair of embedding sizes gives the same shapes).
    2. Cost: the two branches' conv filters mean different things, so each branch's tokens go
       through its own learnable linear map into a shared 64-d alignment space (the "keys" of
       transport *attention*); ``C_ij = 1 - cos(W1 t1_i, W2 t2_j)``, in [0, 2], so ``eps`` has a
       fixed scale whatever the features' magnitude.
    3. Plan: ``P = sinkhorn(C, uniform marginals 1/T, eps = 0.1, 30 iterations)``, ``(B, T, T)``,
       differentiable (gradients reach the projections and both conv blocks).
    4. Transport, as OT's barycentric map: the image of a point is the plan-weighted mean of
       the points it sends mass to. Branch 2's token j carried into branch 1's space is
       ``U12_j = T sum_i P_ij t1_i`` (``U12 = T P^T t1``), branch 1's into branch 2's space
       ``U21 = T P t2``; ``U11 = t1``, ``U22 = t2``. (Indexing U12 by branch 1's positions
       instead, i.e. attention of branch 1 over branch 2, names the same two tensors the other
       way round; the fused vector differs only by a permutation of its entries.)
    5. Fuse: concatenate the four ``(B, T, 64)`` views -> flatten ``(B, 4 T 64)`` -> FCN
       512 -> 128 -> classes.

    No auxiliary loss: the paper names no alignment term, and the natural one (the transport
    cost <P, C>) has a trivial minimum here, both projections collapsing to one direction.
    T = 10 (RENO uses 20) keeps the FCN input at 2,560 values, as in RENO: 1.40M trainable
    parameters with the defaults for 30 classes, inside the 1.3-1.5M band of RENO and
    independent of the embedding sizes.
    """

    n_inputs = 2

    def __init__(
        self,
        dims: tuple[int, ...],
        n_classes: int,
        tokens: int = 10,
        eps: float = 0.1,
        n_iters: int = 30,
        dropout: float = 0.3,
    ) -> None:
        super().__init__(dims, n_classes)
        if eps <= 0:
            raise ValueError(f"Sinkhorn eps must be > 0, got {eps}")
        if n_iters < 1:
            raise ValueError(f"Sinkhorn n_iters must be >= 1, got {n_iters}")
        self.tokens, self.eps, self.n_iters, self.dropout = tokens, eps, n_iters, dropout
        c = ConvBlock.channels
        self.branches = nn.ModuleList(ConvBlock(tokens, dropout / 3) for _ in dims)
        self.keys = nn.ModuleList(nn.Linear(c, c) for _ in dims)
        self.fcn = FCN(4 * c * tokens, n_classes, dropout)

    def _tokens(self, x1: torch.Tensor, x2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        t1, t2 = (conv(x).transpose(1, 2) for conv, x in zip(self.branches, (x1, x2)))
        return t1, t2  # (B, T, 64) each

    def _plan(self, t1: torch.Tensor, t2: torch.Tensor) -> torch.Tensor:
        k1 = F.normalize(self.keys[0](t1), dim=-1)
        k2 = F.normalize(self.keys[1](t2), dim=-1)
        cost = 1.0 - k1 @ k2.transpose(1, 2)  # (B, T, T), in [0, 2]
        return sinkhorn(cost, eps=self.eps, n_iters=self.n_iters)

    def transport_plan(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        """The plan ``(B, T, T)`` between branch 1's and branch 2's tokens for raw embeddings."""
        return self._plan(*self._tokens(self.norms[0](x1), self.norms[1](x2)))

    def _forward(self, x1: torch.Tensor, x2: torch.Tensor) -> HeadOutput:
        t1, t2 = self._tokens(x1, x2)
        plan = self._plan(t1, t2) * self.tokens  # rows (and, to Sinkhorn's tolerance, columns) sum to 1
        u12 = plan.transpose(1, 2) @ t1  # branch 2's tokens in branch 1's space
        u21 = plan @ t2  # branch 1's tokens in branch 2's space
        fused = torch.cat([t1, u12, u21, t2], dim=1).flatten(1)  # (B, 4T * 64)
        h = self.fcn.penultimate(fused)
        return HeadOutput(
            self.fcn.out(h), zero(x1), {"branch1": t1.flatten(1), "branch2": t2.flatten(1), "fused": h}
        )

    def config(self) -> dict:
        return {"tokens": self.tokens, "eps": self.eps, "n_iters": self.n_iters, "dropout": self.dropout}
