"""Linear probe: multinomial logistic regression on a standardised embedding.

Not one of the seed paper's heads: the standard way to ask how much a frozen representation
knows, and on EmoGator the strongest head for Whisper features (README). It is trained
differently from the neural heads (``train.fit``): full-batch L-BFGS to convergence with an
L2 penalty, the penalty chosen on held-out training speakers, as scikit-learn's
``LogisticRegression`` would with ``C`` (objective ``0.5 ||W||^2 + C sum_i CE_i``).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .base import Head, HeadOutput, zero

#: Inverse regularisation strengths tried on the validation speakers (scikit-learn's C).
C_GRID = (1e-4, 3e-4, 1e-3, 3e-3)


class LinearHead(Head):
    """Standardise -> Linear(dim, classes). ``views["fused"]`` is the class-score vector."""

    full_batch = True  # train.fit uses fit_lbfgs instead of mini-batch Adam

    def __init__(self, dims: tuple[int, ...], n_classes: int, C: float = 1e-3) -> None:
        super().__init__(dims, n_classes)
        if C <= 0:
            raise ValueError(f"C must be > 0, got {C}")
        self.C = C
        self.linear = nn.Linear(dims[0], n_classes)

    def _forward(self, x: torch.Tensor) -> HeadOutput:
        logits = self.linear(x)
        return HeadOutput(logits, zero(x), {"fused": logits})

    def config(self) -> dict:
        return {"C": self.C}

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
