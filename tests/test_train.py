import numpy as np
import pytest
import torch

from nver_demo.training import train
from nver_demo.training.train import TrainConfig


def blobs(n_per=24, n_classes=3, dim=16, n_speakers=8, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (n_classes, dim))
    y = np.repeat(np.arange(n_classes), n_per)
    x = centers[y] + rng.normal(0, 1, (len(y), dim))
    groups = np.array([f"s{i % n_speakers}" for i in range(len(y))])
    return x.astype(np.float32), y, groups


def test_folds_are_speaker_disjoint_and_cover_everything():
    _, y, groups = blobs()
    folds = train.speaker_folds(y, groups, n_splits=4)
    seen = np.concatenate([test for _, test in folds])
    assert sorted(seen) == list(range(len(y)))
    for tr, te in folds:
        assert not set(groups[tr]) & set(groups[te])


def test_validation_split_is_speaker_disjoint():
    _, y, groups = blobs()
    fit_idx, val_idx = train.validation_split(y, groups, 0.25, seed=0)
    assert not set(groups[fit_idx]) & set(groups[val_idx])
    assert len(fit_idx) + len(val_idx) == len(y)


def test_validation_split_without_speakers_is_stratified():
    _, y, _ = blobs()
    _, val_idx = train.validation_split(y, None, 0.25, seed=0)
    assert set(y[val_idx]) == {0, 1, 2}


@pytest.mark.parametrize("head", ["fcn", "cnn"])
def test_fit_learns_separable_data(head):
    x, y, groups = blobs()
    config = TrainConfig(epochs=15, seed=1)
    res = train.fit(head, [x], y, 3, groups, config)
    acc = (train.predict_proba(res.head, [x]).argmax(1) == y).mean()
    assert acc > 0.9
    # Early stopping keeps the first epoch with the best validation macro-F1, and the head it
    # returns is that epoch's: it scores that F1 again on the same validation speakers.
    f1 = [h["val_macro_f1"] for h in res.history]
    assert [h["epoch"] for h in res.history] == list(range(1, len(f1) + 1))
    assert res.best_epoch == 1 + int(np.argmax(f1))
    _, val_idx = train.validation_split(y, groups, config.val_fraction, config.seed)
    val_pred = train.predict_proba(res.head, [x[val_idx]]).argmax(1)
    assert train.metrics.scores(y[val_idx], val_pred, 3)["macro_f1"] == pytest.approx(max(f1))


def test_early_stopping_stops_before_max_epochs_on_noise():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 8)).astype(np.float32)
    y = rng.integers(0, 3, 120)
    res = train.fit("fcn", [x], y, 3, None, TrainConfig(epochs=60, patience=3))
    assert len(res.history) < 60


def test_cross_validate_reports_every_fold_and_confusion():
    x, y, groups = blobs()
    x2 = x[:, :8] + 0.1
    cv = train.cross_validate("concat", [x, x2], y, 3, groups, TrainConfig(epochs=8), n_splits=4)
    assert len(cv.folds) == 4
    assert np.array(cv.confusion).shape == (3, 3)
    assert np.array(cv.confusion).sum() == len(y)
    assert cv.summary["accuracy_mean"] > 80
    assert np.allclose(cv.oof_proba.sum(1), 1, atol=1e-4)
    d = cv.to_dict()
    assert {"folds", "accuracy_mean", "macro_f1_std", "confusion"} <= set(d)


def test_linear_probe_matches_scikit_learn_logistic_regression():
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    x, y, groups = blobs(n_per=30, dim=12, seed=3)
    x = x + np.random.default_rng(0).normal(0, 2.0, x.shape).astype(np.float32)  # overlapping classes
    res = train.fit("linear", [x], y, 3, groups, TrainConfig(head_config={"C": 0.01}))
    ours = train.predict_proba(res.head, [x])
    z = StandardScaler().fit_transform(x)
    ref = LogisticRegression(C=0.01, max_iter=2000, tol=1e-8).fit(z, y).predict_proba(z)
    np.testing.assert_allclose(ours, ref, atol=2e-3)


def test_linear_probe_chooses_regularisation_on_held_out_speakers():
    x, y, groups = blobs()
    res = train.fit("linear", [x], y, 3, groups, TrainConfig())
    from nver_demo.heads.linear import C_GRID

    assert [h["C"] for h in res.history] == list(C_GRID)
    assert res.head.C in C_GRID
    assert (train.predict_proba(res.head, [x]).argmax(1) == y).mean() > 0.9


