"""Sounds the models never saw, made here: synthetic non-voice signals, channel shifts of real
clips, and rough non-affective vocal sounds (espeak-ng speech and voice-like sounds, shaped-noise
"coughs", "throat clearing" and lip/tongue sounds). Used by the tests and by ``bench/trust_eval.py``.

What each is, honestly: :data:`NON_VOICE` are exact signals (no voice at all). The vocal sounds
are approximations: espeak-ng is a formant synthesiser (a voice model, robotic), and the shaped
noise bursts have the envelope and spectrum of a cough or a click but no vocal folds.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

SR = 16000
#: Synthetic non-voice kinds (see :func:`non_voice`).
NON_VOICE = ("dc", "tone", "square", "white", "pink", "chord", "clicks", "music")
LEVELS_DBFS = (-30.0, -12.0, -1.0)
LENGTHS_S = (0.5, 2.0, 8.0)


def _at_level(x: np.ndarray, dbfs: float) -> np.ndarray:
    """Scale to a peak of ``dbfs`` (a full-scale square wave is 0 dBFS)."""
    return (x / max(1e-12, np.abs(x).max()) * 10 ** (dbfs / 20)).astype(np.float32)


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec))
    spec[1:] /= np.sqrt(f[1:])
    spec[0] = 0
    return np.fft.irfft(spec, n)


def non_voice(kind: str, seconds: float = 2.0, dbfs: float = -12.0, seed: int = 0) -> np.ndarray:
    """One synthetic signal at 16 kHz, peak ``dbfs``: ``dc`` (constant offset), ``tone`` (440 Hz
    sine), ``square`` (220 Hz), ``white``/``pink`` noise, ``chord`` (A major triad of sines),
    ``clicks`` (1-sample clicks, 4 per second), ``music`` (a melody of 0.25-s harmonic notes)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    if kind == "dc":
        x = np.ones(n)
    elif kind == "tone":
        x = np.sin(2 * np.pi * 440 * t)
    elif kind == "square":
        x = np.sign(np.sin(2 * np.pi * 220 * t) + 1e-9)
    elif kind == "white":
        x = rng.standard_normal(n)
    elif kind == "pink":
        x = _pink(n, rng)
    elif kind == "chord":
        x = sum(np.sin(2 * np.pi * f * t) for f in (440.0, 554.37, 659.25))
    elif kind == "clicks":
        x = np.zeros(n)
        x[(np.arange(0.1, seconds, 0.25) * SR).astype(int)] = 1.0
    elif kind == "music":
        notes = 220 * 2 ** (rng.integers(0, 12, size=int(np.ceil(seconds / 0.25))) / 12)
        f = np.repeat(notes, int(0.25 * SR))[:n]
        phase = 2 * np.pi * np.cumsum(f) / SR
        x = sum(np.sin(h * phase) / h for h in (1, 2, 3))
    else:
        raise ValueError(f"unknown kind {kind!r}; kinds: {', '.join(NON_VOICE)}")
    return _at_level(np.asarray(x, dtype=np.float64), dbfs)


# --- channel shifts of a real clip ----------------------------------------------------------------

CHANNELS = ("8khz", "gain+20", "gain-20", "noise20db", "mp3-low")


def channel_shift(wave: np.ndarray, sr: int, kind: str, seed: int = 0) -> tuple[np.ndarray, int]:
    """The same sound through another channel: ``8khz`` (down to 8 kHz and back: telephone band),
    ``gain+20`` (+20 dB, clipped at full scale), ``gain-20``, ``noise20db`` (white noise 20 dB under
    the clip's level), ``mp3-low`` (re-encoded as a ~26 kbit/s MP3 at 16 kHz)."""
    from .. import audio

    x = audio.to_mono(audio.to_float(wave)).astype(np.float32)
    if kind == "8khz":
        return audio.resample(audio.resample(x, sr, 8000), 8000, sr), sr
    if kind == "gain+20":
        return np.clip(x * 10.0, -1.0, 1.0), sr
    if kind == "gain-20":
        return x * 0.1, sr
    if kind == "noise20db":
        rms = float(np.sqrt((x**2).mean()))
        return (x + np.random.default_rng(seed).standard_normal(len(x)) * rms * 0.1).astype(np.float32), sr
    if kind == "mp3-low":
        return _reencode(x, sr), sr
    raise ValueError(f"unknown channel {kind!r}; channels: {', '.join(CHANNELS)}")


