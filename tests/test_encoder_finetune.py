"""Fine-tuning Whisper's whole lower encoder (nver_demo.training.encoder_finetune), on tiny data."""

from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf
import torch

from nver_demo import backbones
from nver_demo.models.whisper_encoder import WhisperEncoder, WhisperEncoderConfig
from nver_demo.training import datasets
from nver_demo.training import encoder_final as ef_final
from nver_demo.training import encoder_finetune as ef

TINY = WhisperEncoderConfig(d_model=8, layers=4, heads=2, n_mels=16)


def test_pooled_encoder_is_the_whisper_base_embedding(tiny_dataset):
    """Log-mels of the dataset's clips through PooledEncoder give the backbone's own embedding."""
    bb = backbones.load("whisper-base", random_init=True, device="cpu")
    ds = datasets.read_csv(tiny_dataset)
    mels = ef.clip_mels(ds, progress=False)
    got = ef.features(ef.PooledEncoder(bb.encoder), mels, np.arange(len(ds)))
    want = np.stack([bb.embed(*sf.read(it.path, dtype="float32")) for it in ds.items])
    assert got.shape == want.shape == (len(ds), bb.dim)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_padded_batch_equals_each_clip_alone():
    torch.manual_seed(0)
    model = ef.PooledEncoder(WhisperEncoder(TINY))
    rng = np.random.default_rng(0)
    mels = [rng.normal(size=(16, t)).astype(np.float16) for t in (7, 40, 23, 41, 2)]
    batched = ef.features(model, mels, np.arange(len(mels)), batch_size=8)
    alone = np.concatenate([ef.features(model, mels, [i]) for i in range(len(mels))])
    np.testing.assert_allclose(batched, alone, rtol=1e-5, atol=1e-5)


def test_starts_as_the_probe_and_can_overfit_a_tiny_set():
    torch.manual_seed(0)
    enc = WhisperEncoder(TINY)
    rng = np.random.default_rng(0)
    # Labels unrelated to the sound: the frozen features (48 dims) cannot fit 90 clips' random
    # labels, an encoder that learns can memorise them.
    mels = [rng.normal(size=(16, int(rng.integers(30, 60)))).astype(np.float16) for _ in range(90)]
    y = rng.integers(0, 3, size=90)
    base = ef.features(ef.PooledEncoder(enc), mels, np.arange(90))
    idx = np.arange(90)
    frozen = ef.finetune_encoder(
        enc, mels, base, y, 3, idx, idx, ef.EncoderFinetuneConfig(epochs=0), progress=False
    )
    before = [p.detach().clone() for p in enc.parameters()]
    cfg = ef.EncoderFinetuneConfig(epochs=40, batch_size=16, lr_encoder=3e-3, lr_head=3e-2, crop=0.0,
                                   time_masks=0, freq_masks=0, bf16=False)  # fmt: skip
    res = ef.finetune_encoder(enc, mels, base, y, 3, idx, idx, cfg, progress=False)
    assert frozen.best_step == 0 and frozen.probe_val_f1 == res.probe_val_f1  # step 0 is the probe
    assert res.probe_val_f1 < 80
    assert res.best_val_f1 >= res.probe_val_f1 + 15
    assert res.best_step > 0 and len(res.history) == 41
    # The caller's encoder is untouched (the model tunes a copy); the kept weights differ from it.
    assert all(torch.equal(a, b) for a, b in zip(before, enc.parameters()))
    tuned = ef.features(res.model, mels, idx)
    assert not np.allclose(tuned, base)


