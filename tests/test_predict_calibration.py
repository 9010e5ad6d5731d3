"""Calibration at predict time: a :class:`Predictor` divides its head's logits by the checkpoint's
temperature, and the "right N % of the time" sentence reads the reliability bin its (calibrated)
confidence falls in. The head is a linear layer with hand-set weights and identity standardisers,
so the logits are ``W x + b``, computed here without the head."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nver_demo import calibration, checkpoint, heads
from nver_demo.predict import Predictor

LABELS = ["calm", "joy", "fear"]
RNG = np.random.default_rng(7)
W = RNG.normal(size=(3, 4))
B = np.array([0.3, -0.2, 0.1])


def _save(directory, calib: dict | None) -> Predictor:
    head = heads.build("linear", (4,), len(LABELS))
    with torch.no_grad():
        head.linear.weight.copy_(torch.from_numpy(W))
        head.linear.bias.copy_(torch.from_numpy(B))
    meta = {"calibration": calib} if calib is not None else {}
    return Predictor.load(checkpoint.save(directory, head.eval(), "linear", ["ge2e"], LABELS, meta))


def _expected(x: np.ndarray, temperature: float) -> np.ndarray:
    z = (W @ x + B) / temperature
    e = np.exp(z - z.max())
    return e / e.sum()


def _probs(pred) -> np.ndarray:
    return np.array([pred.probs[lab] for lab in LABELS])


X = [np.array([0.5, -1.0, 2.0, 0.3]), np.array([-1.5, 0.2, 0.1, 1.0]), np.array([0.1, 0.1, -0.4, 0.2])]


@pytest.mark.parametrize("temperature", [0.5, 2.5])
def test_probabilities_are_the_softmax_of_the_logits_over_the_checkpoints_temperature(tmp_path, temperature):
    plain = _save(tmp_path / "plain", None)
    scaled = _save(tmp_path / "scaled", {"temperature": temperature})
    for x in X:
        p, q = plain.predict_embeddings({"ge2e": x}), scaled.predict_embeddings({"ge2e": x})
        np.testing.assert_allclose(_probs(p), _expected(x, 1.0), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(_probs(q), _expected(x, temperature), rtol=1e-5, atol=1e-7)
        assert np.abs(_probs(p) - _probs(q)).max() > 0.01  # the temperature changes what is shown...
        assert p.label == q.label  # ...never the answer
        assert list(q.probs.values()) == sorted(q.probs.values(), reverse=True)
        assert (p.calibrated, q.calibrated) == (False, True)


# --- the reliability sentence ------------------------------------------------------------------

#: Ten bins, 100 clips each, every one right a different share of the time.
ACCURACY = [0.15, 0.9, 0.22, 0.48, 0.31, 0.66, 0.57, 0.74, 0.83, 0.97]
BINS = [{"lo": i / 10, "hi": (i + 1) / 10, "count": 100, "accuracy": a} for i, a in enumerate(ACCURACY)]


def _says(sentence: str, lo: int, hi: int, right: float, clips: int) -> bool:
    return (
        f"has {lo}–{hi} % confidence, it was right {right:.0f} % of the time" in sentence
        and f"({clips:,} clips)" in sentence
    )


@pytest.mark.parametrize("b", range(10))
def test_the_sentence_reads_the_bin_the_confidence_falls_in(b):
    for conf in (b / 10 + 0.01, b / 10 + 0.05, b / 10 + 0.09):
        sentence = calibration.plain_words(conf, BINS)
        assert _says(sentence, 10 * b, 10 * (b + 1), 100 * ACCURACY[b], 100), (conf, sentence)


def test_full_confidence_reads_the_last_bin():
    assert _says(calibration.plain_words(1.0, BINS), 90, 100, 97, 100)


def test_a_sparse_bin_is_widened_to_its_neighbours_and_their_counts_weigh_in():
    bins = [dict(b) for b in BINS]
    bins[4]["count"] = 10  # 10 clips: too few alone (min_count 30) -> bins 3-5, 210 clips
    right = (100 * 0.48 + 10 * 0.31 + 100 * 0.66) / 210 * 100
    assert _says(calibration.plain_words(0.45, bins), 30, 60, right, 210)
    assert _says(calibration.plain_words(0.75, bins), 70, 80, 74, 100)  # other bins stay alone
    empty = [{**b, "count": 0, "accuracy": None} for b in BINS]
    assert calibration.plain_words(0.45, empty) is None


def test_a_prediction_quotes_the_bin_of_its_calibrated_confidence(tmp_path):
    temperature = 1.8
    p = _save(tmp_path / "m", {"temperature": temperature, "bins_after": BINS})
    seen = set()
    for x in [*X, 3 * X[0], 0.2 * X[1]]:
        conf = _expected(x, temperature).max()
        b = min(int(conf * 10), 9)
        seen.add(b)
        assert _says(p.predict_embeddings({"ge2e": x}).reliability, 10 * b, 10 * (b + 1), 100 * ACCURACY[b], 100)
    assert len(seen) >= 3  # the inputs' confidences fall in different bins