def test_linear_probe_for_a_checkpoint_never_trains_on_its_held_out_speakers():
    """With refit_on_validation=False (what a shipped checkpoint uses) only the fit split counts."""
    x, y, groups = blobs(n_per=30, dim=12, seed=3)
    split = train.validation_split(y, groups, 0.3, 0)
    cfg = TrainConfig(head_config={"C": 0.01}, refit_on_validation=False)
    a = train.fit("linear", [x], y, 3, groups, cfg, split)
    x2 = x.copy()
    x2[split[1]] = 100.0  # change only the held-out clips
    b = train.fit("linear", [x2], y, 3, groups, cfg, split)
    np.testing.assert_allclose(train.predict_proba(a.head, [x]), train.predict_proba(b.head, [x]), atol=1e-6)
    c = train.fit("linear", [x2], y, 3, groups, TrainConfig(head_config={"C": 0.01}), split)
    assert not np.allclose(train.predict_proba(a.head, [x]), train.predict_proba(c.head, [x]), atol=1e-3)


def test_lda_matches_scikit_learn_without_shrinkage():
    """Shrinkage 0, equal priors: the same discriminant as scikit-learn's LDA, up to the scale of
    the covariance estimate (ours divides by n - K, theirs by n), so the same decisions and
    proportional scores."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.preprocessing import StandardScaler

    x, y, groups = blobs(n_per=40, dim=10, seed=4)
    x = x + np.random.default_rng(1).normal(0, 2.0, x.shape).astype(np.float32)  # overlapping classes
    res = train.fit("lda", [x], y, 3, groups, TrainConfig(head_config={"shrinkage": 0.0}))
    z = StandardScaler().fit_transform(x)
    ref = LinearDiscriminantAnalysis(solver="lsqr", priors=np.full(3, 1 / 3)).fit(z, y)
    with torch.no_grad():
        ours = res.head(torch.from_numpy(x)).logits.double().numpy()
    theirs = ref.decision_function(z)
    ours, theirs = ours - ours.mean(1, keepdims=True), theirs - theirs.mean(1, keepdims=True)
    scale = (ours * theirs).sum() / (theirs * theirs).sum()
    assert scale == pytest.approx((len(y) - 3) / len(y), rel=1e-3)
    np.testing.assert_allclose(ours, scale * theirs, atol=1e-3 * np.abs(ours).max())
    assert (ours.argmax(1) == ref.predict(z)).all()


def test_lda_shrinkage_is_chosen_on_held_out_speakers_and_shrinks_to_nearest_mean():
    from nver_demo.heads.linear import SHRINKAGE_GRID

    x, y, groups = blobs(seed=5)
    res = train.fit("lda", [x], y, 3, groups, TrainConfig())
    assert [h["shrinkage"] for h in res.history] == list(SHRINKAGE_GRID)
    assert res.head.shrinkage in SHRINKAGE_GRID and res.head.config() == {"shrinkage": res.head.shrinkage}
    assert (train.predict_proba(res.head, [x]).argmax(1) == y).mean() > 0.9
    # Full shrinkage: the covariance is a multiple of I, so LDA is the nearest class mean (standardised).
    full = train.fit("lda", [x], y, 3, groups, TrainConfig(head_config={"shrinkage": 1.0})).head
    z = full.norms[0](torch.from_numpy(x)).double()
    means = torch.stack([z[torch.from_numpy(y) == k].mean(0) for k in range(3)])
    nearest = torch.cdist(z, means).argmin(1).numpy()
    np.testing.assert_array_equal(train.predict_proba(full, [x]).argmax(1), nearest)


def test_lda_refuses_a_class_without_examples_and_bad_shrinkage():
    from nver_demo import heads

    x, y, _ = blobs()
    head = heads.build("lda", (x.shape[1],), 4)
    head.fit_normalization([torch.from_numpy(x)])
    with pytest.raises(ValueError, match=r"classes \[3\]"):
        head.fit_full(torch.from_numpy(x), torch.from_numpy(y))
    with pytest.raises(ValueError, match="shrinkage"):
        heads.build("lda", (4,), 3, shrinkage=1.5)


def test_cross_validate_resumes_finished_folds_from_a_work_folder(tmp_path, monkeypatch):
    x, y, groups = blobs()
    config = TrainConfig(epochs=3, seed=0)
    first = train.cross_validate("fcn", [x], y, 3, groups, config, n_splits=4, work=tmp_path)
    assert len(list(tmp_path.glob("fold*.npz"))) == 4
    # A rerun trains nothing: every fold comes from the work folder, with the same numbers.
    monkeypatch.setattr(train, "fit", lambda *a, **k: pytest.fail("a finished fold was retrained"))
    again = train.cross_validate("fcn", [x], y, 3, groups, config, n_splits=4, work=tmp_path)
    np.testing.assert_array_equal(again.oof_proba, first.oof_proba)
    assert again.summary == first.summary and again.folds == first.folds
    # Another config does not reuse them.
    with pytest.raises(pytest.fail.Exception):
        train.cross_validate("fcn", [x], y, 3, groups, TrainConfig(epochs=4), n_splits=4, work=tmp_path)
