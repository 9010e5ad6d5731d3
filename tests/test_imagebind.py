import numpy as np
import pytest
import torch

from nver_demo import backbones
from nver_demo.backbones import WeightsUnavailable
from nver_demo.backbones import imagebind as ib
from tests.conftest import tone


def tiny_tower() -> ib.ImageBindAudio:
    torch.manual_seed(0)
    return ib.ImageBindAudio(dim=64, depth=2, heads=1, out_dim=16).eval()


def original_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our tensors under imagebind_huge.pth's names, plus tensors of other modalities."""
    inverse = {new: old for old, new in ib._PREFIXES.items()}
    out = {}
    for key, value in state.items():
        new = next(n for n in sorted(inverse, key=len, reverse=True) if key.startswith(n))
        out[inverse[new] + key[len(new) :]] = value
    out["modality_trunks.vision.blocks.0.attn.in_proj_weight"] = torch.zeros(3, 3)
    out["modality_postprocessors.audio.1.log_logit_scale"] = torch.tensor(np.log(20.0))
    return out


def test_registered_as_a_binding_backbone():
    s = backbones.spec("imagebind")
    assert "imagebind" in backbones.available("binding")
    assert s.dim == 1024 and s.env_var == "NVER_IMAGEBIND"


def test_full_size_tower_has_imagebind_huge_audio_shapes():
    with torch.device("meta"):
        model = ib.ImageBindAudio()
    n = sum(p.numel() for p in model.parameters())
    assert 86.0e6 < n < 86.5e6
    names = original_names(model.state_dict())
    # Names and shapes as in imagebind_huge.pth (read from the original module definitions).
    assert names["modality_preprocessors.audio.rgbt_stem.proj.weight"].shape == (768, 1, 16, 16)
    assert names["modality_preprocessors.audio.pos_embedding_helper.pos_embed"].shape == (1, 229, 768)
    assert names["modality_trunks.audio.blocks.11.attn.bias_k"].shape == (1, 1, 768)
    assert names["modality_trunks.audio.blocks.0.mlp.fc1.weight"].shape == (3072, 768)
    assert names["modality_heads.audio.2.weight"].shape == (1024, 768)


def test_weight_mapping_round_trip_reproduces_the_tower(tmp_path, monkeypatch, clip):
    model = tiny_tower()
    torch.save(original_names(model.state_dict()), tmp_path / "imagebind_huge.pth")
    monkeypatch.setenv("NVER_IMAGEBIND", str(tmp_path / "imagebind_huge.pth"))
    bb = backbones.load("imagebind", device="cpu")
    assert bb.dim == 16 and len(bb.model.blocks) == 2
    x = torch.randn(2, 1, 128, 204)
    with torch.no_grad():
        torch.testing.assert_close(bb.model(x), model(x))
    # The audio-only safetensors file loads to the same tower.
    small = ib.save_audio_tower(tmp_path / "imagebind_huge.pth", tmp_path / "audio.safetensors")
    monkeypatch.setenv("NVER_IMAGEBIND", str(small))
    wave, sr = clip
    np.testing.assert_allclose(backbones.load("imagebind", device="cpu").embed(wave, sr), bb.embed(wave, sr))


def test_three_evenly_spaced_two_second_clips():
    long = np.arange(5 * 16000, dtype=np.float32)
    starts = [c[0] for c in ib.clips(long, 16000)]
    assert starts == [0, 24000, 48000] and all(len(c) == 32000 for c in ib.clips(long, 16000))
    short = np.arange(16000, dtype=np.float32)  # shorter than 2 s: the whole clip, three times
    assert all(np.array_equal(c, short) for c in ib.clips(short, 16000))


def test_mel_image_is_normalised_and_padded():
    mel = ib.clip_mel(tone(1.0, 16000))  # 98 frames, padded to 204 with zeros before normalising
    assert mel.shape == (128, 204) and mel.dtype == np.float32
    np.testing.assert_allclose(mel[:, 100:], (0 - ib.MEAN) / ib.STD, rtol=1e-6)
    assert np.isfinite(ib.clip_mel(np.zeros(10, np.float32))).all()


def test_embeds_any_clip_length_with_a_tiny_tower():
    bb = ib.ImageBind(tiny_tower(), torch.device("cpu"))
    batch = bb.embed_batch(
        [tone(1.0, 44100), tone(5.0, 16000, seed=1), np.zeros(0, np.float32)], [44100, 16000, 16000]
    )
    assert batch.shape == (3, 16) and np.isfinite(batch).all()
    assert np.linalg.norm(batch[0]) == pytest.approx(1.0, abs=1e-5)  # three identical clips
    assert np.linalg.norm(batch[1]) < 1.0  # mean of three different unit vectors


def test_missing_weights_say_what_and_how(monkeypatch, tmp_path):
    monkeypatch.delenv("NVER_IMAGEBIND", raising=False)
    with pytest.raises(WeightsUnavailable, match="NVER_IMAGEBIND") as err:
        backbones.load("imagebind")
    assert ib.WEIGHTS_URL in str(err.value)
    monkeypatch.setenv("NVER_IMAGEBIND", str(tmp_path / "nowhere.pth"))
    with pytest.raises(WeightsUnavailable, match=r"nowhere\.pth"):
        backbones.load("imagebind")
