"""Rényi divergence between feature distributions (the alignment term of RENO).

D_beta(P || Q) = 1 / (beta - 1) * log sum_i p_i^beta q_i^(1 - beta), for beta > 0, beta != 1;
the limit beta -> 1 is the Kullback-Leibler divergence.

RENO's values (first author's re-implementation, method.md step 5): beta = 2 and delta = 0.2
added to each probability before the powers. We renormalise the smoothed probabilities,
p~ = (p + delta) / (1 + d delta), so the term is a true divergence (zero for identical rows,
never negative). That changes the authors' expression only by a constant:

    1/(beta-1) log sum (p~)^beta (q~)^(1-beta)
        = 1/(beta-1) [log sum (p+delta)^beta (q+delta)^(1-beta) - log(1 + d delta)],

so gradients, and therefore training, are the same as with the unnormalised form.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def renyi_divergence(
    p_features: torch.Tensor,
    q_features: torch.Tensor,
    beta: float = 2.0,
    delta: float = 0.2,
    reduction: str = "mean",
) -> torch.Tensor:
    """Rényi divergence of order ``beta`` between softmax distributions over the last dimension.

    Parameters
    ----------
    p_features, q_features : (B, d) raw features; each row becomes a distribution by a softmax
        over its d values.
    beta : order, > 0. ``beta == 1`` gives KL(P || Q).
    delta : added to each probability, then each row renormalised to sum to 1 (see the module
        docstring); RENO's 0.2 smooths both distributions strongly towards uniform. ``0`` for the
        plain divergence.
    reduction : ``"mean"`` over the batch, or ``"none"`` for per-row values ``(B,)``.

    Returns
    -------
    Scalar (or ``(B,)``), >= 0, exactly 0 when P == Q row by row.
    """
    if p_features.shape != q_features.shape:
        raise ValueError(f"Shapes differ: {tuple(p_features.shape)} vs {tuple(q_features.shape)}")
    if beta <= 0:
        raise ValueError(f"Rényi order beta must be > 0, got {beta}")
    if delta < 0:
        raise ValueError(f"delta must be >= 0, got {delta}")
    p = F.softmax(p_features.float(), dim=-1) + delta
    q = F.softmax(q_features.float(), dim=-1) + delta
    log_p = torch.log(p / p.sum(-1, keepdim=True))
    log_q = torch.log(q / q.sum(-1, keepdim=True))
    if abs(beta - 1.0) < 1e-6:
        d = (log_p.exp() * (log_p - log_q)).sum(-1)
    else:
        # log sum exp(beta log p + (1 - beta) log q), computed stably.
        d = torch.logsumexp(beta * log_p + (1 - beta) * log_q, dim=-1) / (beta - 1)
    d = d.clamp_min(0.0)  # rounding can give -1e-9 for identical rows
    if reduction == "mean":
        return d.mean()
    if reduction == "none":
        return d
    raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
