"""Self-describing checkpoints: a folder with safetensors weights and a JSON that says how to
rebuild the head, which backbones feed it, its labels, metrics and training data.

    checkpoints/<name>/
        config.json              head, head_config, backbones, dims, labels, metrics, training
        model.safetensors        head weights (input standardisers included)
        references.safetensors   reference clips for the embedding map (optional)

Nothing is unpickled on load. Checkpoints are found by name in the shipped ``checkpoints/``
folder (or ``$NVER_CHECKPOINTS``), by path, or in a Hub repo named by ``$NVER_CHECKPOINT_REPO``.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from . import heads
from .heads import Head

log = logging.getLogger(__name__)

FORMAT = "nver-demo-checkpoint/1"
#: The checkpoint the app and ``predict`` use when none is named.
DEFAULT = "linear-whisper-base"
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "checkpoints"


def checkpoints_dir() -> Path:
    return Path(os.environ.get("NVER_CHECKPOINTS", SHIPPED_DIR))


@dataclass
class References:
    """Reference clips for the embedding map: per view a ``(n, d)`` matrix, and labels."""

    labels: np.ndarray  # (n,) int
    views: dict[str, np.ndarray]  # view name -> (n, d) float32
    clips: list[str] = field(default_factory=list)  # clip ids (file names), for hover text
    coords: dict[str, np.ndarray] = field(default_factory=dict)  # "umap.<view>" -> (n, 2) layout

    def to_tensors(self) -> dict[str, torch.Tensor]:
        out = {"labels": torch.from_numpy(self.labels.astype(np.int64))}
        for name, mat in self.views.items():
            out[f"view.{name}"] = torch.from_numpy(mat.astype(np.float32))  # fp16 overflows on ComParE
        for name, xy in self.coords.items():
            out[f"coords.{name}"] = torch.from_numpy(xy.astype(np.float32))
        return out

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor], clips: list[str]) -> References:
        views = {k[5:]: v.float().numpy() for k, v in tensors.items() if k.startswith("view.")}
        coords = {k[7:]: v.numpy() for k, v in tensors.items() if k.startswith("coords.")}
        return cls(tensors["labels"].numpy(), views, clips, coords)


@dataclass
class Checkpoint:
    name: str
    head: Head
    meta: dict
    references: References | None = None
    path: Path | None = None

    @property
    def labels(self) -> list[str]:
        return list(self.meta["labels"])

    @property
    def backbones(self) -> list[str]:
        return list(self.meta["backbones"])


def save(
    directory: str | Path,
    head: Head,
    head_name: str,
    backbones: list[str],
    labels: list[str],
    meta: dict,
    references: References | None = None,
) -> Path:
    """Write a checkpoint folder. ``meta`` adds metrics, training description, etc."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if len(labels) != head.n_classes:
        raise ValueError(f"{len(labels)} labels for a head with {head.n_classes} outputs")
    config = {
        "format": FORMAT,
        "name": directory.name,
        "head": head_name,
        "head_config": head.config(),
        "backbones": list(backbones),
        "dims": list(head.dims),
        "labels": list(labels),
        "parameters": heads.count_parameters(head),
        **meta,
    }
    if references is not None:
        config["references"] = {"n": len(references.labels), "clips": references.clips}
        save_file(references.to_tensors(), str(directory / "references.safetensors"))
    state = {k: v.detach().contiguous().cpu() for k, v in head.state_dict().items()}
    save_file(state, str(directory / "model.safetensors"), metadata={"format": FORMAT})
    (directory / "config.json").write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")
    return directory


def load(directory: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Rebuild a checkpoint folder into a ready (eval-mode) head."""
    directory = Path(directory)
    cfg_path = directory / "config.json"
    if not cfg_path.exists():
        raise FileNotFoundError(f"No checkpoint at {directory} (config.json missing)")
    meta = upgrade_meta(json.loads(cfg_path.read_text(encoding="utf-8")))
    if meta.get("format") != FORMAT:
        raise ValueError(
            f"{cfg_path}: unsupported checkpoint format {meta.get('format')!r}; expected {FORMAT}"
        )
    head = heads.build(meta["head"], tuple(meta["dims"]), len(meta["labels"]), **meta.get("head_config", {}))
    head.load_state_dict(load_file(str(directory / "model.safetensors")), strict=True)
    head.to(device).eval()
    refs = None
    ref_path = directory / "references.safetensors"
    if ref_path.exists():
        refs = References.from_tensors(load_file(str(ref_path)), meta.get("references", {}).get("clips", []))
    return Checkpoint(meta.get("name", directory.name), head, meta, refs, directory)


def available() -> list[str]:
    """Names of the checkpoints shipped in (or pointed to by) the checkpoints folder."""
    root = checkpoints_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "config.json").exists())


def read_meta(name_or_path: str | Path) -> dict:
    """config.json of a checkpoint, without building the head."""
    return upgrade_meta(json.loads((resolve(name_or_path) / "config.json").read_text(encoding="utf-8")))


def upgrade_meta(meta: dict) -> dict:
    """Read checkpoints written before ``reno`` became the authors' reading.

    Those have ``head: "reno"`` with ``alpha``/``eps`` in ``head_config``: they are the token-level
    reading, now registered as ``reno_token`` with the same modules (the weights load unchanged),
    its order called ``beta`` and its smoothing ``delta``.
    """
    cfg = meta.get("head_config") or {}
    if meta.get("head") == "reno" and "alpha" in cfg:
        cfg = {{"alpha": "beta", "eps": "delta"}.get(k, k): v for k, v in cfg.items()}
        meta = {**meta, "head": "reno_token", "head_config": cfg, "upgraded_from": "reno (token reading)"}
    return meta


def resolve(name_or_path: str | Path) -> Path:
    """A checkpoint folder from a path, a shipped name, or ``hub:<name>`` in ``$NVER_CHECKPOINT_REPO``."""
    s = str(name_or_path)
    if s.startswith("hub:"):
        return _from_hub(s[4:])
    p = Path(s)
    if (p / "config.json").exists():
        return p
    shipped = checkpoints_dir() / s
    if (shipped / "config.json").exists():
        return shipped
    repo = os.environ.get(_HUB_ENV)
    hint = f"; or hub:<name> from {repo}" if repo else f"; or set ${_HUB_ENV} and use hub:<name>"
    raise ValueError(
        f"Unknown checkpoint {s!r}. Shipped: {', '.join(available()) or 'none'}{hint}. "
        "Train one with `python -m nver_demo train ...`."
    )


_HUB_ENV = "NVER_CHECKPOINT_REPO"


def _from_hub(name: str) -> Path:
    """Download ``<name>/`` from the Hub repo named by ``$NVER_CHECKPOINT_REPO``."""
    repo = os.environ.get(_HUB_ENV)
    if not repo:
        raise ValueError(f"hub:{name} needs ${_HUB_ENV} set to a Hub repo id holding checkpoint folders")
    from huggingface_hub import snapshot_download

    try:
        root = snapshot_download(repo_id=repo, allow_patterns=[f"{name}/*"])
    except Exception as e:  # huggingface_hub raises many types (HTTP, offline, auth)
        raise ValueError(
            f"Could not fetch checkpoint '{name}' from Hub repo '{repo}' ({type(e).__name__}: {e})"
        ) from e
    path = Path(root) / name
    if not (path / "config.json").exists():
        raise ValueError(f"Hub repo '{repo}' has no checkpoint folder '{name}/'")
    return path