def toy_corpus(n: int, class_shift: float = 1.0, speaker_offset: float = 0.0):
    """A tiny encoder and ``n`` clips of 3 classes from 6 speakers, with class-dependent log-mels
    (so LDA has something to find; ``class_shift`` per class) and, with ``speaker_offset``, a
    random per-speaker offset of each mel band of about that size: encoder, mels, frozen
    features, labels, speakers."""
    torch.manual_seed(0)
    enc = WhisperEncoder(TINY)
    rng = np.random.default_rng(0)
    y, groups = np.tile(np.arange(3), n // 3), np.repeat(np.arange(6), n // 6)
    offset = rng.normal(size=(6, 16, 1)) * speaker_offset if speaker_offset else np.zeros((6, 16, 1))
    mels = [(rng.normal(size=(16, int(rng.integers(30, 50)))) + class_shift * y[i] + offset[groups[i]])
            .astype(np.float16) for i in range(n)]  # fmt: skip
    return enc, mels, ef.features(ef.PooledEncoder(enc), mels, np.arange(n)), y, groups


def test_a_longer_run_also_scores_what_the_shorter_run_keeps(tmp_path):
    """score_epochs=2 in a 4-epoch run keeps exactly what a 2-epoch run keeps (constant schedule,
    same data order), and run_fold scores it beside the full run and saves the tuned features."""
    import json

    enc, mels, base, y, groups = toy_corpus(48)
    idx = np.arange(len(y))
    common = dict(batch_size=16, lr_encoder=1e-3, lr_head=1e-2, bf16=False, evals_per_epoch=2)
    short = ef.finetune_encoder(enc, mels, base, y, 3, idx, idx, ef.EncoderFinetuneConfig(epochs=2, **common),
                                progress=False)  # fmt: skip
    long = ef.finetune_encoder(enc, mels, base, y, 3, idx, idx,
                               ef.EncoderFinetuneConfig(epochs=4, score_epochs=2, **common), progress=False)  # fmt: skip
    assert long.history[: len(short.history)] == short.history
    assert long.earlier["best_step"] == short.best_step and long.earlier["best_val_f1"] == short.best_val_f1
    for name, t in short.model.state_dict().items():
        torch.testing.assert_close(long.earlier["state"][name], t)
    rec = long.record(torch.device("cpu"))
    assert rec["best_step_2_epochs"] == short.best_step
    assert ef.finetune_encoder(enc, mels, base, y, 3, idx, idx, ef.EncoderFinetuneConfig(epochs=2, score_epochs=2,
                               **common), progress=False).earlier is None  # fmt: skip

    cfg = ef.EncoderFinetuneConfig(epochs=2, score_epochs=1, **common)
    out = ef.run_fold(enc, mels, base, y, groups, 3, 0, cfg, tmp_path, progress=False, n_splits=3)
    assert set(out["lda_tuned_1_epochs"]) >= {"macro_f1", "accuracy", "shrinkage"}
    assert json.loads((tmp_path / "fold0.json").read_text())["lda_tuned_1_epochs"] == out["lda_tuned_1_epochs"]
    saved = np.load(tmp_path / "fold0.npz")
    assert set(saved.files) == {"test_idx", "frozen", "tuned", "tuned_1_epochs"}
    feats = np.load(tmp_path / "fold0.features.npy")
    assert feats.shape == base.shape and feats.dtype == np.float16 and np.isfinite(feats).all()
    assert not np.allclose(feats, base, atol=1e-2)  # the tuned encoder's, for every clip


def test_augmentation_keeps_shape_and_short_clips():
    rng = np.random.default_rng(0)
    cfg = ef.EncoderFinetuneConfig()
    m = rng.normal(size=(80, 100)).astype(np.float32)
    a = ef._augment(m, cfg, rng)
    assert a.shape[0] == 80 and 70 <= a.shape[1] <= 100
    assert (a == a.min()).any()  # masks filled with the clip's floor
    short = rng.normal(size=(80, 20)).astype(np.float32)
    assert ef._augment(short, cfg, rng) is short  # too short to crop or mask


def test_folds_assemble_a_nested_cv_and_the_final_weights_load_as_the_backbone(tmp_path):
    """run_fold x3 -> nested_cv is a complete out-of-fold CV; run_final's float16 file, loaded by
    the whisper-base-ft backbone's loader, gives the tuned model's features."""
    import json

    from nver_demo.backbones import whisper_ft

    enc, mels, base, y, groups = toy_corpus(72)
    n = len(y)
    cfg = ef.EncoderFinetuneConfig(epochs=1, batch_size=16, bf16=False, crop=0.0)
    work = tmp_path / "work"
    for k in range(3):
        ef.run_fold(enc, mels, base, y, groups, 3, k, cfg, work, progress=False, n_splits=3)
    cv = ef_final.nested_cv(work, y, 3, n_splits=3)
    assert sorted(np.unique(cv.fold_of)) == [0, 1, 2]
    np.testing.assert_allclose(cv.oof_proba.sum(1), 1.0, atol=1e-5)
    for k in range(3):
        rec = json.loads((work / f"fold{k}.json").read_text())
        assert rec["lda_tuned"]["macro_f1"] == cv.folds[k]["macro_f1"]
        assert rec["n_test"] == (cv.fold_of == k).sum()
    assert cv.summary["accuracy_mean"] > 60  # chance is 33
    with pytest.raises(FileNotFoundError, match="--fold 3"):
        ef_final.nested_cv(work, y, 3, n_splits=4)

    out = tmp_path / "ft.safetensors"
    with pytest.raises(ValueError, match="pools blocks"):  # the backbone's embedding is blocks 2-4
        ef_final.run_final(enc, mels, base, y, groups, 3, replace(cfg, blocks=(1, 2, 3, 4)), out, progress=False)
    assert not out.exists()
    rec = ef_final.run_final(enc, mels, base, y, groups, 3, cfg, out, work, progress=False, data="tiny")
    assert json.loads((work / "final.json").read_text())["best_step"] == rec["best_step"]
    loaded = ef.PooledEncoder(whisper_ft.load_tuned(WhisperEncoder(TINY), out))
    # Re-run the kept weights: the same as what was saved, up to float16 rounding.
    torch.manual_seed(0)
    again = ef.finetune_encoder(enc, mels, base, y, 3, *train_split(y, groups), cfg, progress=False)
    want = ef.features(again.model, mels, np.arange(n))
    np.testing.assert_allclose(ef.features(loaded, mels, np.arange(n)), want, rtol=2e-2, atol=2e-2)


def train_split(y, groups):
    from nver_demo.training import train

    return train.validation_split(y, groups, ef.EncoderFinetuneConfig().val_fraction, 0)


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
    cache = tmp_path / "mels.npz"
    fresh = ef.clip_mels(ds, progress=False, cache=cache)
    assert cache.is_file()
    sub = ds.subset([5, 0, 3])
    got = ef.clip_mels(sub, progress=False, cache=cache)
    for g, i in zip(got, [5, 0, 3]):
        np.testing.assert_array_equal(g, fresh[i])
    # A clip the cache does not hold: recomputed (the cache file is rewritten for these clips).
    import shutil

    moved = tmp_path / "moved.wav"
    shutil.copy(ds.items[1].path, moved)
    other = datasets.Dataset("x", [datasets.Item(moved, ds.items[1].label, "s")], labels=list(ds.labels))
    np.testing.assert_array_equal(ef.clip_mels(other, progress=False, cache=cache)[0], fresh[1])


def test_checkpoint_records_the_nested_cv_and_its_calibration(tiny_dataset, tmp_path):
    """make_checkpoint: a loadable LDA checkpoint whose CV and temperature are the folds' (not a CV
    of its own features), naming the weights file it belongs to by its sha256."""
    import hashlib
    import json

    from nver_demo import checkpoint
    from nver_demo.training import cache, experiment

    feats = experiment.load_features(datasets.read_csv(tiny_dataset), ["logmel-stats"],
                                     cache.EmbeddingCache(tmp_path / "cache"), progress=False)  # fmt: skip
    rng = np.random.default_rng(0)
    mels = [(rng.normal(size=(16, 40)) + feats.y[i]).astype(np.float16) for i in range(len(feats.y))]
    enc = WhisperEncoder(TINY)
    base = ef.features(ef.PooledEncoder(enc), mels, np.arange(len(mels)))
    cfg = ef.EncoderFinetuneConfig(epochs=1, batch_size=8, bf16=False)
    work = tmp_path / "work"
    for k in range(3):
        ef.run_fold(enc, mels, base, feats.y, feats.groups, feats.n_classes, k, cfg, work, progress=False, n_splits=3)
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"stand-in for the weights file")
    ck = ef_final.make_checkpoint(feats, work, tmp_path / "lda-tiny", weights, n_splits=3)
    cv = ck.meta["metrics"]["cv"]
    folds = [json.loads((work / f"fold{k}.json").read_text())["lda_tuned"]["macro_f1"] for k in range(3)]
    assert [f["macro_f1"] for f in cv["folds"]] == folds
    assert cv["macro_f1_mean"] == pytest.approx(np.mean(folds))
    assert ck.meta["calibration"]["temperature"] > 0 and len(ck.meta["calibration"]["fold_temperatures"]) == 3
    bw = ck.meta["training"]["backbone_weights"]
    assert bw["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert "nested" in ck.meta["training"]["cv_procedure"]
    again = checkpoint.load(ck.path)
    assert again.meta["metrics"]["cv"]["macro_f1_mean"] == cv["macro_f1_mean"]


def test_speaker_confusion_trains_the_head_on_speakers_and_the_encoder_towards_uniform():
    """The speaker head's gradient is its own cross-entropy's (features detached); what reaches
    the features is the emotion loss's gradient plus ``weight`` times that of the cross-entropy
    to uniform speakers (head detached); the weight ramps from 0."""
    from torch.nn import functional as F

    torch.manual_seed(0)
    z = torch.randn(12, 6, requires_grad=True)
    y, spk = torch.randint(0, 3, (12,)), torch.randint(0, 4, (12,))
    linear, speaker = torch.nn.Linear(6, 3), torch.nn.Linear(6, 4)
    ef.training_loss(z, y, linear, speaker, spk, 0.7).backward()
    g_emotion = torch.autograd.grad(F.cross_entropy(linear(z), y), z)[0]
    uniform = torch.full((12, 4), 0.25)
    g_confusion = torch.autograd.grad(F.cross_entropy(speaker(z), uniform), z)[0]
    torch.testing.assert_close(z.grad, g_emotion + 0.7 * g_confusion)
    ref = torch.nn.Linear(6, 4)
    ref.load_state_dict(speaker.state_dict())
    F.cross_entropy(ref(z.detach()), spk).backward()
    torch.testing.assert_close(speaker.weight.grad, ref.weight.grad)
    z.grad = None
    ef.training_loss(z, y, linear).backward()
    torch.testing.assert_close(z.grad, g_emotion)
    # the confusion term is smallest when the head cannot tell the speakers apart
    flat = torch.nn.Linear(6, 4)
    torch.nn.init.zeros_(flat.weight), torch.nn.init.zeros_(flat.bias)
    conf = ef.training_loss(z, y, linear, flat, spk, 1.0) - ef.training_loss(z, y, linear, flat, spk, 0.0)
    assert conf.item() == pytest.approx(np.log(4), rel=1e-5)
    assert ef.adversary_weight(2.0, 0.0) == 0.0
    assert 0.9 < ef.adversary_weight(2.0, 0.5) / 2.0 < 1.0
    assert ef.adversary_weight(2.0, 1.0) == pytest.approx(2.0, rel=1e-3)


def test_speaker_confusion_leaves_less_of_the_speaker_in_the_tuned_features():
    """Clips whose log-mels carry a strong per-speaker offset: tuned to confuse a speaker head, the
    encoder's features hold a smaller share of between-speaker variance than tuned without it,
    and still separate the classes. Without the speakers, such a run is refused."""
    enc, mels, base, y, groups = toy_corpus(60, class_shift=0.5, speaker_offset=2.0)
    idx = np.arange(len(y))

    def speaker_share(x):
        x = (x - x.mean(0)) / (x.std(0) + 1e-8)
        return np.stack([x[groups == s].mean(0) for s in range(6)]).var(0).sum() / x.var(0).sum()

    runs = {}
    for w in (0.0, 1.0):
        cfg = ef.EncoderFinetuneConfig(epochs=10, batch_size=16, lr_encoder=1e-3, lr_head=1e-2, lr_speaker=1e-2,
                                       bf16=False, crop=0, time_masks=0, freq_masks=0, speaker_adversarial=w)  # fmt: skip
        runs[w] = ef.finetune_encoder(enc, mels, base, y, 3, idx, idx, cfg, progress=False, groups=groups)
        if w:
            with pytest.raises(ValueError, match="speakers"):
                ef.finetune_encoder(enc, mels, base, y, 3, idx, idx, cfg, progress=False)
    share = {w: speaker_share(ef.features(r.model, mels, idx)) for w, r in runs.items()}
    assert share[1.0] < 0.7 * share[0.0], share
    assert runs[1.0].best_val_f1 > 80  # chance is 33


def test_other_pooled_blocks_probe_and_score_their_own_frozen_features(tmp_path):
    """blocks=(1, 2, 3, 4): the probe and the 'frozen' LDA are on those blocks' frozen features
    (run_fold computes them), the tuned features have their width; a base of the wrong width is
    refused."""
    import json

    enc, mels, base, y, groups = toy_corpus(48)
    cfg = ef.EncoderFinetuneConfig(epochs=1, batch_size=16, bf16=False, blocks=(1, 2, 3, 4))
    with pytest.raises(ValueError, match="blocks"):
        ef.finetune_encoder(enc, mels, base, y, 3, np.arange(48), np.arange(48), cfg, progress=False)
    out = ef.run_fold(enc, mels, base, y, groups, 3, 0, cfg, tmp_path, progress=False, n_splits=3)
    frozen4 = ef.features(ef.PooledEncoder(enc, (1, 2, 3, 4)), mels, np.arange(48))
    assert frozen4.shape[1] == 4 * 2 * TINY.d_model > base.shape[1]
    assert np.load(tmp_path / "fold0.features.npy").shape == frozen4.shape
    from nver_demo.training import train

    train_idx, test_idx = train.speaker_folds(y, groups, 3, 0)[0]
    head = ef.fit_lda(frozen4[train_idx], y[train_idx], groups[train_idx], 3)
    np.testing.assert_allclose(np.load(tmp_path / "fold0.npz")["frozen"], train.predict_proba(head, [frozen4[test_idx]]),
                               rtol=1e-5, atol=1e-6)  # fmt: skip
    rec = json.loads((tmp_path / "fold0.json").read_text())
    assert rec["config"]["blocks"] == [1, 2, 3, 4] and rec["lda_frozen"] == out["lda_frozen"]


def test_weight_averaging_keeps_the_mean_of_the_evaluated_weights(tmp_path):
    """WeightMean is the exact mean of what it was given; average=True keeps one per evaluation
    after step 0 (an encoder that cannot move averages to itself), and run_fold scores it."""
    torch.manual_seed(0)
    states = [{"w": torch.randn(3, 2), "b": torch.randn(2)} for _ in range(3)]
    mean = ef.WeightMean()
    for st in states:
        mean.add(st)
    assert mean.n == 3
    for k in ("w", "b"):
        torch.testing.assert_close(mean.state[k], torch.stack([st[k] for st in states]).mean(0))
    assert not torch.equal(states[0]["w"], mean.state["w"])  # the first state was copied, not kept

    enc, mels, base, y, groups = toy_corpus(48)
    idx = np.arange(len(y))
    common = dict(batch_size=16, lr_head=1e-2, bf16=False, evals_per_epoch=2)
    still = ef.finetune_encoder(enc, mels, base, y, 3, idx, idx, ef.EncoderFinetuneConfig(
        epochs=2, lr_encoder=0.0, weight_decay=0.0, average=True, **common), progress=False)  # fmt: skip
    assert still.averaged["evaluations"] == 4 and still.record(torch.device("cpu"))["averaged_evaluations"] == 4
    for name, v in still.averaged["state"].items():
        torch.testing.assert_close(v, still.model.state_dict()[name])
    moving = ef.EncoderFinetuneConfig(epochs=2, lr_encoder=1e-3, average=True, **common)
    assert ef.finetune_encoder(enc, mels, base, y, 3, idx, idx, ef.EncoderFinetuneConfig(epochs=2, **common),
                               progress=False).averaged is None  # fmt: skip
    out = ef.run_fold(enc, mels, base, y, groups, 3, 0, moving, tmp_path, progress=False, n_splits=3)
    assert set(out["lda_averaged"]) >= {"macro_f1", "accuracy", "shrinkage"}
    saved = np.load(tmp_path / "fold0.npz")
    assert "averaged" in saved.files and not np.allclose(saved["averaged"], saved["tuned"])


def test_mixing_log_mels_adds_the_sounds_powers():
    """mix_logmel is the log-mel of the two sounds played together (independent noises: their
    powers add), keeps the first clip's length and is the clip itself at lam = 1 or with itself."""
    from nver_demo.models.whisper_encoder import LogMel

    rng = np.random.default_rng(0)
    logmel = LogMel(80)
    t = np.arange(32000) / 16000
    wa = (0.1 * rng.normal(size=t.size)).astype(np.float32)
    wb = (0.3 * np.sin(2 * np.pi * 440 * t) * (1 + rng.normal(size=t.size) * 0.05)).astype(np.float32)
    a, b = (logmel(torch.from_numpy(w)).numpy() for w in (wa, wb))
    lam = 0.7
    played = logmel(torch.from_numpy((np.sqrt(lam) * wa + np.sqrt(1 - lam) * wb).astype(np.float32))).numpy()
    mixed = ef.mix_logmel(a, b, lam)
    assert mixed.shape == a.shape and mixed.dtype == a.dtype
    assert np.median(np.abs(4 * (mixed - played))) < 0.1  # log10 units: within ~25 % of the power
    assert np.abs(4 * (mixed - played)).mean() < 4 * np.abs(mixed - ef.mix_logmel(a, b, 0.3)).mean()
    np.testing.assert_allclose(ef.mix_logmel(a, b, 1.0), a, atol=1e-6)
    np.testing.assert_allclose(ef.mix_logmel(a, a, 0.6), a, atol=1e-6)
    short = ef.mix_logmel(a[:, :50], b, 0.5)  # the partner is cut to the clip's length
    np.testing.assert_allclose(short, ef.mix_logmel(a[:, :50], b[:, :50], 0.5), atol=1e-6)
    longer = ef.mix_logmel(a, b[:, :50], 0.5)  # or continued by its floor
    np.testing.assert_allclose(longer[:, 50:], ef.mix_logmel(a[:, 50:], np.full_like(a[:, 50:], b[:, :50].min()),
                                                             0.5), atol=1e-6)  # fmt: skip
    for _ in range(20):
        partner, w = ef.draw_mix(8, 0.2, rng)
        assert sorted(partner) == list(range(8)) and 0.5 <= w <= 1.0


def test_mixup_and_label_smoothing_losses():
    """With mix = (y2, lam) the emotion loss is lam CE(y) + (1 - lam) CE(y2); smoothing is
    cross-entropy's label smoothing of both."""
    from torch.nn import functional as F

    torch.manual_seed(0)
    z = torch.randn(10, 6)
    y, y2 = torch.randint(0, 3, (10,)), torch.randint(0, 3, (10,))
    linear = torch.nn.Linear(6, 3)
    got = ef.training_loss(z, y, linear, mix=(y2, 0.8), smoothing=0.1)
    want = 0.8 * F.cross_entropy(linear(z), y, label_smoothing=0.1) + 0.2 * F.cross_entropy(
        linear(z), y2, label_smoothing=0.1)  # fmt: skip
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(ef.training_loss(z, y, linear, mix=(y2, 1.0)), F.cross_entropy(linear(z), y))


def test_mixup_runs_learn_and_leave_unmixed_runs_as_they_were(monkeypatch):
    """mixup=0 draws no mixup (its history is that of a run where drawing one would fail);
    a mixup run with label smoothing trains differently and beats the probe it starts from. The
    toy's log-mels are scaled to a real clip's spread (a decade or so of power), as mixing by
    power needs; no crops or masks, which the toy's mean-shifted classes do not survive."""
    enc, mels, _, y, _ = toy_corpus(48, class_shift=0.5)
    mels = [(m * 0.25).astype(np.float16) for m in mels]
    base = ef.features(ef.PooledEncoder(enc), mels, np.arange(48))
    idx = np.arange(len(y))
    common = dict(epochs=6, batch_size=16, lr_encoder=1e-3, lr_head=1e-2, bf16=False, crop=0, time_masks=0,
                  freq_masks=0)  # fmt: skip
    plain = ef.finetune_encoder(enc, mels, base, y, 3, idx, idx, ef.EncoderFinetuneConfig(**common), progress=False)
    with monkeypatch.context() as m:
        m.setattr(ef, "draw_mix", lambda *a: pytest.fail("mixup drawn with mixup=0"))
        again = ef.finetune_encoder(enc, mels, base, y, 3, idx, idx,
                                    ef.EncoderFinetuneConfig(mixup=0.0, label_smoothing=0.0, **common), progress=False)  # fmt: skip
    assert again.history == plain.history
    mixed = ef.finetune_encoder(enc, mels, base, y, 3, idx, idx,
                                ef.EncoderFinetuneConfig(mixup=0.4, label_smoothing=0.1, **common), progress=False)  # fmt: skip
    f_plain, f_mixed = (ef.features(r.model, mels, idx) for r in (plain, mixed))
    assert mixed.history != plain.history and not np.allclose(f_plain, f_mixed, atol=1e-3)
    assert mixed.best_step > 0 and mixed.best_val_f1 > mixed.probe_val_f1 + 5


def test_supervised_contrastive_loss_is_khosla_l_out():
    """supcon_loss equals L_out written out anchor by anchor; it is lower when each class's
    features point the same way than when the labels are shuffled; anchors without a positive
    are left out, and a batch with none gives 0 (with a gradient to backpropagate)."""
    torch.manual_seed(0)
    z, y, t = torch.randn(7, 4), torch.tensor([0, 0, 1, 1, 1, 2, 3]), 0.5
    p = torch.nn.functional.normalize(z, dim=1)
    terms = []
    for i in range(7):
        others = [a for a in range(7) if a != i]
        pos = [a for a in others if y[a] == y[i]]
        if not pos:
            continue
        denom = torch.logsumexp(torch.stack([p[i] @ p[a] / t for a in others]), 0)
        terms.append(-torch.stack([p[i] @ p[a] / t - denom for a in pos]).mean())
    torch.testing.assert_close(ef.supcon_loss(z, y, t), torch.stack(terms).mean())

    centres = torch.randn(4, 4) * 3
    tight = centres[y] + 0.1 * torch.randn(7, 4)
    assert ef.supcon_loss(tight, y) < ef.supcon_loss(tight, y[torch.tensor([2, 5, 0, 6, 1, 3, 4])]) - 1
    lone = torch.randn(3, 4, requires_grad=True)
    got = ef.supcon_loss(lone, torch.tensor([0, 1, 2]))
    got.backward()
    assert got.item() == 0.0 and lone.grad is not None

    linear = torch.nn.Linear(4, 4)
    with_term = ef.training_loss(z, y, linear, supcon=0.3, temperature=t)
    torch.testing.assert_close(with_term, ef.training_loss(z, y, linear) + 0.3 * ef.supcon_loss(z, y, t))
    with pytest.raises(ValueError, match="mixup"):
        ef.training_loss(z, y, linear, mix=(y, 0.7), supcon=0.3)


def test_class_pair_batches_give_every_clip_a_partner_of_its_class():
    """Every clip once per epoch, batches of at most the batch size, every clip beside a clip of
    its class, lengths still grouped (less padding than batches drawn at random); reproducible."""
    rng = np.random.default_rng(1)
    y, lengths = rng.integers(0, 30, 3000), rng.integers(20, 300, 3000)
    idx = rng.choice(3000, 2500, replace=False)
    batches = ef.class_pair_batches(lengths, idx, y, 32, np.random.default_rng(0))
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == sorted(idx.tolist())
    assert max(len(b) for b in batches) <= 32
    assert all((y[b] == y[i]).sum() >= 2 for b in batches for i in b)

    def padding(bs):
        return sum(lengths[b].max() * len(b) for b in bs) / lengths[idx].sum()

    random = np.array_split(np.random.default_rng(0).permutation(idx), len(batches))
    assert padding(batches) < 1.2 < padding(random)
    again = ef.class_pair_batches(lengths, idx, y, 32, np.random.default_rng(0))
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))
    lone = ef.class_pair_batches(lengths, np.array([5]), y, 32, np.random.default_rng(0))
    assert [b.tolist() for b in lone] == [[5]]


