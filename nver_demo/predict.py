"""Inference: embed a clip with each backbone a checkpoint needs, then run its head.

Three levels, as in SpeechBrain's interfaces: :func:`embed_clip` (backbones only, each run
once however many heads share it), :meth:`Predictor.predict_embeddings` (head only) and
:meth:`Predictor.predict` (a whole clip).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import audio, backbones, calibration, checkpoint, families, novelty, voice_check
from .backbones import Backbone
from .enrolment import Enrolment

log = logging.getLogger(__name__)

_lock = threading.Lock()


@functools.cache
def _cached_backbone(name: str, random_init: bool, device: str | None) -> Backbone:
    return backbones.load(name, random_init=random_init, device=device)


def get_backbone(name: str, *, random_init: bool = False, device: str | None = None) -> Backbone:
    """Process-wide cache: each backbone is built once and shared by every predictor."""
    with _lock:  # building the same model twice from two request threads wastes seconds
        return _cached_backbone(name, random_init, device)


@dataclass
class Prediction:
    """Result for one clip. ``probs`` is sorted, most likely first, and sums to 1."""

    label: str
    probs: dict[str, float]
    embeddings: dict[str, np.ndarray]  # backbone name -> (dim,)
    views: dict[str, np.ndarray]  # head views (e.g. "fused") -> (d,)
    timings: dict[str, float] = field(default_factory=dict)  # stage -> seconds
    #: Emotion family -> summed probability (families.FAMILIES order); empty for non-EmoGator labels.
    families: dict[str, float] = field(default_factory=dict)
    #: Plain sentence: how often a top-1 at this confidence was right in cross-validation (or None).
    reliability: str | None = None
    #: True when ``probs`` are temperature-scaled (the checkpoint carries a fitted temperature).
    calibrated: bool = False
    #: Distance to the nearest emotion in the discriminant subspace (:mod:`nver_demo.novelty`);
    #: None when the checkpoint has no novelty model.
    novelty: float | None = None
    novelty_threshold: float | None = None
    #: True when the clip is unlike the training bursts or is not a voice; ``ood_reasons`` says why
    #: ("novel", "no voice: <reason>").
    out_of_domain: bool = False
    ood_reasons: list[str] = field(default_factory=list)
    #: Other clips of the speaker the enrolled head normalised by (0: the plain head answered).
    enrolment_clips: int = 0
    #: The signal checks' verdict (:mod:`nver_demo.voice_check`), when the clip's audio was seen.
    voice: voice_check.VoiceCheck | None = None

    def top(self, k: int = 5) -> list[tuple[str, float]]:
        return list(self.probs.items())[:k]

    def mark_voice(self, check: voice_check.VoiceCheck) -> Prediction:
        """Record the signal checks' verdict; no voice makes the clip out of domain."""
        self.voice = check
        if not check.is_voice:
            self.out_of_domain = True
            self.ood_reasons += [
                f"no voice: {r}" for r in check.reasons if f"no voice: {r}" not in self.ood_reasons
            ]
            self.reliability = None  # an in-domain accuracy says nothing about a non-voice input
        return self

    def trust(self) -> dict:
        """The novelty fields as plain JSON (for API ``details``)."""
        return {
            "novelty": None if self.novelty is None else round(self.novelty, 4),
            "novelty_threshold": self.novelty_threshold,
            "out_of_domain": self.out_of_domain,
            "out_of_domain_reasons": list(self.ood_reasons),
            "voice": None if self.voice is None else self.voice.to_dict(),
        }

    def novelty_line(self) -> str:
        """One line for the CLI: the novelty score against its threshold, and the verdict."""
        if self.novelty is None:
            head = "novelty: not fitted for this checkpoint (python -m nver_demo.training.novelty_fit --model ...)"
        else:
            novel = "novel" in self.ood_reasons
            verdict = (
                "unlike the training bursts: the answer is a guess" if novel else "like the training bursts"
            )
            head = f"novelty {self.novelty:.2f} (threshold {self.novelty_threshold:.2f}): {verdict}"
        if self.voice is not None and not self.voice.is_voice:
            head += "; " + self.voice.warning
        return head

    @property
    def family(self) -> str | None:
        """The family of the top label (not the most probable family), or None."""
        fam = families.family_of(self.label)
        return fam.name if fam else None


