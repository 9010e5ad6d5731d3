"""Fine-tuning Whisper's lower encoder (nver_demo.training.finetune), on tiny data: the fold runs,
the final fit, the checkpoint and the ``python -m nver_demo finetune`` entry."""

import json
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
import torch

from nver_demo import backbones, cli
from nver_demo.models.whisper_encoder import PooledEncoder, WhisperEncoder, WhisperEncoderConfig
from nver_demo.training import cache, datasets, train
from nver_demo.training import finetune as ft

TINY = WhisperEncoderConfig(d_model=8, layers=4, heads=2, n_mels=16)
FAST = dict(batch_size=16, bf16=False)  # float32 on the CPU: bfloat16 autocast is not bit-reproducible


def test_pooled_encoder_is_the_whisper_base_embedding(tiny_dataset):
    """Log-mels of the dataset's clips through PooledEncoder give the backbone's own embedding."""
    bb = backbones.load("whisper-base", random_init=True, device="cpu")
    ds = datasets.read_csv(tiny_dataset)
    mels = cache.log_mels(ds, progress=False)
    got = ft.features(PooledEncoder(bb.encoder), mels, np.arange(len(ds)))
    want = np.stack([bb.embed(*sf.read(it.path, dtype="float32")) for it in ds.items])
    assert got.shape == want.shape == (len(ds), bb.dim)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_padded_batch_equals_each_clip_alone():
    torch.manual_seed(0)
    model = PooledEncoder(WhisperEncoder(TINY))
    rng = np.random.default_rng(0)
    mels = [rng.normal(size=(16, t)).astype(np.float16) for t in (7, 40, 23, 41, 2)]
    batched = ft.features(model, mels, np.arange(len(mels)), batch_size=8)
    alone = np.concatenate([ft.features(model, mels, [i]) for i in range(len(mels))])
    np.testing.assert_allclose(batched, alone, rtol=1e-5, atol=1e-5)


def test_starts_as_the_probe_and_tunes_the_encoder_beyond_it():
    """Labels unrelated to the sound: the probe on the frozen features (48 dims) cannot fit 90
    clips' random labels (asserted below 80, so the gain is not given), an encoder that learns can
    memorise them: +15 points of macro-F1 over the step-0 score is far beyond evaluation noise."""
    torch.manual_seed(0)
    enc = WhisperEncoder(TINY)
    rng = np.random.default_rng(0)
    mels = [rng.normal(size=(16, int(rng.integers(30, 60)))).astype(np.float16) for _ in range(90)]
    y = rng.integers(0, 3, size=90)
    base = ft.features(PooledEncoder(enc), mels, np.arange(90))
    idx = np.arange(90)
    frozen = ft.finetune_encoder(enc, mels, base, y, 3, idx, idx, ft.FinetuneConfig(epochs=0), progress=False)
    before = [p.detach().clone() for p in enc.parameters()]
    cfg = ft.FinetuneConfig(epochs=40, lr_encoder=3e-3, lr_head=3e-2, crop=0.0, time_masks=0, freq_masks=0, **FAST)
    res = ft.finetune_encoder(enc, mels, base, y, 3, idx, idx, cfg, progress=False)
    assert frozen.best_step == 0 and frozen.probe_val_f1 == res.probe_val_f1  # step 0 is the probe
    assert res.probe_val_f1 < 80
    assert res.best_val_f1 >= res.probe_val_f1 + 15
    assert res.best_step > 0 and len(res.history) == 41
    # The caller's encoder is untouched (the model tunes a copy); the kept weights differ from it.
    assert all(torch.equal(a, b) for a, b in zip(before, enc.parameters()))
    assert not np.allclose(ft.features(res.model, mels, idx), base)
    with pytest.raises(ValueError, match="features"):
        ft.finetune_encoder(enc, mels, base[:, :10], y, 3, idx, idx, cfg, progress=False)


