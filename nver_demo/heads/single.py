"""Single-backbone heads from the seed paper: FCN and CNN."""

from __future__ import annotations

import torch

from .base import Head, HeadOutput, zero
from .blocks import FCN, ConvBlock


class FCNHead(Head):
    """Embedding -> dense 512 -> dense 128 -> classes (paper: "FCN").

    Parameters grow with the embedding size (dim x 512 in the first layer): 0.46M for a 768-d
    embedding, 2.0M for Audio-MAMBA base's 3840. The paper reports 0.7-1M for all backbones,
    which no single reading of "dense 512 -> dense 128" on these inputs reproduces.
    """

    def __init__(self, dims: tuple[int, ...], n_classes: int, dropout: float = 0.3) -> None:
        super().__init__(dims, n_classes)
        self.dropout = dropout
        self.fcn = FCN(dims[0], n_classes, dropout)

    def _forward(self, x: torch.Tensor) -> HeadOutput:
        h = self.fcn.penultimate(x)
        return HeadOutput(self.fcn.out(h), zero(x), {"fused": h})

    def config(self) -> dict:
        return {"dropout": self.dropout}


class CNNHead(Head):
    """Embedding -> conv block (32, 64 filters, kernel 3, max-pool) -> flatten -> FCN (paper: "CNN").

    The conv block ends in a linear map over positions to ``tokens`` positions (see ConvBlock),
    so the head has 64 x tokens x 512 + dim // 4 x tokens + ... parameters: 1.00M for a 768-d
    embedding, 1.02M for Audio-MAMBA base's 3840 (default 28 tokens), inside the paper's
    0.9-1.1M band.
    """

    def __init__(self, dims: tuple[int, ...], n_classes: int, tokens: int = 28, dropout: float = 0.3) -> None:
        super().__init__(dims, n_classes)
        self.tokens, self.dropout = tokens, dropout
        self.conv = ConvBlock(dims[0], tokens, dropout=dropout / 3)
        self.fcn = FCN(ConvBlock.channels * tokens, n_classes, dropout)

    def _forward(self, x: torch.Tensor) -> HeadOutput:
        h = self.fcn.penultimate(self.conv(x).flatten(1))
        return HeadOutput(self.fcn.out(h), zero(x), {"fused": h})

    def config(self) -> dict:
        return {"tokens": self.tokens, "dropout": self.dropout}
