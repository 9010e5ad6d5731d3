"""The input gate (nver_demo/inputs.py): what a file is by its content, the sentences, and that
every entry point (Analyze and Compare, Timeline, the Python API, the CLI, /analyze and /timeline
over HTTP) says the same sentence about the same bad file, naming it without a server path."""

from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from nver_demo import audio, cli, clip_select, inputs
from nver_demo.app import catalog, service, timeline
from nver_demo.predict import Predictor
from tests import app_server
from tests.app_server import REAL_CLIP, burst, write

app_checkpoints = app_server.app_checkpoints
app_url = app_server.app_url
client = app_server.client

SR = 16000


# --- what a file is ------------------------------------------------------------------------------


def _zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("song.txt", "la la la\n" * 200)
    return path


CONTAINERS = {  # file bytes -> what sniff says (the extension always claims audio)
    "zip": (lambda p: _zip(p), "a ZIP archive"),
    "pdf": (lambda p: p.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + bytes(300)), "a PDF document"),
    "html": (
        lambda p: p.write_text("<!DOCTYPE html>\n<html><body>Not found</body></html>\n"),
        "an HTML page",
    ),
    "png": (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100)), "a PNG image"),
    "jpeg": (lambda p: p.write_bytes(b"\xff\xd8\xff\xe0" + bytes(100)), "a JPEG image"),
    "gzip": (lambda p: p.write_bytes(b"\x1f\x8b\x08\x00" + bytes(100)), "a gzip archive"),
    "webp": (lambda p: p.write_bytes(b"RIFF\x10\x00\x00\x00WEBPVP8 " + bytes(100)), "webp"),
    "text": (lambda p: p.write_text("no sound here\n" * 30), "text"),
    # a multi-byte character cut by the 512-byte window is still text
    "utf-8 text": (lambda p: p.write_bytes(("é" * 300).encode()), "text"),
}


@pytest.mark.parametrize("case", list(CONTAINERS))
def test_sniff_knows_non_audio_containers_by_content(tmp_path, case):
    make, kind = CONTAINERS[case]
    path = tmp_path / "clip.mp3"
    make(path)
    assert inputs.sniff(path) == kind
    assert not inputs.is_audio_format(kind)
    with pytest.raises(inputs.InputError, match=r"^'clip\.mp3' is .*not audio \(renaming a file to \.mp3"):
        inputs.check_file(path)


def test_sniff_audio_by_content_whatever_the_extension(tmp_path):
    assert inputs.sniff(write(tmp_path / "a.txt", burst(), SR, fmt="WAV")) == "wav"
    assert inputs.sniff(write(tmp_path / "a.zip", burst(), SR, fmt="FLAC")) == "flac"
    assert inputs.sniff(REAL_CLIP) == "mp3"
    src = inputs.check_file(write(tmp_path / "a.bin", burst(), SR, fmt="WAV"))
    assert (src.name, src.format) == ("a.bin", "wav")


def test_check_file_sentences(tmp_path):
    cases = {
        None: "Nothing to analyse yet",
        tmp_path / "gone.wav": r"^'gone\.wav' was not found",
        tmp_path: rf"^'{tmp_path.name}' is a folder, not an audio file",
    }
    (tmp_path / "e.wav").write_bytes(b"")
    cases[tmp_path / "e.wav"] = r"^'e\.wav' is empty \(0 bytes\)"
    for path, message in cases.items():
        with pytest.raises(inputs.InputError, match=message):
            inputs.check_file(path)


def test_a_non_audio_file_under_its_own_extension_is_not_called_renamed(tmp_path):
    with pytest.raises(inputs.InputError) as e:
        inputs.check_file(_zip(tmp_path / "songs.zip"))
    assert "is a ZIP archive, not audio." in str(e.value) and "renaming" not in str(e.value)


def test_scrub_replaces_paths_by_the_file_name():
    path = "/tmp/gradio/3f9a0c1d2e/party mix.webm"
    said = f"{path}: Invalid data found when processing input"
    assert inputs.scrub(said, path) == "party mix.webm: Invalid data found when processing input"
    assert inputs.scrub("Error opening /var/tmp/x/y/clip.m4a (No such file)") == (
        "Error opening clip.m4a (No such file)"
    )
    src = inputs.Source(Path(path), "party mix.webm", "webm")
    sentence = str(inputs.decode_error(src, said))
    assert "/tmp" not in sentence and "'party mix.webm' as webm audio" in sentence


