"""A timeline of emotions in a long recording: detect every vocal burst, classify each one.

:func:`run` streams the file through :mod:`~nver_demo.app.bursts`, collects bursts into batches,
embeds each batch with every backbone the model needs (each backbone once per burst), runs the
head on each burst, and asks the :mod:`~nver_demo.app.speech_gate` whether it is speech. Bursts'
audio is dropped once classified, so memory stays bounded however long the recording (the app
re-reads a burst from the file when someone wants to hear it: :func:`burst_audio`).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import audio, families
from ..backbones.base import WeightsUnavailable
from ..predict import Predictor, get_backbone
from . import bursts, clips, speech_gate

log = logging.getLogger(__name__)

#: Bursts classified together (bounded memory: at most this many bursts' audio at once).
BATCH = 16
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
            "notes": self.notes,
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
    per burst; the gate judges the batch in one pass."""
    timings: dict[str, float] = {}
    waves = [b.wave for b in batch]
    embs: dict[str, np.ndarray] = {}
    for name in dict.fromkeys(predictor.backbones):
        t0 = time.perf_counter()
        embs[name] = get_backbone(
            name, random_init=predictor.random_init, device=predictor.device
        ).embed_batch(waves, bursts.SAMPLE_RATE)
        timings[f"embed {name}"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    preds = [predictor.predict_embeddings({k: v[i] for k, v in embs.items()}) for i in range(len(batch))]
    timings["head"] = time.perf_counter() - t0
    verdicts: list[speech_gate.GateResult | None] = [None] * len(batch)
    if gate is not None:
        t0 = time.perf_counter()
        verdicts = gate.classify(waves, bursts.SAMPLE_RATE)
        timings["speech gate"] = time.perf_counter() - t0
    rows = []
    for b, p, g in zip(batch, preds, verdicts):
        fam = families.family_of(p.label)
        rows.append(Row(b.start, b.end, p.label, fam.name if fam else None, fam.color if fam else "#888888",
                        p.probs, g, b.level_dbfs))  # fmt: skip
    return rows, timings


def check_file(path: str | Path | None) -> Path:
    """The upload as a path, or :class:`audio.AudioError` with a sentence (nothing given, empty,
    a text file, longer than 30 minutes)."""
    if not path:
        raise audio.AudioError("Nothing to analyse yet: upload or record a recording first.")
    path = Path(path)
    kind = clips.sniff(path)
    if kind == "empty":
        raise audio.AudioError(f"The uploaded file '{path.name}' is empty (0 bytes).")
    if kind == "text":
        raise audio.AudioError(
            f"'{path.name}' is a text file, not audio. Upload a {clips.FORMATS} recording."
        )
    bursts.check_length(bursts.duration(path), f"'{path.name}'")
    return path


def run(
    path: str | Path,
    predictor: Predictor,
    *,
    gate: bool | speech_gate.SpeechGate = True,
    progress: Progress | None = None,
    config: bursts.DetectorConfig = bursts.DetectorConfig(),
    batch_size: int = BATCH,
) -> Timeline:
    """Detect and classify every burst of an audio file (up to 30 minutes).

    Raises :class:`~nver_demo.audio.AudioError` for a file that cannot be decoded or is too long.
    """
    path = check_file(path)
    t_start = time.perf_counter()
    notes: list[str] = []
    g = gate or None
    if gate is True:
        try:
            g = speech_gate.get_gate()
        except (WeightsUnavailable, ImportError) as e:  # the timeline still works without it
            log.warning("speech gate unavailable: %s", e)
            g, notes = None, [f"Bursts were not checked for speech: {e}"]
    timings: dict[str, float] = {"load speech gate": time.perf_counter() - t_start} if g else {}
    rows: list[Row] = []
    pending: list[bursts.Burst] = []
    state = {"done": 0.0, "total": bursts.duration(path) or 0.0}

    def report(done: float, total: float) -> None:
        state["done"], state["total"] = done, total or state["total"]
        if progress is not None and state["total"]:
            progress(
                min(0.99, done / state["total"]),
                f"{_mmss(done)} of {_mmss(state['total'])} · {len(rows)} bursts",
            )

    def flush() -> None:
        # Say what the wait is for: after the last block of the file the bar would otherwise sit
        # at "1:46 of 1:46" while the last batch is classified and checked for speech.
        if progress is not None and state["total"]:
            what = " and checking them for speech" if g else ""
            first = len(rows) + 1
            progress(min(0.99, state["done"] / state["total"]),
                     f"{_mmss(state['done'])} of {_mmss(state['total'])} · classifying bursts "
                     f"{first}–{first + len(pending) - 1}{what}…")  # fmt: skip
        batch_rows, t = classify(predictor, pending, g)
        rows.extend(batch_rows)
        for k, v in t.items():
            timings[k] = timings.get(k, 0.0) + v
        pending.clear()
        report(state["done"], state["total"])

    t0 = time.perf_counter()
    for burst in bursts.detect_file(path, config, progress=report):
        pending.append(burst)
        if len(pending) >= batch_size:
            flush()
    if pending:
        flush()
    total = time.perf_counter() - t0
    timings["decode + detect"] = max(
        0.0, total - sum(v for k, v in timings.items() if k != "load speech gate")
    )
    if progress is not None:
        progress(1.0, f"{len(rows)} bursts")
    device = str(get_backbone(predictor.backbones[0]).device) if predictor.backbones else "cpu"
    return Timeline(path.name, predictor.name, state["done"], rows, timings, device, notes)


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
