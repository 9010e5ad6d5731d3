"""Fine-tuning Whisper's upper block (nver_demo.training.finetune) on tiny random data."""

import numpy as np
import torch

from nver_demo.models.whisper_encoder import WhisperEncoder, WhisperEncoderConfig
from nver_demo.models.whisper_vb import TunedTop, masked_mean_std
from nver_demo.training import finetune

TINY = WhisperEncoderConfig(d_model=32, layers=4, heads=4, n_mels=16)


def _tiny_states(enc, n_per_class=8, n_classes=3, seed=0):
    """Block-3 outputs whose class is a small shift of one channel (learnable, not trivial), with
    statistics as the states cache holds them: block 4 really run on them."""
    rng = np.random.default_rng(seed)
    h, y = [], []
    for c in range(n_classes):
        for _ in range(n_per_class):
            t = int(rng.integers(12, 30))
            x = rng.normal(size=(t, TINY.d_model)).astype(np.float32)
            x[:, c] += 0.8
            h.append(x.astype(np.float16))
            y.append(c)
    def ms(x):
        return np.concatenate([x.mean(0), x.std(0)])

    stats = []
    for x in h:
        x = torch.from_numpy(x.astype(np.float32))
        with torch.no_grad():
            x4 = enc.layers[3](x[None])[0]
        s3 = ms(x.numpy())
        stats.append(np.stack([s3, s3, s3, s3, ms(x4.numpy())]))  # rows 0-3 stand-ins, row 4 real
    return h, np.stack(stats), np.array(y)


def test_masked_batch_equals_each_clip_alone():
    torch.manual_seed(0)
    top = TunedTop(TINY, 1).eval()
    torch.nn.init.normal_(top.score.weight)  # non-uniform attention pooling
    seqs = [np.random.default_rng(i).normal(size=(t, TINY.d_model)).astype(np.float32) for i, t in enumerate((5, 17, 9))]
    h, mask = finetune._pad(seqs)
    with torch.no_grad():
        batched = top(h, mask)
        alone = torch.cat([top(torch.from_numpy(s)[None]) for s in seqs])
    torch.testing.assert_close(batched, alone, atol=1e-5, rtol=1e-5)


def test_masked_mean_std_matches_numpy():
    x = torch.randn(2, 6, 4)
    mask = torch.tensor([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1]], dtype=torch.bool)
    mean, std = masked_mean_std(x, mask)
    torch.testing.assert_close(mean[0], x[0, :3].mean(0))
    torch.testing.assert_close(std[0], x[0, :3].std(0, unbiased=False))
    torch.testing.assert_close(std[1], x[1].std(0, unbiased=False))


def test_starts_as_the_probe_and_can_overfit_a_tiny_set():
    torch.manual_seed(0)
    enc = WhisperEncoder(TINY)
    h, stats, y = _tiny_states(enc)
    idx = np.arange(len(y))
    base = finetune.frozen_stats(stats, (2, 3, 4))
    frozen = finetune.frozen_stats(stats)
    cfg = finetune.FinetuneConfig(epochs=30, batch_size=8, lr_block=1e-3, lr_head=1e-2, crop=0.0, time_masks=0,
                                  mixup_alpha=0.0, evals_per_epoch=1, patience=100)  # fmt: skip
    # Before training the model reproduces the probe exactly (same logits on the same clips).
    probe_only = finetune.finetune(h, frozen, base, y, 3, enc, idx, idx, finetune.FinetuneConfig(epochs=0), progress=False)
    feats = finetune.embed(probe_only.model.top, h, frozen)
    with torch.no_grad():
        logits = probe_only.model.classify(torch.from_numpy(feats))
        probe_logits = probe_only.probe(torch.from_numpy(base)).logits
    torch.testing.assert_close(logits, probe_logits, atol=1e-4, rtol=1e-4)
    # Training on the tiny set fits it (validation = training clips here: an overfitting check).
    res = finetune.finetune(h, frozen, base, y, 3, enc, idx, idx, cfg, progress=False)
    assert res.best_val_f1 == 100.0
    assert res.best_val_f1 >= res.probe_val_f1  # never below the probe's floor
    assert res.history[0]["step"] == 0 and len(res.history) > 1


def test_augmented_mask_keeps_enough_tokens():
    rng = np.random.default_rng(0)
    mask = torch.ones(4, 50, dtype=torch.bool)
    mask[0, 30:] = False
    out = finetune._augment_mask(mask, finetune.FinetuneConfig(crop=0.3, time_masks=3, mask_width=0.3), rng)
    assert (out.sum(1) >= 5).all()
    assert not out[0, 30:].any()  # padding stays padding
    assert (out.sum(1) <= mask.sum(1)).all()


def test_command_line_overrides_are_typed_and_unknown_fields_refused():
    import pytest

    cfg = finetune.with_overrides(finetune.FinetuneConfig(), ["epochs=6", "lr_block=1e-5", "bf16=false"])
    assert (cfg.epochs, cfg.lr_block, cfg.bf16) == (6, 1e-5, False)
    assert isinstance(cfg.epochs, int)
    with pytest.raises(SystemExit, match="FinetuneConfig"):
        finetune.with_overrides(cfg, ["epoch=6"])
    with pytest.raises(SystemExit, match="FIELD=VALUE"):
        finetune.with_overrides(cfg, ["epochs"])
