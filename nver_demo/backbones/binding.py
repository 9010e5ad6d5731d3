"""Modality-binding foundation models (audio towers) through transformers: CLAP, the binding
model transformers itself ships. The MATA paper's two, ImageBind and LanguageBind, cannot be
installed here; their audio towers are ported in ``imagebind.py`` and ``languagebind.py``
(docs/binding_models.md).

- ``clap``: LAION-CLAP's audio tower, HTS-AT (a hierarchical Swin transformer over a 64-band
  log-mel "image") trained contrastively against a RoBERTa text tower on LAION-Audio-630K
  (Wu et al., ICASSP 2023, https://arxiv.org/abs/2211.06687). Checkpoint
  ``laion/clap-htsat-unfused`` (the variant without feature fusion for long clips), 28.2M
  parameters in the audio tower and its projection.

Embedding: the 512-d projected audio embedding, L2-normalised, i.e. the joint audio-text space
in which CLAP compares a clip with a sentence. That space is what makes the model "binding";
the 768-d pooled tower output before the projection is the alternative, not used here.

Preprocessing is CLAP's own ``ClapFeatureExtractor`` at 48 kHz: each clip is repeated and
zero-padded to 10 s ("repeatpad") and turned into a 64-band log-mel spectrogram (50 Hz-14 kHz,
1024-point FFT, 10 ms hop). Clips over 10 s would get a *random* 10 s crop ("rand_trunc"); we
cut them into consecutive 10 s windows instead and average the window embeddings (weighted by
window length), so an embedding never depends on a random draw.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import torch
from torch.nn import functional as F

from .base import Backbone, BackboneSpec, WeightsUnavailable
from .registry import register

log = logging.getLogger(__name__)

CLAP_HUB_ID = "laion/clap-htsat-unfused"
CLAP_ENV = "NVER_CLAP"
#: The published preprocessor settings of laion/clap-htsat-unfused; used only when the weights
#: come without a ``preprocessor_config.json`` (random init). Real weights bring their own.
CLAP_FEATURES = dict(
    feature_size=64, sampling_rate=48000, hop_length=480, max_length_s=10, fft_window_size=1024,
    frequency_min=50, frequency_max=14000, truncation="rand_trunc", padding="repeatpad",
)  # fmt: skip


class CLAP(Backbone):
    """Frozen CLAP audio tower + projection (``ClapAudioModelWithProjection``)."""

    name = "clap"

    def __init__(self, model: torch.nn.Module, feature_extractor, device: torch.device) -> None:
        self.device = device
        self.model = model.to(device).eval().requires_grad_(False)
        self.features = feature_extractor
        self.sample_rate = int(feature_extractor.sampling_rate)
        self.window = int(feature_extractor.nb_max_samples)  # 10 s
        self.dim = int(model.config.projection_dim)

    def _embed_prepared(self, waves: list[np.ndarray]) -> np.ndarray:
        windows, owner, weight = [], [], []
        for i, w in enumerate(waves):
            if len(w) == 0:  # repeat-padding needs at least one sample
                w = np.zeros(1, dtype=np.float32)
            for start in range(0, len(w), self.window):
                windows.append(w[start : start + self.window])
                owner.append(i)
                weight.append(len(windows[-1]))
        feats = self.features(windows, sampling_rate=self.sample_rate, return_tensors="pt")
        x = feats["input_features"].to(self.device, dtype=next(self.model.parameters()).dtype)
        # No window exceeds 10 s, so none is "longer"; the extractor would otherwise mark one at
        # random (fusion checkpoints read it).
        is_longer = torch.zeros(len(windows), 1, dtype=torch.bool, device=self.device)
        emb = F.normalize(self.model(input_features=x, is_longer=is_longer).audio_embeds.float(), dim=-1)
        # Length-weighted mean of the windows of each clip, back onto the unit sphere.
        mix = torch.zeros(len(waves), len(windows), device=self.device)
        mix[torch.tensor(owner), torch.arange(len(windows))] = torch.tensor(weight, dtype=torch.float32)
        return F.normalize(mix.to(self.device) @ emb, dim=-1).cpu().numpy()


def build_random(device: torch.device, audio_config=None) -> CLAP:
    """The real architecture (transformers' default ``ClapConfig`` audio tower, which is
    laion/clap-htsat-unfused's) at random init, with the published preprocessor settings."""
    from transformers import ClapAudioModelWithProjection, ClapConfig, ClapFeatureExtractor

    config = audio_config or ClapConfig().audio_config
    torch.manual_seed(0)
    return CLAP(ClapAudioModelWithProjection(config), ClapFeatureExtractor(**CLAP_FEATURES), device)


def load_pretrained(device: torch.device, source: str | None = None) -> CLAP:
    """Weights from ``source`` (local directory or Hub id), else ``$NVER_CLAP``, else the Hub id.

    A full ``ClapModel`` checkpoint (what the Hub repo holds) loads into the audio tower and
    its projection; the text tower is skipped. Raises :class:`WeightsUnavailable` with
    instructions when nothing loads, and when the checkpoint lacks audio weights.
    """
    from transformers import ClapAudioModelWithProjection, ClapFeatureExtractor

    source = source or os.environ.get(CLAP_ENV) or CLAP_HUB_ID
    try:
        model, info = ClapAudioModelWithProjection.from_pretrained(source, output_loading_info=True)
    except (OSError, ValueError) as e:
        reason = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
        raise WeightsUnavailable(_how_to_provide(source, reason)) from None
    missing = sorted(info["missing_keys"])
    if missing:
        reason = f"it has no audio-tower weights for {len(missing)} tensors, e.g. {missing[0]}"
        raise WeightsUnavailable(_how_to_provide(source, reason))
    try:
        fe = ClapFeatureExtractor.from_pretrained(source)
    except (OSError, ValueError):
        log.warning("clap: no preprocessor config at %s; using the published laion/clap settings", source)
        fe = ClapFeatureExtractor(**CLAP_FEATURES)
    return CLAP(model, fe, device)


def _how_to_provide(source: str, reason: str) -> str:
    return (
        f"Could not load weights for backbone 'clap' from '{source}' ({reason}).\n"
        f"Provide them in one of these ways:\n"
        f"  - on a machine with Hub access, they download automatically from {CLAP_HUB_ID};\n"
        f"  - copy them once (e.g. `huggingface-cli download {CLAP_HUB_ID} --local-dir DIR`) and "
        f"set {CLAP_ENV}=DIR;\n"
        f"  - or use an offline backbone (see `python -m nver_demo list`)."
    )


def _load(random_init: bool = False, device: torch.device = torch.device("cpu")) -> CLAP:
    return build_random(device) if random_init else load_pretrained(device)


register(BackboneSpec(
    name="clap", family="binding", dim=512,
    description="LAION-CLAP audio tower (HTS-AT, laion/clap-htsat-unfused): trained to bind sounds to "
                "their text descriptions; embedding = its 512-d joint audio-text space.",
    source=f"https://huggingface.co/{CLAP_HUB_ID}", loader=_load, needs_hub=True, params_m=28.2,
    env_var=CLAP_ENV,
))  # fmt: skip
