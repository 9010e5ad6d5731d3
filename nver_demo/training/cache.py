"""Embedding cache on disk: one ``.npy`` per (backbone, clip content).

Keys are the SHA-1 of the file's bytes, so renaming or moving a dataset keeps its cache,
and an edited file is re-embedded. Extraction skips what is cached, so an interrupted run
resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import audio
from .datasets import Dataset

log = logging.getLogger(__name__)


def default_root() -> Path:
    """``$NVER_CACHE``, else ``~/.cache/nver_demo``."""
    return Path(os.environ.get("NVER_CACHE", Path.home() / ".cache" / "nver_demo"))


def file_key(path: str | Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class EmbeddingCache:
    """``root/<backbone>/<sha1>.npy``; ``backbone`` includes ``@random`` for random-init runs."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()

    def _path(self, backbone: str, key: str) -> Path:
        return self.root / backbone / f"{key}.npy"

    def get(self, backbone: str, key: str) -> np.ndarray | None:
        p = self._path(backbone, key)
        return np.load(p) if p.exists() else None

    def put(self, backbone: str, key: str, vector: np.ndarray) -> None:
        p = self._path(backbone, key)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(".tmp.npy")
        np.save(tmp, np.asarray(vector, dtype=np.float32))
        os.replace(tmp, p)  # atomic: a killed run never leaves a half-written vector


@dataclass
class Extraction:
    """Embeddings of a dataset for one backbone. Rows of unusable clips are NaN."""

    backbone: str
    vectors: np.ndarray  # (n, dim)
    failed: dict[int, str] = field(default_factory=dict)  # index -> reason (undecodable)
    quiet: list[int] = field(default_factory=list)  # near-silent (< -50 dBFS): embedded, flagged

    @property
    def usable(self) -> np.ndarray:
        """Boolean mask of clips that decoded and are not near-silent."""
        ok = np.ones(len(self.vectors), dtype=bool)
        ok[list(self.failed)] = False
        ok[self.quiet] = False
        return ok


def extract(
    dataset: Dataset,
    backbone_name: str,
    cache: EmbeddingCache | None = None,
    *,
    random_init: bool = False,
    device: str | None = None,
    progress: bool = True,
) -> Extraction:
    """Embed every clip of ``dataset`` with ``backbone_name``, reading/writing the cache.

    Undecodable files are reported in ``failed`` (not fatal); near-silent clips are embedded
    but listed in ``quiet`` so training can leave them out.
    """
    from tqdm.auto import tqdm

    from .. import backbones

    cache = cache or EmbeddingCache()
    spec = backbones.spec(backbone_name)
    tag = spec.cache_tag + ("@random" if random_init else "")
    vectors = np.full((len(dataset), spec.dim), np.nan, dtype=np.float32)
    failed: dict[int, str] = {}
    quiet: list[int] = []
    quiet_marks = cache.root / "_quiet"
    model = None
    bar = tqdm(dataset.items, desc=f"extract {tag}", unit="clip", disable=not progress)
    for i, item in enumerate(bar):
        try:
            key = file_key(item.path)
        except OSError as e:
            failed[i] = f"cannot read: {e}"
            continue
        hit = cache.get(tag, key)
        if hit is not None:
            vectors[i] = hit
            if (quiet_marks / key).exists():
                quiet.append(i)
            continue
        try:
            wave, sr = audio.load(item.path)
        except audio.AudioError as e:
            failed[i] = str(e)
            log.warning("skipping %s: %s", item.path, e)
            continue
        mono = audio.to_mono(audio.to_float(wave))
        if audio.stats(mono, sr).is_quiet:
            quiet.append(i)
            quiet_marks.mkdir(parents=True, exist_ok=True)
            (quiet_marks / key).touch()
        if model is None:  # load lazily: a fully cached dataset never builds the model
            model = backbones.load(backbone_name, random_init=random_init, device=device)
        vec = model.embed(mono, sr)
        cache.put(tag, key, vec)
        vectors[i] = vec
    if failed:
        log.warning("%s: %d of %d clips could not be decoded", tag, len(failed), len(dataset))
    return Extraction(tag, vectors, failed, sorted(quiet))


def log_mels(dataset, progress: bool = True, cache: Path | None = None) -> list[np.ndarray]:
    """Whisper log-mels ``(80, T)`` float16 of every clip, prepared as the backbone prepares them
    (mono, 16 kHz, peak-normalised, 0.2 to 30 s). ``cache``: an ``.npz`` file holding them (written
    when missing; read when it holds every clip of ``dataset``), so that the fine-tuning runs
    (:mod:`.finetune`) decode the corpus once."""
    import torch
    from tqdm.auto import tqdm

    from ..backbones.whisper import encoder_input
    from ..models.whisper_encoder import LogMel

    paths = np.array([str(item.path) for item in dataset.items])
    if cache is not None and cache.exists():
        with np.load(cache) as z:
            where = {p: i for i, p in enumerate(z["paths"])}
            if all(p in where for p in paths):
                every = np.split(z["mels"], np.cumsum(z["frames"])[:-1], axis=1)
                return [every[where[p]] for p in paths]
        log.warning("%s lacks some of the clips: recomputing the log-mels", cache)
    logmel, out = LogMel(80), []
    for item in tqdm(dataset.items, desc="log-mels", unit="clip", disable=not progress):
        wave, sr = audio.load(item.path)
        w = encoder_input(audio.prepare(audio.to_mono(audio.to_float(wave)), sr, 16000))
        with torch.no_grad():
            out.append(logmel(torch.from_numpy(w)).numpy().astype(np.float16))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp.npz")  # runs side by side each write their own
        np.savez(tmp, paths=paths, frames=np.array([m.shape[1] for m in out]), mels=np.concatenate(out, 1))
        tmp.replace(cache)
    return out
