"""Shared fixtures. Tests are CPU-only, offline and deterministic."""

from __future__ import annotations

import atexit
import os
import random
import shutil
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.pop("NVER_CHECKPOINT_DIRS", None)  # the operator's published checkpoints are not the tests'
# One thread per process, as torch.set_num_threads(1) below: a test that runs the CLI in-process
# (which applies the thread policy) must not give the rest of the session two threads.
os.environ["NVER_THREADS"] = "1"
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
from tqdm import tqdm

from nver_demo.training.datasets import EMOGATOR_DIR

# Tiny models run 10-20x slower on 2 threads when the other core is busy (platform.md).
torch.set_num_threads(1)
# No tqdm monitor thread: a thread holding tqdm's lock when a process forks (mutmut runs each
# mutant in a fork) leaves the child's first progress bar waiting on that lock for ever.
tqdm.monitor_interval = 0

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

# Markers (registered in pyproject.toml), applied here so test files never carry them. The fast
# subset for development is `python -m pytest -q -m "not slow and not browser"`; CI runs everything.
#: Fixtures that make a test slow: the in-process app server and the tiny checkpoints it serves, and
#: the tiny RENO checkpoint (trained with CV at session start; most of its cost is UMAP's numba JIT
#: when the reference layouts are computed: 93 of 122 s under cProfile on the shared 2-core box).
SLOW_FIXTURES = {"app_url", "app_checkpoints", "tiny_checkpoint"}
#: Whole files that are slow: training folds and end-to-end pipelines.
SLOW_FILES = {
    "test_finetune.py",  # fine-tuning folds, the final fit and the checkpoint on a tiny encoder (98 s in all)
    "test_paper_pairs.py",  # extract, merge, train, publish, then the app on it (17.2 s setup, 10.9 s)
}
#: Single slow tests (all their parameters), measured 2026-12-04 on the shared 2-core machine: first
#: `python -m pytest -q --durations=0` over 18 files, load average about 9, >= 3 s each; then the rest.
SLOW_TESTS = {
    "tests/test_heads.py::test_conv_block_compile_keeps_state_and_numbers",  # torch.compile, 19.5 s
    "tests/test_shipped.py::test_cli_predict_prints_top_emotions_offline",  # CLI subprocess, 12.0 s
    "tests/test_mata.py::test_cli_train_writes_a_mata_checkpoint_the_predictor_uses",  # 4.8 s
    "tests/test_predict.py::test_package_exports_predictor_without_importing_torch_eagerly",  # 3.3 s
    "tests/test_convert_audio_mamba.py::test_converter_help_runs",  # subprocess, 3.2 s
    "tests/test_whisper.py::test_encoder_matches_transformers_on_the_same_weights",  # 3.1 s
    "tests/test_docs.py::test_readme_python_example_runs_on_an_example_clip",  # subprocess, 16.1 s
    # >= 10 s in a run of the fast subset itself (`-m "not slow and not browser" --durations=25`, load 9-12):
    "tests/test_projection.py::test_umap_layout_is_stored_and_placement_uses_neighbours",  # numba JIT, 33.0 s
    "tests/test_app_startup.py::test_building_the_app_loads_no_model",  # app.py in a subprocess, 24.4 s
    "tests/test_audio_mamba.py::test_clip_embedding_is_mean_of_kept_rows",  # 14.6 s and 8.2 s
    "tests/test_speech_gate.py::test_synthesised_speech_is_flagged_and_real_bursts_are_not",  # 12.6 s
    "tests/test_audio_mamba.py::test_batch_equals_single_clips",  # 10.6 s
    "tests/test_docs_app.py::test_space_front_matter",  # imports gradio and every backbone, 10.3 s
    "tests/test_shipped.py::test_default_ranks_the_example_clips_right",  # 10.1 s
}


def pytest_collection_modifyitems(config, items):
    """Mark browser tests by file name, slow ones by fixture, file and the measured list above."""
    for item in items:
        name = item.path.name
        if "browser" in name:
            item.add_marker(pytest.mark.browser)
        test_id = item.nodeid.split("[", 1)[0]
        if SLOW_FIXTURES & set(item.fixturenames) or name in SLOW_FILES or test_id in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
        if "app_url" in item.fixturenames:
            item.add_marker(pytest.mark.server)


#: The seed every test starts from (torch, numpy's global generator, ``random``).
SEED = 0


@pytest.fixture(autouse=True)
def _seeded():
    """One result on every order: each test starts from a random state of its own, whatever ran
    before it. This seeds torch, ``random`` and numpy's global generator to one fixed state;
    pytest-randomly, when on, then reseeds ``random`` and numpy once more just before the test body
    (from its ``--randomly-seed`` and the test's id: still the same whatever the order). Tests that
    need a particular stream build their own (``np.random.default_rng(seed)``,
    ``torch.Generator().manual_seed(seed)``); no test here draws from numpy's global generator."""
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    yield


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


#: Mutation runs only (docs/development.md, "Mutation testing"): a folder where the trained
#: fixtures below are built once, by the unmutated code of mutmut's first full run, and reused by
#: every mutant's run (each is a fresh pytest session that would otherwise retrain them for ~2 min).
FIXTURE_STORE = os.environ.get("NVER_TEST_FIXTURE_STORE")


def stored(name: str, build, tmp_path_factory) -> Path | None:
    """``build(dir)`` into ``$NVER_TEST_FIXTURE_STORE/name`` once and return a fresh copy of it;
    ``None`` when the store is not in use (every session then builds its own)."""
    if not FIXTURE_STORE:
        return None
    done = Path(FIXTURE_STORE) / name
    if not (done / ".complete").exists():
        work = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=FIXTURE_STORE))
        build(work)
        (work / ".complete").touch()
        shutil.rmtree(done, ignore_errors=True)
        os.replace(work, done)
    copy = tmp_path_factory.mktemp(name)  # the session's temp folder: pytest cleans it up
    shutil.copytree(done, copy, dirs_exist_ok=True)
    return copy


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_dataset, tmp_path_factory) -> Path:
    """A RENO checkpoint trained (with CV) on the synthetic dataset, through the real pipeline."""
    copy = stored("tiny_checkpoint", lambda d: _train_tiny(tiny_dataset, d), tmp_path_factory)
    if copy is not None:
        return copy / "reno-tiny"
    return _train_tiny(tiny_dataset, tmp_path_factory.mktemp("ckpt"))


def _train_tiny(tiny_dataset: Path, root: Path) -> Path:
    from nver_demo.training import cache, datasets, experiment, train

    feats = experiment.load_features(
        datasets.read_csv(tiny_dataset), ["logmel-stats", "egemaps"], cache.EmbeddingCache(root / "cache"),
        progress=False,
    )  # fmt: skip
    config = train.TrainConfig(epochs=6, seed=0)
    cv = train.cross_validate("reno", feats.xs, feats.y, feats.n_classes, feats.groups, config, n_splits=3)
    experiment.train_checkpoint(feats, "reno", root / "reno-tiny", config, cv, refs_per_class=3)
    return root / "reno-tiny"
