"""What every head returns and shares: logits, an auxiliary loss, and named feature views."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from .blocks import Standardize


@dataclass
class HeadOutput:
    """``logits`` (B, C); ``aux_loss`` the scalar the head adds to its weighted cross-entropy
    (zero for most heads; see :meth:`Head.loss`); ``views`` named (B, d) features for the
    embedding map (e.g. ``"fused"``)."""

    logits: torch.Tensor
    aux_loss: torch.Tensor
    views: dict[str, torch.Tensor] = field(default_factory=dict)


class Head(nn.Module):
    """Base class: one standardiser per input embedding; ``forward(*xs) -> HeadOutput``.

    ``n_inputs`` is 1 for single-backbone heads and 2 for fusion heads. Subclasses implement
    :meth:`_forward` on standardised inputs.
    """

    n_inputs: int = 1
    #: Weight of the cross-entropy in :meth:`loss` (RENO: lambda in lambda CE + (1 - lambda) D).
    ce_weight: float = 1.0
    #: True when a clip's output depends on the other clips of its batch (MATA's batch-transport
    #: reading); such heads are scored one clip at a time, as the app runs them.
    batch_dependent: bool = False

    def __init__(self, dims: tuple[int, ...], n_classes: int) -> None:
        super().__init__()
        dims = tuple(int(d) for d in dims)
        if len(dims) != self.n_inputs:
            raise ValueError(f"{type(self).__name__} takes {self.n_inputs} embedding(s), got dims={dims}")
        if n_classes < 2:
            raise ValueError(f"Need at least 2 classes, got {n_classes}")
        self.dims = dims
        self.n_classes = n_classes
        self.norms = nn.ModuleList(Standardize(d) for d in dims)

    def fit_normalization(self, xs: list[torch.Tensor]) -> None:
        """Fit each input's standardiser on the training matrices ``[(n, d_i), ...]``."""
        for norm, x in zip(self.norms, xs):
            norm.fit(x)

    def forward(self, *xs: torch.Tensor) -> HeadOutput:
        if len(xs) != self.n_inputs:
            raise ValueError(f"{type(self).__name__} expects {self.n_inputs} inputs, got {len(xs)}")
        for x, d in zip(xs, self.dims):
            if x.ndim != 2 or x.shape[1] != d:
                raise ValueError(f"Expected input of shape (B, {d}), got {tuple(x.shape)}")
        return self._forward(*[norm(x) for norm, x in zip(self.norms, xs)])

    def _forward(self, *xs: torch.Tensor) -> HeadOutput:
        raise NotImplementedError

    def loss(self, out: HeadOutput, target: torch.Tensor) -> torch.Tensor:
        """Training objective: ``ce_weight`` x cross-entropy plus the head's auxiliary term."""
        return self.ce_weight * F.cross_entropy(out.logits, target) + out.aux_loss

    def config(self) -> dict:
        """Constructor keyword arguments beyond dims/n_classes (saved in checkpoints)."""
        return {}


def count_parameters(module: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def zero(like: torch.Tensor) -> torch.Tensor:
    return like.new_zeros(())
