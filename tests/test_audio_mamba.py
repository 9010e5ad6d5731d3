"""Audio-MAMBA port: architecture, front-end, clip-embedding arithmetic, scan, weights, adapter.

Random weights only; CPU; the CUDA checks skip without CUDA + mamba-ssm.
"""

from __future__ import annotations

import argparse
import math
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
from nver_demo.models.audio_mamba import (
    CONFIGS,
    AudioMambaEncoder,
    MambaMixer,
    encoder_param_count,
    sincos_pos_embed,
)
from nver_demo.models.audio_mamba_clip import AudioMamba, quirk_rows, window_plan
from nver_demo.models.log_mel import LOG_OFFSET, LogMel, mel_filterbank, n_frames
from nver_demo.models.selective_scan import selective_scan

SR = 16000


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny() -> backbones.Backbone:
    return backbones.load("audio-mamba-tiny", random_init=True, device="cpu")


def clip(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = round(seconds * SR)
    t = np.arange(n) / SR
    return (0.3 * np.sin(2 * np.pi * 330 * t) + 0.05 * rng.standard_normal(n)).astype(
        np.float32
    )


def perturbed_mixer(size: str = "tiny", seed: int = 0) -> MambaMixer:
    """A mixer whose A_log, D and conv bias are not at their init values (no accidental symmetry)."""
    torch.manual_seed(seed)
    mixer = MambaMixer(CONFIGS[size])
    with torch.no_grad():
        mixer.A_log.add_(0.5 * torch.randn_like(mixer.A_log))
        mixer.D.normal_()
        mixer.conv1d.bias.normal_()
    return mixer.eval().requires_grad_(False)


# --- architecture ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "millions"), [("tiny", 4.71), ("small", 17.72), ("base", 68.61)]
)
def test_encoder_parameter_counts(size: str, millions: float) -> None:
    encoder = AudioMambaEncoder(CONFIGS[size])
    n = sum(
        p.numel() for p in encoder.parameters()
    )  # pos_embed is a buffer: not counted
    assert "pos_embed" in encoder.state_dict() and "pos_embed" not in dict(
        encoder.named_parameters()
    )
    assert n == encoder_param_count(CONFIGS[size])
    assert round(n / 1e6, 2) == millions
    assert backbones.spec(f"audio-mamba-{size}").params_m == millions


def test_state_dict_names_are_the_official_ones() -> None:
    cfg = CONFIGS["tiny"]
    keys = set(AudioMambaEncoder(cfg).state_dict())
    mixer = [
        "in_proj.weight",
        "conv1d.weight",
        "conv1d.bias",
        "x_proj.weight",
        "dt_proj.weight",
        "dt_proj.bias",
    ]
    mixer += ["A_log", "D", "out_proj.weight"]
    expected = {
        "cls_token",
        "pos_embed",
        "patch_embed.proj.weight",
        "patch_embed.proj.bias",
    }
    expected |= {"encoder_norm.weight", "encoder_norm.bias"}
    for i in range(12):
        expected |= {f"blocks.{i}.norm.weight", f"blocks.{i}.norm.bias"}
        expected |= {f"blocks.{i}.mixer.{name}" for name in mixer}
    assert keys == expected
    shapes = AudioMambaEncoder(cfg).state_dict()
    assert shapes["pos_embed"].shape == (1, 251, 192)
    assert shapes["blocks.0.mixer.x_proj.weight"].shape == (12 + 2 * 24, 576)
    assert shapes["blocks.0.mixer.conv1d.weight"].shape == (576, 1, 4)


