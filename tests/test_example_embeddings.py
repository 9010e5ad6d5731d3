"""The real pretrained backbones still give the embeddings the shipped heads were trained with.

Runs on a fresh clone: the clips are the EmoGator examples in examples/, the expected values a
summary in tests/data/example_embeddings.json (norm + projection onto 32 fixed random directions;
scripts/example_embeddings.py wrote it and explains the summary).

Tolerance, measured 2026-12-04 by re-embedding the clips and comparing with this summary: across
default vs AVX2 kernels and OMP_NUM_THREADS=1 vs 2 the worst projected 1 - cosine was 6.5e-12 and
the worst norm deviation 9.5e-7 (the noise band). Reading a clip at a 10 % wrong rate or dropping
its first 10 % gave, on the least affected clip of each backbone, 1 - cosine >= 5.6e-4 (whisper-base)
and >= 5.2e-3 (ge2e). The bounds (1e-5 on 1 - cosine, 1e-3 on the norm) sit six orders above the
noise band, leaving room for another mp3 decoder build, and 56x below the smallest real change.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from nver_demo import backbones
from nver_demo.audio import load
from tests.conftest import EXAMPLES, ROOT

STORED = json.loads((ROOT / "tests" / "data" / "example_embeddings.json").read_text())
MAX_ONE_MINUS_COS, MAX_NORM_DEV = 1e-5, 1e-3


def _projection(dim: int) -> np.ndarray:
    rows = np.random.default_rng(STORED["proj_seed"]).standard_normal((STORED["proj_dim"], dim))
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.mark.parametrize("backbone", sorted(STORED["backbones"]))
def test_backbone_gives_the_stored_embeddings_on_the_example_clips(backbone):
    bb = backbones.load(backbone)
    proj = _projection(bb.dim)
    expected = STORED["backbones"][backbone]
    assert len(expected) == 8
    for name, want in expected.items():
        vec = bb.embed(*load(EXAMPLES / name)).astype(np.float64)
        got, ref = proj @ vec, np.asarray(want["projection"])
        cos = float(got @ ref / (np.linalg.norm(got) * np.linalg.norm(ref)))
        assert 1 - cos <= MAX_ONE_MINUS_COS, f"{backbone} on {name}: projected cosine {cos:.6f}"
        assert abs(np.linalg.norm(vec) / want["norm"] - 1) <= MAX_NORM_DEV, (
            f"{backbone} on {name}: norm moved"
        )


def test_the_summary_covers_every_shipped_backbone():
    from nver_demo import checkpoint

    used = {
        b
        for p in checkpoint.SHIPPED_DIR.glob("*/config.json")
        for b in json.loads(p.read_text())["backbones"]
    }
    assert used == set(STORED["backbones"]), (
        "rerun scripts/example_embeddings.py after shipping a new backbone"
    )


def test_a_wrongly_read_clip_would_fail_the_bound():
    """The bound can fail: every example read at a 10 % wrong sample rate lands far outside it."""
    bb = backbones.load("whisper-base")
    proj = _projection(bb.dim)
    for name, want in STORED["backbones"]["whisper-base"].items():
        wave, sr = load(EXAMPLES / name)
        got, ref = proj @ bb.embed(wave, int(sr * 1.1)).astype(np.float64), np.asarray(want["projection"])
        assert 1 - got @ ref / (np.linalg.norm(got) * np.linalg.norm(ref)) > 10 * MAX_ONE_MINUS_COS, name
