"""Mamba-1's selective scan (S6) for inference, in pure PyTorch, plus the optional CUDA kernels.

Gu & Dao, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces" (2023),
https://arxiv.org/abs/2312.00752, Algorithm 2. For every channel ``e`` and state ``n``::

    h_t = exp(delta_t * A) * h_{t-1} + delta_t * B_t * u_t     h: (E, N), h_0 = 0
    y_t = C_t . h_t + D * u_t            (then y_t * silu(z_t) when a gate is given)

Why the pure-PyTorch path looks the way it does (CPU, measured on the 2-core box, see
docs/audio_mamba.md): materialising (batch, L, E, N) tensors for the whole sequence costs several
DRAM round trips per layer (the naive loop: 12x slower). A chunked log-space closed form,
``h_t = P_t * (h_0 + sum_j b_j / P_j)`` with ``P = exp(cumsum(delta * A))``, has no per-step ops
but more passes and was 3x slower; it also turns to inf * 0 = NaN once a chunk's decay
underflows (seen with 16-step chunks even on random weights), and the stable pairwise form
``exp(S_t - S_j)`` costs K times more work. This path keeps the plain sequential recurrence, so it
is exact in float32 with nothing to overflow (every factor is in (0, 1]), and

* lays the state out as (batch, N, E), so the contraction with C is one batched vector-matrix
  product with E contiguous, and every elementwise op runs along contiguous E;
* computes the discretised decay ``exp2(delta * A * log2 e)`` for a small chunk of steps in one
  op (``exp2`` is ~2.5x cheaper than ``exp`` in PyTorch's CPU kernels, same accuracy);
* writes ``delta * B * u`` straight into the buffer of states, so a time step is a single
  in-place ``addcmul_`` and the whole chunk's outputs come from one ``bmm``;
* sizes the chunk so its buffers stay in cache.

Inputs are time-major, ``(L, batch, ...)``, the layout the encoder keeps its tokens in.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)

LOG2E = 1.0 / math.log(2.0)
#: Elements (steps * batch * N * E) per chunk on CPU. Measured best (1 thread, this 2-core EPYC):
#: 3 steps for base x 3 windows, 6 for small, 12 for tiny, 1 step for 16 base windows: ~2 MiB buffers.
CPU_CHUNK_ELEMENTS = 1 << 19
#: On CUDA memory is plentiful and launches are the cost: bigger chunks.
CUDA_CHUNK_ELEMENTS = 1 << 24
BACKENDS = ("auto", "torch", "mamba_ssm")


def selective_scan(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    z: torch.Tensor | None = None,
    *,
    backend: str = "auto",
    chunk: int | None = None,
) -> torch.Tensor:
    """Run the selective scan over a whole sequence (inference only).

    Parameters
    ----------
    u, delta : Tensor, (L, batch, E)
        Input and (already softplus-ed, positive) step sizes, time-major.
    A : Tensor, (E, N)
        State matrix diagonal, negative (``-exp(A_log)``).
    B, C : Tensor, (L, batch, N)
        Input-dependent input and output projections.
    D : Tensor, (E,), optional
        Skip connection.
    z : Tensor, (L, batch, E), optional
        Gate: the output is multiplied by ``silu(z)``.
    backend : {"auto", "torch", "mamba_ssm"}
        ``auto`` uses mamba-ssm's CUDA kernel when it is installed and the tensors are on CUDA,
        else the pure-PyTorch path.
    chunk : int, optional
        Time steps per chunk for the PyTorch path (default: sized to stay in cache).

    Returns
    -------
    Tensor, (L, batch, E), float32
    """
    if backend not in BACKENDS:
        raise ValueError(f"Unknown selective-scan backend {backend!r}; valid: {', '.join(BACKENDS)}")
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (u, delta, A, B, C, D, z)):
        raise RuntimeError(
            "selective_scan is inference-only (in-place updates); run it under torch.no_grad()."
        )
    if backend == "mamba_ssm" or (backend == "auto" and u.is_cuda and mamba_ssm_scan_fn() is not None):
        return _scan_mamba_ssm(u, delta, A, B, C, D, z)
    with torch.autocast(u.device.type, enabled=False):  # the recurrence runs in float32
        return _scan_torch(u, delta, A, B, C, D, z, chunk=chunk)


def _scan_torch(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None,
    z: torch.Tensor | None,
    *,
    chunk: int | None,
) -> torch.Tensor:
    L, batch, E = u.shape
    N = A.shape[1]
    f32 = torch.float32
    u, delta = u.to(f32), delta.to(f32)
    a2 = (A.to(f32) * LOG2E).t().contiguous()  # (N, E): exp(d*A) == exp2(d*A*log2 e)
    dl = delta.unsqueeze(2)  # (L, batch, 1, E)
    du = (delta * u).unsqueeze(2)  # (L, batch, 1, E)
    b_col = B.to(f32).contiguous().unsqueeze(3)  # (L, batch, N, 1)
    c_row = C.to(f32).contiguous().view(L * batch, 1, N)  # (L*batch, 1, N)
    if chunk is None:
        budget = CUDA_CHUNK_ELEMENTS if u.is_cuda else CPU_CHUNK_ELEMENTS
        chunk = max(1, min(L, budget // (batch * N * E)))
    decay = u.new_empty(chunk, batch, N, E)
    # Two state buffers used in turn, so a chunk's first step reads the last state of the previous
    # chunk without a copy. Each step: h_t = dA_t * h_{t-1} + dBu_t, with dBu_t pre-written into h_t.
    buffers = (u.new_empty(chunk, batch, N, E), u.new_empty(chunk, batch, N, E))
    prev = u.new_zeros(batch, N, E)
    y = u.new_empty(L, batch, 1, E)
    for i, s in enumerate(range(0, L, chunk)):
        k = min(chunk, L - s)
        dA = torch.mul(dl[s : s + k], a2, out=decay[:k]).exp2_()  # (k, batch, N, E)
        # delta * B * u, written where the states go:
        h = torch.mul(b_col[s : s + k], du[s : s + k], out=buffers[i % 2][:k])  # fmt: skip
        for j in range(k):
            prev = h[j].addcmul_(dA[j], prev)
        torch.bmm(c_row[s * batch : (s + k) * batch], h.view(k * batch, N, E),
                  out=y[s : s + k].view(k * batch, 1, E))  # fmt: skip
    y = y.squeeze(2)
    if D is not None:
        y.addcmul_(u, D.to(f32))
    if z is not None:
        y.mul_(F.silu(z.to(f32)))
    return y


@functools.cache
def mamba_ssm_scan_fn() -> Callable[..., torch.Tensor] | None:
    """mamba-ssm's fused CUDA ``selective_scan_fn`` when importable, else None."""
    try:
        from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
    except ImportError:
        return None
    log.info("Using mamba-ssm's CUDA selective scan on CUDA tensors.")
    return selective_scan_fn


