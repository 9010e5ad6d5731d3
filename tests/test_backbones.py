import numpy as np
import pytest
import torch

from nver_demo import backbones
from nver_demo.backbones import WeightsUnavailable, hf
from tests.conftest import tone

HF_NAMES = [m.name for m in hf.MODELS]
# Backbones whose real weights are always at hand (none that needs the Hub).
OFFLINE = [b for b in backbones.available("offline") + backbones.available("features") if not backbones.spec(b).needs_hub]


def test_registry_has_paper_and_offline_backbones():
    names = backbones.available()
    assert {"wavlm-base", "unispeech-sat-base", "wav2vec2-base", "hubert-base"} <= set(names)
    assert len(backbones.available("offline")) >= 1
    for n in names:
        s = backbones.spec(n)
        assert s.name == n and s.dim > 0 and s.description


def test_unknown_backbone_lists_valid_names():
    with pytest.raises(ValueError, match="wavlm-base"):
        backbones.load("whisper-huge")


@pytest.mark.parametrize("name", OFFLINE)
def test_offline_backbones_embed(name, clip):
    bb = backbones.load(name, device="cpu")
    wave, sr = clip
    e = bb.embed(wave, sr)
    assert e.shape == (bb.dim,) == (backbones.spec(name).dim,)
    assert e.dtype == np.float32 and np.isfinite(e).all()
    # Any rate, int16, stereo: same contract; batched form agrees with single calls.
    stereo16 = (np.stack([wave, wave], 1) * 32767).astype(np.int16)
    batch = bb.embed_batch([wave, stereo16], [sr, sr])
    assert batch.shape == (2, bb.dim)
    np.testing.assert_allclose(batch[0], e, rtol=1e-4, atol=1e-4)
    # 16-bit quantisation moves a few fragile statistics (ComParE): compare typical deviation.
    rel = np.abs(batch[1] - e) / (np.abs(e) + 1e-3)
    assert np.median(rel) < 0.01


@pytest.mark.parametrize("name", OFFLINE)
def test_offline_backbones_survive_tiny_clips(name):
    bb = backbones.load(name, device="cpu")
    e = bb.embed(tone(0.06, 44100), 44100)
    assert np.isfinite(e).all()


def tiny_config(model_type: str):
    from transformers import AutoConfig

    return AutoConfig.for_model(
        model_type, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
        conv_dim=(32,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
    )  # fmt: skip


@pytest.fixture(params=HF_NAMES)
def saved_tiny_model(request, tmp_path, monkeypatch):
    """A tiny random model of the right type saved with save_pretrained; $NVER_<NAME> points to it."""
    from transformers import AutoModel, Wav2Vec2FeatureExtractor

    m = next(m for m in hf.MODELS if m.name == request.param)
    torch.manual_seed(0)
    AutoModel.from_config(tiny_config(m.model_type)).save_pretrained(tmp_path)
    Wav2Vec2FeatureExtractor(
        do_normalize=m.normalize, return_attention_mask=m.attention_mask
    ).save_pretrained(tmp_path)
    monkeypatch.setenv(m.env_var, str(tmp_path))
    return m


def test_transformers_backbones_load_offline_from_local_dir(saved_tiny_model, clip):
    bb = backbones.load(saved_tiny_model.name, device="cpu")
    assert bb.dim == 32 and bb.sample_rate == 16000
    assert not any(p.requires_grad for p in bb.model.parameters())
    assert not bb.model.training
    wave, sr = clip
    e = bb.embed(wave, sr)
    assert e.shape == (32,) and np.isfinite(e).all()
    # Batched with padding gives the same vectors as one at a time (masking / per-clip path).
    short = wave[: sr // 3]
    batch = bb.embed_batch([wave, short], sr)
    np.testing.assert_allclose(batch[0], e, atol=1e-4)
    np.testing.assert_allclose(batch[1], bb.embed(short, sr), atol=1e-4)


def test_transformers_backbone_pads_clips_shorter_than_conv_stack(saved_tiny_model):
    bb = backbones.load(saved_tiny_model.name, device="cpu")
    e = bb.embed(tone(0.01, 16000), 16000)  # 160 samples < 400-sample receptive field
    assert np.isfinite(e).all()


def test_mean_pooling_matches_last_hidden_state(saved_tiny_model, clip):
    bb = backbones.load(saved_tiny_model.name, device="cpu")
    wave, sr = clip
    x = torch.from_numpy(bb._norm(wave))[None]
    with torch.no_grad():
        expected = bb.model(x).last_hidden_state.mean(1)[0].numpy()
    np.testing.assert_allclose(bb.embed(wave, sr), expected, atol=1e-5)


def test_missing_weights_say_what_and_how(tmp_path, monkeypatch):
    monkeypatch.setenv("NVER_WAVLM_BASE", str(tmp_path / "nowhere"))
    with pytest.raises(WeightsUnavailable) as err:
        backbones.load("wavlm-base")
    msg = str(err.value)
    assert "wavlm-base" in msg and "NVER_WAVLM_BASE" in msg and "nowhere" in msg
    assert "Traceback" not in msg


def test_random_init_builds_full_size_architecture():
    bb = backbones.load("hubert-base", random_init=True, device="cpu")
    n = sum(p.numel() for p in bb.model.parameters())
    assert 94e6 < n < 95e6 and bb.dim == 768


def test_layer_norm_models_batch_with_attention_mask(tmp_path, monkeypatch, clip):
    """Large-style models (layer-norm encoder, mask-aware preprocessor) are embedded in padded
    batches; the masked mean must equal one-at-a-time results."""
    from transformers import AutoModel, Wav2Vec2FeatureExtractor

    cfg = tiny_config("wav2vec2")
    cfg.feat_extract_norm, cfg.do_stable_layer_norm = "layer", True
    torch.manual_seed(0)
    AutoModel.from_config(cfg).save_pretrained(tmp_path)
    Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=True).save_pretrained(tmp_path)
    monkeypatch.setenv("NVER_WAV2VEC2_BASE", str(tmp_path))
    bb = backbones.load("wav2vec2-base", device="cpu")
    assert bb.batchable
    wave, sr = clip
    short = wave[: sr // 3]
    batch = bb.embed_batch([wave, short], sr)
    np.testing.assert_allclose(batch[0], bb.embed(wave, sr), atol=1e-4)
    np.testing.assert_allclose(batch[1], bb.embed(short, sr), atol=1e-4)
