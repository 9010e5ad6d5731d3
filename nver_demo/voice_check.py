"""Does a clip sound like a human voice at all? Cheap signal checks, no model.

The emotion models answer every input; for a constant offset, a test tone or steady noise the
answer means nothing. Each check below measures a property no voice has, at a level chosen so
that EmoGator's vocal bursts pass (docs/trust.md counts the EmoGator clips each check flags and
the synthetic signals each catches; ``bench/bench_trust.py`` times them):

- **DC**: a constant offset carries at least :data:`MAX_DC_SHARE` of the energy (a microphone
  is AC-coupled; a voice oscillates around zero).
- **square wave**: at least :data:`MAX_RAIL_SHARE` of the sounding samples sit on the clip's two
  extreme values (an EmoGator clip amplified by 20 dB and clipped had 27 % there: clipping alone
  does not make a voice a non-voice).
- **steady tone or chord**: in most sounding frames a handful of spectral peaks (at most
  :data:`TONAL_PEAKS`) hold :data:`TONAL_ENERGY` of the energy, and they keep their frequency from
  frame to frame (a sung or hummed note has many harmonics and pitch jitter).
- **steady noise**: the spectrum is flat once divided by the clip's own average spectrum (any
  colour of stationary noise: white, pink, hum-free fan) and the level barely moves over time
  (a sigh or a breath swells and fades).
- **clicks**: the energy sits in isolated stretches shorter than :data:`CLICK_MAX_S`
  (no vowel is that short).
- **no voiced frames**: WebRTC's voice-activity detector (when installed) finds voice in fewer
  than :data:`MIN_VOICED_SHARE` of the 30-ms frames.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from scipy import fft as scipy_fft

from . import audio

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
#: Longest stretch analysed (seconds, from the start): enough to judge, bounded cost.
MAX_SECONDS = 10.0
MAX_DC_SHARE = 0.5
MAX_RAIL_SHARE = 0.9
TONAL_PEAKS = 12
TONAL_ENERGY = 0.99
#: Largest frame-to-frame move (FFT bins of 15.6 Hz) of the strongest peak in a steady tone.
STILL_BINS = 0.05
#: Share of sounding frames that must be tonal (or steady) for the whole clip to be called so.
MOST = 0.8
#: Whitened spectral flatness above which a frame is noise-like (a periodogram of stationary
#: noise divided by its mean spectrum has flatness about exp(-0.577) = 0.56).
NOISE_FLATNESS = 0.4
#: Spread of the 0.2-s level (dB, 300 Hz-4 kHz) under which a clip is steady: synthetic stationary
#: noise measured at most 0.25 dB (white and pink, 0.5-8 s, three levels and seeds); the two
#: steadiest of 1,500 EmoGator clips (breathy sounds from one noisy recording set) 0.53 and 0.66 dB.
STEADY_DB = 0.5
CLICK_MAX_S = 0.03
MIN_VOICED_SHARE = 0.05
#: Frames quieter than this below the loudest frame are not "sounding".
FLOOR_DB = 40.0
#: Frames (and 0.2-s blocks) quieter than this below the loudest are not part of the sound's body.
BODY_DB = 15.0

REASONS = {
    "dc": "a constant offset (DC) rather than a sound",
    "rails": "a square wave (almost every sample at one of two values)",
    "tonal": "a steady tone or chord",
    "noise": "steady noise",
    "clicks": "clicks",
    "unvoiced": "no voiced sound",
}
NO_VOICE_WARNING = (
    "This does not sound like a voice ({why}). The models only know human vocal bursts, so no "
    "emotion is given as an answer."
)


@dataclass
class VoiceCheck:
    """The verdict and the measurements behind it (plain numbers, for details and docs)."""

    is_voice: bool
    reasons: list[str] = field(default_factory=list)  # keys of REASONS
    measures: dict[str, float] = field(default_factory=dict)

    @property
    def warning(self) -> str | None:
        if self.is_voice:
            return None
        return NO_VOICE_WARNING.format(why="; ".join(REASONS[r] for r in self.reasons))

    def to_dict(self) -> dict:
        return {"is_voice": self.is_voice, "reasons": list(self.reasons),
                "measures": {k: round(float(v), 4) for k, v in self.measures.items()}}  # fmt: skip


_HANN = np.hanning(1024).astype(np.float32)


def _frames(x: np.ndarray, n: int, hop: int) -> np.ndarray:
    if len(x) < n:
        x = np.pad(x, (0, n - len(x)))
    count = 1 + (len(x) - n) // hop
    return np.lib.stride_tricks.as_strided(x, (count, n), (x.strides[0] * hop, x.strides[0]), writeable=False)


def _spectral(x: np.ndarray) -> dict[str, float]:
    """Tonality, peak stability, whitened flatness and level steadiness over sounding frames."""
    fr = _frames(x, 1024, 512) * _HANN
    spec = scipy_fft.rfft(fr, axis=1)  # float32 in, complex64 out: half numpy's cost
    power = spec.real**2 + spec.imag**2 + np.float32(1e-20)
    energy = power.sum(1)
    db = 10 * np.log10(energy)
    live = db > db.max() - FLOOR_DB
    # The body of the sound: frames within BODY_DB of the loudest (an onset or a fade into the
    # silence around a burst smears the spectrum of the frames it falls in).
    body = db > db.max() - BODY_DB
    if live.sum() < 3 or body.sum() < 3:
        return {"tonal_share": 0.0, "noise_share": 0.0, "level_std_db": 99.0}
    p = power[body]
    # Tonality: energy within +-2 bins of the strongest TONAL_PEAKS local maxima.
    local = (p[:, 1:-1] > p[:, :-2]) & (p[:, 1:-1] >= p[:, 2:])
    peaks = np.where(local, p[:, 1:-1], 0.0)
    top = np.argpartition(-peaks, TONAL_PEAKS, axis=1)[:, :TONAL_PEAKS] + 1
    near = np.zeros_like(p, dtype=bool)
    rows = np.arange(len(p))[:, None]
    for off in (-2, -1, 0, 1, 2):
        near[rows, np.clip(top + off, 0, p.shape[1] - 1)] = True
    conc = (p * near).sum(1) / p.sum(1)
    # Peaks keep their frequency exactly: the strongest peak (parabolic interpolation on the log
    # spectrum) moves by under STILL_BINS between frames. A voice's pitch drifts and jitters.
    step = np.abs(np.diff(_peak_bins(p))) < STILL_BINS
    still = np.r_[step, False] | np.r_[False, step]  # steady with the frame before or after
    tonal = (conc >= TONAL_ENERGY) & still
    # Whitened flatness (100 Hz - 7 kHz) of every sounding frame over the clip's mean spectrum.
    p = power[live]
    band = slice(6, 448)
    w = p[:, band] / p[:, band].mean(0)
    flat = np.exp(np.log(w).mean(1)) / w.mean(1)
    ltas = p.mean(0)
    cum = np.cumsum(ltas) / ltas.sum()
    return {
        # The channel, measured apart from the content: bandwidth (99 % of the energy below it),
        # noise floor and level of the sounding frames (dB re full scale, 1024-sample frames).
        "bandwidth_hz": float(np.searchsorted(cum, 0.99) * SAMPLE_RATE / 1024),
        "noise_floor_db": float(np.percentile(db, 10) - 10 * np.log10(1024 * 384)),
        "tonal_share": float(tonal.mean()),
        "noise_share": float((flat >= NOISE_FLATNESS).mean()),
        # 300 Hz - 4 kHz: many bins, so stationary noise of any colour has a steady level there.
        "level_std_db": _steadiness(power[:, 19:257].sum(1), live),
    }


def _peak_bins(p: np.ndarray) -> np.ndarray:
    """Fractional bin of each frame's strongest peak."""
    k = np.clip(p.argmax(1), 1, p.shape[1] - 2)
    rows = np.arange(len(p))
    a, b, c = (np.log(p[rows, k + o]) for o in (-1, 0, 1))
    den = a - 2 * b + c
    return k + np.where(np.abs(den) > 1e-12, 0.5 * (a - c) / np.where(den == 0, 1, den), 0.0)


