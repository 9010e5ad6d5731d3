"""Adapt Whisper-base's upper block to vocal bursts, starting from the linear probe.

A frozen linear probe on Whisper-base features reached its ceiling (data.md: doubling the
speakers buys ~1.5 points). This step lets the representation move, cheaply enough for 2 CPU
cores:

1. the frozen lower blocks run once per clip and are cached (:mod:`.whisper_states`);
2. a linear probe is fitted on the frozen features (L2 strength chosen on held-out speakers);
3. a copy of block 4 (:class:`~nver_demo.models.whisper_vb.TunedTop`, plus an attention-pooling
   scorer initialised to the plain mean) is trained with the probe's standardiser and weights as
   its head, so step 0 *is* the probe; the probe's validation macro-F1 is the floor that early
   stopping keeps unless fine-tuning beats it;
4. augmentation suited to 2-second bursts, all on the cached token sequence: random crops of
   the start/end (time shift) and SpecAugment-style time masks (spans of tokens removed from
   attention and pooling), and mixup of the pooled features. Gain augmentation is a no-op here:
   the backbone peak-normalises every clip.

Held-out *speakers* drive early stopping; never the test fold. The tuned block and scorer are
what the ``whisper-base-vb`` backbone loads (:func:`save_weights`).
"""

from __future__ import annotations

import copy
import json
import logging
import time
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .. import metrics
from ..heads.blocks import Standardize
from ..heads.linear import LinearHead
from ..models.whisper_encoder import SIZES, WhisperEncoder
from ..models.whisper_vb import TunedTop
from . import train

log = logging.getLogger(__name__)

FROZEN_BLOCKS = (2, 3)  # pooled statistics taken as they are from the frozen encoder
TUNED_BLOCKS = (4,)  # fine-tuned, starting from the cached output of block 3


@dataclass(frozen=True)
class FinetuneConfig:
    epochs: int = 3
    batch_size: int = 32
    lr_block: float = 3e-5
    lr_head: float = 3e-4
    weight_decay: float = 0.01
    crop: float = 0.15  # up to this share of tokens cut from the start and from the end
    time_masks: int = 2  # spans of tokens masked per clip ...
    mask_width: float = 0.1  # ... each up to this share of the clip
    mixup_alpha: float = 0.2  # Beta(a, a) mixing of pooled features; 0 = off
    evals_per_epoch: int = 3
    patience: int = 4  # evaluations without improvement of the validation macro-F1
    bf16: bool = True  # bfloat16 autocast for the training passes (evaluation stays float32)
    val_fraction: float = 0.15
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


