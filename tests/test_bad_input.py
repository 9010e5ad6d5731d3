"""Every kind of bad or unusual input, through the HTTP API: a human message or a result, and
the server keeps serving."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from tests import app_server
from tests.app_server import REAL_CLIP, burst, write

# Session fixtures shared by the app test modules (built and launched once per session).
app_checkpoints = app_server.app_checkpoints
app_url = app_server.app_url
client = app_server.client


needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")


def analyze(client, path):
    return client.predict(handle_file(str(path)), api_name="/analyze")[-1]


def _quiet(tmp: Path) -> Path:
    x = burst(1.0)
    x *= 10 ** (-55 / 20) / np.sqrt(np.mean(x**2))  # -55 dBFS: between quiet (-50) and silent (-60)
    return write(tmp / "quiet.wav", x, 16000)


def _non_finite(value: float):
    def make(tmp: Path) -> Path:
        x = burst(1.0)
        x[100:110] = value
        return write(tmp / "nonfinite.wav", x, 16000, subtype="FLOAT")

    return make


def _truncated(tmp: Path) -> Path:
    good = write(tmp / "good.wav", burst(1.0), 16000)
    (tmp / "corrupt.wav").write_bytes(good.read_bytes()[:30])
    return tmp / "corrupt.wav"


ERRORS = {
    "silence": (lambda t: write(t / "silence.wav", np.zeros(16000, np.int16), 16000), "silent"),
    "shorter than 50 ms": (lambda t: write(t / "short.wav", burst(0.03), 16000), "ms long"),
    "NaN samples": (_non_finite(np.nan), "invalid samples"),
    "inf samples": (_non_finite(np.inf), "invalid samples"),
    "corrupt wav": (_truncated, "Could not decode 'corrupt.wav'"),
    "text renamed .wav": (lambda t: _text(t / "notes.wav"), "text file, not audio"),
    "empty file": (lambda t: _bytes(t / "empty.wav", b""), "empty"),
    "random bytes": (lambda t: _bytes(t / "blob.xyz", bytes(range(256)) * 40), "Could not decode"),
}


def _text(path: Path) -> Path:
    path.write_text("This is not a sound.\n" * 50)
    return path


def _bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", list(ERRORS))
def test_bad_input_gets_a_human_message(client, tmp_path, case):
    make, message = ERRORS[case]
    with pytest.raises(AppError, match=message):
        analyze(client, make(tmp_path))


def test_nothing_recorded_or_uploaded(client):
    with pytest.raises(AppError, match="Nothing to analyse"):
        client.predict(None, api_name="/analyze")
    with pytest.raises(AppError, match="Nothing to analyse"):
        client.predict(None, api_name="/compare")


PCM = {
    "stereo 48 kHz int16": (
        lambda: np.stack([burst(1.0, 48000), burst(1.0, 48000, seed=1)], 1),
        48000,
        "PCM_16",
    ),
    "24-bit": (lambda: burst(1.0, 44100), 44100, "PCM_24"),
    "32-bit int": (lambda: burst(1.0, 22050), 22050, "PCM_32"),
    "8-bit": (lambda: burst(1.0, 8000), 8000, "PCM_U8"),
}


@pytest.mark.parametrize("case", list(PCM))
def test_pcm_variants_are_analysed(client, tmp_path, case):
    make, sr, subtype = PCM[case]
    details = analyze(client, write(tmp_path / "clip.wav", make(), sr, subtype=subtype))
    assert details["clip"]["sample_rate"] == sr and details["label"]


def test_near_silence_is_analysed_with_a_warning(client, tmp_path):
    details = analyze(client, _quiet(tmp_path))
    assert any("very quiet" in w for w in details["warnings"])


def test_ten_minute_file_analyses_the_first_ten_seconds(client, tmp_path):
    x = np.tile(burst(1.0, 8000), 600)
    details = analyze(client, write(tmp_path / "long.wav", x, 8000, subtype="PCM_16"))
    start, end = details["clip"]["analysed_seconds"]
    assert end - start == pytest.approx(10.0, abs=0.05)
    assert any("10:00 min long" in w for w in details["warnings"])


SOUNDFILE_FORMATS = [
    ("FLAC", "flac", None),
    ("OGG", "ogg", "VORBIS"),
    ("OGG", "opus", "OPUS"),
    ("MP3", "mp3", None),
]


@pytest.mark.parametrize(("fmt", "ext", "subtype"), SOUNDFILE_FORMATS)
def test_soundfile_formats(client, tmp_path, fmt, ext, subtype):
    details = analyze(client, write(tmp_path / f"clip.{ext}", burst(1.0, 48000), 48000, subtype, fmt))
    assert details["label"] and details["clip"]["format"] in {ext, "ogg"}


@needs_ffmpeg
@pytest.mark.parametrize(("ext", "codec"), [("webm", "libopus"), ("m4a", "aac")])
def test_ffmpeg_formats(client, tmp_path, ext, codec):
    src = write(tmp_path / "src.wav", burst(1.0, 48000), 48000)
    out = tmp_path / f"clip.{ext}"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), "-c:a", codec, str(out)], check=True)
    details = analyze(client, out)
    assert details["label"] and details["clip"]["format"] == ext


@needs_ffmpeg
def test_without_ffmpeg_the_format_is_named(client, tmp_path, monkeypatch):
    src = write(tmp_path / "src.wav", burst(1.0, 48000), 48000)
    out = tmp_path / "clip.webm"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), "-c:a", "libopus", str(out)], check=True)
    monkeypatch.setattr("nver_demo.audio.shutil.which", lambda _: None)
    with pytest.raises(AppError, match=r"as webm audio.*ffmpeg"):
        analyze(client, out)


def test_server_still_serves_after_bad_input(client):
    assert analyze(client, REAL_CLIP)["label"]
