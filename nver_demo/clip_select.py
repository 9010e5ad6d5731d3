"""Reading a short clip (Analyze, Compare, the CLI's ``predict``, :meth:`Predictor.predict_file`):
through the :mod:`~nver_demo.inputs` gate, decode the start, check it is usable, trim silence
around a recording, keep what the models can use.

The models know 0.5–2 s bursts, so at most the first :data:`MAX_ANALYSIS_S` seconds of sound
are analysed (after trimming leading/trailing silence from recordings longer than
:data:`TRIM_LONGER_THAN_S`), and only the first :data:`DECODE_S` seconds of a file are decoded.
Every problem raises :class:`~nver_demo.audio.AudioError` with a sentence a person can act on,
naming the file (its base name).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import audio, inputs

log = logging.getLogger(__name__)

#: Seconds of sound analysed at most (from the start of the sound).
MAX_ANALYSIS_S = 10.0
#: Seconds decoded at most: enough to skip leading silence, bounded for huge uploads.
DECODE_S = 60.0
#: Recordings longer than this get leading/trailing silence trimmed (dataset clips are shorter).
TRIM_LONGER_THAN_S = 2.5
#: A clip below the silence threshold is amplified instead of refused when its loudest 20 ms frame
#: stands at least this many dB above its quiet background (a real sound, recorded far too low)...
SOUND_OVER_FLOOR_DB = 20.0
#: ...and is above this level (below it is digital silence or dither, not a sound).
LOUDEST_FRAME_MIN_DBFS = -90.0
#: Level (RMS) such a clip is amplified to: a typical level of the training clips' sound.
AMPLIFY_TO_DBFS = -30.0


@dataclass
class Clip:
    """The part of an upload that is analysed, and what was done to get it."""

    wave: np.ndarray  # mono float32 at ``sr``
    sr: int
    name: str
    format: str
    source_seconds: float | None  # length of the whole file (None when unknown)
    start_s: float  # analysed span within the file
    end_s: float
    stats: audio.ClipStats
    notes: list[str] = field(default_factory=list)  # what was done, shown with the results
    warnings: list[str] = field(default_factory=list)  # shown as pop-up warnings too
    decode_s: float = 0.0


def read_clip(path: str | Path | None) -> Clip:
    """Decode and check an upload, a recording or a file given to the CLI or the API. Raises
    :class:`audio.AudioError` with a sentence a person can act on (nothing given, not found, not
    audio, corrupt, NaN, too short, silent), the same from every entry point."""
    src = inputs.check_file(path)
    t0 = time.perf_counter()
    data, sr = inputs.decode(src, max_seconds=DECODE_S)
    decode_s = time.perf_counter() - t0
    x = audio.to_mono(audio.to_float(data))
    inputs.check_finite(x, sr, src.name)
    clip = _select(x, sr, _duration(src.path), src.name)
    clip.name, clip.format, clip.decode_s = src.name, src.format, decode_s
    return clip


def _duration(path: Path) -> float | None:
    import soundfile as sf

    try:
        return float(sf.info(str(path)).duration)
    except Exception:  # formats only ffmpeg reads: length unknown without ffprobe
        log.debug("no duration for %s", path.name)
        return None


def check_usable(x: np.ndarray, sr: int, name: str) -> audio.ClipStats:
    """Stats of a finite mono clip, or the gate's sentence: too short (or no samples at all), silent."""
    st = audio.stats(x, sr)
    if st.duration_s < audio.MIN_DURATION_S:
        raise inputs.too_short(name, st.duration_s)
    if st.is_silent:
        raise inputs.silent(name, st.level_dbfs)
    return st


