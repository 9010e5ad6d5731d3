"""Attention foundation models (AAFMs) through transformers: WavLM, UniSpeech-SAT, wav2vec 2.0,
HuBERT. Embedding = mean over time of the last hidden state (method.md).

Weights come from ``from_pretrained`` on a local directory or a Hub id. An environment
variable per model (``NVER_WAVLM_BASE`` etc.) can name either, so a machine without Hub
access can point at a copy on disk.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np
import torch

from .base import Backbone, BackboneSpec, WeightsUnavailable
from .registry import register

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HFModel:
    """A transformers audio encoder. ``normalize``/``attention_mask`` are the model's own
    preprocessor settings, used only when no ``preprocessor_config.json`` comes with the
    weights (random init); real weights always bring their own."""

    name: str
    hub_id: str
    model_type: str  # transformers model_type, picks the config/model classes
    params_m: float
    normalize: bool
    attention_mask: bool
    description: str

    @property
    def env_var(self) -> str:
        return "NVER_" + self.name.upper().replace("-", "_")


MODELS = (
    HFModel("wavlm-base", "microsoft/wavlm-base", "wavlm", 94.4, False, True,
            "WavLM base: HuBERT-style masked prediction with gated relative position bias and "
            "utterance mixing, 94k h of speech."),
    HFModel("unispeech-sat-base", "microsoft/unispeech-sat-base", "unispeech-sat", 94.4, False, True,
            "UniSpeech-SAT base: HuBERT-style pre-training with speaker-aware utterance-wise "
            "contrastive learning."),
    HFModel("wav2vec2-base", "facebook/wav2vec2-base", "wav2vec2", 94.4, True, False,
            "wav2vec 2.0 base: contrastive learning over quantised latent speech, LibriSpeech 960 h."),
    HFModel("hubert-base", "facebook/hubert-base-ls960", "hubert", 94.4, False, False,
            "HuBERT base: masked prediction of offline k-means units, LibriSpeech 960 h."),
)  # fmt: skip


class HFBackbone(Backbone):
    """Frozen transformers encoder; mean-pooled last hidden state."""

    sample_rate = 16000

    def __init__(self, name: str, model: torch.nn.Module, normalize: bool, attention_mask: bool,
                 device: torch.device) -> None:  # fmt: skip
        self.name = name
        self.device = device
        self.model = model.to(device).eval().requires_grad_(False)
        self.dim = int(model.config.hidden_size)
        self.normalize = normalize
        # Padding a batch changes what group-norm feature encoders (all base models) compute,
        # mask or not; only layer-norm encoders whose preprocessor asks for a mask batch safely.
        self.batchable = attention_mask and getattr(model.config, "feat_extract_norm", "group") == "layer"
        self.min_samples = _receptive_field(model.config)

    def _embed_prepared(self, waves: list[np.ndarray]) -> np.ndarray:
        waves = [self._pad_short(self._norm(w)) for w in waves]
        if not self.batchable:
            return np.stack([self._forward([w])[0] for w in waves])
        return self._forward(waves)

    def _norm(self, w: np.ndarray) -> np.ndarray:
        if not self.normalize:
            return w
        return ((w - w.mean()) / np.sqrt(w.var() + 1e-7)).astype(np.float32)

    def _pad_short(self, w: np.ndarray) -> np.ndarray:
        if len(w) >= self.min_samples:
            return w
        return np.pad(w, (0, self.min_samples - len(w)))

    def _forward(self, waves: list[np.ndarray]) -> np.ndarray:
        lengths = torch.tensor([len(w) for w in waves])
        x = torch.zeros(len(waves), int(lengths.max()))
        for i, w in enumerate(waves):
            x[i, : len(w)] = torch.from_numpy(w)
        mask = (torch.arange(x.shape[1])[None] < lengths[:, None]).long()
        x, mask = x.to(self.device), mask.to(self.device)
        hidden = self.model(x, attention_mask=mask if len(waves) > 1 else None).last_hidden_state
        frames = self.model._get_feat_extract_output_lengths(lengths).clamp(min=1).to(self.device)
        keep = (torch.arange(hidden.shape[1], device=self.device)[None] < frames[:, None]).float()
        pooled = (hidden.float() * keep[..., None]).sum(1) / keep.sum(1, keepdim=True)
        return pooled.cpu().numpy()


def _receptive_field(config) -> int:
    """Samples the conv feature encoder needs to emit one frame (400 for the base models)."""
    field, jump = 1, 1
    for k, s in zip(config.conv_kernel, config.conv_stride):
        field += (k - 1) * jump
        jump *= s
    return field


def _config_class(model_type: str):
    from transformers import AutoConfig

    return AutoConfig.for_model(model_type)


def build_random(m: HFModel, device: torch.device, **config_overrides) -> HFBackbone:
    """The real architecture (transformers' default config for the type) at random init."""
    from transformers import AutoModel

    config = _config_class(m.model_type)
    for k, v in config_overrides.items():
        setattr(config, k, v)
    torch.manual_seed(0)
    model = AutoModel.from_config(config)
    return HFBackbone(m.name, model, m.normalize, m.attention_mask, device)


def load_pretrained(m: HFModel, device: torch.device, source: str | None = None) -> HFBackbone:
    """Weights from ``source`` (a local directory or Hub id), else ``$NVER_<NAME>``, else the
    Hub id. Raises :class:`WeightsUnavailable` with instructions when nothing loads."""
    from transformers import AutoFeatureExtractor, AutoModel

    source = source or os.environ.get(m.env_var) or m.hub_id
    try:
        model = AutoModel.from_pretrained(source)
    except (OSError, ValueError) as e:
        raise WeightsUnavailable(
            f"Could not load weights for backbone '{m.name}' from '{source}' "
            f"({type(e).__name__}: {str(e).splitlines()[0][:200]}).\n"
            f"Provide them in one of these ways:\n"
            f"  - on a machine with Hub access, they download automatically from {m.hub_id};\n"
            f"  - copy them once (e.g. `huggingface-cli download {m.hub_id} --local-dir DIR`) and "
            f"set {m.env_var}=DIR;\n"
            f"  - or use an offline backbone (see `python -m nver_demo list`)."
        ) from None
    normalize, use_mask = m.normalize, m.attention_mask
    try:
        fe = AutoFeatureExtractor.from_pretrained(source)
        normalize = bool(getattr(fe, "do_normalize", normalize))
        use_mask = bool(getattr(fe, "return_attention_mask", use_mask))
    except (OSError, ValueError):
        log.warning("%s: no preprocessor config at %s; using the model's published defaults", m.name, source)
    return HFBackbone(m.name, model, normalize, use_mask, device)


def _loader(m: HFModel):
    def load(random_init: bool = False, device: torch.device = torch.device("cpu")) -> HFBackbone:
        return build_random(m, device) if random_init else load_pretrained(m, device)

    return load


for _m in MODELS:
    register(
        BackboneSpec(
            name=_m.name,
            family="attention",
            dim=768,
            description=_m.description,
            source=f"https://huggingface.co/{_m.hub_id}",
            loader=_loader(_m),
            needs_hub=True,
            params_m=_m.params_m,
            env_var=_m.env_var,
        )
    )
