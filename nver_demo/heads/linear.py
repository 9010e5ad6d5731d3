"""Linear heads fitted in one full-batch step: ``Standardize -> Linear(dim, classes)``.

Not the seed paper's heads: the standard ways to ask how much a frozen representation knows,
and on EmoGator the strongest heads for Whisper features (README). They are trained differently
from the neural heads (``train.fit_full_batch``): one regularisation value per fit, chosen on
held-out training speakers from the class's ``grid``.

- :class:`LinearHead` (``linear``): multinomial logistic regression, full-batch L-BFGS to
  convergence with an L2 penalty, as scikit-learn's ``LogisticRegression`` with ``C``
  (objective ``0.5 ||W||^2 + C sum_i CE_i``).
- :class:`LDAHead` (``lda``): linear discriminant analysis with a shared covariance shrunk toward
  a multiple of the identity (``(1 - a) S + a tr(S)/d I``, as scikit-learn's ``shrunk_covariance``),
  in closed form; equal class priors. It models the within-emotion spread (most of it: who is
  speaking) as one Gaussian, which on unseen speakers beats the logistic probe by about a point
  (docs/accuracy.md).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .base import Head, HeadOutput, zero

#: Inverse regularisation strengths tried on the validation speakers (scikit-learn's C).
C_GRID = (1e-4, 3e-4, 1e-3, 3e-3)


class FullBatchLinear(Head):
    """Standardise -> Linear(dim, classes), fitted in one full-batch step by :meth:`fit_full`.
    ``views["fused"]`` is the class-score vector."""

    full_batch = True  # train.fit uses fit_full_batch (fit_full) instead of mini-batch Adam
    #: The regularisation keyword searched on held-out speakers, and the values tried.
    grid_param: str = ""
    grid: tuple[float, ...] = ()

    def __init__(self, dims: tuple[int, ...], n_classes: int) -> None:
        super().__init__(dims, n_classes)
        self.linear = nn.Linear(dims[0], n_classes)

    def _forward(self, x: torch.Tensor) -> HeadOutput:
        logits = self.linear(x)
        return HeadOutput(logits, zero(x), {"fused": logits})

    def config(self) -> dict:
        return {self.grid_param: getattr(self, self.grid_param)}

    def fit_full(self, x: torch.Tensor, y: torch.Tensor) -> int:
        """Fit on raw inputs ``x`` (n, d), after :meth:`fit_normalization`; returns iterations."""
        raise NotImplementedError


class LinearHead(FullBatchLinear):
    """Logistic regression with an L2 penalty of strength ``1 / C``."""

    grid_param = "C"
    grid = C_GRID

    def __init__(self, dims: tuple[int, ...], n_classes: int, C: float = 1e-3) -> None:
        super().__init__(dims, n_classes)
        if C <= 0:
            raise ValueError(f"C must be > 0, got {C}")
        self.C = C

    def fit_full(self, x: torch.Tensor, y: torch.Tensor) -> int:
        return self.fit_lbfgs(x, y)

    def fit_lbfgs(self, x: torch.Tensor, y: torch.Tensor, max_iter: int = 500) -> int:
        """Fit the linear layer on standardised-by-``self`` inputs ``x`` (n, d); returns iterations."""
        z = self.norms[0](x).detach()
        lam = 1.0 / (self.C * len(y))
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)
        opt = torch.optim.LBFGS(self.linear.parameters(), lr=1.0, max_iter=max_iter, history_size=20,
                                tolerance_grad=1e-6, tolerance_change=1e-10, line_search_fn="strong_wolfe")  # fmt: skip

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = F.cross_entropy(self.linear(z), y) + 0.5 * lam * self.linear.weight.square().sum()
            loss.backward()
            return loss

        opt.step(closure)
        return int(opt.state[opt._params[0]].get("n_iter", 0))


#: Shrinkage values tried on the validation speakers (0 = the sample covariance, 1 = its diagonal mean).
SHRINKAGE_GRID = (0.45, 0.6, 0.75)


class LDAHead(FullBatchLinear):
    """Shrinkage LDA on the standardised embedding: the same ``Linear`` at inference as ``linear``.

    Fit: class means ``M`` (K, d), pooled within-class covariance ``S``, shrunk to
    ``S_a = (1 - a) S + a tr(S)/d I``; ``W = S_a^-1 M^T``, ``b_k = -m_k S_a^-1 m_k / 2``, so the logits
    are the Gaussian log-likelihoods up to a shared constant (equal priors). Solved in float64.
    """

    grid_param = "shrinkage"
    grid = SHRINKAGE_GRID

    def __init__(self, dims: tuple[int, ...], n_classes: int, shrinkage: float = 0.6) -> None:
        super().__init__(dims, n_classes)
        if not 0.0 <= shrinkage <= 1.0:
            raise ValueError(f"shrinkage must be in [0, 1], got {shrinkage}")
        self.shrinkage = shrinkage

    def fit_full(self, x: torch.Tensor, y: torch.Tensor) -> int:
        z = self.norms[0](x).detach().double()
        y = y.long()
        counts = torch.bincount(y, minlength=self.n_classes)
        if (counts == 0).any():
            missing = torch.nonzero(counts == 0).flatten().tolist()
            raise ValueError(f"LDA needs every class in the training set; classes {missing} have no example")
        means = torch.zeros(self.n_classes, z.shape[1], dtype=z.dtype).index_add_(0, y, z) / counts[:, None]
        resid = z - means[y]
        cov = resid.T @ resid / max(1, len(y) - self.n_classes)
        a = self.shrinkage
        cov = (1 - a) * cov + a * (torch.trace(cov) / cov.shape[0]) * torch.eye(cov.shape[0], dtype=z.dtype)
        w = torch.linalg.solve(cov, means.T)  # (d, K)
        with torch.no_grad():
            self.linear.weight.copy_(w.T.float())
            self.linear.bias.copy_((-0.5 * (means * w.T).sum(1)).float())
        return 1