def embed_clip(
    names: list[str], wave: np.ndarray, sr: int, *, random_init: bool = False, device: str | None = None
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Embed one clip with each named backbone once. Returns (embeddings, seconds per backbone)."""
    embs, timings = {}, {}
    for name in dict.fromkeys(names):
        t0 = time.perf_counter()
        bb = get_backbone(name, random_init=random_init, device=device)
        t1 = time.perf_counter()
        embs[name] = bb.embed(wave, sr)
        timings[f"load {name}"] = t1 - t0
        timings[f"embed {name}"] = time.perf_counter() - t1
    return embs, timings


class Predictor:
    """A checkpoint ready for inference.

    >>> p = Predictor.load("reno-ge2e+compare")   # doctest: +SKIP
    >>> p.predict(wave, sr).top(3)                 # doctest: +SKIP
    """

    def __init__(
        self, ckpt: checkpoint.Checkpoint, device: str | None = None, random_init: bool = False
    ) -> None:
        self.checkpoint = ckpt
        self.device = device
        self.random_init = random_init  # random-init backbones: tests and benchmarks only
        path = ckpt.path
        self.novelty = novelty.load(path, ckpt.meta.get("novelty")) if path is not None else None

    @classmethod
    def load(
        cls, name_or_path: str | Path, device: str | None = None, random_init: bool = False
    ) -> Predictor:
        return cls(checkpoint.load(checkpoint.resolve(name_or_path)), device, random_init)

    @property
    def name(self) -> str:
        return self.checkpoint.name

    @property
    def labels(self) -> list[str]:
        return self.checkpoint.labels

    @property
    def backbones(self) -> list[str]:
        return self.checkpoint.backbones

    @property
    def meta(self) -> dict:
        return self.checkpoint.meta

    @property
    def min_enrolment_clips(self) -> int | None:
        """Enrolment clips from which the enrolled head answers (None: this checkpoint has none)."""
        block = self.meta.get("enrolment")
        return int(block["min_clips"]) if block and self.checkpoint.enrolled is not None else None

    def enrolment(self, clips: Sequence) -> Enrolment:
        """An :class:`~nver_demo.enrolment.Enrolment` from other clips of the same speaker: each a
        ``(wave, sr)`` pair or a ``{backbone: embedding}`` dict (e.g. ``Prediction.embeddings``)."""
        embs = []
        for c in clips:
            if isinstance(c, dict):
                embs.append(c)
            else:
                mono, _ = audio.validate(*c)
                embs.append(embed_clip(self.backbones, mono, c[1], random_init=self.random_init,
                                       device=self.device)[0])  # fmt: skip
        return Enrolment.from_embeddings(embs)

    def predict_embeddings(self, embeddings: dict[str, np.ndarray], enrol: Enrolment | None = None) -> Prediction:
        """Run the head on precomputed backbone embeddings (keys: backbone names).

        With an ``enrol`` of at least :attr:`min_enrolment_clips` clips, the speaker-enrolled head
        answers on ``embedding - enrolment mean`` (with its own calibration); with fewer, or a
        checkpoint without one, the plain head does and ``enrolment_clips`` is 0."""
        missing = [b for b in self.backbones if b not in embeddings]
        if missing:
            raise ValueError(f"{self.name} needs embeddings from {missing}")
        t0 = time.perf_counter()
        need = self.min_enrolment_clips
        use = enrol is not None and need is not None and enrol.n_clips >= need
        head, cal = self.checkpoint.head, self.meta.get("calibration") or {}
        inputs = embeddings
        if use:
            head, cal = self.checkpoint.enrolled, self.meta["enrolment"].get("calibration") or {}
            inputs = enrol.normalise(embeddings, self.backbones)
        xs = [torch.from_numpy(np.asarray(inputs[b], dtype=np.float32)[None]) for b in self.backbones]
        with torch.inference_mode():
            out = head(*xs)
            logits = out.logits.float()[0].numpy()
        p = calibration.softmax(logits, cal.get("temperature", 1.0))
        p = p / p.sum()
        order = np.argsort(-p)
        probs = {self.labels[i]: float(p[i]) for i in order}
        views = {k: v[0].numpy() for k, v in out.views.items()}
        t1 = time.perf_counter()
        score = (
            None if self.novelty is None else self.novelty.score(novelty.concat(embeddings, self.backbones))
        )
        novel = score is not None and score > self.novelty.threshold
        pred = Prediction(
            label=self.labels[order[0]],
            probs=probs,
            embeddings={b: np.asarray(embeddings[b]) for b in self.backbones},
            views=views,
            timings={"head": time.perf_counter() - t0},
            families=families.family_probs(probs) if families.covers(self.labels) else {},
            reliability=calibration.plain_words(float(p[order[0]]), cal.get("bins_after", [])),
            calibrated="temperature" in cal,
            novelty=score,
            novelty_threshold=None if self.novelty is None else self.novelty.threshold,
            out_of_domain=novel,
            ood_reasons=["novel"] if novel else [],
            enrolment_clips=enrol.n_clips if use else 0,
        )
        if novel:
            pred.reliability = None  # accuracy measured on EmoGator bursts says nothing here
        pred.timings["novelty"] = time.perf_counter() - t1
        return pred

    def predict(self, wave: np.ndarray, sr: int, enrol: Sequence | Enrolment | None = None) -> Prediction:
        """Classify one clip (any dtype, mono or multi-channel, any sample rate).

        ``enrol``: other clips of the same speaker (``(wave, sr)`` pairs or embedding dicts, see
        :meth:`enrolment`), never the clip itself; from :attr:`min_enrolment_clips` of them the
        speaker-enrolled head answers (``pred.enrolment_clips`` says how many it used).

        Raises :class:`nver_demo.audio.AudioError` for empty, non-finite, too short or silent clips.
        The clip's novelty and the signal checks (:mod:`nver_demo.voice_check`) set
        ``out_of_domain``; a no-voice clip's warning is ``pred.voice.warning``.
        """
        mono, _ = audio.validate(wave, sr)
        t0 = time.perf_counter()
        check = voice_check.check(mono, sr)
        t_check = time.perf_counter() - t0
        embs, timings = embed_clip(self.backbones, mono, sr, random_init=self.random_init, device=self.device)
        if enrol is not None and not isinstance(enrol, Enrolment):
            enrol = self.enrolment(enrol)
        pred = self.predict_embeddings(embs, enrol).mark_voice(check)
        pred.timings = {**timings, **pred.timings, "voice check": t_check}
        return pred

    def predict_file(self, path: str | Path) -> Prediction:
        """Classify an audio file as the app's Analyze tab does: through the input gate
        (:func:`nver_demo.clip_select.read_clip`: the same checks and sentences as the app and
        the CLI; silence around a long recording trimmed, at most its first 10 s of sound).
        What was done to the clip (trimmed, cut, amplified) is logged as warnings.

        Raises :class:`nver_demo.audio.AudioError` naming the file when it cannot be used.
        """
        from .clip_select import read_clip

        clip = read_clip(path)
        for w in clip.warnings:
            log.warning("%s: %s", clip.name, w)
        return self.predict(clip.wave, clip.sr)