def test_check_finite_says_where_the_first_bad_sample_is():
    x = np.zeros((SR, 2), np.float32)
    x[SR // 2, 1] = np.inf
    with pytest.raises(audio.AudioError, match=r"^'a\.wav' contains invalid samples .* first at 0\.50 s"):
        inputs.check_finite(x, SR, "a.wav")
    with pytest.raises(audio.AudioError, match=r"first at 10\.50 s"):  # a block 10 s into a stream
        inputs.check_finite(x, SR, "a.wav", offset_s=10.0)
    inputs.check_finite(np.ones(10, np.float32), SR, "a.wav")


# --- the same sentence everywhere ----------------------------------------------------------------


def _non_finite(value: float, at_s: float = 0.25, seconds: float = 1.0):
    def make(tmp: Path) -> Path:
        x = burst(seconds, SR)
        x[int(at_s * SR) : int(at_s * SR) + 10] = value
        return write(tmp / "broken.wav", x, SR, subtype="FLOAT")

    return make


def _text(tmp: Path) -> Path:
    (tmp / "notes.wav").write_text("This is not a sound.\n" * 50)
    return tmp / "notes.wav"


BAD = {
    "NaN": (
        _non_finite(np.nan),
        r"^'broken\.wav' contains invalid samples \(NaN or infinity\), the first at 0\.25 s",
    ),
    "+inf": (_non_finite(np.inf), r"^'broken\.wav' contains invalid samples \(NaN or infinity\)"),
    # past the timeline's one-second probe: found while streaming, still the same sentence
    "NaN after 2 s": (_non_finite(np.nan, at_s=2.5, seconds=4.0), r"the first at 2\.50 s"),
    "zip renamed .mp3": (lambda t: _zip(t / "song.mp3"), r"^'song\.mp3' is a ZIP archive, not audio"),
    "text renamed .wav": (_text, r"^'notes\.wav' is a text file, not audio"),
}


def _sentence(fn, *args, **kwargs) -> str:
    with pytest.raises(audio.AudioError) as e:
        fn(*args, **kwargs)
    return str(e.value)


def _cli(argv: list[str], capsys) -> tuple[int, list[dict]]:
    rc = cli.main(argv)
    out = capsys.readouterr().out
    return rc, [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.mark.parametrize("case", list(BAD))
def test_every_entry_point_says_the_same_sentence(tmp_path, tiny_checkpoint, app_checkpoints, capsys, case):
    make, pattern = BAD[case]
    path = make(tmp_path)
    predictor = Predictor.load(tiny_checkpoint)
    infos = catalog.models(app_checkpoints, hub=False, local=False)
    said = {
        "read_clip": _sentence(clip_select.read_clip, path),
        "analyze": _sentence(service.analyze, str(path), "reno-tiny", infos),
        "compare": _sentence(service.compare, str(path), ["reno-tiny"], infos),
        "timeline": _sentence(timeline.run, path, predictor, gate=False),
        "predict_file": _sentence(predictor.predict_file, path),
    }
    rc, records = _cli(["predict", "--json", "--model", str(tiny_checkpoint), str(path)], capsys)
    assert rc == cli.EXIT_INPUTS_FAILED
    said["cli predict"] = records[0]["error"]
    rc, records = _cli(
        ["timeline", "--json", "--no-gate", "--model", str(tiny_checkpoint), str(path)], capsys
    )
    assert rc == cli.EXIT_INPUTS_FAILED
    said["cli timeline"] = records[0]["error"]
    assert len(set(said.values())) == 1, said
    assert re.search(pattern, said["read_clip"]), said["read_clip"]


@pytest.mark.parametrize("case", list(BAD))
def test_analyze_and_timeline_endpoints_say_the_same_sentence_without_server_paths(client, tmp_path, case):
    make, pattern = BAD[case]
    path = make(tmp_path)
    messages = []
    for api, args in (("/analyze", ()), ("/timeline", ("reno-tiny", False))):
        with pytest.raises(AppError) as e:
            client.predict(handle_file(str(path)), *args, api_name=api)
        messages.append(str(e.value))
    assert messages[0] == messages[1] == _sentence(clip_select.read_clip, path)
    assert re.search(pattern, messages[0]), messages[0]
    cache = os.environ["GRADIO_TEMP_DIR"]  # where the server stored the upload (conftest.py)
    for m in messages:
        assert cache not in m and "/tmp" not in m and str(tmp_path) not in m
        assert f"'{path.name}'" in m


def test_a_corrupt_file_names_the_file_not_the_upload_folder(client, tmp_path):
    good = write(tmp_path / "good.wav", burst(1.0), SR)
    (tmp_path / "cut.wav").write_bytes(good.read_bytes()[:30])
    for api, args in (("/analyze", ()), ("/timeline", ("reno-tiny", False))):
        with pytest.raises(AppError) as e:
            client.predict(handle_file(str(tmp_path / "cut.wav")), *args, api_name=api)
        assert str(e.value).startswith("Could not decode 'cut.wav' as wav audio")
        assert os.environ["GRADIO_TEMP_DIR"] not in str(e.value) and "/tmp" not in str(e.value)


def test_silence_and_too_short_are_refused_by_the_timeline_too(tmp_path, tiny_checkpoint):
    predictor = Predictor.load(tiny_checkpoint)
    silent = write(tmp_path / "quiet room.wav", np.zeros(3 * SR, np.float32), SR)
    with pytest.raises(audio.AudioError, match=r"^'quiet room\.wav' is silent: its level is"):
        timeline.run(silent, predictor, gate=False)
    with pytest.raises(audio.AudioError, match=r"^'quiet room\.wav' is silent: its level is"):
        clip_select.read_clip(silent)
    short = write(tmp_path / "blip.wav", burst(0.02), SR)
    assert _sentence(timeline.run, short, predictor, gate=False) == _sentence(clip_select.read_clip, short)


def test_ffmpegs_error_is_quoted_without_the_path(tmp_path, tiny_checkpoint, monkeypatch):
    """ffmpeg names its input by its full path; the sentence quotes its error with the file's name
    instead (a stand-in ffmpeg on PATH says what the real one says about a corrupt file)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "ffmpeg"
    fake.write_text('#!/bin/sh\nfor a; do case "$a" in /*) p="$a";; esac; done\n'
                    'echo "$p: Invalid data found when processing input" >&2\nexit 1\n')  # fmt: skip
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    upload = tmp_path / "gradio" / "0f3c9a" / "party.m4a"
    upload.parent.mkdir(parents=True)
    upload.write_bytes(b"\x00\x00\x00\x18ftypM4A " + bytes(range(256)) * 8)  # an m4a header, then garbage
    expected = (
        "Could not decode 'party.m4a' as m4a audio: the file looks corrupt or uses a codec that cannot "
        "be read here (party.m4a: Invalid data found when processing input)."
    )
    assert _sentence(clip_select.read_clip, upload) == expected
    assert _sentence(timeline.run, upload, Predictor.load(tiny_checkpoint), gate=False) == expected
