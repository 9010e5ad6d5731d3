import numpy as np
import pytest
import soundfile as sf

from nver_demo import audio
from tests.conftest import tone


@pytest.mark.parametrize(
    "dtype, full_scale",
    [(np.int16, 2**15), (np.int32, 2**31), (np.float32, 1.0), (np.float64, 1.0)],
)
def test_to_float_scales_by_dtype(dtype, full_scale):
    x = np.array([0, full_scale // 2 if dtype in (np.int16, np.int32) else 0.5], dtype=dtype)
    y = audio.to_float(x)
    assert y.dtype == np.float32
    assert y[1] == pytest.approx(0.5, abs=1e-4)


def test_to_float_uint8_is_centred():
    y = audio.to_float(np.array([0, 128, 255], dtype=np.uint8))
    assert y[0] == pytest.approx(-1.0)
    assert y[1] == pytest.approx(0.0)
    assert y[2] == pytest.approx(127 / 128)


def test_to_mono_handles_both_layouts():
    left, right = np.ones(1000, np.float32), np.zeros(1000, np.float32)
    assert audio.to_mono(np.stack([left, right], 1)).shape == (1000,)  # (n, ch) soundfile/gradio
    assert audio.to_mono(np.stack([left, right], 0)).shape == (1000,)  # (ch, n) librosa/torch
    assert np.allclose(audio.to_mono(np.stack([left, right], 1)), 0.5)


def test_prepare_resamples_and_cleans():
    x = tone(1.0, 48000)
    x[10] = np.nan
    y = audio.prepare(np.stack([x, x], 1), 48000, 16000)
    assert y.shape == (16000,)
    assert np.isfinite(y).all()


@pytest.mark.parametrize(
    "wave, message",
    [
        (np.zeros(0, np.float32), "empty"),
        (np.full(16000, np.nan, np.float32), "invalid samples"),
        (tone(0.02), "ms long"),
        (np.zeros(16000, np.float32), "silent"),
    ],
)
def test_validate_rejects_unusable(wave, message):
    with pytest.raises(audio.AudioError, match=message):
        audio.validate(wave, 16000)


def test_validate_accepts_quiet_but_flags_it():
    x, st = audio.validate(tone(1.0) * 0.01, 16000)
    assert st.is_quiet and not st.is_silent
    assert x.dtype == np.float32


@pytest.mark.parametrize("fmt, subtype", [("WAV", "PCM_16"), ("WAV", "PCM_24"), ("FLAC", "PCM_16"),
                                          ("OGG", "VORBIS"), ("MP3", "MPEG_LAYER_III")])  # fmt: skip
def test_load_roundtrip(tmp_path, fmt, subtype):
    x = tone(0.5, 16000)
    path = tmp_path / f"clip.{fmt.lower()}"
    sf.write(path, x, 16000, format=fmt, subtype=subtype)
    y, sr = audio.load(path)
    assert sr == 16000
    assert abs(len(y) - len(x)) < 2000  # mp3 adds encoder padding
    assert np.abs(y).max() > 0.1


def test_load_garbage_names_format(tmp_path):
    bad = tmp_path / "notes.wav"
    bad.write_text("this is not audio")
    with pytest.raises(audio.AudioError, match="wav"):
        audio.load(bad)
