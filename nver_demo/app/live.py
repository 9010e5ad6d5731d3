"""The live meter: emotions while the microphone records. No Gradio.

The browser streams the microphone in chunks (every :data:`EVERY_S` seconds); :func:`step` adds
each chunk to the visitor's :class:`Session`, and whenever :data:`EVERY_S` seconds of new sound
have arrived it runs the model on the last :data:`WINDOW_S` seconds — unless they are silence,
then it only says "listening…" (no model run: a quiet room costs nothing). Each answer adds its
family to a history of the last :data:`HISTORY_S` seconds. After :data:`MAX_S` seconds of sound
the meter stops by itself (the recording may go on; it is analysed whole when it stops).

The whole recording (at most :data:`MAX_S` s, 16 kHz mono float32: 3.8 MB) is kept so the page
can analyse it as one clip when the recording stops.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .. import audio, families
from ..predict import Prediction

log = logging.getLogger(__name__)
_FAMILY = {f.name: f for f in families.FAMILIES}

#: The model hears this many seconds (the models were trained on 0.7–2 s bursts).
WINDOW_S = 2.0
#: A new answer every this many seconds of sound (also the browser's chunk length).
EVERY_S = 0.5
#: The history strip covers this many seconds.
HISTORY_S = 20.0
#: The meter stops by itself after this many seconds of sound.
MAX_S = 60.0
#: The newest chunk quieter than this (RMS) is silence: "listening…", no model run. 15 dB above
#: the app's "quiet clip" warning level would refuse a soft sigh; -50 dBFS is the warning level.
SILENCE_DBFS = -50.0
#: Sample rate the session keeps (every backbone resamples from it itself).
SR = 16000

Predict = Callable[[np.ndarray, int], Prediction]


@dataclass
class Session:
    """One visitor's live recording: the sound so far, when the model last ran, the history."""

    chunks: list[np.ndarray] = field(default_factory=list)
    samples: int = 0  # total kept
    analysed_at: int = 0  # ``samples`` when the model last ran (or was skipped for silence)
    history: list[tuple[float, str | None]] = field(default_factory=list)  # (end second, family)
    last: Prediction | None = None
    runs: int = 0  # model runs (the bench counts them)
    run_s: float = 0.0  # seconds spent in them
    stopped: bool = False  # MAX_S reached

    @property
    def seconds(self) -> float:
        return self.samples / SR

    def recording(self) -> np.ndarray:
        """All the sound so far, as one float32 array at :data:`SR`."""
        return np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.float32)

    def tail(self, n: int) -> np.ndarray:
        """The last ``n`` samples (fewer at the start)."""
        need, out = n, []
        for c in reversed(self.chunks):
            out.append(c)
            need -= len(c)
            if need <= 0:
                break
        x = np.concatenate(out[::-1]) if out else np.zeros(0, np.float32)
        return x[-n:] if n else x[:0]

    def window(self) -> np.ndarray:
        """The last :data:`WINDOW_S` seconds."""
        return self.tail(int(WINDOW_S * SR))


@dataclass
class Update:
    """What the page shows after a chunk: a new prediction, or why there is none."""

    prediction: Prediction | None  # None: nothing new to show (keep the bars as they are)
    status: str  # "listening…", "live: …", "stopped…"


def to_16k(sr: int, chunk: np.ndarray) -> np.ndarray:
    """A browser chunk (int16/int32/float, mono or stereo, any rate) as float32 mono at 16 kHz."""
    x = audio.to_mono(audio.to_float(np.asarray(chunk)))
    return audio.resample(x, int(sr), SR).astype(np.float32) if int(sr) != SR else x.astype(np.float32)


def level_dbfs(x: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0
    return 20 * np.log10(max(rms, 1e-12))


def step(session: Session, sr: int, chunk: np.ndarray, predict: Predict) -> Update:
    """Add a chunk; run ``predict`` on the last :data:`WINDOW_S` s when :data:`EVERY_S` s of new
    sound have come and they are not silence."""
    if session.stopped:
        return Update(None, _stopped())
    x = to_16k(sr, chunk)
    if not np.isfinite(x).all():
        x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    session.chunks.append(x)
    session.samples += len(x)
    if session.seconds >= MAX_S:
        session.stopped = True
        return Update(None, _stopped())
    if session.samples - session.analysed_at < int(EVERY_S * SR * 0.9):  # chunks of ~EVERY_S
        return Update(None, "")
    new = session.tail(session.samples - session.analysed_at)  # the sound since the last answer
    session.analysed_at = session.samples
    if level_dbfs(new) < SILENCE_DBFS:
        session.history.append((session.seconds, None))
        return Update(None, f"listening… (quiet: {level_dbfs(new):.0f} dBFS)")
    t0 = time.perf_counter()
    pred = predict(session.window(), SR)
    session.run_s += time.perf_counter() - t0
    session.runs += 1
    session.last = pred
    session.history.append((session.seconds, pred.family))
    return Update(pred, f"live · {session.seconds:.1f} s · last {WINDOW_S:g} s heard")


def _stopped() -> str:
    return f"The live meter stopped after {MAX_S:.0f} s; press Stop to analyse the whole recording."


def history_html(session: Session | None) -> str:
    """The strip of families over the last :data:`HISTORY_S` s: one cell per answer (grey: quiet),
    newest on the right, with a legend of the families seen."""
    if session is None or not session.history:
        return "<div class='live-strip-empty'>History of the last 20 s: nothing yet.</div>"
    now = session.seconds
    recent = [(t, f) for t, f in session.history if t > now - HISTORY_S]
    cells = []
    for t, fam in recent:
        f = _FAMILY.get(fam) if fam else None
        color, title = (f.color, f.name) if f else ("#9ca3af33", "quiet")
        cells.append(f"<span class='live-cell' style='background:{color}' title='{t:.1f} s: {title}'></span>")
    seen = list(dict.fromkeys(f for _, f in recent if f))
    legend = " ".join(
        f"<span class='family-swatch' style='background:{_FAMILY[f].color}'></span>{f}"
        for f in seen
        if f in _FAMILY
    )
    return (
        f"<div class='live-strip' aria-label='families over the last {HISTORY_S:.0f} s'>{''.join(cells)}</div>"
        f"<div class='small-note'>Last {HISTORY_S:.0f} s, newest on the right (grey: quiet). {legend}</div>"
    )