def toy_corpus(n: int):
    """A tiny encoder and ``n`` clips of 3 classes from 6 speakers whose log-mels shift with the
    class (so LDA has something to find): encoder, mels, frozen features, labels, speakers."""
    torch.manual_seed(0)
    enc = WhisperEncoder(TINY)
    rng = np.random.default_rng(0)
    y, groups = np.tile(np.arange(3), n // 3), np.repeat(np.arange(6), n // 6)
    mels = [(rng.normal(size=(16, int(rng.integers(30, 50)))) + y[i]).astype(np.float16) for i in range(n)]
    return enc, mels, ft.features(PooledEncoder(enc), mels, np.arange(n)), y, groups


def test_a_fold_scores_lda_on_frozen_and_tuned_features_and_writes_its_records(tmp_path):
    enc, mels, base, y, groups = toy_corpus(48)
    cfg = ft.FinetuneConfig(epochs=2, lr_encoder=1e-3, lr_head=1e-2, evals_per_epoch=2, **FAST)
    data = {"data": "toy", "sources": [{"folder": "toy", "clips": 48, "speakers": 6}], "n_speakers": 6}
    out = ft.run_fold(enc, mels, base, y, groups, 3, 0, cfg, tmp_path, progress=False, n_splits=3, data=data)
    rec = json.loads((tmp_path / "fold0.json").read_text())
    assert rec == json.loads(json.dumps(out))
    assert rec["sources"] == data["sources"] and rec["config"]["epochs"] == 2 and len(rec["history"]) == 5
    train_idx, test_idx = train.speaker_folds(y, groups, 3, 0)[0]
    assert rec["n_test"] == len(test_idx)
    saved = np.load(tmp_path / "fold0.npz")
    np.testing.assert_array_equal(saved["test_idx"], test_idx)
    head = ft.fit_lda(base[train_idx], y[train_idx], groups[train_idx], 3)  # "frozen" is LDA on the frozen features
    np.testing.assert_allclose(saved["frozen"], train.predict_proba(head, [base[test_idx]]), rtol=1e-5, atol=1e-6)
    feats = np.load(tmp_path / "fold0.features.npy")
    assert feats.shape == base.shape and feats.dtype == np.float16 and np.isfinite(feats).all()
    assert not np.allclose(feats, base, atol=1e-2)  # the tuned encoder's, for every clip
    pred = saved["tuned"].argmax(1)
    assert rec["lda_tuned"]["macro_f1"] == pytest.approx(train.metrics.scores(y[test_idx], pred, 3)["macro_f1"])


def test_augmentation_keeps_shape_and_short_clips():
    rng = np.random.default_rng(0)
    cfg = ft.FinetuneConfig()
    m = rng.normal(size=(80, 100)).astype(np.float32)
    a = ft.augment(m, cfg, rng)
    assert a.shape[0] == 80 and 70 <= a.shape[1] <= 100
    assert (a == a.min()).any()  # masks filled with the clip's floor
    short = rng.normal(size=(80, 20)).astype(np.float32)
    assert ft.augment(short, cfg, rng) is short  # too short to crop or mask
    plain = ft.FinetuneConfig(crop=0, time_masks=0, freq_masks=0)
    np.testing.assert_array_equal(ft.augment(m, plain, rng), m)


def test_folds_assemble_a_nested_cv_and_the_final_weights_load_as_the_backbone(tmp_path):
    """run_fold x3 -> nested_cv is a complete out-of-fold CV; run_final's float16 file, loaded by
    the whisper-base-ft backbone's loader, gives the tuned model's features."""
    from nver_demo.backbones import whisper_ft

    enc, mels, base, y, groups = toy_corpus(72)
    cfg = ft.FinetuneConfig(epochs=1, crop=0.0, **FAST)
    work = tmp_path / "work"
    for k in range(3):
        ft.run_fold(enc, mels, base, y, groups, 3, k, cfg, work, progress=False, n_splits=3, data={"data": "toy"})
    cv = ft.nested_cv(work, y, 3, n_splits=3, data="toy")
    assert sorted(np.unique(cv.fold_of)) == [0, 1, 2]
    np.testing.assert_allclose(cv.oof_proba.sum(1), 1.0, atol=1e-5)
    for k in range(3):
        rec = json.loads((work / f"fold{k}.json").read_text())
        assert rec["lda_tuned"]["macro_f1"] == cv.folds[k]["macro_f1"]
        assert rec["n_test"] == (cv.fold_of == k).sum()
    assert cv.summary["accuracy_mean"] > 60  # classes a whole log unit apart; chance is 33
    with pytest.raises(FileNotFoundError, match="--fold 3"):
        ft.nested_cv(work, y, 3, n_splits=4)
    with pytest.raises(ValueError, match="other clips"):  # folds run on another corpus
        ft.nested_cv(work, y, 3, n_splits=3, data="297 speakers")

    out = tmp_path / "ft.safetensors"
    rec = ft.run_final(enc, mels, base, y, groups, 3, cfg, out, work, progress=False, data={"data": "toy"})
    assert json.loads((work / "final.json").read_text()) == json.loads(json.dumps(rec))
    assert rec["data"] == "toy" and rec["n_fit"] + rec["n_val"] == len(y)
    loaded = PooledEncoder(whisper_ft.load_tuned(WhisperEncoder(TINY), out))
    again = ft.finetune_encoder(enc, mels, base, y, 3, *train.validation_split(y, groups, cfg.val_fraction, 0),
                                cfg, progress=False)  # fmt: skip
    assert again.best_step == rec["best_step"]
    want = ft.features(again.model, mels, np.arange(len(y)))
    np.testing.assert_allclose(ft.features(loaded, mels, np.arange(len(y))), want, rtol=2e-2, atol=2e-2)


def test_tuned_weights_file_is_checked(tmp_path):
    from safetensors.torch import save_file

    from nver_demo.backbones import WeightsUnavailable, whisper_ft

    with pytest.raises(WeightsUnavailable, match="missing"):
        whisper_ft.load_tuned(WhisperEncoder(TINY), tmp_path / "none.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(WeightsUnavailable, match="not a readable"):
        whisper_ft.load_tuned(WhisperEncoder(TINY), tmp_path / "junk.safetensors")
    save_file({"conv1.weight": torch.zeros(3)}, str(tmp_path / "bad.safetensors"),
              metadata={"format": whisper_ft.FORMAT, "blocks": "[2, 3, 4]"})  # fmt: skip
    with pytest.raises(WeightsUnavailable, match="does not fit"):
        whisper_ft.load_tuned(WhisperEncoder(TINY), tmp_path / "bad.safetensors")
    save_file({"conv1.weight": torch.zeros(3)}, str(tmp_path / "foreign.safetensors"))
    with pytest.raises(WeightsUnavailable, match="is not a 'whisper-base-ft' weights file"):
        whisper_ft.load_tuned(WhisperEncoder(TINY), tmp_path / "foreign.safetensors")


def test_log_mel_cache_serves_any_subset_of_its_clips(tiny_dataset, tmp_path):
    ds = datasets.read_csv(tiny_dataset)
    path = tmp_path / "mels.npz"
    fresh = cache.log_mels(ds, progress=False, cache=path)
    assert path.is_file() and not list(tmp_path.glob("*.tmp.npz"))
    got = cache.log_mels(ds.subset([5, 0, 3]), progress=False, cache=path)
    for g, i in zip(got, [5, 0, 3]):
        np.testing.assert_array_equal(g, fresh[i])
    # A clip the cache does not hold: recomputed (the cache file is rewritten for these clips).
    moved = tmp_path / "moved.wav"
    shutil.copy(ds.items[1].path, moved)
    other = datasets.Dataset("x", [datasets.Item(moved, ds.items[1].label, "s")], labels=list(ds.labels))
    np.testing.assert_array_equal(cache.log_mels(other, progress=False, cache=path)[0], fresh[1])


def test_checkpoint_records_the_nested_cv_and_its_calibration(tiny_dataset, tmp_path):
    """make_checkpoint: a loadable LDA checkpoint whose CV and temperature are the folds' (not a CV
    of its own features), naming the weights file it belongs to by its sha256."""
    import hashlib

    from nver_demo import checkpoint
    from nver_demo.training import experiment

    feats = experiment.load_features(datasets.read_csv(tiny_dataset), ["logmel-stats"],
                                     cache.EmbeddingCache(tmp_path / "cache"), progress=False)  # fmt: skip
    rng = np.random.default_rng(0)
    mels = [(rng.normal(size=(16, 40)) + feats.y[i]).astype(np.float16) for i in range(len(feats.y))]
    enc = WhisperEncoder(TINY)
    base = ft.features(PooledEncoder(enc), mels, np.arange(len(mels)))
    cfg = ft.FinetuneConfig(epochs=1, batch_size=8, bf16=False)
    work = tmp_path / "work"
    data = ft.data_record(feats.dataset, feats.groups)
    assert data["n_speakers"] == 6 and data["n_clips"] == len(feats.y)
    for k in range(3):
        ft.run_fold(enc, mels, base, feats.y, feats.groups, feats.n_classes, k, cfg, work, progress=False,
                    n_splits=3, data=data)  # fmt: skip
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"stand-in for the weights file")
    ck = ft.make_checkpoint(feats, work, tmp_path / "lda-tiny", weights, n_splits=3)
    cv = ck.meta["metrics"]["cv"]
    folds = [json.loads((work / f"fold{k}.json").read_text())["lda_tuned"]["macro_f1"] for k in range(3)]
    assert [f["macro_f1"] for f in cv["folds"]] == folds
    assert cv["macro_f1_mean"] == pytest.approx(np.mean(folds))
    assert ck.meta["calibration"]["temperature"] > 0 and len(ck.meta["calibration"]["fold_temperatures"]) == 3
    bw = ck.meta["training"]["backbone_weights"]
    assert bw["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert "nested" in ck.meta["training"]["cv_procedure"]
    assert checkpoint.load(ck.path).meta["metrics"]["cv"]["macro_f1_mean"] == cv["macro_f1_mean"]


def test_overrides_take_the_fields_own_types_and_refuse_the_rest():
    cfg = ft.with_overrides(ft.FinetuneConfig(), ["epochs=6", "lr_encoder=3e-5", "bf16=false", "crop=0"])
    assert (cfg.epochs, cfg.lr_encoder, cfg.bf16, cfg.crop) == (6, 3e-5, False, 0.0)
    assert type(cfg.crop) is float
    for bad, why in [("supcon=0.5", "fields: epochs, batch_size"), ("epochs", "FIELD=VALUE"),
                     ("epochs=1.5", "takes a int"), ("bf16=1", "takes a bool"), ("epochs=true", "takes a int"),
                     ("lr_head=fast", "not a JSON value")]:  # fmt: skip
        with pytest.raises(ValueError, match=why):
            ft.with_overrides(ft.FinetuneConfig(), [bad])


@pytest.fixture
def toy_inputs(monkeypatch):
    """``load_inputs`` of the CLI replaced by a toy corpus of 6 speakers (no Whisper weights)."""
    enc, mels, base, y, groups = toy_corpus(60)
    ds = SimpleNamespace(description="toy corpus", sources=[{"folder": "toy", "clips": 60, "speakers": 6}],
                         labels=["a", "b", "c"])  # fmt: skip
    feats = SimpleNamespace(dataset=ds, xs=[base], y=y, groups=groups, n_classes=3)
    calls = []
    monkeypatch.setattr(ft, "load_inputs", lambda work, data=None: calls.append(data) or (feats, mels, enc))
    return calls


def test_cli_runs_the_folds_asked_for_and_resumes(tmp_path, toy_inputs, capsys):
    work = tmp_path / "w"
    argv = ["finetune", "fold", "--work", str(work), "--fold", "1", "--fold", "3", "--set", "epochs=1", "bf16=false"]
    assert cli.main(argv) == 0
    assert sorted(p.name for p in work.glob("fold*.json")) == ["fold1.json", "fold3.json"]
    rec = json.loads((work / "fold3.json").read_text())
    assert rec["fold"] == 3 and rec["config"]["epochs"] == 1 and rec["config"]["bf16"] is False
    assert rec["data"] == "toy corpus" and rec["n_speakers"] == 6 and rec["n_clips"] == 60
    assert [json.loads(line)["fold"] for line in capsys.readouterr().out.splitlines()] == [1, 3]
    assert cli.main(argv) == 0 and len(toy_inputs) == 1  # both done: nothing loaded again
    assert "already done" in capsys.readouterr().out


def test_cli_final_writes_the_weights_and_its_record(tmp_path, toy_inputs):
    out = tmp_path / "ft.safetensors"
    argv = ["finetune", "final", "--work", str(tmp_path), "--out", str(out), "--set", "epochs=1", "bf16=false"]
    assert cli.main(argv) == 0
    rec = json.loads((tmp_path / "final.json").read_text())
    assert out.is_file() and rec["config"]["epochs"] == 1 and rec["sources"][0]["speakers"] == 6


def test_cli_refuses_unknown_fields_and_folds_before_loading_anything(tmp_path, toy_inputs, capsys):
    assert cli.main(["finetune", "fold", "--work", str(tmp_path), "--set", "supcon=0.5"]) == 2
    err = capsys.readouterr().err
    assert "supcon" in err and "lr_encoder" in err and err.startswith("error:")
    assert toy_inputs == [] and not list(tmp_path.iterdir())
    with pytest.raises(SystemExit) as e:
        cli.main(["finetune", "fold", "--fold", "5"])
    assert e.value.code == 2 and "invalid choice" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["finetune", "checkpoint", "--set", "epochs=1"])  # the checkpoint trains no encoder
    args = cli.build_parser().parse_args(["finetune", "checkpoint", "--work", "w", "--data", "a", "b"])
    assert (args.stage, str(args.work), [str(p) for p in args.data], args.out) == ("checkpoint", "w", ["a", "b"], None)