def test_pos_embed_layout() -> None:
    dim, (n_time, n_freq) = 192, (50, 5)
    pe = sincos_pos_embed(dim, (n_time, n_freq))[0]
    assert torch.all(pe[0] == 0)
    grid = pe[1:].view(n_time, n_freq, dim)
    # first half depends on the frequency patch only, second half on the time patch only
    assert torch.allclose(
        grid[:, :, : dim // 2], grid[:1, :, : dim // 2].expand(n_time, -1, -1)
    )
    assert torch.allclose(
        grid[:, :, dim // 2 :], grid[:, :1, dim // 2 :].expand(-1, n_freq, -1)
    )
    omega = 10000.0 ** (-torch.arange(dim // 4, dtype=torch.float64) / (dim / 4))
    t = 7
    expected = torch.cat([torch.sin(t * omega), torch.cos(t * omega)]).float()
    assert torch.allclose(grid[t, 3, dim // 2 :], expected, atol=1e-6)


@pytest.mark.parametrize("size", list(CONFIGS))
def test_output_dims_through_registry(size: str) -> None:
    bb = backbones.load(f"audio-mamba-{size}", random_init=True, device="cpu")
    spec = backbones.spec(f"audio-mamba-{size}")
    assert spec.family == "state-space" and spec.needs_hub
    assert bb.dim == spec.dim == {"tiny": 960, "small": 1920, "base": 3840}[size]
    assert bb.sample_rate == SR
    emb = bb.embed_batch([clip(0.3), clip(1.0, seed=1)], SR)
    assert (
        emb.shape == (2, bb.dim) and emb.dtype == np.float32 and np.isfinite(emb).all()
    )
    assert (
        not any(p.requires_grad for p in bb.model.parameters())
        and not bb.model.training
    )


# --- front-end and clip-embedding arithmetic -------------------------------------------------


def test_mel_frontend_matches_librosa() -> None:
    librosa = pytest.importorskip("librosa")
    fb = librosa.filters.mel(
        sr=SR, n_fft=400, n_mels=80, fmin=50, fmax=8000, htk=True, norm=None
    )
    np.testing.assert_allclose(mel_filterbank(), fb, atol=1e-7)
    y = clip(1.3)
    power = librosa.feature.melspectrogram(
        y=y, sr=SR, n_fft=400, hop_length=160, win_length=400, window="hann", center=True,
        pad_mode="reflect", power=2.0, n_mels=80, fmin=50, fmax=8000, htk=True, norm=None,
    )  # fmt: skip
    logmel = np.log(power + LOG_OFFSET).T
    expected = (logmel - logmel.mean()) / (logmel.std(ddof=1) + 1e-8)
    ours = LogMel()(torch.from_numpy(y)).numpy()
    assert ours.shape == (n_frames(len(y)), 80)
    np.testing.assert_allclose(ours, expected, atol=2e-4)


@pytest.mark.parametrize(
    ("seconds", "frames", "pad", "n_windows", "n_rows", "n_dropped", "n_kept"),
    [
        (1, 101, 99, 1, 50, 24, 26),
        (2, 201, 199, 2, 100, 49, 51),
        (5, 501, 99, 3, 150, 24, 126),
        (10, 1001, 199, 6, 300, 49, 251),
    ],
)
def test_frame_window_drop_arithmetic(
    seconds, frames, pad, n_windows, n_rows, n_dropped, n_kept
) -> None:
    n = seconds * SR
    assert n_frames(n) == 1 + n // 160 == frames
    assert LogMel()(torch.zeros(n)).shape == (frames, 80)
    plan = window_plan(frames)
    assert (plan.pad, plan.n_windows, plan.n_rows, plan.n_dropped, plan.n_kept) == (
        pad, n_windows, n_rows, n_dropped, n_kept,
    )  # fmt: skip
    model = AudioMamba(CONFIGS["tiny"])
    windows, plan2 = model.windows(torch.from_numpy(clip(seconds)))
    assert plan2 == plan and windows.shape == (n_windows, 1, 200, 80)
    assert torch.all(
        windows.reshape(-1, 80)[frames:] == 0
    )  # zero frames after normalisation


def test_window_plan_multiple_of_200_adds_a_full_window() -> None:
    plan = window_plan(400)
    assert (plan.pad, plan.n_windows, plan.n_dropped, plan.n_kept) == (200, 3, 50, 100)


def test_rearrange_quirk_against_hand_built_index() -> None:
    n_time, n_freq, dim = 50, 5, 3
    # token n (time-major: n = t * 5 + f) carries its own index in every channel
    tokens = torch.arange(n_time * n_freq, dtype=torch.float32)[None, :, None].repeat(
        2, 1, dim
    )
    rows = quirk_rows(tokens, n_freq)
    assert rows.shape == (2, n_time, n_freq * dim)
    expected = torch.empty(n_time, n_freq * dim)
    for r in range(n_time):
        for k in range(
            n_freq
        ):  # 'b (f t) d -> b t (f d)': slot k of row r reads token k * 50 + r
            expected[r, k * dim : (k + 1) * dim] = k * n_time + r
    assert torch.equal(rows[0], expected) and torch.equal(rows[1], expected)
    # the documented consequence: slot k averages time patches 10k..10k+9 over all 5 bands
    mean_time_patch = (rows[0].view(n_time, n_freq, dim)[:, :, 0] // n_freq).mean(0)
    assert torch.equal(mean_time_patch, torch.tensor([4.5, 14.5, 24.5, 34.5, 44.5]))


def test_clip_embedding_is_mean_of_kept_rows() -> None:
    model = AudioMamba(CONFIGS["tiny"]).eval()
    wave = torch.from_numpy(clip(2.0))
    with torch.no_grad():
        emb = model([wave])[0]
        windows, plan = model.windows(wave)
        tokens = torch.cat(
            [model.encoder(w[None]) for w in windows]
        )  # each window on its own
        rows = quirk_rows(tokens, 5).reshape(-1, 960)
    assert plan.n_kept == 51
    torch.testing.assert_close(emb, rows[:51].mean(0), rtol=1e-5, atol=1e-5)


# --- selective scan and mixer ----------------------------------------------------------------


def naive_scan(u, delta, A, B, C, D, z):
    """Textbook per-step recurrence (time-major inputs), float64."""
    u, delta, A, B, C, D, z = (t.double() for t in (u, delta, A, B, C, D, z))
    h = torch.zeros(u.shape[1], A.shape[0], A.shape[1], dtype=torch.float64)
    ys = []
    for t in range(u.shape[0]):
        h = (
            torch.exp(delta[t, :, :, None] * A) * h
            + (delta[t] * u[t])[:, :, None] * B[t, :, None, :]
        )
        ys.append((h * C[t, :, None, :]).sum(-1) + D * u[t])
    return torch.stack(ys) * torch.nn.functional.silu(z)


def scan_inputs(L=37, batch=2, E=20, N=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    A = -torch.exp(
        torch.randn(E, N, generator=g) + 1
    )  # wide range of decays, some very fast
    delta = torch.nn.functional.softplus(torch.randn(L, batch, E, generator=g) * 2)
    u, z = torch.randn(L, batch, E, generator=g), torch.randn(L, batch, E, generator=g)
    B, C = torch.randn(L, batch, N, generator=g), torch.randn(L, batch, N, generator=g)
    return u, delta, A, B, C, torch.randn(E, generator=g), z


@pytest.mark.parametrize("chunk", [None, 1, 4, 37, 64])
def test_scan_matches_naive_recurrence(chunk) -> None:
    args = scan_inputs()
    with torch.no_grad():
        y = selective_scan(*args, chunk=chunk)
    torch.testing.assert_close(y.double(), naive_scan(*args), rtol=1e-5, atol=1e-5)


def test_scan_refuses_autograd() -> None:
    u, delta, A, B, C, D, z = scan_inputs()
    with pytest.raises(RuntimeError, match="inference-only"):
        selective_scan(u.requires_grad_(), delta, A, B, C, D, z)


def test_mixer_matches_mambapy() -> None:
    mambapy = pytest.importorskip("mambapy.mamba")
    mixer = perturbed_mixer()
    cfg = CONFIGS["tiny"]
    ref_cfg = mambapy.MambaConfig(
        d_model=cfg.dim,
        n_layers=1,
        d_state=cfg.d_state,
        expand_factor=cfg.expand,
        d_conv=cfg.d_conv,
        pscan=False,
    )
    ref = mambapy.MambaBlock(ref_cfg)
    ref.load_state_dict(mixer.state_dict(), strict=True)
    x = torch.randn(3, 251, cfg.dim)
    with torch.no_grad():
        ours = mixer(x.transpose(0, 1)).transpose(0, 1)
        expected = ref(x)
    torch.testing.assert_close(ours, expected, rtol=1e-4, atol=1e-5)


def test_mixer_matches_transformers_slow_path() -> None:
    from transformers import MambaConfig
    from transformers.models.mamba.modeling_mamba import MambaMixer as HFMixer

    mixer = perturbed_mixer(seed=1)
    cfg = CONFIGS["tiny"]
    hf_cfg = MambaConfig(
        hidden_size=cfg.dim, state_size=cfg.d_state, intermediate_size=cfg.d_inner, conv_kernel=cfg.d_conv,
        time_step_rank=cfg.dt_rank, use_bias=False, use_conv_bias=True, num_hidden_layers=1,
    )  # fmt: skip
    ref = HFMixer(hf_cfg, layer_idx=0).eval()
    ref.load_state_dict(mixer.state_dict(), strict=True)
    x = torch.randn(2, 60, cfg.dim)
    with torch.no_grad():
        torch.testing.assert_close(
            mixer(x.transpose(0, 1)).transpose(0, 1), ref(x), rtol=1e-4, atol=1e-5
        )


cuda_kernels = pytest.mark.skipif(
    not torch.cuda.is_available()
    or not __import__("importlib").util.find_spec("mamba_ssm"),
    reason="needs CUDA and mamba-ssm",
)


@cuda_kernels
def test_cuda_kernel_path_matches_torch_path(monkeypatch: pytest.MonkeyPatch) -> None:
    from nver_demo.models import selective_scan as ss

    args = [t.cuda() for t in scan_inputs(L=251, batch=3, E=64, N=24)]
    with torch.no_grad():
        ours = selective_scan(*args, backend="torch")
        kernel = selective_scan(*args, backend="mamba_ssm")
    torch.testing.assert_close(kernel, ours, rtol=1e-4, atol=1e-4)
    mixer = perturbed_mixer().cuda()
    x = torch.randn(251, 3, 192, device="cuda")
    with torch.no_grad():
        fast = mixer(x)  # mamba-ssm scan (+ causal-conv1d kernel when installed)
        monkeypatch.setattr(ss, "mamba_ssm_scan_fn", lambda: None)
        monkeypatch.setattr(ss, "causal_conv1d_cuda_fn", lambda: None)
        slow = mixer(x)  # pure PyTorch on CUDA
    torch.testing.assert_close(fast, slow, rtol=1e-4, atol=1e-4)


# --- weights: converter, strict loading, resolution ------------------------------------------


def fake_official_checkpoint(
    path, size: str = "tiny", seed: int = 0
) -> dict[str, torch.Tensor]:
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
        torch.load(
            src, weights_only=True
        )  # the safe loader refuses it: hence the converter
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
    with pytest.raises(ValueError, match="blocks.3.mixer.D"):
        weights.load_encoder(missing)
    with pytest.raises(ValueError, match="Unexpected key.*extra.weight"):
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
    with pytest.raises(
        WeightsUnavailable, match=str(tmp_path / "audio-mamba-small.safetensors")
    ):
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


def test_real_weights_load_from_dir_file_and_hub(monkeypatch, tmp_path, tiny) -> None:
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


# --- adapter behaviour -----------------------------------------------------------------------


def test_random_init_is_reproducible_and_leaves_global_rng(tiny) -> None:
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    again = backbones.load("audio-mamba-tiny", random_init=True, device="cpu")
    assert torch.rand(1) == before
    np.testing.assert_array_equal(again.embed(clip(0.5), SR), tiny.embed(clip(0.5), SR))


def test_batch_equals_single_clips(tiny) -> None:
    waves = [clip(0.05), clip(2.0, 1), clip(5.0, 2), clip(0.7, 3)]
    batch = tiny.embed_batch(waves, SR)
    single = np.stack([tiny.embed(w, SR) for w in waves])
    np.testing.assert_allclose(batch, single, rtol=1e-5, atol=1e-5)
    tiny.max_windows = 2  # windows split over several forward passes: same result
    try:
        np.testing.assert_allclose(
            tiny.embed_batch(waves, SR), batch, rtol=1e-5, atol=1e-5
        )
    finally:
        tiny.max_windows = adapter.MAX_WINDOWS_PER_FORWARD


def test_dtypes_rates_and_channels(tiny) -> None:
    wave = clip(1.0)
    ref = tiny.embed(wave, SR)
    pcm16 = (wave * 32767).astype(np.int16)
    np.testing.assert_allclose(tiny.embed(pcm16, SR), ref, atol=1e-3)
    stereo = np.stack([wave, wave], axis=1)
    np.testing.assert_allclose(tiny.embed(stereo, SR), ref, atol=1e-6)
    out = tiny.embed(clip(1.0)[::2].copy(), 8000)  # resampled to 16 kHz first
    assert out.shape == (960,) and out.dtype == np.float32


def test_silence_and_very_short_clips(tiny) -> None:
    for wave in (
        np.zeros(SR, np.float32),
        clip(0.05),
        np.zeros(800, np.float32),
        clip(0.005),
        np.zeros(0, np.float32),
    ):
        emb = tiny.embed(wave, SR)
        assert emb.shape == (960,) and np.isfinite(emb).all()


def test_device_and_autocast_arguments() -> None:
    assert backbones.load(
        "audio-mamba-tiny", random_init=True, device="cpu"
    ).device == torch.device("cpu")
    with pytest.raises(ValueError, match="CUDA"):
        adapter.load_audio_mamba(
            "tiny", random_init=True, device="cpu", autocast_dtype=torch.float16
        )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu_and_autocast_is_close(tiny) -> None:
    wave = clip(2.0)
    gpu = backbones.load("audio-mamba-tiny", random_init=True, device="cuda")
    assert next(gpu.model.parameters()).is_cuda
    np.testing.assert_allclose(
        gpu.embed(wave, SR), tiny.embed(wave, SR), rtol=1e-3, atol=1e-3
    )
    half = adapter.load_audio_mamba(
        "tiny", random_init=True, device="cuda", autocast_dtype=torch.float16
    )
    rel = np.linalg.norm(half.embed(wave, SR) - tiny.embed(wave, SR)) / np.linalg.norm(
        tiny.embed(wave, SR)
    )
    assert rel < 2e-2 and math.isfinite(rel)
