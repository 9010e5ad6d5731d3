"""The novelty model: distances in the LDA discriminant subspace, saving, and its threshold."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nver_demo import novelty


def _classes(n=200, k=4, d=12, seed=0):
    """k Gaussian classes that differ in the first 3 dimensions only; the rest is shared noise."""
    rng = np.random.default_rng(seed)
    centres = np.zeros((k, d))
    centres[:, :3] = rng.normal(0, 4, (k, 3))
    y = np.repeat(np.arange(k), n)
    x = centres[y] + rng.standard_normal((k * n, d))
    return x, y, centres


def test_a_class_centre_scores_lower_than_a_far_point():
    x, y, centres = _classes()
    m = novelty.fit(x, y, 4)
    far = centres[0] + 0.0
    far[:3] += 40.0  # far outside every class along the directions that tell them apart
    assert m.score(centres[0]) < 1.0 < 5.0 < m.score(far)
    assert m.scores(x).shape == (len(x),) and m.proj.shape[1] == 3  # K - 1 directions


def test_directions_that_do_not_separate_classes_barely_count():
    """A shift along a dimension where no class differs (what a channel change does) moves the
    score far less than the same shift along a dimension that separates the classes."""
    x, y, centres = _classes(n=1000)
    m = novelty.fit(x, y, 4)
    base = centres[1]
    # the same shift, 5 standard deviations of the feature, along a dimension where no class
    # differs and along one where they do: in the population the first has zero weight (only
    # sampling noise, ~1/sqrt(n), gives it any)
    shift = np.zeros_like(base)
    shift[8] = 5.0 * x[:, 8].std()
    along = np.zeros_like(base)
    along[0] = 5.0 * x[:, 0].std()
    assert abs(m.score(base + shift) - m.score(base)) < 0.2 * abs(m.score(base + along) - m.score(base))


def test_every_class_needs_examples():
    x, y, _ = _classes()
    with pytest.raises(ValueError, match="classes \\[4\\]"):
        novelty.fit(x, y, 5)


def test_save_and_load_round_trip(tmp_path):
    x, y, _ = _classes()
    m = novelty.fit(x, y, 4)
    novelty.save(m, tmp_path)
    info = {"score": novelty.SCORE, "threshold": 2.5}
    (tmp_path / "config.json").write_text(json.dumps({"novelty": info}))
    back = novelty.load(tmp_path)
    assert back.threshold == 2.5 and back.info == info
    assert back.scores(x[:20]) == pytest.approx(m.scores(x[:20]), rel=1e-4)


def test_no_model_and_bad_thresholds(tmp_path):
    assert novelty.load(tmp_path) is None  # nothing fitted: no score, not an error
    x, y, _ = _classes()
    novelty.save(novelty.fit(x, y, 4), tmp_path)
    assert novelty.load(tmp_path, {}) is None
    with pytest.raises(ValueError, match="finite"):
        novelty.load(tmp_path, {"score": novelty.SCORE, "threshold": float("nan")})
    with pytest.raises(ValueError, match="computes"):
        novelty.load(tmp_path, {"score": "energy", "threshold": 1.0})
