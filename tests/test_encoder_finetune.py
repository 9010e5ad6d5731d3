"""Fine-tuning Whisper's whole lower encoder (nver_demo.training.encoder_finetune), on tiny data."""

import numpy as np
import soundfile as sf
import torch

from nver_demo import backbones
from nver_demo.models.whisper_encoder import WhisperEncoder, WhisperEncoderConfig
from nver_demo.training import datasets
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


def test_augmentation_keeps_shape_and_short_clips():
    rng = np.random.default_rng(0)
    cfg = ef.EncoderFinetuneConfig()
    m = rng.normal(size=(80, 100)).astype(np.float32)
    a = ef._augment(m, cfg, rng)
    assert a.shape[0] == 80 and 70 <= a.shape[1] <= 100
    assert (a == a.min()).any()  # masks filled with the clip's floor
    short = rng.normal(size=(80, 20)).astype(np.float32)
    assert ef._augment(short, cfg, rng) is short  # too short to crop or mask
