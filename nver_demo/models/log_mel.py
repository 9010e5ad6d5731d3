"""Audio-MAMBA's front-end: waveform -> standardised log-mel spectrogram, in pure PyTorch.

Settings of the official feature code (see ../shared/docs/audio-mamba.md): 16 kHz, n_fft 400,
periodic Hann window of 400, hop 160, centred frames with reflect padding, power 2, 80 HTK-scale
mel bands 50-8000 Hz without area normalisation, natural log of (mel + float32 eps), then
standardised over the whole clip. No torchaudio (it breaks transformers on this platform).
"""

from __future__ import annotations

import functools
import logging

import numpy as np
import torch

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
N_FFT = 400
HOP = 160
N_MELS = 80
F_MIN = 50.0
F_MAX = 8000.0
LOG_OFFSET = 1.1920929e-07  # float32 machine epsilon, added before the log
STD_EPS = 1e-8


def n_frames(n_samples: int) -> int:
    """Frames the centred STFT yields for ``n_samples``: ``1 + n_samples // 160``."""
    return 1 + int(n_samples) // HOP


@functools.cache
def mel_filterbank(
    sr: int = SAMPLE_RATE,
    n_fft: int = N_FFT,
    n_mels: int = N_MELS,
    f_min: float = F_MIN,
    f_max: float = F_MAX,
) -> np.ndarray:
    """Triangular HTK-scale mel filters without area normalisation:
    ``librosa.filters.mel(..., htk=True, norm=None)``, cached and read-only.

    Returns
    -------
    ndarray, (n_mels, n_fft // 2 + 1), float32
    """
    import librosa  # the app imports it anyway (Whisper's front-end); keep module import cheap

    weights = librosa.filters.mel(
        sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=f_min, fmax=f_max, htk=True, norm=None, dtype=np.float32
    )
    weights.flags.writeable = False  # cached and shared
    return weights


class LogMel(torch.nn.Module):
    """Waveform -> per-clip standardised log-mel frames, time first.

    The window and filterbank are non-persistent buffers: they follow ``.to(device)`` but are
    not part of the checkpoint (the official state dict has no front-end tensors).
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("window", torch.hann_window(N_FFT, periodic=True), persistent=False)
        self.register_buffer("mel_fb", torch.from_numpy(mel_filterbank().copy()), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """Log-mel spectrogram of one clip.

        Parameters
        ----------
        wave : Tensor, (n_samples,)
            Mono float waveform at 16 kHz.

        Returns
        -------
        Tensor, (1 + n_samples // 160, 80), float32
            Natural-log mel power, standardised over the whole clip (unbiased std). A silent clip
            gives zeros, not NaN.
        """
        if wave.ndim != 1:
            raise ValueError(f"LogMel expects one mono clip of shape (n_samples,), got {tuple(wave.shape)}")
        wave = wave.to(self.window.device, torch.float32)
        frames = n_frames(wave.shape[0])
        min_len = N_FFT // 2 + 1  # reflect padding needs more samples than it pads
        if wave.shape[0] < min_len:
            # The official code would fail on such a clip; zero-extend, then keep the frame count
            # the clip's own length gives so the window arithmetic stays the official one.
            log.debug(
                "Clip of %d samples zero-extended to %d for the STFT",
                wave.shape[0],
                min_len,
            )
            wave = torch.nn.functional.pad(wave, (0, min_len - wave.shape[0]))
        spec = torch.stft(
            wave,
            n_fft=N_FFT,
            hop_length=HOP,
            win_length=N_FFT,
            window=self.window,
            center=True,
            pad_mode="reflect",
            return_complex=True,
        )[:, :frames]  # (n_freqs, T)
        power = spec.real.square() + spec.imag.square()
        logmel = torch.log(self.mel_fb @ power + LOG_OFFSET).t()  # (T, n_mels)
        # torch.std is unbiased (n - 1), the official normalisation.
        return (logmel - logmel.mean()) / (logmel.std() + STD_EPS)