def _select(x: np.ndarray, sr: int, total_s: float | None, name: str) -> Clip:
    """Amplify a real sound recorded far too low, validate, trim silence from long recordings,
    keep the first MAX_ANALYSIS_S seconds."""
    notes, warnings = [], []
    x, amplified = amplify_quiet_sound(x, sr, name)
    if amplified:
        warnings.append(amplified)
    check_usable(x, sr, name)  # empty, too short, silent: AudioError
    start, end = 0, len(x)
    if len(x) / sr > TRIM_LONGER_THAN_S:
        start, end = trim_silence(x, sr)
        cut = (start + len(x) - end) / sr
        if cut >= 0.3:
            parts = [f"{s:.1f} s {where}" for s, where in ((start / sr, "at the start"),
                     ((len(x) - end) / sr, "at the end")) if s >= 0.05]  # fmt: skip
            notes.append(f"Trimmed silence: {' and '.join(parts)}.")
    decoded_s = len(x) / sr
    # Decoding stopped at the limit (up to a codec frame short: opus gives 59.9935 s of 60) or the file ended.
    total_s = total_s if total_s is not None else (None if decoded_s >= DECODE_S - 0.05 else decoded_s)
    if (end - start) / sr > MAX_ANALYSIS_S:
        end = start + int(MAX_ANALYSIS_S * sr)
        length = f"{_mmss(total_s)} long" if total_s else f"longer than {DECODE_S:.0f} s"
        msg = (
            f"The clip is {length}; only {start / sr:.1f}–{end / sr:.1f} s was analysed. "
            f"The models were trained on 0.5–2 s vocal bursts: trim your file to the sound you want judged."
        )
        warnings.append(msg)
    wave = np.ascontiguousarray(x[start:end], dtype=np.float32)
    st = check_usable(wave, sr, name)
    if st.is_quiet:
        warnings.append(
            f"The clip is very quiet ({st.level_dbfs:.0f} dBFS): the result is less reliable. "
            "Record closer to the microphone if you can."
        )
    return Clip(wave, sr, "", "", total_s, start / sr, end / sr, st, notes, warnings)


def amplify_quiet_sound(x: np.ndarray, sr: int, name: str = "clip") -> tuple[np.ndarray, str]:
    """A clip below the silence threshold that still holds a sound (its loudest 20 ms stand
    :data:`SOUND_OVER_FLOOR_DB` over its quiet background) is amplified to :data:`AMPLIFY_TO_DBFS`
    (peak kept below full scale); returns it and a warning saying so. A silent clip without such a
    sound raises AudioError naming the level measured and the threshold; anything else (empty,
    NaN, loud enough) is returned unchanged for :func:`check_usable` to judge."""
    if x.size == 0 or not np.isfinite(x).all():
        return x, ""
    st = audio.stats(x, sr)
    if not st.is_silent or st.duration_s < audio.MIN_DURATION_S:
        return x, ""
    hop = max(1, int(0.02 * sr))
    n = max(1, len(x) // hop)
    frames = np.sqrt(np.mean(np.square(x[: n * hop].reshape(n, -1), dtype=np.float64), axis=1))
    loudest, floor = float(frames.max()), float(np.percentile(frames, 10))
    contrast = 20 * np.log10(max(loudest, 1e-12) / max(floor, 1e-12))
    if 20 * np.log10(max(loudest, 1e-12)) < LOUDEST_FRAME_MIN_DBFS or contrast < SOUND_OVER_FLOOR_DB:
        raise inputs.silent(
            name,
            st.level_dbfs,
            f", and no sound stands out of its background (loudest "
            f"20 ms {contrast:.0f} dB above it; a sound needs {SOUND_OVER_FLOOR_DB:.0f})",
        )
    gain_db = min(AMPLIFY_TO_DBFS - st.level_dbfs, 20 * np.log10(0.95 / st.peak))
    y = (x * 10 ** (gain_db / 20)).astype(np.float32)
    return y, (
        f"The clip is very quiet ({st.level_dbfs:.0f} dBFS, below the {audio.SILENCE_DBFS:.0f} dBFS "
        f"silence threshold) but holds a sound {contrast:.0f} dB above its background: it was amplified "
        f"by {gain_db:.0f} dB to analyse it. The result is less reliable; record closer to the microphone "
        "if you can."
    )


def _mmss(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m}:{s:02d} min" if m else f"{seconds:.1f} s"


def trim_silence(x: np.ndarray, sr: int, floor_db: float = 45.0, pad_s: float = 0.1) -> tuple[int, int]:
    """(start, end) samples without leading/trailing stretches quieter than the loudest 20 ms
    frame minus ``floor_db`` dB (or -60 dBFS), keeping ``pad_s`` seconds around the sound."""
    hop = max(1, int(0.02 * sr))
    n = len(x) // hop
    if n < 3:
        return 0, len(x)
    rms = np.sqrt(np.mean(np.square(x[: n * hop].reshape(n, hop), dtype=np.float64), axis=1))
    thresh = max(rms.max() * 10 ** (-floor_db / 20), audio.SILENCE_RMS)
    loud = np.flatnonzero(rms >= thresh)
    if len(loud) == 0:
        return 0, len(x)
    pad = int(pad_s * sr)
    return max(0, loud[0] * hop - pad), min(len(x), (loud[-1] + 1) * hop + pad)
