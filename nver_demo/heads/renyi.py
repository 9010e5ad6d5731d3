"""Rényi divergence between feature distributions (the alignment term of RENO).

D_alpha(P || Q) = 1 / (alpha - 1) * log sum_i p_i^alpha q_i^(1 - alpha), for alpha > 0,
alpha != 1; the limit alpha -> 1 is the Kullback-Leibler divergence.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def renyi_divergence(
    p_features: torch.Tensor,
    q_features: torch.Tensor,
    alpha: float = 0.5,
    eps: float = 1e-8,
    reduction: str = "mean",
) -> torch.Tensor:
    """Rényi divergence between softmax distributions over the last dimension.

    Parameters
    ----------
    p_features, q_features : (B, d) tensors of raw features; each row becomes a distribution
        by a softmax over the d features.
    alpha : order, > 0. ``alpha == 1`` gives KL(P || Q).
    eps : added to each probability (then renormalised) so logs and powers stay finite.
    reduction : ``"mean"`` over the batch, or ``"none"`` for per-row values ``(B,)``.

    Returns
    -------
    Scalar (or ``(B,)``), >= 0, exactly 0 when P == Q row by row.
    """
    if p_features.shape != q_features.shape:
        raise ValueError(f"Shapes differ: {tuple(p_features.shape)} vs {tuple(q_features.shape)}")
    if alpha <= 0:
        raise ValueError(f"alpha must be > 0, got {alpha}")
    p = F.softmax(p_features.float(), dim=-1) + eps
    q = F.softmax(q_features.float(), dim=-1) + eps
    log_p = torch.log(p / p.sum(-1, keepdim=True))
    log_q = torch.log(q / q.sum(-1, keepdim=True))
    if abs(alpha - 1.0) < 1e-6:
        d = (log_p.exp() * (log_p - log_q)).sum(-1)
    else:
        # log sum exp(alpha log p + (1 - alpha) log q), computed stably.
        d = torch.logsumexp(alpha * log_p + (1 - alpha) * log_q, dim=-1) / (alpha - 1)
    d = d.clamp_min(0.0)  # rounding can give -1e-9 for identical rows
    if reduction == "mean":
        return d.mean()
    if reduction == "none":
        return d
    raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