def test_a_supcon_run_uses_its_term_on_paired_batches_and_learns(monkeypatch):
    """supcon=0.5 class_pairs=true: every training batch gives each clip a partner of its class,
    the contrastive term is computed on each of them, and the run beats the probe it starts from."""
    enc, mels, base, y, _ = toy_corpus(48, class_shift=0.5)
    idx = np.arange(len(y))
    seen, real = [], ef.supcon_loss

    def spy(z, yb, temperature):
        seen.append((yb.tolist(), temperature))
        return real(z, yb, temperature)

    monkeypatch.setattr(ef, "supcon_loss", spy)
    cfg = ef.EncoderFinetuneConfig(epochs=6, batch_size=12, lr_encoder=1e-3, lr_head=1e-2, bf16=False, crop=0,
                                   time_masks=0, freq_masks=0, supcon=0.5, supcon_temperature=0.2,
                                   class_pairs=True)  # fmt: skip
    res = ef.finetune_encoder(enc, mels, base, y, 3, idx, idx, cfg, progress=False)
    assert len(seen) == 6 * 4 and {t for _, t in seen} == {0.2}
    assert all(labels.count(c) >= 2 for labels, _ in seen for c in labels)
    assert res.best_step > 0 and res.best_val_f1 > res.probe_val_f1 + 5


