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
    """Two branches; an entropic OT plan between their tokens carries each branch into the
    other's space ("transport attention"); own and transported views fused; FCN.

    What the paper fixes (method.md): two backbone branches; optimal transport (Sinkhorn)
    carries each branch's features into the other's space; U11 and U22 are each branch's own
    features, U12 branch 2 transported into branch 1's space, U21 the reverse; the four are
    fused and classified by an FCN. Our reading, step by step (shapes for the defaults):

    1. Each embedding ``(B, d_i)`` -> standardise -> the papers' conv block -> ``(B, 64, T)``,
       T = 20 positions; the tokens are the positions: ``t1, t2`` of shape ``(B, T, 64)``, exactly
       as in RENO and Concat, whatever the embedding sizes.
    2. Cost: the two conv blocks' filters mean different things, so each branch's tokens go
       through its own learnable linear map into a shared alignment space (the attention
       "keys"): ``C_ij = 1 - cos(K1 t1_i, K2 t2_j)``, in [0, 2], so ``eps`` has a fixed scale.
    3. Plan: ``P = sinkhorn(C, uniform marginals 1/T, eps = 0.03, 50 iterations)``, ``(B, T, T)``;
       ``T P`` is doubly stochastic (rows exactly, columns within a few % at these settings):
       attention weights that must also use every token of the other branch evenly (none
       ignored, none dominating). Differentiable: gradients reach the key maps and both conv
       blocks.
    4. Transport: ``U12 = V2 (T P t2)``, branch 2's tokens carried onto branch 1's positions and
       mapped by a learnable linear "value" map into branch 1's feature space; ``U21 = V1 (T P^T
       t1)`` the reverse; ``U11 = t1``, ``U22 = t2``.
    5. Fuse: residually, per branch, ``[U11 + U12, U22 + U21]`` -> ``(B, 2T, 64)`` -> flatten ->
       FCN 512 -> 128 -> classes. With a uniform plan the transported views are the other
       branch's mean token, so the head starts as Concat plus a global summary of the other
       branch.

    Why this reading (5-fold speaker-grouped CV on EmoGator, eGeMAPS + log-mel statistics,
    measured with the earlier adaptive-pool conv block, accuracy / macro-F1 in %): this reading
    17.0 / 15.7; the literal alternative we tried first, the four views concatenated with
    T = 10 to stay in the parameter band, 14.4 / 12.0. eps = 0.03 was chosen over 0.1 and 0.01
    on one CV fold (macro-F1 16.1, 13.3, 14.7). Results with the shipped backbones: README.

    No auxiliary loss: the paper names no alignment term, and the natural one (the transport
    cost <P, C>) has a trivial minimum here, both key maps collapsing to one direction.
    1.42M trainable parameters with the defaults for 30 classes and a 768-d pair (the
    conv blocks' position maps add (d1 + d2) // 4 x 20), inside RENO's 1.3-1.5M band.
    """

    n_inputs = 2

    def __init__(
        self,
        dims: tuple[int, ...],
        n_classes: int,
        tokens: int = 20,
        eps: float = 0.03,
        n_iters: int = 50,
        dropout: float = 0.3,
    ) -> None:
        super().__init__(dims, n_classes)
        if eps <= 0:
            raise ValueError(f"Sinkhorn eps must be > 0, got {eps}")
        if n_iters < 1:
            raise ValueError(f"Sinkhorn n_iters must be >= 1, got {n_iters}")
        self.tokens, self.eps, self.n_iters, self.dropout = tokens, eps, n_iters, dropout
        c = ConvBlock.channels
        self.branches = nn.ModuleList(ConvBlock(d, tokens, dropout / 3) for d in dims)
        self.keys = nn.ModuleList(nn.Linear(c, c) for _ in dims)
        self.values = nn.ModuleList(nn.Linear(c, c) for _ in dims)
        self.fcn = FCN(2 * c * tokens, n_classes, dropout)

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
        u12 = self.values[1](plan @ t2)  # branch 2 on branch 1's positions, in branch 1's space
        u21 = self.values[0](plan.transpose(1, 2) @ t1)  # the reverse
        fused = torch.cat([t1 + u12, t2 + u21], dim=1).flatten(1)  # (B, 2T * 64)
        h = self.fcn.penultimate(fused)
        return HeadOutput(
            self.fcn.out(h), zero(x1), {"branch1": t1.flatten(1), "branch2": t2.flatten(1), "fused": h}
        )

    def config(self) -> dict:
        return {"tokens": self.tokens, "eps": self.eps, "n_iters": self.n_iters, "dropout": self.dropout}