@functools.cache
def causal_conv1d_cuda_fn() -> Callable[..., torch.Tensor] | None:
    """The ``causal_conv1d`` package's fused CUDA kernel when importable, else None."""
    try:
        from causal_conv1d import causal_conv1d_fn
    except ImportError:
        return None
    return causal_conv1d_fn


def _scan_mamba_ssm(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None,
    z: torch.Tensor | None,
) -> torch.Tensor:
    fn = mamba_ssm_scan_fn()
    if fn is None or not u.is_cuda:
        raise RuntimeError("backend='mamba_ssm' needs the mamba-ssm package and CUDA tensors.")

    def channel_major(
        t: torch.Tensor,
    ) -> torch.Tensor:  # (L, batch, X) -> (batch, X, L), float32
        return t.float().permute(1, 2, 0).contiguous()

    # The kernel wants u, delta, B, C, z in one dtype; float32 keeps it equal to the PyTorch path.
    y = fn(
        channel_major(u),
        channel_major(delta),
        A.float().contiguous(),
        channel_major(B),
        channel_major(C),
        None if D is None else D.float(),
        z=None if z is None else channel_major(z),
        delta_softplus=False,
    )
    return y.permute(2, 0, 1).float().contiguous()


def causal_depthwise_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """Causal depthwise 1-D convolution along time, then SiLU (Mamba's short conv).

    Same result as ``Conv1d(E, E, K, groups=E, padding=K-1)`` truncated to the first L outputs.

    Parameters
    ----------
    x : Tensor, (L, batch, E), time-major
    weight : Tensor, (E, 1, K)
    bias : Tensor, (E,), optional

    Returns
    -------
    Tensor, (L, batch, E)
    """
    K = weight.shape[-1]
    conv_fn = causal_conv1d_cuda_fn() if x.is_cuda else None
    if conv_fn is not None:
        out = conv_fn(
            x.permute(1, 2, 0).contiguous(),
            weight[:, 0].contiguous(),
            bias,
            activation="silu",
        )
        # back to time-major; contiguous, since a strided input makes the next GEMM slow
        return out.permute(2, 0, 1).contiguous()
    w = weight[:, 0].to(torch.promote_types(x.dtype, weight.dtype))  # (E, K)
    # out_t = bias + sum_k w_k * x_{t-K+1+k}: K shifted multiply-adds, no padding copy.
    out = x * w[:, K - 1] if bias is None else torch.addcmul(bias.to(w.dtype), x, w[:, K - 1])
    for k in range(K - 1):
        shift = K - 1 - k
        if shift < x.shape[0]:
            out[shift:].addcmul_(x[:-shift], w[:, k])
    return F.silu(out, inplace=True)