class BurstModel(nn.Module):
    """Frozen statistics + tuned top -> standardise -> linear. Starts as the probe."""

    def __init__(self, top: TunedTop, frozen_dim: int, n_classes: int) -> None:
        super().__init__()
        self.top = top
        self.frozen_dim = frozen_dim
        dim = frozen_dim + top.dim
        self.norm = Standardize(dim)
        self.linear = nn.Linear(dim, n_classes)

    def features(self, frozen: torch.Tensor, h: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return torch.cat([frozen, self.top(h, mask)], dim=1)

    def classify(self, feats: torch.Tensor) -> torch.Tensor:
        return self.linear(self.norm(feats))

    @torch.no_grad()
    def init_from_probe(self, probe: LinearHead) -> None:
        """Copy the probe (fitted on the first ``probe.dims[0]`` features) and give the extra
        attention-pooled features the statistics of the mean they start equal to, weight 0."""
        d = probe.dims[0]
        d_model = self.top.config.d_model
        mean, std = probe.norms[0].mean, probe.norms[0].std
        last_mean = slice(d - 2 * d_model, d - d_model)
        self.norm.mean.copy_(torch.cat([mean, mean[last_mean]]))
        self.norm.std.copy_(torch.cat([std, std[last_mean]]))
        self.linear.weight.zero_()
        self.linear.weight[:, :d] = probe.linear.weight
        self.linear.bias.copy_(probe.linear.bias)


def top_from_encoder(encoder: WhisperEncoder, blocks=TUNED_BLOCKS) -> TunedTop:
    """A TunedTop whose blocks start as copies of the encoder's (1-based block numbers)."""
    top = TunedTop(encoder.config, len(blocks))
    for dst, b in zip(top.blocks, blocks):
        dst.load_state_dict(encoder.layers[b - 1].state_dict())
    return top


def frozen_stats(stats: np.ndarray, blocks=FROZEN_BLOCKS) -> np.ndarray:
    """``(n, layers + 1, 2d)`` cached statistics -> ``(n, 2d * len(blocks))`` features."""
    return np.ascontiguousarray(stats[:, list(blocks)].reshape(len(stats), -1), dtype=np.float32)


def _pad(seqs: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    t = max(len(s) for s in seqs)
    h = np.zeros((len(seqs), t, seqs[0].shape[1]), dtype=np.float32)
    mask = np.zeros((len(seqs), t), dtype=bool)
    for i, s in enumerate(seqs):
        h[i, : len(s)] = s
        mask[i, : len(s)] = True
    return torch.from_numpy(h), torch.from_numpy(mask)


def _augment_mask(mask: torch.Tensor, cfg: FinetuneConfig, rng: np.random.Generator) -> torch.Tensor:
    """Random crop of both ends and time masks, as a smaller mask (at least 5 tokens stay)."""
    mask = mask.clone()
    for i in range(len(mask)):
        n = int(mask[i].sum())
        if n < 10:
            continue
        keep = np.ones(n, dtype=bool)
        a, b = rng.integers(0, int(cfg.crop * n) + 1, size=2)
        keep[:a] = False
        keep[n - b :] = False
        for _ in range(cfg.time_masks):
            w = rng.integers(0, int(cfg.mask_width * n) + 1)
            s = rng.integers(0, n - w + 1)
            keep[s : s + w] = False
        if keep.sum() >= 5:
            mask[i, :n] = torch.from_numpy(keep)
    return mask


def mixed_cross_entropy(logits, y, mix=None, smoothing: float = 0.0):
    """Cross-entropy of ``logits`` on ``y``; with ``mix = (y_partner, lam)`` (mixup),
    ``lam`` CE(y) + (1 - lam) CE(y_partner); ``smoothing``: label smoothing of the targets."""
    loss = F.cross_entropy(logits, y, label_smoothing=smoothing)
    if mix is None:
        return loss
    y2, lam = mix
    return lam * loss + (1.0 - lam) * F.cross_entropy(logits, y2, label_smoothing=smoothing)


def length_batches(lengths: np.ndarray, idx: np.ndarray, size: int, rng: np.random.Generator | None = None):
    """Index batches of similar length (less padding); shuffled when ``rng`` is given."""
    idx = rng.permutation(idx) if rng is not None else np.asarray(idx)
    pool = size * 16
    out = []
    for s in range(0, len(idx), pool):
        chunk = idx[s : s + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        out.extend(chunk[j : j + size] for j in range(0, len(chunk), size))
    if rng is not None:
        out = [out[i] for i in rng.permutation(len(out))]
    return out


@torch.inference_mode()
def embed(top: TunedTop, h: list[np.ndarray], frozen: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Features ``(n, frozen_dim + top.dim)`` of clips from their cached block outputs."""
    top.eval()
    lengths = np.array([len(x) for x in h])
    out = np.zeros((len(h), frozen.shape[1] + top.dim), dtype=np.float32)
    for b in length_batches(lengths, np.arange(len(h)), batch_size):
        hb, mb = _pad([h[i] for i in b])
        out[b] = torch.cat([torch.from_numpy(frozen[b]), top(hb, mb)], dim=1).numpy()
    return out


def _val_f1(model: BurstModel, h, frozen, y, val_idx, n_classes) -> float:
    feats = embed(model.top, [h[i] for i in val_idx], frozen[val_idx])
    with torch.inference_mode():
        pred = model.classify(torch.from_numpy(feats)).argmax(1).numpy()
    return metrics.scores(y[val_idx], pred, n_classes)["macro_f1"]


@dataclass
class FinetuneResult:
    model: BurstModel
    probe: LinearHead
    history: list[dict]
    best_step: int  # optimiser steps at the kept weights (0 = the probe itself)
    probe_val_f1: float
    best_val_f1: float
    seconds: float


def finetune(
    h: list[np.ndarray],
    frozen: np.ndarray,
    base: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    encoder: WhisperEncoder,
    fit_idx: np.ndarray,
    val_idx: np.ndarray,
    config: FinetuneConfig = FinetuneConfig(),
    progress: bool = True,
) -> FinetuneResult:
    """Fine-tune on ``fit_idx``, early-stop on ``val_idx`` (speaker-disjoint from it).

    ``h``: block-3 outputs per clip; ``frozen``: statistics of the frozen blocks; ``base``: the
    ``whisper-base`` embedding (what the probe is fitted on).
    """
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    probe = train.fit_full_batch(
        "linear", [base], y, n_classes, None,
        train.TrainConfig(refit_on_validation=False, seed=config.seed), (fit_idx, val_idx),
    ).head  # fmt: skip
    model = BurstModel(top_from_encoder(encoder), frozen.shape[1], n_classes)
    model.init_from_probe(probe)
    floor = _val_f1(model, h, frozen, y, val_idx, n_classes)
    best = (floor, 0, copy.deepcopy(model.state_dict()))
    history = [{"step": 0, "epoch": 0.0, "val_macro_f1": floor}]
    log.info("probe (step 0): val macro-F1 %.2f", floor)
    opt = torch.optim.AdamW(
        [{"params": model.top.blocks.parameters(), "lr": config.lr_block},
         {"params": [*model.top.score.parameters(), *model.linear.parameters()], "lr": config.lr_head}],
        weight_decay=config.weight_decay,
    )  # fmt: skip
    lengths = np.array([len(x) for x in h])
    step, stale = 0, 0
    yt = torch.from_numpy(y).long()
    for epoch in range(config.epochs):
        batches = length_batches(lengths, fit_idx, config.batch_size, rng)
        marks = {round(len(batches) * (j + 1) / config.evals_per_epoch) for j in range(config.evals_per_epoch)}
        bar = tqdm(batches, desc=f"fine-tune epoch {epoch + 1}", unit="batch", disable=not progress)
        for j, b in enumerate(bar, 1):
            model.train()
            hb, mb = _pad([h[i] for i in b])
            mb = _augment_mask(mb, config, rng)
            with torch.autocast(hb.device.type, dtype=torch.bfloat16, enabled=config.bf16):
                feats = model.features(torch.from_numpy(frozen[b]), hb, mb).float()
            target = yt[b]
            if config.mixup_alpha > 0:
                lam = float(rng.beta(config.mixup_alpha, config.mixup_alpha))
                perm = torch.from_numpy(rng.permutation(len(b)))
                loss = mixed_cross_entropy(model.classify(lam * feats + (1 - lam) * feats[perm]), target,
                                           (target[perm], lam))  # fmt: skip
            else:
                loss = F.cross_entropy(model.classify(feats), target)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            bar.set_postfix(loss=f"{loss.item():.3f}")
            if j in marks:
                f1 = _val_f1(model, h, frozen, y, val_idx, n_classes)
                history.append({"step": step, "epoch": round(epoch + j / len(batches), 2), "val_macro_f1": f1})
                log.info("step %d: val macro-F1 %.2f (best %.2f)", step, f1, best[0])
                if f1 > best[0]:
                    best, stale = (f1, step, copy.deepcopy(model.state_dict())), 0
                else:
                    stale += 1
                if stale >= config.patience:
                    break
        if stale >= config.patience:
            break
    model.load_state_dict(best[2])
    model.eval()
    return FinetuneResult(model, probe, history, best[1], floor, best[0], time.perf_counter() - t0)


def with_overrides(config, pairs: list[str]):
    """``config`` (a frozen dataclass) with ``KEY=VALUE`` command-line overrides, each value JSON
    and cast to the field's type."""
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not hasattr(config, key):
            raise SystemExit(f"--set expects FIELD=VALUE with a field of {type(config).__name__}, got {pair!r}")
        config = replace(config, **{key: type(getattr(config, key))(json.loads(value))})
    return config


def default_encoder() -> WhisperEncoder:
    from ..backbones.whisper import VARIANTS, load_encoder

    return load_encoder(VARIANTS[0])


def random_encoder(size: str = "base") -> WhisperEncoder:
    torch.manual_seed(0)
    return WhisperEncoder(SIZES[size])
