"""A timeline of emotions in a long recording: detect every vocal burst, classify each one.

:func:`run` streams the file through :mod:`~nver_demo.app.bursts`, collects bursts into batches,
embeds each batch with every backbone the model needs (each backbone once per burst), runs the
head on each burst, and asks the :mod:`~nver_demo.app.speech_gate` whether it is speech. Bursts'
audio is dropped once classified, so memory stays bounded however long the recording (the app
re-reads a burst from the file when someone wants to hear it: :func:`burst_audio`).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import audio, families, inputs, voice_check
from ..backbones.base import WeightsUnavailable
from ..enrolment import Enrolment
from ..predict import Predictor, get_backbone
from . import bursts, scheduler, speech_gate

log = logging.getLogger(__name__)

#: Bursts classified together (bounded memory: at most this many bursts' audio at once).
BATCH = 16
#: Bursts per speech-gate call. The gate runs one CTranslate2 call at a time (a lock shared with
#: Analyze and Compare, which check their clip too): one burst per call (0.3-0.7 s on one CPU
#: thread, README) lets a short request's check in between, where 8 (the gate's default) would
#: hold the lock for seconds. What batching would save is not measured.
GATE_BATCH = 1
#: Columns of the CSV before the per-label probabilities.
CSV_HEADERS = [
    "start_s",
    "end_s",
    "emotion",
    "probability",
    "family",
    "second",
    "third",
    "speech_gate",
    "heard",
]

Progress = Callable[[float, str], None]  # (fraction done 0..1, what is happening)
#: The progress text while a batch waits at the model-run gate, and the timing of those waits.
WAITING = "Waiting for a model slot (short requests go first)…"
WAIT = "wait for a model slot"


@dataclass
class Row:
    """One burst of the timeline."""

    start: float
    end: float
    label: str
    family: str | None
    color: str
    probs: dict[str, float]  # sorted, most likely first
    gate: speech_gate.GateResult | None
    level_dbfs: float
    trust: dict = field(default_factory=dict)  # Prediction.trust(): novelty, out_of_domain, voice
    #: The burst's backbone embeddings (kept for enrolment by the other bursts; not serialised).
    embeddings: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    #: Other bursts of the recording the enrolled head normalised this one by (0: plain head).
    enrolment_clips: int = 0

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        return list(self.probs.items())[:k]

    @property
    def verdict(self) -> str:
        return self.gate.verdict if self.gate else "not checked"

    def to_dict(self) -> dict:
        return {
            "start": round(self.start, 3), "end": round(self.end, 3), "label": self.label,
            "family": self.family, "probability": round(self.probs[self.label], 4),
            "top3": [[lab, round(p, 4)] for lab, p in self.top(3)],
            "speech_gate": self.verdict, "heard": self.gate.text.strip() if self.gate else "",
            "level_dbfs": round(self.level_dbfs, 1), "probs": {k: round(v, 5) for k, v in self.probs.items()},
            "enrolment_clips": self.enrolment_clips, **self.trust,
        }  # fmt: skip


@dataclass
class Timeline:
    """Every burst of a recording, classified, and what it took."""

    name: str
    model: str
    duration_s: float
    rows: list[Row]
    timings: dict[str, float] = field(default_factory=dict)
    device: str = "cpu"
    notes: list[str] = field(default_factory=list)  # what the reader should know (gate missing...)
    #: Sounds the detector found that the signal checks say are not a voice: not counted as bursts.
    not_voice: int = 0

    def family_counts(self) -> dict[str, int]:
        counts = {f.name: 0 for f in families.FAMILIES}
        for r in self.rows:
            if r.family:
                counts[r.family] += 1
        return {k: v for k, v in counts.items() if v}

    def label_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.rows:
            counts[r.label] = counts.get(r.label, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))

    def to_dict(self) -> dict:
        return {
            "file": self.name, "model": self.model, "duration_s": round(self.duration_s, 2),
            "bursts": [r.to_dict() for r in self.rows], "families": self.family_counts(),
            "labels": self.label_counts(), "speech_bursts": sum(r.verdict == "speech" for r in self.rows),
            "timings": {k: round(v, 3) for k, v in self.timings.items()}, "device": self.device,
            "notes": self.notes, "not_voice": self.not_voice,
            "out_of_domain_bursts": sum(bool(r.trust.get("out_of_domain")) for r in self.rows),
        }  # fmt: skip

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1)

    def to_csv(self) -> str:
        labels = list(self.rows[0].probs) if self.rows else []
        labels = sorted(labels)
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(CSV_HEADERS + [f"p_{lab}" for lab in labels])
        for r in self.rows:
            top = r.top(3) + [("", 0.0)] * 2
            w.writerow([f"{r.start:.2f}", f"{r.end:.2f}", r.label, f"{r.probs[r.label]:.4f}", r.family or "",
                        top[1][0], top[2][0], r.verdict, r.gate.text.strip() if r.gate else ""]
                       + [f"{r.probs.get(lab, 0.0):.5f}" for lab in labels])  # fmt: skip
        return buf.getvalue()


def classify(
    predictor: Predictor, batch: list[bursts.Burst], gate: speech_gate.SpeechGate | None
) -> tuple[list[Row], dict[str, float]]:
    """Rows for a batch of bursts: each backbone embeds the whole batch once, then the head runs
    per burst; the gate judges the batch in one pass. Sounds the signal checks call no voice are
    left out (no row): they are not vocal bursts."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    checks = [voice_check.check(b.wave, bursts.SAMPLE_RATE) for b in batch]
    timings["voice check"] = time.perf_counter() - t0
    batch = [b for b, c in zip(batch, checks) if c.is_voice]
    checks = [c for c in checks if c.is_voice]
    if not batch:
        return [], timings
    waves = [b.wave for b in batch]
    embs: dict[str, np.ndarray] = {}
    for name in dict.fromkeys(predictor.backbones):
        t0 = time.perf_counter()
        embs[name] = get_backbone(
            name, random_init=predictor.random_init, device=predictor.device
        ).embed_batch(waves, bursts.SAMPLE_RATE)
        timings[f"embed {name}"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    preds = [predictor.predict_embeddings({k: v[i] for k, v in embs.items()}).mark_voice(c)
             for i, c in enumerate(checks)]  # fmt: skip
    timings["head"] = time.perf_counter() - t0
    verdicts: list[speech_gate.GateResult | None] = [None] * len(batch)
    if gate is not None:
        t0 = time.perf_counter()
        verdicts = gate.classify(waves, bursts.SAMPLE_RATE, batch_size=GATE_BATCH)
        timings["speech gate"] = time.perf_counter() - t0
    rows = []
    for b, p, g in zip(batch, preds, verdicts):
        fam = families.family_of(p.label)
        rows.append(Row(b.start, b.end, p.label, fam.name if fam else None, fam.color if fam else "#888888",
                        p.probs, g, b.level_dbfs, p.trust(), p.embeddings))  # fmt: skip
    return rows, timings


def enrol_rows(predictor: Predictor, rows: list[Row]) -> str | None:
    """Read every burst again with the speaker-enrolled head, normalised by the recording's *other*
    bursts (a recording of one person is an enrolment of tens of clips). Needs the checkpoint's
    ``min_clips`` other bursts; returns the summary's sentence, or None when it did not apply."""
    need = predictor.min_enrolment_clips
    if need is None or len(rows) - 1 < need or not all(r.embeddings for r in rows):
        return None
    totals = {
        b: np.sum([r.embeddings[b] for r in rows], axis=0, dtype=np.float64) for b in predictor.backbones
    }
    n = len(rows) - 1
    for r in rows:
        e = Enrolment({b: ((totals[b] - r.embeddings[b]) / n).astype(np.float32) for b in totals}, n)
        p = predictor.predict_embeddings(r.embeddings, e)  # r.trust (novelty, voice) stays the plain clip's
        fam = families.family_of(p.label)
        r.label, r.probs, r.enrolment_clips = p.label, p.probs, p.enrolment_clips
        r.family, r.color = (fam.name if fam else None), (fam.color if fam else "#888888")
    cv = (predictor.meta.get("enrolment") or {}).get("cv") or {}
    gain = ""
    if "0" in cv and "20" in cv:
        gain = (f" In cross-validation on unseen speakers this moved macro-F1 from {cv['0']['macro_f1']:.1f} "
                f"to {cv['20']['macro_f1']:.1f} with 20 clips of the speaker.")  # fmt: skip
    return (f"Tuned to this recording's voice: each burst was read after removing what the other {n} bursts "
            f"share (speaker enrolment; it assumes one person is heard).{gain}")  # fmt: skip


def check_file(path: str | Path | None) -> Path:
    """The recording as a path, or :class:`audio.AudioError` with the input gate's sentence
    (:mod:`nver_demo.inputs`: nothing given, not found, a folder, empty, not audio by its content,
    undecodable, too short), or one saying it is longer than 30 minutes."""
    src = inputs.check_file(path)
    data, sr = inputs.decode(src, max_seconds=1.0)  # a corrupt file: the same sentence as on Analyze
    inputs.check_finite(audio.to_mono(audio.to_float(data)), sr, src.name)  # later ones: bursts.stream
    seconds = bursts.duration(src.path)
    if seconds is not None and seconds < audio.MIN_DURATION_S:
        raise inputs.too_short(src.name, seconds)
    bursts.check_length(seconds, f"'{src.name}'")
    return src.path


def _check_heard(path: Path, detector: bursts.BurstDetector) -> None:
    """After the whole recording streamed without a burst: the gate's sentence when it was too
    short or silent (a recording with sound but no burst is a result: no bursts found)."""
    seconds = detector.samples / bursts.SAMPLE_RATE
    if seconds < audio.MIN_DURATION_S:
        raise inputs.too_short(path.name, seconds)
    level = 10 * np.log10(detector.energy / max(detector.samples, 1) + 1e-24)
    if level < audio.SILENCE_DBFS:
        raise inputs.silent(path.name, level)


class _Bar:
    """The visitor's progress bar during :func:`run`: how far the decoder is, and what a wait is for."""

    def __init__(self, progress: Progress | None, total: float, rows: list[Row]) -> None:
        self.progress, self.total, self.rows, self.done = progress, total, rows, 0.0

    def _show(self, text: str) -> None:
        if self.progress is not None and self.total:
            self.progress(min(0.99, self.done / self.total), text)

    def report(self, done: float, total: float) -> None:
        self.done, self.total = done, total or self.total
        self._show(f"{_mmss(done)} of {_mmss(self.total)} · {len(self.rows)} bursts")

    def waiting(self, _: dict) -> None:
        self._show(WAITING)

    def classifying(self, n: int, gate: bool) -> None:
        # Say what the wait is for: after the last block of the file the bar would otherwise sit
        # at "1:46 of 1:46" while the last batch is classified and checked for speech.
        first, what = len(self.rows) + 1, " and checking them for speech" if gate else ""
        self._show(f"{_mmss(self.done)} of {_mmss(self.total)} · classifying bursts "
                   f"{first}–{first + n - 1}{what}…")  # fmt: skip


def run(
    path: str | Path,
    predictor: Predictor,
    *,
    gate: bool | speech_gate.SpeechGate = True,
    progress: Progress | None = None,
    config: bursts.DetectorConfig = bursts.DetectorConfig(),
    batch_size: int = BATCH,
    enrol: bool = True,
    slots: scheduler.RunGate | None = None,
) -> Timeline:
    """Detect and classify every burst of an audio file (up to 30 minutes).

    ``enrol``: when the model has a speaker-enrolled head and there are enough bursts, each burst
    is normalised by the recording's other bursts (:func:`enrol_rows`; the notes say so).
    With ``slots`` (the app's model-run gate) each batch is a long job's turn: it waits for a
    slot, behind any waiting short request, and gives it back before the next batch is detected
    (timing ``"wait for a model slot"``).

    Raises :class:`~nver_demo.audio.AudioError` for a file that cannot be decoded or is too long.
    """
    path = check_file(path)
    t_start = time.perf_counter()
    g, notes = _speech_gate(gate)
    timings: dict[str, float] = {"load speech gate": time.perf_counter() - t_start} if g else {}
    rows: list[Row] = []
    pending: list[bursts.Burst] = []
    bar = _Bar(progress, bursts.duration(path) or 0.0, rows)
    not_voice = 0

    def flush() -> None:
        nonlocal not_voice
        bar.classifying(len(pending), bool(g))
        with _turn(slots, timings, bar.waiting):
            batch_rows, t = classify(predictor, pending, g)
        not_voice += len(pending) - len(batch_rows)
        rows.extend(batch_rows)
        for k, v in t.items():
            timings[k] = timings.get(k, 0.0) + v
        pending.clear()
        bar.report(bar.done, bar.total)

    t0 = time.perf_counter()
    detector = bursts.BurstDetector(config)
    for burst in bursts.detect_file(path, config, progress=bar.report, detector=detector):
        pending.append(burst)
        if len(pending) >= batch_size:
            flush()
    if pending:
        flush()
    if not rows:
        _check_heard(path, detector)
    total = time.perf_counter() - t0
    timings["decode + detect"] = max(
        0.0, total - sum(v for k, v in timings.items() if k != "load speech gate")
    )  # what is left of the wall time after the model batches and the waits for a slot
    if progress is not None:
        progress(1.0, f"{len(rows)} bursts")
    device = str(get_backbone(predictor.backbones[0]).device) if predictor.backbones else "cpu"
    if not_voice:
        notes.append(not_voice_note(not_voice))
    if enrol and (note := enrol_rows(predictor, rows)):
        notes.append(note)
    return Timeline(path.name, predictor.name, bar.done, rows, timings, device, notes, not_voice)


def _speech_gate(gate: bool | speech_gate.SpeechGate) -> tuple[speech_gate.SpeechGate | None, list[str]]:
    """The gate to use (loaded when ``gate`` is True), and the note to show when it is missing."""
    if gate is not True:
        return gate or None, []
    try:
        return speech_gate.get_gate(), []
    except (WeightsUnavailable, ImportError) as e:  # the timeline still works without it
        log.warning("speech gate unavailable: %s", e)
        return None, [f"Bursts were not checked for speech: {e}"]


def not_voice_note(n: int) -> str:
    """The note for sounds left out of the timeline because they are not a voice."""
    sounds = "sound" if n == 1 else "sounds"
    return (f"{n} {sounds} did not sound like a voice (a steady tone, noise, clicks, a constant offset...) "
            "and are not counted as bursts.")  # fmt: skip


@contextlib.contextmanager
def _turn(slots: scheduler.RunGate | None, timings: dict[str, float], on_wait: Callable[[dict], None]):
    """One batch's turn at the model-run gate (none without ``slots``); the wait is timed."""
    if slots is None:
        yield
        return
    t0 = time.perf_counter()
    with slots.slot(scheduler.LONG, on_wait=on_wait):
        timings[WAIT] = timings.get(WAIT, 0.0) + time.perf_counter() - t0
        yield


def burst_audio(path: str | Path, start: float, end: float) -> tuple[int, np.ndarray]:
    """``(sample_rate, samples)`` of one stretch of a file, decoded alone (to listen to a burst)."""
    import soundfile as sf

    try:
        with sf.SoundFile(str(path)) as f:
            f.seek(int(start * f.samplerate))
            x = f.read(max(1, int((end - start) * f.samplerate)), dtype="float32")
            return int(f.samplerate), audio.to_mono(x)
    except Exception:  # not a soundfile format: stream through ffmpeg and cut
        pass
    out, pos = [], 0.0
    for block in bursts.stream(path):
        n = len(block) / bursts.SAMPLE_RATE
        if pos + n > start:
            out.append(block[max(0, int((start - pos) * bursts.SAMPLE_RATE)) :])
        pos += n
        if pos >= end:
            break
    x = np.concatenate(out) if out else np.zeros(0, np.float32)
    return bursts.SAMPLE_RATE, x[: int((end - start) * bursts.SAMPLE_RATE)]


def _mmss(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m}:{s:02d}"
