"""Audio-MAMBA weights: the converter, strict loading and where the loaders look for files."""

from __future__ import annotations

import argparse
import pickle
import subprocess
import sys
import types

import numpy as np
import pytest
import torch

from nver_demo import backbones
from nver_demo.backbones import audio_mamba as adapter
from nver_demo.backbones.base import WeightsUnavailable
from nver_demo.convert_audio_mamba import main as convert_main
from nver_demo.models import audio_mamba_weights as weights
from nver_demo.models.audio_mamba import CONFIGS, AudioMambaEncoder
from tests.test_audio_mamba import clip

SR = 16000


# --- weights: converter, strict loading, resolution ------------------------------------------


def fake_official_checkpoint(path, size: str = "tiny", seed: int = 0) -> dict[str, torch.Tensor]:
    """Write a checkpoint shaped like the official ones; return the encoder state it holds."""
    torch.manual_seed(seed)
    cfg = CONFIGS[size]
    encoder = AudioMambaEncoder(cfg).state_dict()
    model = {k: v.clone() for k, v in encoder.items()}
    model["mask_token"] = torch.zeros(1, 1, cfg.dim)
    model["pred.weight"] = torch.randn(cfg.patch_time * cfg.patch_freq, cfg.dim)
    model["pred.bias"] = torch.zeros(cfg.patch_time * cfg.patch_freq)
    # args: an argparse.Namespace holding an object of a module the converter will not find
    # (the official one holds an ml_collections.ConfigDict).
    fake = types.ModuleType("fake_ml_collections")

    class ConfigDict:
        def __init__(self) -> None:
            self.model = {"type": f"ssam_{size}"}

    ConfigDict.__module__ = fake.__name__
    ConfigDict.__qualname__ = "ConfigDict"
    fake.ConfigDict = ConfigDict
    sys.modules[fake.__name__] = fake
    try:
        args = argparse.Namespace(config=ConfigDict(), output_dir="/tmp/x", epochs=100)
        optimizer = {
            "state": {0: {"exp_avg": torch.zeros(3)}},
            "param_groups": [{"lr": 1e-4}],
        }
        ckpt = {
            "model": model,
            "optimizer": optimizer,
            "epoch": 99,
            "scaler": {"scale": 1024.0},
            "args": args,
        }
        torch.save(ckpt, path)
    finally:
        del sys.modules[fake.__name__]
    return encoder


def test_converter_on_official_shaped_checkpoint(tmp_path, caplog) -> None:
    src, dst = tmp_path / "checkpoint-99.pth", tmp_path / "audio-mamba-tiny.safetensors"
    expected = fake_official_checkpoint(src)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(src, weights_only=True)  # the safe loader refuses it: hence the converter
    with caplog.at_level("WARNING"):
        assert convert_main([str(src), str(dst)]) == 0
    assert "arbitrary code" in caplog.text
    from safetensors import safe_open

    with safe_open(str(dst), framework="pt") as f:
        assert f.metadata()["size"] == "tiny" and f.metadata()["epoch"] == "99"
        keys = set(f.keys())
    assert "mask_token" not in keys and not any(k.startswith("pred.") for k in keys)
    encoder = weights.load_safetensors(dst)  # strict=True inside
    for k, v in encoder.state_dict().items():
        assert torch.equal(v, expected[k]), k
    with pytest.raises(SystemExit):
        convert_main([str(src), str(dst)])  # refuses to overwrite without --force
    assert convert_main([str(src), str(dst), "--force"]) == 0


def test_converter_help_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "nver_demo.convert_audio_mamba", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "safetensors" in out.stdout and "pickle" in out.stdout


def test_strict_loading(tmp_path) -> None:
    state = AudioMambaEncoder(CONFIGS["tiny"]).state_dict()
    missing = {k: v for k, v in state.items() if k != "blocks.3.mixer.D"}
    with pytest.raises(ValueError, match=r"blocks\.3\.mixer\.D"):
        weights.load_encoder(missing)
    with pytest.raises(ValueError, match=r"Unexpected key.*extra\.weight"):
        weights.load_encoder({**state, "extra.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match="not small"):
        weights.load_encoder(state, "small")
    path = tmp_path / "w.safetensors"
    weights.save_safetensors(state, path)
    with pytest.raises(ValueError, match="not base"):
        weights.load_safetensors(path, "base")


def test_weights_unavailable_message(monkeypatch) -> None:
    for var in (
        "NVER_AUDIO_MAMBA_DIR",
        "NVER_AUDIO_MAMBA_REPO",
        "NVER_AUDIO_MAMBA_BASE",
    ):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(WeightsUnavailable) as err:
        backbones.load("audio-mamba-base", device="cpu")
    msg = str(err.value)
    for needle in ("Audio-MAMBA base", "NVER_AUDIO_MAMBA_DIR", "NVER_AUDIO_MAMBA_REPO", "NVER_AUDIO_MAMBA_BASE",
                   "python -m nver_demo.convert_audio_mamba", "audio-mamba-base.safetensors", "random_init=True"):  # fmt: skip
        assert needle in msg
    assert "Traceback" not in msg


def test_weights_unavailable_names_the_folder(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("NVER_AUDIO_MAMBA_SMALL", raising=False)
    monkeypatch.setenv("NVER_AUDIO_MAMBA_DIR", str(tmp_path))
    with pytest.raises(WeightsUnavailable, match=str(tmp_path / "audio-mamba-small.safetensors")):
        adapter.resolve_weights("small")


def test_hub_offline_gives_weights_unavailable(monkeypatch, tmp_path) -> None:
    for var in ("NVER_AUDIO_MAMBA_DIR", "NVER_AUDIO_MAMBA_TINY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NVER_AUDIO_MAMBA_REPO", "someone/audio-mamba")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(WeightsUnavailable, match="someone/audio-mamba") as err:
        adapter.resolve_weights("tiny")
    assert err.value.__cause__ is not None


def test_real_weights_load_from_dir_file_and_hub(monkeypatch, tmp_path) -> None:
    tiny = backbones.load("audio-mamba-tiny", random_init=True, device="cpu")
    state = tiny.model.encoder.state_dict()
    path = tmp_path / "audio-mamba-tiny.safetensors"
    weights.save_safetensors(state, path)
    wave = clip(1.0)
    expected = tiny.embed(wave, SR)
    for var in (
        "NVER_AUDIO_MAMBA_DIR",
        "NVER_AUDIO_MAMBA_TINY",
        "NVER_AUDIO_MAMBA_REPO",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NVER_AUDIO_MAMBA_DIR", str(tmp_path))
    np.testing.assert_allclose(
        backbones.load("audio-mamba-tiny", device="cpu").embed(wave, SR),
        expected,
        atol=1e-6,
    )
    monkeypatch.delenv("NVER_AUDIO_MAMBA_DIR")
    monkeypatch.setenv("NVER_AUDIO_MAMBA_TINY", str(path))
    assert adapter.resolve_weights("tiny") == path
    monkeypatch.delenv("NVER_AUDIO_MAMBA_TINY")
    monkeypatch.setenv("NVER_AUDIO_MAMBA_REPO", "someone/audio-mamba")
    calls = []

    def fake_download(repo_id: str, filename: str, revision: str | None = None) -> str:
        calls.append((repo_id, filename, revision))
        return str(path)

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    np.testing.assert_allclose(
        backbones.load("audio-mamba-tiny", device="cpu").embed(wave, SR),
        expected,
        atol=1e-6,
    )
    assert calls == [("someone/audio-mamba", "audio-mamba-tiny.safetensors", None)]
