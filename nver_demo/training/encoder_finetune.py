"""Fine-tune Whisper-base's whole lower encoder (conv stem + blocks 1-4) on vocal bursts, one
speaker-grouped fold at a time, and score LDA on the tuned features against LDA on the frozen ones
in the same fold (issue: adapt Whisper).

    python -m nver_demo.training.encoder_finetune --fold 0                     # ~30 min on one core
    python -m nver_demo.training.encoder_finetune --fold 1 --set epochs=6 ...  # folds: one process each

:mod:`.finetune` tunes block 4 alone from cached block-3 outputs, and moved nothing. Here every
weight under the pooled blocks moves, so no state can be cached: each clip becomes Whisper's
log-mel once (seconds for the whole corpus), and each step runs blocks 1-4 forward and backward
(~33 ms per clip on one core under bfloat16 autocast; a GPU makes an epoch a matter of seconds).

- The model is exactly the ``whisper-base`` backbone's embedding (mean and std over time of
  blocks 2-4, clips un-padded: padded batches are masked so that each clip's features equal those
  of the clip alone, tested), followed by the linear probe fitted on the frozen features of the
  fit speakers, so step 0 *is* the probe.
- Augmentation on the log-mel: random crops of both ends (time shift), SpecAugment time and
  frequency masks (filled with the clip's floor).
- Early stopping on held-out training *speakers*, the probe's validation macro-F1 as the floor.
- The score that matters is the default head's: LDA (its shrinkage chosen on held-out training
  speakers, as ``train`` fits it) refitted on the tuned encoder's features of the whole training
  fold, against LDA on the frozen features of the same fold, both on the test speakers. Written
  to ``<work>/fold<k>.json`` (scores) and ``<work>/fold<k>.npz`` (out-of-fold probabilities).
- ``--set epochs=6 score_epochs=3`` scores a 6-epoch and a 3-epoch run in one go (the schedule is
  constant, so the first epochs of the longer run are the shorter run).
- ``--set 'blocks=[2,3,4,5,6]'`` pools other blocks (and tunes the encoder up to the highest);
  the fold's probe and its "frozen" LDA are then on those blocks' frozen features.
- ``--set speaker_adversarial=1.0`` adds a speaker head and trains the encoder to confuse it
  (:func:`training_loss`).
- ``--set average=true`` also scores the mean of the weights at every evaluation (``lda_averaged``).
- ``--set mixup=0.2`` mixes each training batch with a shuffle of itself (in the power domain,
  :func:`mix_logmel`; the loss mixed with the same weight); ``--set label_smoothing=0.1`` smooths
  the emotion targets.
- ``--set supcon=0.5 class_pairs=true`` adds a supervised contrastive term (:func:`supcon_loss`)
  on the normalised features, over batches in which every clip has a same-emotion partner
  (:func:`class_pair_batches`).
- ``--set vtlp=0.1`` warps each training clip's frequency axis by up to 10 % (:func:`warp_mel`).

:mod:`.encoder_final` then tunes the encoder on every speaker (the shipped ``whisper-base-ft``
weights) and makes the ``lda-whisper-base-ft`` checkpoint, whose CV is these five folds.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .. import metrics
from ..models.whisper_encoder import LogMel, WhisperEncoder
from . import train
from .finetune import length_batches, mixed_cross_entropy, with_overrides

log = logging.getLogger(__name__)

POOLED_BLOCKS = (2, 3, 4)  # the whisper-base embedding


@dataclass(frozen=True)
class EncoderFinetuneConfig:
    epochs: int = 3
    batch_size: int = 32
    lr_encoder: float = 1e-5
    lr_head: float = 1e-5
    weight_decay: float = 0.01
    crop: float = 0.15  # up to this share of frames cut from the start and from the end
    time_masks: int = 2
    time_width: float = 0.1  # each time mask up to this share of the clip
    freq_masks: int = 2
    freq_width: int = 8  # mel bands
    evals_per_epoch: int = 1
    bf16: bool = True  # autocast for the training passes; evaluation stays float32
    val_fraction: float = 0.15
    seed: int = 0
    # > 0: also keep the weights a run of this many epochs would have kept (the schedule is
    # constant, so the first epochs of a longer run *are* the shorter run); a fold scores both
    score_epochs: int = 0
    # the pooled blocks (the encoder is tuned up to the highest); other than the shipped
    # embedding's, a fold probes and scores the frozen features of these blocks too
    blocks: tuple = POOLED_BLOCKS
    # > 0: a speaker classifier on the pooled features, and the encoder trained to confuse it
    # with this weight (ramped up from 0 over the run; see training_loss), so that the tuned
    # features carry less of who made the sound
    speaker_adversarial: float = 0.0
    lr_speaker: float = 1e-3
    # also keep the mean of the encoder's weights over every evaluation from the first epoch on
    # (stochastic weight averaging along the run, Izmailov et al. 2018); a fold scores it too
    average: bool = False
    # > 0: mixup (Zhang et al. 2018) with this Beta(a, a); each clip of a batch is mixed with the
    # clip a shuffle of the batch puts beside it, by power (mix_logmel), at the batch's weight
    # lambda >= 0.5, and the loss is lambda CE(y) + (1 - lambda) CE(y_partner)
    mixup: float = 0.0
    # the emotion cross-entropy's label smoothing (Szegedy et al. 2016)
    label_smoothing: float = 0.0
    # > 0: plus this weight times the supervised contrastive loss (Khosla et al. 2020) of the
    # L2-normalised features at this temperature: same-emotion clips pulled together, others
    # pushed apart, the within- and between-class scatter that LDA then reads
    supcon: float = 0.0
    supcon_temperature: float = 0.1
    # batches (still of similar length) in which every clip has a same-emotion partner, so that
    # every anchor of the contrastive term has a positive (class_pair_batches)
    class_pairs: bool = False
    # > 0: vocal tract length perturbation (Jaitly & Hinton 2013): each training clip's frequency
    # axis warped by a factor drawn from U[1 - v, 1 + v] (warp_mel), as if another speaker
    # made the sound; recording level needs no such augmentation (clips are peak-normalised)
    vtlp: float = 0.0


def adversary_weight(weight: float, progress: float) -> float:
    """The speaker confusion's weight at ``progress`` (0..1) through the run: 0 at the start,
    ``weight`` near the end (Ganin & Lempitsky's ramp ``2 / (1 + exp(-10 p)) - 1``)."""
    return weight * (2.0 / (1.0 + np.exp(-10.0 * progress)) - 1.0)


def supcon_loss(z: torch.Tensor, y: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Supervised contrastive loss (Khosla et al. 2020, L_out): for each anchor with at least one
    other clip of its class in the batch, minus the mean over those positives of the log-softmax
    of its cosine similarities / ``temperature`` to every other clip; averaged over those anchors
    (0 when no anchor has a positive)."""
    p = F.normalize(z.float(), dim=1)
    sim = p @ p.T / temperature
    self_ = torch.eye(len(y), dtype=torch.bool, device=z.device)
    log_prob = torch.log_softmax(sim.masked_fill(self_, float("-inf")), dim=1)
    pos = (y[:, None] == y[None, :]) & ~self_
    n_pos = pos.sum(1)
    has = n_pos > 0
    if not bool(has.any()):
        return z.sum() * 0.0
    per_anchor = -(log_prob.masked_fill(~pos, 0.0)).sum(1)[has] / n_pos[has]
    return per_anchor.mean()


def class_pair_batches(lengths: np.ndarray, idx: np.ndarray, y: np.ndarray, size: int,
                       rng: np.random.Generator) -> list[np.ndarray]:  # fmt: skip
    """Every index of ``idx`` once, in shuffled batches of about ``size`` clips of similar length
    (as :func:`~.finetune.length_batches`), in which every clip whose class has two or more clips
    in its pool of ``16 size`` has a same-class partner: each pool's clips are paired within their
    class by length (a triple where a class has an odd count), and the groups, sorted by length,
    fill the batches."""
    idx = rng.permutation(idx)
    out = []
    for s in range(0, len(idx), size * 16):
        chunk = idx[s : s + size * 16]
        groups = []
        for c in np.unique(y[chunk]):
            members = chunk[y[chunk] == c]
            members = members[np.argsort(lengths[members], kind="stable")]
            cuts = list(range(0, len(members) - 1, 2))  # pairs; the last three together if odd
            groups += [members[a:b] for a, b in zip(cuts, [*cuts[1:], len(members)])] or [members]
        groups.sort(key=lambda g: lengths[g].max())
        batch = []
        for g in groups:
            if batch and len(batch) + len(g) > size:
                out.append(np.array(batch))
                batch = []
            batch.extend(g)
        if batch:
            out.append(np.array(batch))
    return [out[i] for i in rng.permutation(len(out))]


def training_loss(z, y, linear: nn.Module, speaker: nn.Module | None = None, spk=None, weight: float = 0.0,
                  mix=None, smoothing: float = 0.0, supcon: float = 0.0, temperature: float = 0.1):  # fmt: skip
    """Cross-entropy of the emotion head on the normalised features ``z``; with a ``speaker``
    head, plus (a) its cross-entropy on the speakers ``spk``, which trains the head alone (``z``
    detached), and (b) ``weight`` times the cross-entropy of its prediction against the uniform
    distribution over speakers, which moves only what is below ``z`` (the head's weights detached):
    the encoder is pushed to make every speaker look equally likely (Tzeng et al. 2015's domain
    confusion). Bounded below by log(speakers), unlike reversing the speaker loss's gradient,
    which lets the encoder make the head confidently wrong without end (it diverged: docs/accuracy.md).

    ``mix = (y_partner, lam)``: the emotion loss is ``lam`` CE(y) + (1 - lam) CE(y_partner)
    (mixup); ``smoothing``: label smoothing of the emotion targets; ``supcon``: plus this weight
    times :func:`supcon_loss` of ``z`` at ``temperature`` (not with ``mix``)."""
    loss = mixed_cross_entropy(linear(z), y, mix, smoothing)
    if supcon > 0:
        if mix is not None:
            raise ValueError("supcon does not combine with mixup")
        loss = loss + supcon * supcon_loss(z, y, temperature)
    if speaker is not None:
        loss = loss + F.cross_entropy(speaker(z.detach()), spk)
        logits = F.linear(z, speaker.weight.detach(), speaker.bias.detach())
        loss = loss - weight * F.log_softmax(logits, 1).mean()
    return loss


class PooledEncoder(nn.Module):
    """Conv stem + blocks 1..max(blocks) of a Whisper encoder -> mean and std over the valid
    tokens of each pooled block, concatenated: the ``whisper-base`` backbone's embedding."""

    def __init__(self, encoder: WhisperEncoder, blocks: tuple[int, ...] = POOLED_BLOCKS) -> None:
        super().__init__()
        self.blocks = tuple(blocks)
        self.conv1, self.conv2 = encoder.conv1, encoder.conv2
        self.embed_positions = encoder.embed_positions
        self.layers = encoder.layers[: max(self.blocks)]
        self.dim = 2 * encoder.config.d_model * len(self.blocks)

    def forward(self, mel: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """``mel`` (B, n_mels, T) zero beyond each clip's ``frames`` (B,) -> (B, dim)."""
        t = mel.shape[-1]
        fmask = (torch.arange(t, device=mel.device)[None] < frames[:, None]).to(mel.dtype)
        # Zeroing the stem's output beyond the clip makes the stride-2 conv see what it sees at
        # the end of a lone clip (zero padding), so batching does not change any feature.
        x = F.gelu(self.conv1(mel)) * fmask[:, None]
        x = F.gelu(self.conv2(x)).transpose(1, 2)
        x = x + self.embed_positions.weight[: x.shape[1]]
        tokens = (frames + 1) // 2
        tmask = torch.arange(x.shape[1], device=x.device)[None] < tokens[:, None]
        m = tmask[..., None].to(x.dtype)
        n = tokens[:, None].to(x.dtype)
        out = []
        for i, layer in enumerate(self.layers, 1):
            x = layer(x, tmask)
            if i in self.blocks:
                mu = (x * m).sum(1) / n
                var = ((x - mu[:, None]).square() * m).sum(1) / n
                out += [mu, var.clamp_min(0).sqrt()]
        return torch.cat(out, 1)


def clip_mels(dataset, progress: bool = True, cache: Path | None = None) -> list[np.ndarray]:
    """Whisper log-mels ``(80, T)`` float16 of every clip, prepared as the backbone prepares them
    (mono, 16 kHz, peak-normalised, at least 0.2 s, at most 30 s).

    ``cache``: an ``.npz`` file holding them (written when missing; read when it holds every clip
    of ``dataset``, a superset included), so the folds and the final fit decode the corpus once.
    """
    from tqdm.auto import tqdm

    from .. import audio
    from ..backbones.whisper import encoder_input

    paths = np.array([str(item.path) for item in dataset.items])
    if cache is not None and cache.exists():
        with np.load(cache) as z:
            where = {p: i for i, p in enumerate(z["paths"])}
            if all(p in where for p in paths):
                every = np.split(z["mels"], np.cumsum(z["frames"])[:-1], axis=1)
                return [every[where[p]] for p in paths]
        log.warning("%s lacks some of the clips: recomputing the log-mels", cache)
    logmel = LogMel(80)
    out = []
    for item in tqdm(dataset.items, desc="log-mels", unit="clip", disable=not progress):
        wave, sr = audio.load(item.path)
        w = encoder_input(audio.prepare(audio.to_mono(audio.to_float(wave)), sr, 16000))
        with torch.no_grad():
            out.append(logmel(torch.from_numpy(w)).numpy().astype(np.float16))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(tmp, paths=paths, frames=np.array([m.shape[1] for m in out]), mels=np.concatenate(out, 1))
        tmp.replace(cache)
    return out


@functools.lru_cache(maxsize=4)
def _mel_centres(n: int) -> np.ndarray:
    """The centre frequencies (Hz) of Whisper's ``n`` Slaney mel bands at 16 kHz."""
    import librosa

    return librosa.mel_frequencies(n_mels=n + 2, fmin=0.0, fmax=8000.0)[1:-1]


def warp_mel(m: np.ndarray, alpha: float) -> np.ndarray:
    """A log-mel ``(n_mels, frames)`` with its frequency axis scaled by ``alpha`` (VTLP): band
    ``i`` takes the value the clip had at ``f_i / alpha`` (``f_i`` its centre in Hz on Whisper's
    Slaney mel scale), interpolated between bands; held at the edges."""
    n = m.shape[0]
    centres = _mel_centres(n)
    pos = np.interp(centres / alpha, centres, np.arange(n, dtype=np.float64))
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    frac = (pos - lo).astype(m.dtype)[:, None]
    return m[lo] * (1 - frac) + m[hi] * frac


def _augment(m: np.ndarray, cfg: EncoderFinetuneConfig, rng: np.random.Generator) -> np.ndarray:
    n = m.shape[1]
    if cfg.vtlp > 0:
        m = warp_mel(m, float(rng.uniform(1.0 - cfg.vtlp, 1.0 + cfg.vtlp)))
    if n < 40:
        return m
    a, b = rng.integers(0, int(cfg.crop * n) + 1, size=2)
    m = m[:, a : n - b].copy()
    floor = m.min()
    for _ in range(cfg.time_masks):
        w = rng.integers(0, int(cfg.time_width * m.shape[1]) + 1)
        s = rng.integers(0, m.shape[1] - w + 1)
        m[:, s : s + w] = floor
    for _ in range(cfg.freq_masks):
        w = rng.integers(0, cfg.freq_width + 1)
        s = rng.integers(0, m.shape[0] - w + 1)
        m[s : s + w] = floor
    return m


def mix_logmel(a: np.ndarray, b: np.ndarray, lam: float) -> np.ndarray:
    """``lam`` of clip ``a`` plus ``1 - lam`` of clip ``b`` by power, as Whisper log-mels
    (``(log10 P + 4) / 4``), so that the mix is what the two sounds played together would
    roughly give (their phases unrelated). ``a``'s length: ``b`` is cut, or continued by its floor."""
    n = a.shape[1]
    if b.shape[1] >= n:
        b = b[:, :n]
    else:
        b = np.concatenate([b, np.full((b.shape[0], n - b.shape[1]), b.min(), b.dtype)], 1)
    power_a, power_b = (10.0 ** (4.0 * m.astype(np.float64) - 4.0) for m in (a, b))
    p = lam * power_a + (1.0 - lam) * power_b
    return ((np.log10(p) + 4.0) / 4.0).astype(a.dtype)


def draw_mix(n: int, alpha: float, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """A batch's mixup: each of its ``n`` clips' partner (a shuffle) and the weight ``lam`` of
    the clip itself, Beta(alpha, alpha) folded onto [0.5, 1] (so the clip keeps its length)."""
    lam = float(rng.beta(alpha, alpha))
    return rng.permutation(n), max(lam, 1.0 - lam)


def _batch(mels, ids, cfg=None, rng=None, mix=None) -> tuple[torch.Tensor, torch.Tensor]:
    ms = [mels[i].astype(np.float32) for i in ids]
    if rng is not None:
        ms = [_augment(m, cfg, rng) for m in ms]
    if mix is not None:
        partner, lam = mix
        ms = [mix_logmel(m, ms[p], lam) for m, p in zip(ms, partner)]
    frames = np.array([m.shape[1] for m in ms])
    out = np.zeros((len(ms), ms[0].shape[0], frames.max()), dtype=np.float32)
    for r, m in enumerate(ms):
        out[r, :, : m.shape[1]] = m
    return torch.from_numpy(out), torch.from_numpy(frames)


@torch.inference_mode()
def features(model: PooledEncoder, mels, ids, device=torch.device("cpu"), batch_size: int = 64) -> np.ndarray:
    model.eval()
    ids = np.asarray(ids)
    out = np.zeros((len(ids), model.dim), dtype=np.float32)
    lengths = np.array([mels[i].shape[1] for i in ids])
    for b in length_batches(lengths, np.arange(len(ids)), batch_size):
        mel, frames = _batch(mels, ids[b])
        out[b] = model(mel.to(device), frames.to(device)).float().cpu().numpy()
    return out


class WeightMean:
    """A running mean of state dicts (float32), for weight averaging along a run."""

    def __init__(self) -> None:
        self.n, self.state = 0, None

    def add(self, state: dict[str, torch.Tensor]) -> None:
        self.n += 1
        if self.state is None:
            self.state = {k: v.detach().clone().float() for k, v in state.items()}
            return
        for k, v in state.items():
            self.state[k] += (v.detach().float() - self.state[k]) / self.n


@dataclass
class EncoderFinetuneResult:
    model: PooledEncoder
    history: list[dict]
    best_step: int
    probe_val_f1: float
    best_val_f1: float
    seconds: float
    # what a run of ``config.score_epochs`` epochs would have kept: epochs, best step, val F1, weights
    earlier: dict | None = None
    # with ``config.average``: the mean weights over the evaluations after step 0, and how many
    averaged: dict | None = None

    def record(self, device: torch.device) -> dict:
        """What a run writes down about its fine-tuning (fold or final)."""
        earlier = {}
        if self.earlier:
            n = self.earlier["epochs"]
            earlier = {f"best_step_{n}_epochs": self.earlier["best_step"],
                       f"best_val_macro_f1_{n}_epochs": self.earlier["best_val_f1"]}  # fmt: skip
        return {
            "probe_val_macro_f1": self.probe_val_f1,
            "best_val_macro_f1": self.best_val_f1,
            "best_step": self.best_step,
            **earlier,
            **({"averaged_evaluations": self.averaged["evaluations"]} if self.averaged else {}),
            "history": self.history,
            "train_seconds": round(self.seconds, 1),
            "device": str(device),
        }


def finetune_encoder(
    encoder: WhisperEncoder,
    mels: list[np.ndarray],
    base: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    fit_idx: np.ndarray,
    val_idx: np.ndarray,
    config: EncoderFinetuneConfig = EncoderFinetuneConfig(),
    device: torch.device = torch.device("cpu"),
    progress: bool = True,
    groups: np.ndarray | None = None,
) -> EncoderFinetuneResult:
    """Tune a copy of ``encoder`` under the probe fitted on ``base`` (its frozen features of
    ``config.blocks``) of ``fit_idx``; keep the weights with the best macro-F1 on ``val_idx``
    (step 0 = the probe). ``groups`` (the speakers) only serve ``config.speaker_adversarial``."""
    from tqdm.auto import tqdm

    if config.supcon > 0 and config.mixup > 0:
        raise ValueError("supcon does not combine with mixup")
    t0 = time.perf_counter()
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    probe = train.fit_full_batch(
        "linear", [base], y, n_classes, None,
        train.TrainConfig(refit_on_validation=False, seed=config.seed), (fit_idx, val_idx),
    ).head  # fmt: skip
    model = PooledEncoder(copy.deepcopy(encoder), config.blocks).to(device).requires_grad_(True)
    if base.shape[1] != model.dim:
        raise ValueError(f"base has {base.shape[1]} features, blocks {config.blocks} give {model.dim}")
    model.embed_positions.requires_grad_(False)  # Whisper's fixed sinusoids
    norm, linear = copy.deepcopy(probe.norms[0]).to(device), copy.deepcopy(probe.linear).to(device)
    linear.requires_grad_(True)
    heads = [*linear.parameters()]
    speaker = None
    if config.speaker_adversarial > 0:
        if groups is None:
            raise ValueError("speaker_adversarial needs the speakers (groups)")
        speakers, spk = np.unique(groups[fit_idx], return_inverse=True)
        spk_of = np.full(len(y), -1)
        spk_of[fit_idx] = spk
        spk_t = torch.from_numpy(spk_of).long()
        speaker = nn.Linear(model.dim, len(speakers)).to(device)
        heads += [*speaker.parameters()]

    def val_f1() -> float:
        f = torch.from_numpy(features(model, mels, val_idx, device)).to(device)
        with torch.inference_mode():
            pred = linear(norm(f)).argmax(1).cpu().numpy()
        return metrics.scores(y[val_idx], pred, n_classes)["macro_f1"]

    floor = val_f1()
    best = (floor, 0, copy.deepcopy(model.state_dict()))
    history = [{"step": 0, "epoch": 0.0, "val_macro_f1": floor}]
    log.info("probe (step 0): val macro-F1 %.2f", floor)
    param_groups = [{"params": model.parameters(), "lr": config.lr_encoder},
                    {"params": linear.parameters(), "lr": config.lr_head}]  # fmt: skip
    if speaker is not None:
        param_groups.append({"params": speaker.parameters(), "lr": config.lr_speaker})
    opt = torch.optim.AdamW(param_groups, weight_decay=config.weight_decay)
    lengths = np.array([m.shape[1] for m in mels])
    yt = torch.from_numpy(y).long()
    step, earlier = 0, None
    mean = WeightMean() if config.average else None

    def epoch_batches(rng_=None):
        if config.class_pairs:
            return class_pair_batches(lengths, fit_idx, y, config.batch_size, rng_ or np.random.default_rng(0))
        return length_batches(lengths, fit_idx, config.batch_size, rng_)

    total = config.epochs * len(epoch_batches())
    for epoch in range(config.epochs):
        batches = epoch_batches(rng)
        marks = {
            round(len(batches) * (j + 1) / config.evals_per_epoch) for j in range(config.evals_per_epoch)
        }
        bar = tqdm(batches, desc=f"encoder epoch {epoch + 1}", unit="batch", disable=not progress)
        for j, b in enumerate(bar, 1):
            model.train()
            mix = draw_mix(len(b), config.mixup, rng) if config.mixup > 0 else None
            mel, frames = _batch(mels, b, config, rng, mix)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.bf16):
                f = model(mel.to(device), frames.to(device))
            w = adversary_weight(config.speaker_adversarial, step / max(total, 1))
            loss = training_loss(norm(f.float()), yt[b].to(device), linear,
                                 speaker, spk_t[b].to(device) if speaker is not None else None, w,
                                 (yt[b[mix[0]]].to(device), mix[1]) if mix is not None else None,
                                 config.label_smoothing, config.supcon, config.supcon_temperature)  # fmt: skip
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_([*model.parameters(), *heads], 1.0)
            opt.step()
            step += 1
            bar.set_postfix(loss=f"{loss.item():.3f}")
            if j in marks:
                f1 = val_f1()
                history.append(
                    {"step": step, "epoch": round(epoch + j / len(batches), 2), "val_macro_f1": f1}
                )
                log.info("step %d: val macro-F1 %.2f (best %.2f)", step, f1, best[0])
                if f1 > best[0]:
                    best = (f1, step, copy.deepcopy(model.state_dict()))
                if mean is not None:
                    mean.add(model.state_dict())
        if epoch + 1 == config.score_epochs < config.epochs:
            earlier = {"epochs": epoch + 1, "best_val_f1": best[0], "best_step": best[1], "state": best[2]}
    model.load_state_dict(best[2])
    model.eval()
    averaged = {"evaluations": mean.n, "state": mean.state} if mean is not None and mean.n else None
    return EncoderFinetuneResult(model, history, best[1], floor, best[0], time.perf_counter() - t0, earlier,
                                 averaged)  # fmt: skip


def fit_lda(x_train, y_train, g_train, n_classes: int, seed: int = 0):
    """The default head as a checkpoint fits it: LDA, shrinkage chosen on held-out speakers."""
    return train.fit("lda", [x_train], y_train, n_classes, g_train, train.TrainConfig(seed=seed)).head


def run_fold(encoder, mels, base, y, groups, n_classes, k, config, work: Path | None = None,
             device=torch.device("cpu"), progress=True, n_splits: int = 5, labels=None) -> dict:  # fmt: skip
    """Fine-tune on fold ``k``'s training speakers, then fit LDA as ``train`` does (shrinkage
    chosen on held-out training speakers) on the frozen and on the tuned features of the whole
    training fold, and score both on the test speakers (with ``config.score_epochs``, also the
    weights a run that short would have kept). Writes ``fold<k>.json`` (scores), ``fold<k>.npz``
    (test indices and the out-of-fold probabilities) and ``fold<k>.features.npy`` (the tuned
    features of every clip, float16) to ``work``."""
    from .experiment import family_scores

    train_idx, test_idx = train.speaker_folds(y, groups, n_splits, 0)[k]
    fit_rel, val_rel = train.validation_split(
        y[train_idx], groups[train_idx], config.val_fraction, config.seed
    )
    if tuple(config.blocks) != POOLED_BLOCKS:  # the frozen features of the blocks this run pools
        base = features(PooledEncoder(encoder, config.blocks), mels, np.arange(len(y)), device)
    res = finetune_encoder(encoder, mels, base, y, n_classes, train_idx[fit_rel], train_idx[val_rel],
                           config, device, progress, groups)  # fmt: skip
    other = {}  # the weights a fold scores beside the kept ones
    if res.earlier is not None:
        other[f"tuned_{res.earlier['epochs']}_epochs"] = res.earlier["state"]
    if res.averaged is not None:
        other["averaged"] = res.averaged["state"]
    models = {"tuned": res.model}
    for name, state in other.items():
        models[name] = copy.deepcopy(res.model)
        models[name].load_state_dict(state)
    sets = {"frozen": base}
    for name, model in models.items():  # every clip: the fold's training and test speakers
        sets[name] = features(model, mels, np.arange(len(y)), device)
    proba, scores = {}, {}
    for name, x in sets.items():
        head = fit_lda(x[train_idx], y[train_idx], groups[train_idx], n_classes, config.seed)
        proba[name] = train.predict_proba(head, [x[test_idx]])
        pred = proba[name].argmax(1)
        scores[name] = {**metrics.scores(y[test_idx], pred, n_classes), "shrinkage": float(head.shrinkage)}
        if labels is not None:
            scores[name]["family_accuracy"] = family_scores(y[test_idx], pred, labels)
    out = {
        "fold": k,
        "config": asdict(config),
        "lda_frozen_test_macro_f1": scores["frozen"]["macro_f1"],
        "lda_tuned_test_macro_f1": scores["tuned"]["macro_f1"],
        "lda_frozen": scores["frozen"],
        "lda_tuned": scores["tuned"],
        **{f"lda_{name}": scores[name] for name in models if name != "tuned"},
        "n_test": len(test_idx),
        **res.record(device),
    }
    if work is not None:
        work.mkdir(parents=True, exist_ok=True)
        np.savez(work / f"fold{k}.npz", test_idx=test_idx, **proba)
        # the tuned encoder's features of every clip (float16), so other heads can be scored on
        # this fold without tuning again (ignored by everything that reads the fold's results)
        np.save(work / f"fold{k}.features.npy", sets["tuned"].astype(np.float16))
        (work / f"fold{k}.json").write_text(json.dumps(out, indent=1))
    return out


def load_inputs(work: Path):
    """What every fine-tuning run reads: the usable EmoGator clips with their frozen ``whisper-base``
    features (cached), their log-mels (``<work>/mels.npz``) and OpenAI's encoder."""
    from . import cache, datasets, experiment
    from .finetune import default_encoder

    feats = experiment.load_features(datasets.read_emogator(), ["whisper-base"], cache.EmbeddingCache())
    return feats, clip_mels(feats.dataset, cache=work / "mels.npz"), default_encoder()


def main(argv=None) -> None:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m nver_demo.training.encoder_finetune",
                                 description=__doc__.splitlines()[0])  # fmt: skip
    ap.add_argument("--fold", type=int, action="append", help="which fold(s) (default all five)")
    ap.add_argument("--work", type=Path, default=Path("runs/encoder_finetune"))
    ap.add_argument("--device", default=None, help="default: cuda when present, else cpu")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="EncoderFinetuneConfig fields")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = with_overrides(EncoderFinetuneConfig(), args.set)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    feats, mels, encoder = load_inputs(args.work)
    for k in args.fold or range(5):
        if (args.work / f"fold{k}.json").exists():
            log.info("fold %d already done in %s", k, args.work)
            continue
        r = run_fold(encoder, mels, feats.xs[0], feats.y, feats.groups, feats.n_classes, k, cfg, args.work,
                     device, labels=feats.dataset.labels)  # fmt: skip
        print(json.dumps({key: r[key] for key in ("fold", "lda_frozen_test_macro_f1", "lda_tuned_test_macro_f1",
                                                   "probe_val_macro_f1", "best_val_macro_f1", "best_step")}))  # fmt: skip


if __name__ == "__main__":
    main()