def test_vocal_tract_length_perturbation_moves_the_spectrum_by_the_warp():
    """warp_mel at 1 is the identity; a peak at one band's centre frequency f moves to the band
    whose centre is alpha f (Hz, Whisper's mel scale), the clip keeps its shape and range; vtlp
    in a config warps training clips, no warp at vtlp=0."""
    import librosa

    centres = librosa.mel_frequencies(n_mels=82, fmin=0.0, fmax=8000.0)[1:-1]
    m = np.zeros((80, 5), dtype=np.float32)
    m[40] = 1.0
    np.testing.assert_array_equal(ef.warp_mel(m, 1.0), m)
    for alpha in (0.9, 1.12):
        w = ef.warp_mel(m, alpha)
        assert w.shape == m.shape and w.min() >= 0.0 and w.max() <= 1.0
        mean_band = (w[:, 0] * np.arange(80)).sum() / w[:, 0].sum()
        assert np.interp(mean_band, np.arange(80), centres) / centres[40] == pytest.approx(alpha, abs=0.01)

    rng = np.random.default_rng(0)
    clip = rng.normal(size=(80, 60)).astype(np.float32)
    plain = dict(crop=0, time_masks=0, freq_masks=0)
    np.testing.assert_array_equal(ef._augment(clip, ef.EncoderFinetuneConfig(**plain), rng), clip)
    warped = ef._augment(clip, ef.EncoderFinetuneConfig(vtlp=0.1, **plain), np.random.default_rng(3))
    alpha = np.random.default_rng(3).uniform(0.9, 1.1)
    np.testing.assert_allclose(warped, ef.warp_mel(clip, alpha), rtol=1e-6)
    assert not np.allclose(warped, clip)
