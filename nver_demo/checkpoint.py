"""Self-describing checkpoints: a folder with safetensors weights and a JSON that says how to
rebuild the head, which backbones feed it, its labels, metrics and training data.

    checkpoints/<name>/
        config.json              head, head_config, backbones, dims, labels, metrics, training
        model.safetensors        head weights (input standardisers included)
        references.safetensors   reference clips for the embedding map (optional)
        enrolled.safetensors     the speaker-enrolled head (optional; config "enrolment")

Nothing is unpickled on load, and config.json is checked against sane limits (:func:`validate`)
before any tensor is built. Checkpoints are found by name in the shipped ``checkpoints/`` folder
(or ``$NVER_CHECKPOINTS``), as ``<label>/<name>`` in the folders listed in
``$NVER_CHECKPOINT_DIRS`` (:func:`local_checkpoints`), by path, or in a Hub repo named by
``$NVER_CHECKPOINT_REPO``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from . import heads
from .heads import Head

log = logging.getLogger(__name__)

FORMAT = "nver-demo-checkpoint/1"
ENROLLED_FILE = "enrolled.safetensors"
#: The checkpoint the app and ``predict`` use when none is named.
DEFAULT = "lda-whisper-base-ft"
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "checkpoints"
#: Folders of checkpoint folders the operator publishes (os.pathsep-separated).
DIRS_ENV = "NVER_CHECKPOINT_DIRS"

#: Limits on config.json, checked before anything is built: the widest embedding we know is
#: ComParE's 6,373; the shipped heads have under 2M parameters.
MAX_DIM = 16384
MAX_LABELS = 1000
MAX_PARAMETERS = 50_000_000
MAX_CONFIG_BYTES = 8 << 20
MAX_CONFIG_INT = 100_000  # head_config values (tokens, heads, Sinkhorn iterations...)
#: Checkpoint, backbone and folder-label names: no path separators, no "..", no spaces.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+=-]{0,127}")


def checkpoints_dir() -> Path:
    return Path(os.environ.get("NVER_CHECKPOINTS", SHIPPED_DIR))


def extra_dirs() -> list[Path]:
    """The folders named by ``$NVER_CHECKPOINT_DIRS``, in order (e.g. what ``paper-pairs`` published)."""
    return [root for _, root in local_dirs()]


def _find_in_extra_dirs(name: str) -> Path | None:
    for root in extra_dirs():
        if (root / name / "config.json").is_file():
            return root / name
    return None


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
    #: The same head type fitted on speaker-normalised embeddings (nver_demo.enrolment), or None.
    enrolled: Head | None = None

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
    enrolled: Head | None = None,
) -> Path:
    """Write a checkpoint folder. ``meta`` adds metrics, training description, etc.; with an
    ``enrolled`` head, ``meta["enrolment"]`` says how it was fitted and from how many clips it applies."""
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
    if enrolled is not None:
        if "enrolment" not in meta:
            raise ValueError("an enrolled head needs meta['enrolment'] (min_clips, how it was fitted)")
        config["enrolment"] = {**meta["enrolment"], "file": ENROLLED_FILE, "head_config": enrolled.config()}
        state = {k: v.detach().contiguous().cpu() for k, v in enrolled.state_dict().items()}
        save_file(state, str(directory / ENROLLED_FILE), metadata={"format": FORMAT})
    (directory / "config.json").write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")
    return directory


def _read_config(cfg_path: Path) -> dict:
    """config.json, size-capped, parsed and validated (ValueError says what is wrong)."""
    size = cfg_path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise ValueError(f"{cfg_path}: {size} bytes; a checkpoint config is at most {MAX_CONFIG_BYTES}")
    try:
        meta = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{cfg_path}: not valid JSON ({e})") from e
    meta = upgrade_meta(meta)
    validate(meta, str(cfg_path))
    return meta


def upgrade_meta(meta):
    """Read checkpoints written before ``reno`` became the authors' reading.

    Those have ``head: "reno"`` with ``alpha``/``eps`` in ``head_config``: they are the token-level
    reading, now registered as ``reno_token`` with the same modules (the weights load unchanged),
    its order called ``beta`` and its smoothing ``delta``. Anything else is returned unchanged.
    """
    if not isinstance(meta, dict):
        return meta
    cfg = meta.get("head_config")
    if meta.get("head") == "reno" and isinstance(cfg, dict) and "alpha" in cfg:
        cfg = {{"alpha": "beta", "eps": "delta"}.get(k, k): v for k, v in cfg.items()}
        meta = {**meta, "head": "reno_token", "head_config": cfg, "upgraded_from": "reno (token reading)"}
    return meta


def _int_list(value, what: str, lo: int, hi: int) -> list[int]:
    if not isinstance(value, list) or not all(type(v) is int and lo <= v <= hi for v in value):
        raise ValueError(f"{what} must be a list of whole numbers from {lo} to {hi}")
    return value


def validate(meta: dict, where: str = "config.json") -> None:
    """Check a checkpoint config before anything is built: format, head name, dims, labels,
    backbone names and head settings within sane limits, and the head's parameter count
    (counted on the meta device: no memory is allocated). Raises ValueError naming ``where``."""

    def bad(why: str) -> ValueError:
        return ValueError(f"{where}: {why}")

    if not isinstance(meta, dict):
        raise bad("not a JSON object")
    if meta.get("format") != FORMAT:
        raise bad(f"unsupported checkpoint format {str(meta.get('format'))[:40]!r}; expected {FORMAT}")
    head = meta.get("head")
    if not isinstance(head, str) or head not in heads.available():
        raise bad(f"unknown head {str(head)[:40]!r}; heads: {', '.join(heads.available())}")
    n_in = heads.spec(head).n_inputs
    try:
        dims = _int_list(meta.get("dims"), "dims", 1, MAX_DIM)
    except ValueError as e:
        raise bad(str(e)) from None
    names = meta.get("backbones")
    if not isinstance(names, list) or not all(isinstance(b, str) and NAME.fullmatch(b) for b in names):
        raise bad("backbones must be a list of backbone names")
    if len(dims) != n_in or len(names) != n_in:
        raise bad(f"the {head} head takes {n_in} backbone(s); got {len(names)} names and {len(dims)} dims")
    labels = meta.get("labels")
    if not isinstance(labels, list) or not 2 <= len(labels) <= MAX_LABELS:
        raise bad(f"labels must be a list of 2 to {MAX_LABELS} names")
    if not all(isinstance(x, str) and 0 < len(x) <= 200 for x in labels) or len(set(labels)) != len(labels):
        raise bad("labels must be distinct, non-empty names of at most 200 characters")
    config = meta.get("head_config", {})
    _check_head_config(config, bad, "head_config")
    enrol = meta.get("enrolment")
    if enrol is not None:
        if not isinstance(enrol, dict) or enrol.get("file") != ENROLLED_FILE:
            raise bad(f"enrolment must be an object naming file {ENROLLED_FILE!r}")
        _check_head_config(enrol.get("head_config", {}), bad, "enrolment head_config")
        if type(enrol.get("min_clips")) is not int or not 1 <= enrol["min_clips"] <= 1000:
            raise bad("enrolment min_clips must be a whole number from 1 to 1000")
    try:
        with torch.device("meta"):  # shapes only: nothing is allocated
            n = heads.count_parameters(heads.build(head, tuple(dims), len(labels), **config))
    except (TypeError, ValueError, RuntimeError) as e:
        raise bad(f"cannot build the {head} head from this config ({e})") from e
    if n > MAX_PARAMETERS:
        raise bad(f"the {head} head would have {n:,} parameters; at most {MAX_PARAMETERS:,} are allowed")


def _check_head_config(config, bad, what: str) -> None:
    if not isinstance(config, dict):
        raise bad(f"{what} must be an object")
    for key, v in config.items():
        finite = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        if not (isinstance(v, bool) or (finite and abs(v) <= MAX_CONFIG_INT)):
            raise bad(f"{what} {str(key)[:40]!r} must be a number of at most {MAX_CONFIG_INT}")


def _tensors(path: Path) -> dict[str, torch.Tensor]:
    """A safetensors file's tensors; a file that is not one is a ValueError naming it."""
    try:
        return load_file(str(path))
    except SafetensorError as e:
        raise ValueError(f"{path.name} is not a readable safetensors file ({e})") from e


