"""One in-process app server per test session, shared by the API, bad-input and browser tests.

The server serves a folder of tiny checkpoints built from the synthetic dataset of
``conftest.py`` (fast, no EmoGator needed): the RENO ``tiny_checkpoint``, a CNN on one of its
backbones, and a RENO checkpoint whose backbone needs Hub weights (to check the message that
says how to get them). Functions are cached, so importing the fixtures into several test
modules still builds and launches everything once.
"""

from __future__ import annotations

import functools
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
#: A real EmoGator vocal burst shipped with the app.
REAL_CLIP = EXAMPLES / "amusement_000292-02-2.mp3"
HUB_MODEL = "reno-wavlm-base+logmel-stats"


@functools.cache
def checkpoints(tiny_dataset: Path, tiny_checkpoint: Path) -> Path:
    """A checkpoints folder: reno-tiny, cnn-logmel-stats, and a Hub-weights RENO (random head)."""
    from nver_demo import checkpoint, heads
    from nver_demo.training import cache, datasets, experiment, train

    root = tiny_checkpoint.parent.parent / "app_checkpoints"  # beside the session's other temp dirs
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(tiny_checkpoint, root / "reno-tiny", dirs_exist_ok=True)
    feats = experiment.load_features(
        datasets.read_csv(tiny_dataset),
        ["logmel-stats"],
        cache.EmbeddingCache(root / "_cache"),
        progress=False,
    )
    config = train.TrainConfig(epochs=4, seed=0)
    cv = train.cross_validate("cnn", feats.xs, feats.y, feats.n_classes, feats.groups, config, n_splits=3)
    experiment.train_checkpoint(feats, "cnn", root / "cnn-logmel-stats", config, cv, refs_per_class=3)
    labels = checkpoint.read_meta(tiny_checkpoint)["labels"]
    head = heads.build("reno", (768, 128), len(labels))
    checkpoint.save(root / HUB_MODEL, head, "reno", ["wavlm-base", "logmel-stats"], labels, {})
    return root


@functools.cache
def serve(ckpt_dir: Path) -> str:
    """Launch the app (as ``python app.py`` would configure it) and return its URL."""
    import app
    from nver_demo.app import catalog

    demo = app.build_demo(catalog.models(ckpt_dir, hub=False, local=False))
    launch(demo, **app.LAUNCH)
    return demo.local_url


def launch(demo, **kwargs) -> None:
    """``demo.launch`` on a free loopback port, robust to a machine shared with other servers:
    a port taken between our probe and the bind is retried on another; and Gradio's own final
    reachability check (one HEAD request with a 3 s timeout, which fails on a machine loaded
    with other jobs) is redone with a patient request before giving up."""
    import httpx

    for attempt in range(5):
        try:
            demo.launch(prevent_thread_lock=True, quiet=True, server_port=free_port(), **kwargs)
            return
        except ValueError as e:  # "When localhost is not accessible, a shareable link must be created"
            if "localhost is not accessible" not in str(e) or not demo.local_url:
                raise
            if httpx.get(demo.local_url, timeout=120).status_code == 200:
                return  # the server is up and its queue started; only Gradio's impatient check failed
            raise
        except OSError:
            if attempt == 4:
                raise


def free_port() -> int:
    """A loopback port nobody listens on now, chosen by the OS (never Gradio's fixed 7860 scan,
    which two servers started at once on one machine can both pick)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_checkpoints(tiny_dataset, tiny_checkpoint, tmp_path_factory) -> Path:
    from tests.conftest import stored

    copy = stored("app_checkpoints", lambda d: shutil.copytree(checkpoints(tiny_dataset, tiny_checkpoint), d,
                                                               dirs_exist_ok=True), tmp_path_factory)  # fmt: skip
    return copy if copy is not None else checkpoints(tiny_dataset, tiny_checkpoint)


@pytest.fixture(scope="session")
def app_url(app_checkpoints) -> str:
    return serve(app_checkpoints)


@pytest.fixture(scope="session")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False, download_files=False)


def write(path: Path, wave: np.ndarray, sr: int, subtype: str | None = None, fmt: str | None = None) -> Path:
    sf.write(path, wave, sr, subtype=subtype, format=fmt)
    return path


def burst(seconds: float = 1.0, sr: int = 16000, amp: float = 0.3, seed: int = 0) -> np.ndarray:
    """A vocal-burst-like harmonic tone with a gliding pitch and a little noise (float32 mono)."""
    t = np.arange(int(seconds * sr)) / sr
    f0 = 250 + 80 * np.sin(2 * np.pi * 1.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    x = sum(np.sin(k * phase) / k for k in range(1, 6)) * np.hanning(len(t))
    x = amp * x / max(1e-9, np.max(np.abs(x)))
    x += 0.005 * np.random.default_rng(seed).standard_normal(len(t))
    return x.astype(np.float32)