def _steadiness(energy: np.ndarray, live: np.ndarray) -> float:
    """Spread (dB, interquartile range as a standard deviation) of the level over ~0.2-s blocks
    (6 frames) of the sounding part: the short-frame level of noise fluctuates by chance (a few
    dB for pink noise), a 0.2-s average hardly."""
    idx = np.flatnonzero(live)
    e = energy[idx[0] : idx[-1] + 1]
    k = len(e) // 6
    if k < 2:
        return 99.0
    levels = 10 * np.log10(e[: k * 6].reshape(k, 6).mean(1))
    body = levels[levels > levels.max() - BODY_DB]  # leave out blocks reaching into a pause
    if len(body) >= 3:  # two blocks of a short burst can match by chance
        levels = body
    q75, q25 = np.percentile(levels, [75, 25])
    return float((q75 - q25) / 1.349)  # the std of a normal spread; robust to an onset and a fade


def _clicks(x: np.ndarray) -> float:
    """Share of the energy in sounding stretches shorter than CLICK_MAX_S (5-ms frames)."""
    e = (_frames(x, 80, 80) ** 2).sum(1) + 1e-20
    loud = 10 * np.log10(e) > 10 * np.log10(e.max()) - 30.0
    edges = np.diff(np.r_[0, loud.astype(np.int8), 0])
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    short = np.zeros(len(loud), bool)
    for a, b in zip(starts, ends):  # one iteration per loud stretch
        if b - a <= int(CLICK_MAX_S / 0.005):
            short[a:b] = True
    return float(e[short].sum() / e.sum())


