"""Audio-MAMBA port: architecture, front-end, clip-embedding arithmetic, backbone adapter.

Random weights only, CPU; CUDA checks skip without CUDA.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nver_demo import backbones
from nver_demo.backbones import audio_mamba as adapter
from nver_demo.models.audio_mamba import (
    CONFIGS,
    AudioMambaEncoder,
    encoder_param_count,
    sincos_pos_embed,
)
from nver_demo.models.audio_mamba_clip import AudioMamba, quirk_rows, window_plan
from nver_demo.models.log_mel import LOG_OFFSET, LogMel, mel_filterbank, n_frames

SR = 16000


@pytest.fixture(scope="module")
def tiny() -> backbones.Backbone:
    return backbones.load("audio-mamba-tiny", random_init=True, device="cpu")


def clip(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = round(seconds * SR)
    t = np.arange(n) / SR
    return (0.3 * np.sin(2 * np.pi * 330 * t) + 0.05 * rng.standard_normal(n)).astype(np.float32)


# --- architecture ---------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "millions"), [("tiny", 4.71), ("small", 17.72), ("base", 68.61)])
def test_encoder_parameter_counts(size: str, millions: float) -> None:
    encoder = AudioMambaEncoder(CONFIGS[size])
    n = sum(p.numel() for p in encoder.parameters())  # pos_embed is a buffer: not counted
    assert "pos_embed" in encoder.state_dict() and "pos_embed" not in dict(encoder.named_parameters())
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
    assert torch.allclose(grid[:, :, : dim // 2], grid[:1, :, : dim // 2].expand(n_time, -1, -1))
    assert torch.allclose(grid[:, :, dim // 2 :], grid[:, :1, dim // 2 :].expand(-1, n_freq, -1))
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
    assert emb.shape == (2, bb.dim) and emb.dtype == np.float32 and np.isfinite(emb).all()
    assert not any(p.requires_grad for p in bb.model.parameters()) and not bb.model.training


# --- front-end and clip-embedding arithmetic -------------------------------------------------


def _handwritten_htk_filterbank() -> np.ndarray:
    """The filterbank log_mel.py computed itself before it called librosa (kept as a reference)."""
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)
    hz = lambda m: 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    fft_freqs = np.linspace(0.0, SR / 2.0, 400 // 2 + 1)
    points = hz(np.linspace(mel(np.float64(50.0)), mel(np.float64(8000.0)), 80 + 2))
    widths, ramps = np.diff(points), points[:, None] - fft_freqs[None, :]
    rising, falling = -ramps[:-2] / widths[:-1, None], ramps[2:] / widths[1:, None]
    return np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)


def test_librosa_filterbank_gives_identical_output_to_the_handwritten_one() -> None:
    old = _handwritten_htk_filterbank()
    assert mel_filterbank().dtype == np.float32
    np.testing.assert_array_equal(mel_filterbank(), old)  # bit for bit
    front = LogMel()
    y = torch.from_numpy(clip(1.3))
    ours = front(y)
    front.mel_fb = torch.from_numpy(old)
    assert torch.equal(ours, front(y))


def test_mel_frontend_matches_librosa() -> None:
    librosa = pytest.importorskip("librosa")
    fb = librosa.filters.mel(sr=SR, n_fft=400, n_mels=80, fmin=50, fmax=8000, htk=True, norm=None)
    np.testing.assert_array_equal(mel_filterbank(), fb)
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
def test_frame_window_drop_arithmetic(seconds, frames, pad, n_windows, n_rows, n_dropped, n_kept) -> None:
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
    assert torch.all(windows.reshape(-1, 80)[frames:] == 0)  # zero frames after normalisation


def test_window_plan_multiple_of_200_adds_a_full_window() -> None:
    plan = window_plan(400)
    assert (plan.pad, plan.n_windows, plan.n_dropped, plan.n_kept) == (200, 3, 50, 100)


def test_rearrange_quirk_against_hand_built_index() -> None:
    n_time, n_freq, dim = 50, 5, 3
    # token n (time-major: n = t * 5 + f) carries its own index in every channel
    tokens = torch.arange(n_time * n_freq, dtype=torch.float32)[None, :, None].repeat(2, 1, dim)
    rows = quirk_rows(tokens, n_freq)
    assert rows.shape == (2, n_time, n_freq * dim)
    expected = torch.empty(n_time, n_freq * dim)
    for r in range(n_time):
        for k in range(n_freq):  # 'b (f t) d -> b t (f d)': slot k of row r reads token k * 50 + r
            expected[r, k * dim : (k + 1) * dim] = k * n_time + r
    assert torch.equal(rows[0], expected) and torch.equal(rows[1], expected)
    # the documented consequence: slot k averages time patches 10k..10k+9 over all 5 bands
    mean_time_patch = (rows[0].view(n_time, n_freq, dim)[:, :, 0] // n_freq).mean(0)
    assert torch.equal(mean_time_patch, torch.tensor([4.5, 14.5, 24.5, 34.5, 44.5]))


@pytest.mark.parametrize(
    ("n_samples", "n_kept"),
    [
        (2 * SR, 51),
        (399 * 160, 100),
    ],  # 201 frames; 400 frames (last window dropped whole)
)
def test_clip_embedding_is_mean_of_kept_rows(n_samples: int, n_kept: int) -> None:
    model = AudioMamba(CONFIGS["tiny"]).eval()
    wave = torch.from_numpy(clip(n_samples / SR))
    with torch.no_grad():
        emb = model([wave])[0]
        windows, plan = model.windows(wave)
        # every window on its own, all rows, then the official drop and mean
        tokens = torch.cat([model.encoder(w[None]) for w in windows])
        rows = quirk_rows(tokens, 5).reshape(-1, 960)
    assert plan.n_kept == n_kept
    torch.testing.assert_close(emb, rows[:n_kept].mean(0), rtol=1e-5, atol=1e-5)


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
        np.testing.assert_allclose(tiny.embed_batch(waves, SR), batch, rtol=1e-5, atol=1e-5)
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
    assert backbones.load("audio-mamba-tiny", random_init=True, device="cpu").device == torch.device("cpu")
    with pytest.raises(ValueError, match="CUDA"):
        adapter.load_audio_mamba("tiny", random_init=True, device="cpu", autocast_dtype=torch.float16)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu_and_autocast_is_close(tiny) -> None:
    wave = clip(2.0)
    gpu = backbones.load("audio-mamba-tiny", random_init=True, device="cuda")
    assert next(gpu.model.parameters()).is_cuda
    np.testing.assert_allclose(gpu.embed(wave, SR), tiny.embed(wave, SR), rtol=1e-3, atol=1e-3)
    half = adapter.load_audio_mamba("tiny", random_init=True, device="cuda", autocast_dtype=torch.float16)
    rel = np.linalg.norm(half.embed(wave, SR) - tiny.embed(wave, SR)) / np.linalg.norm(tiny.embed(wave, SR))
    assert rel < 2e-2 and math.isfinite(rel)
