"""Audio in: decode, convert to float, downmix, resample, and check a clip is usable.

Every waveform that reaches a backbone passes through :func:`prepare`, so dtype handling
(int16 / int32 / uint8 PCM, float) and resampling live in exactly one place.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

#: Clips shorter than this (seconds) carry too little sound to classify.
MIN_DURATION_S = 0.05
#: RMS below this (full scale = 1.0: -60 dBFS) counts as silence: nothing to analyse.
SILENCE_RMS = 1e-3
SILENCE_DBFS = -60.0
#: RMS below this (-50 dBFS) is near-silent: analysed with a warning, left out of training.
QUIET_RMS = 10 ** (-50 / 20)


class AudioError(ValueError):
    """A clip that cannot be used, with a sentence a person can act on."""


@dataclass(frozen=True)
class ClipStats:
    """Facts about a prepared clip: what a UI shows and what validation checks."""

    duration_s: float
    rms: float
    peak: float

    @property
    def is_silent(self) -> bool:
        return self.rms < SILENCE_RMS

    @property
    def is_quiet(self) -> bool:
        """Near-silent (below -50 dBFS): usable, but the result is less reliable."""
        return self.rms < QUIET_RMS

    @property
    def level_dbfs(self) -> float:
        return float(20 * np.log10(max(self.rms, 1e-12)))


def to_float(wave: np.ndarray) -> np.ndarray:
    """Convert PCM or float samples to float32 in [-1, 1], keeping the channel layout.

    Integer PCM is scaled by its own dtype's full scale (int16 → 2**15, int32 → 2**31,
    unsigned 8-bit is centred on 128), never by a fixed 32768.
    """
    wave = np.asarray(wave)
    if wave.dtype.kind == "f":
        return wave.astype(np.float32, copy=False)
    if wave.dtype.kind == "u":
        info = np.iinfo(wave.dtype)
        mid = (int(info.max) + 1) / 2
        return ((wave.astype(np.float64) - mid) / mid).astype(np.float32)
    if wave.dtype.kind == "i":
        scale = float(-np.iinfo(wave.dtype).min)
        return (wave.astype(np.float64) / scale).astype(np.float32)
    if wave.dtype.kind == "b":
        return wave.astype(np.float32)
    raise AudioError(f"Audio samples of type {wave.dtype} are not a sound format this app understands.")


def to_mono(wave: np.ndarray) -> np.ndarray:
    """Average channels. Accepts (n,), (n, channels) or (channels, n) with few channels."""
    if wave.ndim == 1:
        return wave
    if wave.ndim != 2:
        raise AudioError(f"Expected a 1-D or 2-D array of samples, got shape {wave.shape}.")
    # (channels, n) layouts come from librosa/torch; (n, channels) from soundfile/gradio.
    axis = 0 if wave.shape[0] <= 8 and wave.shape[1] > wave.shape[0] else 1
    return wave.mean(axis=axis).astype(np.float32, copy=False)


def resample(wave: np.ndarray, sr: int, target_sr: int) -> np.ndarray:
    """Band-limited resampling (soxr, through librosa). No-op when the rates match."""
    if sr == target_sr:
        return wave
    if sr <= 0:
        raise AudioError(f"Sample rate must be positive, got {sr}.")
    import soxr

    return soxr.resample(wave, sr, target_sr, quality="HQ").astype(np.float32, copy=False)


def prepare(wave: np.ndarray, sr: int, target_sr: int) -> np.ndarray:
    """Any array of samples → finite mono float32 at ``target_sr``.

    Non-finite samples are replaced by zero; callers that must reject them check
    :func:`validate` first.
    """
    x = to_mono(to_float(wave))
    if not np.all(np.isfinite(x)):
        x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    return np.ascontiguousarray(resample(x, int(sr), int(target_sr)), dtype=np.float32)


def stats(wave: np.ndarray, sr: int) -> ClipStats:
    """Duration, RMS and peak of a float mono clip."""
    if wave.size == 0:
        return ClipStats(0.0, 0.0, 0.0)
    return ClipStats(
        duration_s=wave.shape[0] / float(sr),
        rms=float(np.sqrt(np.mean(np.square(wave, dtype=np.float64)))),
        peak=float(np.max(np.abs(wave))),
    )


def validate(wave: np.ndarray, sr: int) -> tuple[np.ndarray, ClipStats]:
    """Check a raw clip is usable; return it as mono float32 (original rate) and its stats.

    Raises :class:`AudioError` with a human sentence for empty, non-finite, too short or
    silent clips.
    """
    x = to_mono(to_float(wave))
    if x.size == 0:
        raise AudioError("The clip is empty: record or upload a sound first.")
    bad = ~np.isfinite(x)
    if bad.any():
        raise AudioError(
            f"The clip contains {int(bad.sum())} invalid samples (NaN or infinity); "
            "it looks corrupt. Please record or export it again."
        )
    st = stats(x, sr)
    if st.duration_s < MIN_DURATION_S:
        raise AudioError(
            f"The clip is only {st.duration_s * 1000:.0f} ms long; "
            f"at least {MIN_DURATION_S * 1000:.0f} ms of sound is needed."
        )
    if st.is_silent:
        raise AudioError(
            f"The clip is silent: its level is {st.level_dbfs:.0f} dBFS, below the "
            f"{SILENCE_DBFS:.0f} dBFS silence threshold. Check the microphone or pick a louder recording."
        )
    return x, st


def load(path: str | Path, max_seconds: float | None = None) -> tuple[np.ndarray, int]:
    """Decode an audio file to (float32 samples [n] or [n, ch], sample rate).

    soundfile handles wav/flac/ogg/opus/mp3 without ffmpeg; other containers (webm, m4a/aac,
    ...) are decoded by ffmpeg when it is installed. Raises :class:`AudioError` naming the
    format when nothing can decode the file. ``max_seconds`` decodes only the start of the
    file (a long upload then costs neither the time nor the memory of decoding all of it).
    """
    import soundfile as sf

    path = Path(path)
    try:
        with sf.SoundFile(path) as f:
            frames = -1 if max_seconds is None else max(1, int(max_seconds * f.samplerate))
            data = f.read(frames, dtype="float32", always_2d=False)
            return data, int(f.samplerate)
    except Exception as e:  # soundfile raises LibsndfileError, RuntimeError, TypeError...
        first = e
    ext = path.suffix.lower().lstrip(".") or "unknown"
    if shutil.which("ffmpeg") is None:
        raise AudioError(
            f"Could not decode this '{ext}' file: it is not wav, flac, ogg/opus or mp3, "
            "and ffmpeg (needed for webm, m4a and other formats) is not installed."
        ) from first
    try:
        return _ffmpeg_decode(path, max_seconds=max_seconds), FFMPEG_RATE
    except AudioError as e:
        raise AudioError(f"Could not decode this '{ext}' file as audio: {e}") from first


#: Rate ffmpeg decodes to; every backbone resamples from here (>= 2x any model's rate).
FFMPEG_RATE = 48000


def _ffmpeg_decode(path: Path, timeout_s: float = 60.0, max_seconds: float | None = None) -> np.ndarray:
    limit = [] if max_seconds is None else ["-t", f"{max_seconds:g}"]
    # -rematrix_maxval 1: the down-mix averages the channels, as to_mono does (ffmpeg's default
    # stereo -> mono sums them at -3 dB each: 3 dB louder, past full scale for a loud file).
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), *limit, "-vn", "-ac", "1",
           "-rematrix_maxval", "1", "-ar", str(FFMPEG_RATE), "-f", "f32le", "-acodec", "pcm_f32le",
           "pipe:1"]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as e:
        raise AudioError(f"decoding took longer than {timeout_s:.0f} s") from e
    if proc.returncode != 0 or not proc.stdout:
        msg = proc.stderr.decode(errors="replace").strip().splitlines()
        raise AudioError(msg[-1] if msg else "no audio stream found")
    return np.frombuffer(proc.stdout, dtype="<f4").astype(np.float32)
