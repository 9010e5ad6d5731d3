import numpy as np
import pytest
import torch

from nver_demo import audio, backbones
from nver_demo.backbones import WeightsUnavailable, binding
from tests.conftest import tone


@pytest.fixture(scope="module")
def clap_random():
    """Full-size CLAP audio tower at random init, through the registry (built once: ~2 s)."""
    return backbones.load("clap", random_init=True, device="cpu")


def tiny_clap_config():
    from transformers import ClapAudioConfig, ClapConfig, ClapTextConfig

    audio = ClapAudioConfig(
        depths=[1, 1], num_attention_heads=[2, 2], patch_embeds_hidden_size=16, hidden_size=32
    )
    text = ClapTextConfig(
        vocab_size=99, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37
    )
    return ClapConfig(text_config=text.to_dict(), audio_config=audio.to_dict(), projection_dim=24)


@pytest.fixture
def saved_tiny_clap(tmp_path, monkeypatch):
    """A tiny random *full* ClapModel (text + audio, like the Hub repo) saved with save_pretrained,
    with the published preprocessor settings; $NVER_CLAP points to it."""
    from transformers import ClapFeatureExtractor, ClapModel

    torch.manual_seed(0)
    model = ClapModel(tiny_clap_config()).eval()
    model.save_pretrained(tmp_path)
    ClapFeatureExtractor(**binding.CLAP_FEATURES).save_pretrained(tmp_path)
    monkeypatch.setenv("NVER_CLAP", str(tmp_path))
    return model, tmp_path


def test_registered_as_a_binding_backbone():
    s = backbones.spec("clap")
    assert "clap" in backbones.available("binding")
    assert s.dim == 512 and s.needs_hub and s.env_var == "NVER_CLAP"


def test_random_init_builds_the_full_audio_tower(clap_random):
    bb = clap_random
    n = sum(p.numel() for p in bb.model.parameters())
    assert 28.0e6 < n < 28.4e6  # HTS-AT tower 27.5M + 2-layer projection 0.66M
    assert bb.dim == 512 and bb.sample_rate == 48000
    assert not bb.model.training and not any(p.requires_grad for p in bb.model.parameters())


def test_embeds_a_16khz_clip_on_the_unit_sphere(clap_random, clip):
    wave, sr = clip  # 1 s at 16 kHz, resampled to 48 kHz by the contract
    e = clap_random.embed(wave, sr)
    assert e.shape == (512,) and e.dtype == np.float32 and np.isfinite(e).all()
    assert np.linalg.norm(e) == pytest.approx(1.0, abs=1e-5)
    # Deterministic, and int16 input gives the same vector.
    np.testing.assert_allclose(clap_random.embed((wave * 32767).astype(np.int16), sr), e, atol=1e-3)


def test_loads_a_full_clap_checkpoint_offline(saved_tiny_clap, clip):
    from transformers import ClapFeatureExtractor

    model, _ = saved_tiny_clap
    bb = backbones.load("clap", device="cpu")
    assert bb.dim == 24 and bb.sample_rate == 48000
    wave, sr = clip
    e = bb.embed(wave, sr)
    # The audio tower + projection loaded out of the full checkpoint give the full model's own
    # (normalised) audio embedding for the same features.
    fe = ClapFeatureExtractor(**binding.CLAP_FEATURES)
    feats = fe(audio.prepare(wave, sr, 48000), sampling_rate=48000, return_tensors="pt")
    with torch.no_grad():
        ref = model.get_audio_features(input_features=feats["input_features"], is_longer=feats["is_longer"])
    ref = getattr(ref, "pooler_output", ref)  # a tensor or a model output, depending on the version
    np.testing.assert_allclose(e, torch.nn.functional.normalize(ref, dim=-1)[0].numpy(), atol=1e-5)


def test_long_and_short_clips_in_one_batch(saved_tiny_clap):
    bb = backbones.load("clap", device="cpu")
    long = tone(12.5, 16000, seed=1)  # two 10 s windows at 48 kHz
    short = tone(0.06, 16000, seed=2)
    batch = bb.embed_batch([long, short, np.zeros(0, np.float32)], 16000)
    assert batch.shape == (3, 24) and np.isfinite(batch).all()
    np.testing.assert_allclose(batch[0], bb.embed(long, 16000), atol=1e-5)
    np.testing.assert_allclose(batch[1], bb.embed(short, 16000), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)


def test_missing_weights_say_what_and_how(tmp_path, monkeypatch):
    monkeypatch.setenv("NVER_CLAP", str(tmp_path / "nowhere"))
    with pytest.raises(WeightsUnavailable) as err:
        backbones.load("clap")
    msg = str(err.value)
    assert "clap" in msg and "NVER_CLAP" in msg and "nowhere" in msg and binding.CLAP_HUB_ID in msg


def test_checkpoint_without_audio_weights_is_refused(saved_tiny_clap):
    from safetensors.torch import load_file, save_file

    _, path = saved_tiny_clap
    state = load_file(str(path / "model.safetensors"))
    save_file({k: v for k, v in state.items() if not k.startswith("audio_projection")},
              str(path / "model.safetensors"), metadata={"format": "pt"})  # fmt: skip
    with pytest.raises(WeightsUnavailable, match="audio-tower weights"):
        backbones.load("clap")
