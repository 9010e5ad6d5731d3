"""Head registry: classifiers that sit on frozen backbone embeddings.

>>> from nver_demo import heads
>>> heads.available()
['fcn', 'cnn', 'linear', 'lda', 'concat', 'reno', 'reno_token', 'mata', 'mata_batch']
>>> head = heads.build("reno", dims=(256, 88), n_classes=30)
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import Head, HeadOutput, count_parameters
from .fusion import ConcatHead, RENOHead, TokenRENOHead
from .linear import LDAHead, LinearHead
from .mata import MATAHead
from .mata_batch import BatchMATAHead
from .renyi import renyi_divergence
from .single import CNNHead, FCNHead
from .sinkhorn import sinkhorn


@dataclass(frozen=True)
class HeadSpec:
    name: str
    cls: type[Head]
    n_inputs: int
    description: str


_REGISTRY: dict[str, HeadSpec] = {}


def register(name: str, cls: type[Head], description: str) -> None:
    if name in _REGISTRY:
        raise ValueError(f"Head {name!r} is registered twice")
    _REGISTRY[name] = HeadSpec(name, cls, cls.n_inputs, description)


register("fcn", FCNHead, "Dense 512 -> 128 -> classes on one embedding (seed paper's FCN).")
register(
    "cnn", CNNHead, "1-D conv block (32, 64 filters) over one embedding, then the FCN (seed paper's CNN)."
)
register(
    "linear",
    LinearHead,
    "Logistic-regression probe on one embedding (full-batch L-BFGS, L2 chosen on held-out speakers).",
)
register(
    "lda",
    LDAHead,
    "Linear discriminant analysis on one embedding (shrunk shared covariance, closed form, shrinkage "
    "chosen on held-out speakers); the same linear layer as the probe at inference.",
)
register(
    "concat", ConcatHead, "Two backbones: conv block each, concatenated, FCN. RENO without its two additions."
)
register(
    "reno",
    RENOHead,
    "Seed paper's method as its authors publish it: conv block + self-attention per backbone, each "
    "projected to 256-d, Rényi alignment (beta 2, delta 0.2), attention over the two 256-d vectors, "
    "FCN; loss 0.4 CE + 0.6 Rényi.",
)
register(
    "reno_token",
    TokenRENOHead,
    "RENO, our earlier token-level reading: Rényi term (beta 0.5) over the 20x64 conv tokens, "
    "attention over all 40 tokens, FCN; loss CE + 0.1 Rényi (values guessed before the authors' were known).",
)
register(
    "mata",
    MATAHead,
    "MATA paper, our per-clip reading: Sinkhorn transport between the two backbones' 20 conv tokens "
    "carries each branch into the other's space, own + transported views fused by an FCN.",
)
register(
    "mata_batch",
    BatchMATAHead,
    "MATA, the authors' batch-transport reading: 120-d vectors, Sinkhorn across the clips of a "
    "mini-batch, six tokens, 8-head attention, dense 128. One clip alone: transport is the identity.",
)


def available(n_inputs: int | None = None) -> list[str]:
    """Head names; ``n_inputs=1`` for single-backbone heads, ``2`` for fusion heads."""
    return [n for n, s in _REGISTRY.items() if n_inputs is None or s.n_inputs == n_inputs]


def spec(name: str) -> HeadSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"Unknown head {name!r}. Available: {', '.join(available())}") from None


def build(name: str, dims: tuple[int, ...], n_classes: int, **config) -> Head:
    """Build head ``name`` for embeddings of sizes ``dims`` and ``n_classes`` outputs.

    ``config`` overrides the head's keyword defaults (e.g. ``beta=0.5`` for RENO).
    """
    s = spec(name)
    dims = tuple(dims)
    if len(dims) != s.n_inputs:
        raise ValueError(
            f"Head {name!r} takes {s.n_inputs} backbone embedding(s), got {len(dims)} dims {dims}"
        )
    return s.cls(dims, n_classes, **config)


__all__ = [
    "BatchMATAHead",
    "Head",
    "HeadOutput",
    "HeadSpec",
    "MATAHead",
    "available",
    "build",
    "count_parameters",
    "register",
    "renyi_divergence",
    "sinkhorn",
    "spec",
]
