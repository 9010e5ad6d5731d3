import numpy as np

from nver_demo import calibration


def _overconfident(n=3000, c=5, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    logits = rng.normal(size=(n, c))
    logits[np.arange(n), y] += 1.0
    return logits * 4.0, y  # scaled up: far too confident


def test_calibrated_probabilities_sum_to_one():
    logits, _ = _overconfident()
    p = calibration.softmax(logits, 2.7)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-12)
    assert (p >= 0).all()


def test_temperature_recovers_the_scale_and_lowers_ece():
    logits, y = _overconfident()
    t = calibration.fit_temperature(logits, y)
    assert 3.0 < t < 5.5  # the logits were inflated 4x
    before = calibration.ece(calibration.softmax(logits), y)
    after = calibration.ece(calibration.softmax(logits, t), y)
    assert after < 0.05 < before
    assert calibration.nll(logits, y, t) < calibration.nll(logits, y)


def test_ece_of_a_perfectly_calibrated_predictor_is_small():
    rng = np.random.default_rng(1)
    conf = rng.uniform(0.2, 1.0, 20000)
    probs = np.stack([conf, 1 - conf], 1)
    y = np.where(rng.uniform(size=conf.size) < conf, 0, 1)
    assert calibration.ece(probs, y) < 0.02


def test_summarize_oof_is_cross_fitted_and_reports_bins():
    logits, y = _overconfident()
    p = calibration.softmax(logits)
    folds = np.arange(len(y)) % 5
    s = calibration.summarize_oof(p, y, folds)
    assert s["ece_after"] < s["ece_before"] and len(s["fold_temperatures"]) == 5
    assert sum(b["count"] for b in s["bins_after"]) == len(y) and len(s["bins_after"]) == 15


def test_plain_words():
    logits, y = _overconfident()
    s = calibration.summarize_oof(calibration.softmax(logits), y, np.arange(len(y)) % 5)
    sentence = calibration.plain_words(0.55, s["bins_after"])
    assert sentence.startswith("When this model's top answer has") and "% of the time" in sentence
    assert calibration.plain_words(0.5, []) is None