def _reencode(x: np.ndarray, sr: int) -> np.ndarray:
    """Through a low-bitrate MP3 (libsndfile's LAME, compression level 0.9: about 26 kbit/s at
    16 kHz) and back."""
    import io

    import soundfile as sf

    from .. import audio

    x16 = audio.resample(x, sr, 16000)
    buf = io.BytesIO()
    sf.write(buf, x16, 16000, format="MP3", compression_level=0.9, bitrate_mode="CONSTANT")
    buf.seek(0)
    y, _ = sf.read(buf, dtype="float32")
    return audio.resample(audio.to_mono(y), 16000, sr)[: len(x)]


# --- non-affective vocal sounds -------------------------------------------------------------------

#: espeak-ng texts: neutral speech, and voice-like sounds it can make (sustained vowels, a hum).
ESPEAK = {
    "speech-counting": "one, two, three, four",
    "speech-weather": "the weather is mild today",
    "vowel-aa": "aaaaaaa",
    "hum-mm": "mmmmmmm",
    "speech-letters": "a b c d e",
}
SHAPED = ("cough", "throat-clear", "lip-pop", "tongue-click", "sniff")


def espeak(text: str, voice: str = "en", speed: int = 150, pitch: int = 50) -> np.ndarray:
    """``text`` spoken by espeak-ng at 16 kHz (RuntimeError when espeak-ng is not installed)."""
    import soundfile as sf

    from .. import audio

    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install -y espeak-ng)")
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "s.wav"
        subprocess.run(
            [exe, "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(out), text], check=True
        )
        y, sr = sf.read(out, dtype="float32")
    return audio.resample(audio.to_mono(y), sr, SR)


def shaped(kind: str, seed: int = 0) -> np.ndarray:
    """A noise burst shaped like a cough (two bursts, fast attack, 300-3000 Hz), throat clearing
    (rough low rumble, 60 Hz amplitude modulation), lip pop / tongue click (a 10-20 ms damped
    resonance), or a sniff (high-passed noise swelling over 0.4 s); 0.3 s of quiet around it."""
    from scipy.signal import butter, sosfilt

    rng = np.random.default_rng(seed)

    def band(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
        return sosfilt(butter(4, [lo, hi], btype="band", fs=SR, output="sos"), x)

    def env(n: int, attack: float, decay: float) -> np.ndarray:
        t = np.arange(n) / SR
        return (1 - np.exp(-t / attack)) * np.exp(-t / decay)

    if kind == "cough":
        parts = [band(rng.standard_normal(int(0.25 * SR)), 300, 3000) * env(int(0.25 * SR), 0.005, 0.08)
                 for _ in range(2)]  # fmt: skip
        x = np.concatenate([parts[0], np.zeros(int(0.12 * SR)), 0.7 * parts[1]])
    elif kind == "throat-clear":
        n = int(0.6 * SR)
        t = np.arange(n) / SR
        x = (
            band(rng.standard_normal(n), 80, 1200)
            * (0.6 + 0.4 * np.sin(2 * np.pi * 60 * t))
            * env(n, 0.05, 0.3)
        )
    elif kind in ("lip-pop", "tongue-click"):
        n = int(0.05 * SR)
        t = np.arange(n) / SR
        f, tau = (900.0, 0.006) if kind == "lip-pop" else (2500.0, 0.003)
        x = np.sin(2 * np.pi * f * t) * np.exp(-t / tau) + 0.1 * rng.standard_normal(n) * np.exp(-t / tau)
    elif kind == "sniff":
        n = int(0.4 * SR)
        x = band(rng.standard_normal(n), 1500, 7000) * np.hanning(n)
    else:
        raise ValueError(f"unknown sound {kind!r}; sounds: {', '.join(SHAPED)}")
    pad = np.zeros(int(0.3 * SR))
    x = np.concatenate([pad, x, pad]) + 1e-4 * rng.standard_normal(2 * len(pad) + len(x))
    return _at_level(x, -6.0)
