import json

import numpy as np
import pytest
import torch

from nver_demo import backbones
from nver_demo.backbones import WeightsUnavailable
from nver_demo.backbones import languagebind as lb
from nver_demo.backbones.fbank import kaldi_fbank
from tests.conftest import tone

# A tiny tower with LanguageBind's audio grid shrunk: 28 mel bands x 70 frames, 14 x 14 patches.
TINY = {**lb.DEFAULT_CONFIG, "hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2,
        "num_attention_heads": 2, "projection_dim": 24, "num_mel_bins": 28, "target_length": 70}  # fmt: skip


def tiny_tower():
    torch.manual_seed(0)
    return lb.build_tower(TINY).eval()


def save_languagebind_checkpoint(folder, state, lora_r=0):
    """A LanguageBind-format folder: config.json (LanguageBindAudio) + weights with text tower."""
    vision = {k: TINY[k] for k in TINY if k != "projection_dim"}
    vision.update(lora_r=lora_r, lora_alpha=16)
    config = {"model_type": "LanguageBindAudio", "projection_dim": TINY["projection_dim"],
              "text_config": {"hidden_size": 16}, "vision_config": vision}  # fmt: skip
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    extra = {
        "text_model.embeddings.token_embedding.weight": torch.zeros(5, 16),
        "logit_scale": torch.tensor(2.6),
        "vision_model.embeddings.position_ids": torch.arange(11)[None],
    }
    torch.save({**state, **extra}, folder / "pytorch_model.bin")


def test_registered_as_a_binding_backbone():
    s = backbones.spec("languagebind")
    assert "languagebind" in backbones.available("binding")
    assert s.dim == 768 and s.env_var == "NVER_LANGUAGEBIND"


def test_full_size_tower_is_vit_l14_on_the_audio_grid():
    with torch.device("meta"):
        model = lb.build_tower(lb.DEFAULT_CONFIG)
    assert 304.0e6 < sum(p.numel() for p in model.parameters()) < 304.6e6
    state = model.state_dict()
    assert state["vision_model.embeddings.position_embedding.weight"].shape == (1 + 8 * 74, 1024)
    assert state["vision_model.embeddings.patch_embedding.weight"].shape == (1024, 3, 14, 14)
    assert state["visual_projection.weight"].shape == (768, 1024)
    assert "vision_model.encoder.layers.23.self_attn.q_proj.weight" in state


def test_mel_image_follows_audiotransform():
    wave = tone(0.5, 16000)  # 48 frames: repeated to 70, three equal channels
    short = lb.mel_image(wave, TINY)
    assert short.shape == (3, 28, 70) and short.dtype == np.float32
    assert np.array_equal(short[0], short[1]) and np.array_equal(short[0], short[2])
    np.testing.assert_array_equal(short[0][:, 48:70], short[0][:, : 70 - 48])
    expected = (kaldi_fbank(wave - wave.mean(), 28).T - TINY["audio_mean"]) / (2 * TINY["audio_std"])
    np.testing.assert_allclose(short[0][:, :48], expected, rtol=1e-6)
    long = lb.mel_image(tone(3.0, 16000, seed=1), TINY)  # front / middle / back windows differ
    assert long.shape == (3, 28, 70) and not np.array_equal(long[0], long[2])
    assert np.isfinite(lb.mel_image(np.zeros(0, np.float32), TINY)).all()


def test_loads_a_languagebind_checkpoint_offline(tmp_path, monkeypatch, clip):
    tower = tiny_tower()
    save_languagebind_checkpoint(tmp_path, tower.state_dict())
    monkeypatch.setenv("NVER_LANGUAGEBIND", str(tmp_path))
    bb = backbones.load("languagebind", device="cpu")
    assert bb.dim == 24 and bb.sample_rate == 16000
    wave, sr = clip
    e = bb.embed(wave, sr)
    x = torch.from_numpy(lb.mel_image(wave, TINY))[None]
    with torch.no_grad():
        ref = torch.nn.functional.normalize(tower(pixel_values=x).image_embeds, dim=-1)[0].numpy()
    np.testing.assert_allclose(e, ref, atol=1e-5)
    batch = bb.embed_batch([wave, tone(3.0, 16000)], sr)
    np.testing.assert_allclose(batch[0], e, atol=1e-5)


def test_lora_checkpoints_are_merged():
    tower = tiny_tower()
    state = tower.state_dict()
    q = "vision_model.encoder.layers.0.self_attn.q_proj"
    a, b = torch.randn(4, 32), torch.randn(32, 4)
    peft = {
        k.replace("vision_model.encoder.", "vision_model.encoder.base_model.model."): v
        for k, v in state.items()
    }
    peft = {k.replace("q_proj.weight", "q_proj.base_layer.weight"): v for k, v in peft.items()}
    base = q.replace("vision_model.encoder.", "vision_model.encoder.base_model.model.")
    peft[base + ".lora_A.default.weight"], peft[base + ".lora_B.default.weight"] = a, b
    merged = lb.map_state_dict(peft, lora_scale=4.0)
    assert set(merged) == set(state)
    torch.testing.assert_close(merged[q + ".weight"], state[q + ".weight"] + 4.0 * b @ a)


def test_missing_weights_say_what_and_how(tmp_path, monkeypatch):
    monkeypatch.setenv("NVER_LANGUAGEBIND", str(tmp_path / "nowhere"))
    with pytest.raises(WeightsUnavailable) as err:
        backbones.load("languagebind")
    msg = str(err.value)
    assert "languagebind" in msg and "NVER_LANGUAGEBIND" in msg and "nowhere" in msg and lb.HUB_ID in msg
