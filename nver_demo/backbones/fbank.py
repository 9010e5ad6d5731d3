"""Kaldi-compatible log-mel filter banks without torchaudio.

ImageBind and LanguageBind compute their audio input with ``torchaudio.compliance.kaldi.fbank``
(25 ms Hanning frames every 10 ms, no dither, no energy term, pre-emphasis 0.97, DC offset
removed per frame, 512-point FFT, Kaldi mel banks from 20 Hz to Nyquist, natural log floored at
float32 epsilon, frames only where a whole window fits). torchaudio cannot be installed here
(platform.md), so this module reproduces those settings with ``transformers.audio_utils``, as
transformers' own ``ASTFeatureExtractor`` does when torchaudio is absent.
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np

SAMPLE_RATE = 16000
FRAME = 400  # 25 ms
HOP = 160  # 10 ms
FFT = 512  # next power of two (Kaldi's round_to_power_of_two)
LOG_FLOOR = float(np.finfo(np.float32).eps)


@lru_cache(maxsize=4)
def _filters(n_mels: int) -> np.ndarray:
    from transformers.audio_utils import mel_filter_bank

    with warnings.catch_warnings():
        # With 128 bands on a 512-point FFT the lowest Kaldi filters fall between two FFT bins
        # and are all zero, in Kaldi too (their log energy is the floor): expected, not a bug.
        warnings.filterwarnings("ignore", message="At least one mel filter has all zero values")
        return mel_filter_bank(
            num_frequency_bins=FFT // 2 + 1, num_mel_filters=n_mels, min_frequency=20.0,
            max_frequency=SAMPLE_RATE / 2, sampling_rate=SAMPLE_RATE, norm=None, mel_scale="kaldi",
            triangularize_in_mel_space=True,
        )  # fmt: skip


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    from transformers.audio_utils import window_function

    return window_function(FRAME, "hann", periodic=False)  # Kaldi's "hanning"


def kaldi_fbank(wave: np.ndarray, n_mels: int) -> np.ndarray:
    """Log-mel filter banks ``(frames, n_mels)`` of a mono 16 kHz clip, as
    ``torchaudio.compliance.kaldi.fbank(wave, htk_compat=True, use_energy=False,
    window_type="hanning", num_mel_bins=n_mels, dither=0.0)``.

    Kaldi gives no frame for a clip shorter than one 25 ms window; such clips are zero-padded
    to one window here so that every clip has at least one frame.
    """
    from transformers.audio_utils import spectrogram

    wave = np.asarray(wave, dtype=np.float64)
    if len(wave) < FRAME:
        wave = np.pad(wave, (0, FRAME - len(wave)))
    spec = spectrogram(
        wave, _window(), frame_length=FRAME, hop_length=HOP, fft_length=FFT, power=2.0, center=False,
        preemphasis=0.97, mel_filters=_filters(n_mels), log_mel="log", mel_floor=LOG_FLOOR,
        remove_dc_offset=True,
    )  # fmt: skip
    return spec.T.astype(np.float32)


def fit_frames(fbank: np.ndarray, target: int) -> np.ndarray:
    """Zero-pad or cut ``(frames, n_mels)`` to ``target`` frames (pad value 0, before any
    normalisation, as both models' preprocessing does)."""
    if len(fbank) >= target:
        return fbank[:target]
    return np.pad(fbank, ((0, target - len(fbank)), (0, 0)))