def _build_head(meta: dict, config: dict, weights: Path, device) -> Head:
    head = heads.build(meta["head"], tuple(meta["dims"]), len(meta["labels"]), **config)
    if not weights.is_file():
        raise FileNotFoundError(f"{weights.name} missing in {weights.parent}")
    try:
        head.load_state_dict(_tensors(weights), strict=True)
    except RuntimeError as e:  # missing, unexpected or mis-shaped tensors for this config
        raise ValueError(f"{weights.name} does not fit its config.json: {str(e).splitlines()[0]}") from e
    return head.to(device).eval()


def load(directory: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Rebuild a checkpoint folder into a ready (eval-mode) head. The config is validated
    (:func:`validate`) before anything is built."""
    directory = Path(directory)
    cfg_path = directory / "config.json"
    if not cfg_path.is_file():
        raise FileNotFoundError(f"No checkpoint at {directory} (config.json missing)")
    meta = _read_config(cfg_path)
    head = _build_head(meta, meta.get("head_config", {}), directory / "model.safetensors", device)
    enrol = meta.get("enrolment")
    enrolled = _build_head(meta, enrol.get("head_config", {}), directory / ENROLLED_FILE, device) if enrol else None
    refs = None
    ref_path = directory / "references.safetensors"
    if ref_path.exists():
        refs = References.from_tensors(_tensors(ref_path), meta.get("references", {}).get("clips", []))
    return Checkpoint(meta.get("name", directory.name), head, meta, refs, directory, enrolled)


def available() -> list[str]:
    """Names of the checkpoints shipped in (or pointed to by) the checkpoints folder."""
    root = checkpoints_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "config.json").exists())


def read_meta(name_or_path: str | Path) -> dict:
    """config.json of a checkpoint, validated, without building the head."""
    return _read_config(resolve(name_or_path) / "config.json")


def local_dirs() -> list[tuple[str, Path]]:
    """(label, folder) for each folder in ``$NVER_CHECKPOINT_DIRS``; the label is the folder's
    name (made a valid name, numbered when two folders share one)."""
    out: list[tuple[str, Path]] = []
    for raw in os.environ.get(DIRS_ENV, "").split(os.pathsep):
        if not raw.strip():
            continue
        root = Path(raw.strip()).expanduser()
        label = re.sub(r"[^A-Za-z0-9._+=-]", "-", root.resolve().name).strip(".-")[:64] or "local"
        taken = {lab for lab, _ in out}
        unique, i = label, 2
        while unique in taken:
            unique, i = f"{label}-{i}", i + 1
        out.append((unique, root))
    return out


def local_checkpoints() -> dict[str, Path]:
    """``"<label>/<name>"`` -> folder, for every checkpoint folder (one holding config.json) in
    the folders of ``$NVER_CHECKPOINT_DIRS``. Folders whose names are not plain names are skipped."""
    found: dict[str, Path] = {}
    for label, root in local_dirs():
        if not root.is_dir():
            log.warning("%s: %s is not a folder", DIRS_ENV, root)
            continue
        for p in sorted(root.iterdir()):
            if NAME.fullmatch(p.name) and (p / "config.json").is_file():
                found[f"{label}/{p.name}"] = p
    return found


def resolve(name_or_path: str | Path) -> Path:
    """A checkpoint folder from a path, a shipped name, ``<label>/<name>`` from
    ``$NVER_CHECKPOINT_DIRS``, or ``hub:<name>`` in ``$NVER_CHECKPOINT_REPO``.

    For the library and the CLI, which the operator runs: paths are accepted. The app only
    passes folders it listed itself (:mod:`nver_demo.app.catalog`)."""
    s = str(name_or_path)
    if s.startswith("hub:"):
        return _from_hub(s[4:])
    local = local_checkpoints().get(s) if "/" in s else None
    if local is not None:
        return local
    p = Path(s)
    if (p / "config.json").exists():
        return p
    shipped = checkpoints_dir() / s
    if (shipped / "config.json").exists():
        return shipped
    if (found := _find_in_extra_dirs(s)) is not None:
        return found
    repo = os.environ.get(_HUB_ENV)
    hint = f"; or hub:<name> from {repo}" if repo else f"; or set ${_HUB_ENV} and use hub:<name>"
    if extra_dirs():
        hint += f"; also looked in ${DIRS_ENV} ({os.pathsep.join(map(str, extra_dirs()))})"
    raise ValueError(
        f"Unknown checkpoint {s!r}. Shipped: {', '.join(available()) or 'none'}{hint}. "
        "Train one with `python -m nver_demo train ...`."
    )


_HUB_ENV = "NVER_CHECKPOINT_REPO"


def _from_hub(name: str) -> Path:
    """Download ``<name>/`` from the Hub repo named by ``$NVER_CHECKPOINT_REPO``."""
    repo = os.environ.get(_HUB_ENV)
    if not NAME.fullmatch(name):
        raise ValueError(f"hub:{name[:60]!r} is not a checkpoint folder name (letters, digits, . _ + = -)")
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