def _voiced_share(x: np.ndarray) -> float | None:
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # webrtcvad imports pkg_resources
            import webrtcvad
    except ImportError:
        return None
    vad = webrtcvad.Vad(2)
    pcm = (np.clip(x / max(1e-9, float(np.abs(x).max())) * 0.5, -1, 1) * 32767).astype("<i2")
    n = len(pcm) // 480
    if n == 0:
        return None
    buf = pcm.tobytes()  # once: slicing bytes is cheaper than one tobytes per frame
    hits = sum(vad.is_speech(buf[i * 960 : (i + 1) * 960], SAMPLE_RATE) for i in range(n))
    return hits / n


def check(wave: np.ndarray, sr: int) -> VoiceCheck:
    """Judge one clip (any dtype, mono or multi-channel, any rate). Silence is not judged here
    (:func:`nver_demo.audio.validate` refuses it first)."""
    x = audio.to_mono(audio.to_float(np.asarray(wave)))[: int(MAX_SECONDS * sr)].astype(np.float32)
    if sr != SAMPLE_RATE:  # soxr's low quality: these checks look below 7 kHz, a third of the cost
        import soxr

        x = soxr.resample(x, sr, SAMPLE_RATE, quality="LQ").astype(np.float32)
    m: dict[str, float] = {}
    total = float((x**2).mean()) + 1e-20
    dc = float(x.mean())
    m["dc_share"] = dc * dc / total
    ac = x - dc
    peak = float(np.abs(ac).max())
    sounding = np.abs(ac) > 0.01 * peak if peak > 0 else np.zeros(len(ac), bool)
    hi, lo = float(ac.max()), float(ac.min())
    tol = 1e-3 * max(peak, 1e-9)
    rails = (np.abs(ac - hi) <= tol) | (np.abs(ac - lo) <= tol)
    m["rail_share"] = float(rails[sounding].mean()) if sounding.any() else 0.0
    m.update(_spectral(ac))
    m["click_energy"] = _clicks(ac)
    voiced = _voiced_share(ac) if peak > 0 else 0.0
    if voiced is not None:
        m["voiced_share"] = voiced
    reasons = []
    if m["dc_share"] >= MAX_DC_SHARE or peak < 1e-4:
        reasons.append("dc")
    if m["rail_share"] >= MAX_RAIL_SHARE:
        reasons.append("rails")
    if m["tonal_share"] >= MOST:
        reasons.append("tonal")
    if m["noise_share"] >= MOST and m["level_std_db"] < STEADY_DB:
        reasons.append("noise")
    if m["click_energy"] >= 0.9:
        reasons.append("clicks")
    if voiced is not None and voiced < MIN_VOICED_SHARE:
        reasons.append("unvoiced")
    return VoiceCheck(not reasons, reasons, m)
