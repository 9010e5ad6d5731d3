"""Formats only ffmpeg decodes (webm/opus, m4a/aac): the samples come back at the rate
``audio.load`` reports, mono, with the file's duration and pitch; the backbones' 16 kHz
resampling keeps both; a decode limit decodes only the start of a long file."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from nver_demo import audio
from nver_demo.app import clips

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")

CODECS = {"webm": ["-c:a", "libopus", "-b:a", "96k"], "m4a": ["-c:a", "aac", "-b:a", "128k"]}


def _tone(seconds: float, sr: int, freq: float, amp: float = 0.4) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _encode(wave: np.ndarray, sr: int, path: Path) -> Path:
    """Write ``wave`` ((n,) or (n, channels)) at ``sr`` through a WAV into ``path``'s format."""
    src = path.with_suffix(".src.wav")
    sf.write(src, wave, sr, subtype="FLOAT")
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), *CODECS[path.suffix[1:]], str(path)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    src.unlink()
    with pytest.raises(Exception):  # noqa: B017 - soundfile cannot read it: the ffmpeg path is what runs
        sf.info(str(path))
    return path


def _peaks(x: np.ndarray, sr: int, n: int = 1) -> list[float]:
    """The ``n`` strongest frequencies of ``x`` (Hz), strongest first, 5 Hz apart at least."""
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    freqs = np.fft.rfftfreq(len(x), 1 / sr)
    out: list[float] = []
    for i in np.argsort(-spec):
        if all(abs(freqs[i] - f) > 5 for f in out):
            out.append(float(freqs[i]))
        if len(out) == n:
            return out
    return out


@pytest.mark.parametrize("fmt", list(CODECS))
@pytest.mark.parametrize("source_sr", [48000, 22050])
def test_decoded_samples_are_at_the_reported_rate(tmp_path, fmt, source_sr):
    path = _encode(_tone(2.0, source_sr, 440.0), source_sr, tmp_path / f"tone.{fmt}")
    x, sr = audio.load(path)
    assert sr == audio.FFMPEG_RATE == 48000 and x.ndim == 1 and x.dtype == np.float32
    assert len(x) / sr == pytest.approx(2.0, abs=0.05)  # encoder priming/padding at most
    assert _peaks(x, sr)[0] == pytest.approx(440.0, abs=2.0)  # a wrong rate would shift the pitch
    y = audio.prepare(x, sr, 16000)  # what every 16 kHz backbone receives
    assert len(y) / 16000 == pytest.approx(2.0, abs=0.05)
    assert _peaks(y, 16000)[0] == pytest.approx(440.0, abs=2.0)
    clip = clips.read_clip(path)  # the input gate: same rate, same length
    assert clip.format == fmt and clip.sr == sr and len(clip.wave) == len(x)
    assert clip.end_s - clip.start_s == pytest.approx(2.0, abs=0.05)


def test_a_stereo_file_is_averaged_to_mono_with_both_channels(tmp_path):
    sr = 48000
    left, right = _tone(2.0, sr, 440.0, amp=0.4), _tone(2.0, sr, 660.0, amp=0.2)
    path = _encode(np.stack([left, right], 1), sr, tmp_path / "stereo.webm")
    x, got_sr = audio.load(path)
    assert got_sr == sr and x.ndim == 1 and len(x) / sr == pytest.approx(2.0, abs=0.05)
    assert sorted(_peaks(x, sr, 2)) == pytest.approx([440.0, 660.0], abs=2.0)
    mid = x[sr // 2 : 3 * sr // 2]  # away from the codec's edges
    expected = (left + right)[sr // 2 : 3 * sr // 2] / 2
    assert np.sqrt(np.mean(mid**2)) == pytest.approx(np.sqrt(np.mean(expected**2)), rel=0.1)


def test_a_long_file_decodes_only_its_start(tmp_path):
    sr = 48000
    noise = 0.01 * np.random.default_rng(0).standard_normal(70 * sr).astype(np.float32)
    path = _encode(_tone(70.0, sr, 220.0, amp=0.2) + noise, sr, tmp_path / "long.webm")
    x, got_sr = audio.load(path, max_seconds=3.0)
    assert got_sr == sr and len(x) == pytest.approx(3 * sr, abs=sr // 100)
    clip = clips.read_clip(path)  # decodes DECODE_S (60 s) of the 70, analyses the first 10
    assert clip.source_seconds is None  # ffmpeg-only formats: the length is unknown
    assert clip.start_s == 0.0 and clip.end_s == pytest.approx(clips.MAX_ANALYSIS_S, abs=0.01)
    assert len(clip.wave) == pytest.approx(clips.MAX_ANALYSIS_S * sr, abs=1)
    assert clip.warnings[0].startswith(
        f"The clip is longer than {clips.DECODE_S:.0f} s; only 0.0–{clips.MAX_ANALYSIS_S:.1f} s was analysed."
    )
