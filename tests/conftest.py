"""Shared fixtures. Tests are CPU-only, offline and deterministic."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.pop("NVER_CHECKPOINT_DIRS", None)  # the operator's published checkpoints are not the tests'
os.environ.pop("NVER_THREADS", None)
# A private upload folder for this test session (Gradio's default, /tmp/gradio, is shared by every
# Gradio app on the machine and keyed by file content: another instance cleaning its cache could
# delete a file our server is about to read). Set before gradio is imported: some of its modules
# read it at import.
_GRADIO_TMP = tempfile.mkdtemp(prefix="nver-test-gradio-")
os.environ["GRADIO_TEMP_DIR"] = _GRADIO_TMP
atexit.register(shutil.rmtree, _GRADIO_TMP, ignore_errors=True)

from pathlib import Path

import numpy as np
import pytest
import torch

from nver_demo.training.datasets import EMOGATOR_DIR

# Tiny models run 10-20x slower on 2 threads when the other core is busy (platform.md).
torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

needs_emogator = pytest.mark.skipif(
    not (EMOGATOR_DIR / "labels.csv").exists(), reason="EmoGator data (../shared/data/emogator) not present"
)


def tone(
    seconds: float = 1.0, sr: int = 16000, freq: float = 220.0, amp: float = 0.3, seed: int = 0
) -> np.ndarray:
    """A voiced-like harmonic tone with a little noise: float32 mono."""
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(seed)
    x = sum(np.sin(2 * np.pi * freq * k * t) / k for k in range(1, 6))
    x = amp * x / np.max(np.abs(x)) + 0.01 * rng.standard_normal(len(t))
    return x.astype(np.float32)


@pytest.fixture
def clip() -> tuple[np.ndarray, int]:
    return tone(1.0, 16000), 16000


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """A CSV dataset of synthetic clips: 3 classes told apart by pitch, 6 speakers."""
    import soundfile as sf

    root = tmp_path_factory.mktemp("tiny_ds")
    rows = ["path,label,speaker"]
    freqs = {"low": 110.0, "mid": 330.0, "high": 990.0}
    for spk in range(6):
        for label, f in freqs.items():
            for i in range(3):
                name = f"s{spk}_{label}_{i}.wav"
                x = tone(0.6, 16000, f * (1 + 0.03 * spk + 0.01 * i), seed=spk * 10 + i)
                sf.write(root / name, x, 16000)
                rows.append(f"{name},{label},spk{spk}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root / "labels.csv"


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_dataset, tmp_path_factory) -> Path:
    """A RENO checkpoint trained (with CV) on the synthetic dataset, through the real pipeline."""
    from nver_demo.training import cache, datasets, experiment, train

    root = tmp_path_factory.mktemp("ckpt")
    feats = experiment.load_features(
        datasets.read_csv(tiny_dataset), ["logmel-stats", "egemaps"], cache.EmbeddingCache(root / "cache"),
        progress=False,
    )  # fmt: skip
    config = train.TrainConfig(epochs=6, seed=0)
    cv = train.cross_validate("reno", feats.xs, feats.y, feats.n_classes, feats.groups, config, n_splits=3)
    experiment.train_checkpoint(feats, "reno", root / "reno-tiny", config, cv, refs_per_class=3)
    return root / "reno-tiny"
