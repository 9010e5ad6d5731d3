"""Entropic optimal transport by Sinkhorn iterations, in the log domain, batched and differentiable.

Cuturi, "Sinkhorn Distances: Lightspeed Computation of Optimal Transport", NeurIPS 2013
(https://arxiv.org/abs/1306.0895); the log-domain form follows Peyré & Cuturi, "Computational
Optimal Transport", §4.4. For every batch item it solves

    P* = argmin_P <P, C> - eps H(P)   subject to   P 1_m = a,  P^T 1_n = b,

by alternating updates of the dual potentials f (n,) and g (m,):

    g <- eps (log b - logsumexp_i((f_i - C_ij) / eps))
    f <- eps (log a - logsumexp_j((g_j - C_ij) / eps))
    P_ij = exp((f_i + g_j - C_ij) / eps).

Working with potentials instead of the scaling vectors exp(f / eps) keeps small ``eps`` finite
(no underflow of exp(-C / eps)). The update order (columns, then rows) is the one of POT's
``ot.bregman.sinkhorn_log``, so both give the same plan iterate for iterate (tests/test_sinkhorn.py).
The loop is unrolled into the autograd graph: gradients reach the cost (and whatever produced it).
"""

from __future__ import annotations

import math

import torch


def sinkhorn(
    cost: torch.Tensor,
    a: torch.Tensor | None = None,
    b: torch.Tensor | None = None,
    eps: float = 0.1,
    n_iters: int = 50,
) -> torch.Tensor:
    """Entropic transport plan for cost matrices ``cost``.

    Parameters
    ----------
    cost : (..., n, m) cost of moving mass from source point i to target point j.
    a : (..., n) or (n,) source marginal (positive, each row sums to 1); uniform 1/n if None.
    b : (..., m) or (m,) target marginal; uniform 1/m if None.
    eps : entropic regularisation, > 0, in the units of ``cost``. Small eps gives sharp
        (near-permutation) plans and needs more iterations; large eps gives blurred plans.
    n_iters : number of (column, row) update pairs.

    Returns
    -------
    plan : (..., n, m), non-negative. Its rows sum to ``a`` exactly (the last update is the
        row update); its columns sum to ``b`` up to an error that shrinks geometrically with
        ``n_iters``.
    """
    if eps <= 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    if n_iters < 1:
        raise ValueError(f"n_iters must be >= 1, got {n_iters}")
    if cost.ndim < 2:
        raise ValueError(f"cost must be (..., n, m), got shape {tuple(cost.shape)}")
    n, m = cost.shape[-2:]
    log_a = _log_marginal(a, n, cost)
    log_b = _log_marginal(b, m, cost)
    scaled = cost / eps
    # Potentials divided by eps (POT's log_u, log_v): u_i = f_i / eps, v_j = g_j / eps.
    u = torch.zeros(cost.shape[:-1], dtype=cost.dtype, device=cost.device)  # (..., n)
    v = torch.zeros((*cost.shape[:-2], m), dtype=cost.dtype, device=cost.device)  # (..., m)
    for _ in range(n_iters):
        v = log_b - torch.logsumexp(u.unsqueeze(-1) - scaled, dim=-2)
        u = log_a - torch.logsumexp(v.unsqueeze(-2) - scaled, dim=-1)
    return torch.exp(u.unsqueeze(-1) + v.unsqueeze(-2) - scaled)


def _log_marginal(w: torch.Tensor | None, size: int, like: torch.Tensor) -> torch.Tensor:
    if w is None:
        return torch.full((size,), -math.log(size), dtype=like.dtype, device=like.device)
    if w.shape[-1] != size:
        raise ValueError(f"Marginal of size {w.shape[-1]} for a cost dimension of size {size}")
    if (w <= 0).any():
        raise ValueError("Marginals must be strictly positive")
    return torch.log(w.to(like.dtype))
