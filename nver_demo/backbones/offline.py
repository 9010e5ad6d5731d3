"""Offline backbones: pretrained models whose weights ship inside PyPI wheels, and standard
paralinguistic feature sets. They need no model hub, so the app's default runs anywhere.

- ``ge2e``: the GE2E speaker encoder (3-layer LSTM, 40 mel bands) from ``resemblyzer``, whose
  wheel carries its pretrained weights. Output (768-d): the 256-d L2-normalised utterance
  embedding, then the mean and std over time of the last LSTM layer on the whole clip. The
  embedding alone is trained to discard everything but identity; the LSTM statistics keep
  voice quality that varies with emotion (+3.9 macro-F1 on EmoGator with a linear probe).
- ``egemaps``: opensmile's eGeMAPS v02 functionals (88 expert-chosen voice parameters).
- ``compare``: opensmile's ComParE 2016 functionals (6,373 statistics of 65 low-level
  descriptors), the standard paralinguistics challenge baseline.
- ``logmel-stats``: mean and std of 64 log-mel bands; no learned weights (tests, sanity).
"""

from __future__ import annotations

import logging
import threading

import numpy as np
import torch

from .base import Backbone, BackboneSpec
from .registry import register

log = logging.getLogger(__name__)


class GE2E(Backbone):
    """resemblyzer's VoiceEncoder (GE2E loss, trained on ~1.8k h of VoxCeleb/LibriSpeech)."""

    name, dim, sample_rate = "ge2e", 768, 16000

    def __init__(self, random_init: bool, device: torch.device) -> None:
        from ..quiet_imports import no_pkg_resources_warning

        with no_pkg_resources_warning():  # resemblyzer imports webrtcvad, which imports pkg_resources
            from resemblyzer import VoiceEncoder

        self.device = device
        self.encoder = VoiceEncoder(device=device, verbose=False)
        if random_init:
            torch.manual_seed(0)
            for p in self.encoder.parameters():
                torch.nn.init.normal_(p, std=0.05)
        self.encoder.eval().requires_grad_(False)

    def _embed_prepared(self, waves: list[np.ndarray]) -> np.ndarray:
        from resemblyzer.audio import normalize_volume, wav_to_mel_spectrogram

        # No VAD trimming (resemblyzer's preprocess_wav): it is tuned for speech and cuts
        # breathy or quiet vocal bursts. Volume normalisation to the encoder's -30 dBFS only.
        out = []
        for w in waves:
            w = normalize_volume(w, -30, increase_only=False).astype(np.float32)
            emb = self.encoder.embed_utterance(w)
            mel = torch.from_numpy(wav_to_mel_spectrogram(w)).to(self.device)[None]  # (1, T, 40)
            h = self.encoder.lstm(mel)[0][0]  # (T, 256): last LSTM layer, whole clip
            stats = torch.cat([h.mean(0), h.std(0, unbiased=False)]).cpu().numpy()
            out.append(np.concatenate([emb, stats]))
        return np.stack(out)


class OpenSmile(Backbone):
    """opensmile functionals (one vector per clip). Thread-safe: one extractor per thread."""

    sample_rate = 16000

    def __init__(self, name: str, feature_set: str, dim: int, device: torch.device) -> None:
        self.name, self.dim, self.device = name, dim, device
        self._feature_set = feature_set
        self._local = threading.local()

    def _smile(self):
        smile = getattr(self._local, "smile", None)
        if smile is None:
            import opensmile

            smile = opensmile.Smile(
                feature_set=getattr(opensmile.FeatureSet, self._feature_set),
                feature_level=opensmile.FeatureLevel.Functionals,
            )
            self._local.smile = smile
        return smile

    def _embed_prepared(self, waves: list[np.ndarray]) -> np.ndarray:
        smile = self._smile()
        rows = []
        for w in waves:
            if len(w) < self.sample_rate // 10:  # opensmile needs a few frames; pad to 100 ms
                w = np.pad(w, (0, self.sample_rate // 10 - len(w)))
            feats = smile.process_signal(w, self.sample_rate).to_numpy(dtype=np.float32)[0]
            rows.append(np.nan_to_num(feats, nan=0.0, posinf=0.0, neginf=0.0))
        return np.stack(rows)


class LogMelStats(Backbone):
    """Mean and standard deviation over time of 64 log-mel bands (no learned weights)."""

    name, dim, sample_rate = "logmel-stats", 128, 16000

    def __init__(self, device: torch.device) -> None:
        import librosa

        self.device = device
        self.mel = torch.from_numpy(librosa.filters.mel(sr=16000, n_fft=400, n_mels=64, fmin=50, fmax=8000))

    def _embed_prepared(self, waves: list[np.ndarray]) -> np.ndarray:
        out = []
        window = torch.hann_window(400)
        for w in waves:
            x = torch.from_numpy(np.pad(w, (0, max(0, 400 - len(w)))))
            spec = torch.stft(x, 400, 160, window=window, return_complex=True).abs() ** 2
            logmel = torch.log(self.mel @ spec + 1e-6)
            out.append(torch.cat([logmel.mean(1), logmel.std(1, unbiased=False)]).numpy())
        return np.stack(out)


register(BackboneSpec(
    name="ge2e", family="offline", dim=768, version=2,
    description="GE2E speaker encoder (resemblyzer): a 3-layer LSTM trained to tell voices apart; "
                "captures timbre and voice quality. Weights ship in the resemblyzer wheel.",
    source="https://pypi.org/project/Resemblyzer/", params_m=1.42,
    loader=lambda random_init=False, device=torch.device("cpu"): GE2E(random_init, device),
))  # fmt: skip
register(BackboneSpec(
    name="egemaps", family="features", dim=88,
    description="eGeMAPS v02: 88 expert-chosen voice parameters (pitch, jitter, shimmer, loudness, "
                "formants, spectral slope) from opensmile.",
    source="https://audeering.github.io/opensmile-python/",
    loader=lambda random_init=False, device=None: OpenSmile("egemaps", "eGeMAPSv02", 88, device),
))  # fmt: skip
register(BackboneSpec(
    name="compare", family="features", dim=6373,
    description="ComParE 2016: 6,373 statistics of 65 frame-level descriptors (opensmile), the "
                "computational paralinguistics challenge baseline.",
    source="https://audeering.github.io/opensmile-python/",
    loader=lambda random_init=False, device=None: OpenSmile("compare", "ComParE_2016", 6373, device),
))  # fmt: skip
register(BackboneSpec(
    name="logmel-stats", family="features", dim=128,
    description="Mean and standard deviation of 64 log-mel bands: a no-weights baseline.",
    source="nver_demo", loader=lambda random_init=False, device=torch.device("cpu"): LogMelStats(device),
))  # fmt: skip
