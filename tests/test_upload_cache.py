"""The cap on Gradio's upload folder (nver_demo/app/upload_cache.py): oldest files go first, files
in use, kept by the app or just uploaded stay, an upload that cannot fit is refused with a
sentence, and the cap comes from $NVER_UPLOAD_CACHE_MB."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from nver_demo import audio
from nver_demo.app import service, upload_cache
from nver_demo.app.upload_cache import MIB, UploadCache, UploadRefused
from tests import app_server
from tests.app_server import burst, write

app_checkpoints = app_server.app_checkpoints
app_url = app_server.app_url
client = app_server.client

KB = 1024


def _upload(root: Path, name: str, size: int) -> Path:
    """A file as Gradio stores an upload: one folder per file, arriving (ctime) strictly after every
    file already there. File times tick with the kernel's clock (a few ms), so the file is touched
    again (chmod sets its ctime) until its time is later: a condition, not a fixed sleep."""
    before = max((p.stat().st_ctime for p in root.glob("*/*")), default=float("-inf"))
    folder = root / f"h{len(list(root.iterdir())):03d}"
    folder.mkdir()
    path = folder / name
    path.write_bytes(b"\0" * size)
    while path.stat().st_ctime <= before:
        time.sleep(0.001)
        path.chmod(0o644)
    return path


def test_over_the_cap_the_oldest_files_go_first(tmp_path):
    files = [_upload(tmp_path, f"{i}.wav", 100 * KB) for i in range(5)]
    cache = UploadCache(tmp_path, cap=350 * KB, grace_s=0)
    result = cache.sweep()
    assert result.removed == files[:2]  # 500 KB -> 300 KB: the two oldest
    assert result.total == 300 * KB and result.freed == 200 * KB
    assert [f.exists() for f in files] == [False, False, True, True, True]
    assert not files[0].parent.exists()  # Gradio's per-file folder goes with it
    assert cache.sweep().removed == []  # under the cap: nothing more


def test_under_the_cap_nothing_is_removed(tmp_path):
    files = [_upload(tmp_path, f"{i}.wav", 100 * KB) for i in range(3)]
    assert UploadCache(tmp_path, cap=300 * KB, grace_s=0).sweep().removed == []
    assert UploadCache(tmp_path, cap=None, grace_s=0).sweep().removed == []
    assert all(f.exists() for f in files)


def test_files_in_use_kept_or_just_uploaded_are_spared(tmp_path):
    old_in_use, old_example, old, *_ = files = [_upload(tmp_path, f"{i}.wav", 100 * KB) for i in range(4)]
    cache = UploadCache(tmp_path, cap=250 * KB, grace_s=0, protect=[lambda: {str(old_example)}])
    cache.hold(old_in_use)  # a running request reads it
    result = cache.sweep()
    cache.release(old_in_use)
    assert result.removed == [old, files[3]] and old_in_use.exists() and old_example.exists()
    assert result.total == 200 * KB
    young = UploadCache(tmp_path, cap=KB, grace_s=3600)  # everything younger than an hour
    assert young.sweep().removed == []


def test_an_upload_that_cannot_fit_is_refused_politely(tmp_path):
    held = _upload(tmp_path, "playing.wav", 300 * KB)
    new = _upload(tmp_path, "my laugh.wav", 100 * KB)
    cache = UploadCache(tmp_path, cap=350 * KB, grace_s=0)
    cache.hold(held)  # another visitor's timeline is reading it
    with pytest.raises(UploadRefused) as e:
        cache.admit(new)
    said = str(e.value)
    assert said.startswith("The server's upload space is full right now") and "'my laugh.wav'" in said
    assert "try again" in said and str(tmp_path) not in said
    assert not new.exists() and held.exists()  # the refused upload does not stay to fill the folder
    assert isinstance(e.value, audio.AudioError)  # every handler shows it as a sentence


def test_an_upload_bigger_than_the_whole_cap_is_told_so(tmp_path):
    big = _upload(tmp_path, "concert.wav", 2 * MIB)
    with pytest.raises(
        UploadRefused, match=r"^'concert\.wav' is 2\.0 MB, more than this server keeps .*\(1\.0 MB\)"
    ):
        UploadCache(tmp_path, cap=MIB, grace_s=0).admit(big)
    assert not big.exists()


def test_a_held_file_is_released_at_the_end_of_its_request(tmp_path):
    first = _upload(tmp_path, "first.wav", 100 * KB)
    cache = UploadCache(tmp_path, cap=150 * KB, grace_s=0)
    with cache.admit(first):
        second = _upload(tmp_path, "second.wav", 100 * KB)
        assert cache.sweep().removed == [second]  # the held one is older, but in use
    third = _upload(tmp_path, "third.wav", 100 * KB)
    assert cache.sweep().removed == [first] and third.exists()


def test_admitting_makes_room_by_evicting_older_files(tmp_path):
    old = [_upload(tmp_path, f"{i}.wav", 100 * KB) for i in range(3)]
    new = _upload(tmp_path, "new.wav", 100 * KB)
    cache = UploadCache(tmp_path, cap=250 * KB, grace_s=0)
    with cache.admit(new) as admission:
        assert admission.path == new.resolve()
    assert new.exists() and [f.exists() for f in old] == [False, False, True]


def test_files_outside_the_cache_are_let_through(tmp_path):
    cache = UploadCache(tmp_path / "cache", cap=1, grace_s=0)
    (tmp_path / "cache").mkdir()
    outside = write(tmp_path / "mine.wav", burst(1.0), 16000)
    with cache.admit(outside) as a:
        assert a.path is None
    assert cache.admit(None).path is None and outside.exists()


def test_the_cap_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(upload_cache.ENV_CAP, raising=False)
    assert upload_cache.cap_from_env() == upload_cache.DEFAULT_CAP_MB * MIB
    monkeypatch.setenv(upload_cache.ENV_CAP, "512")
    assert upload_cache.cap_from_env() == 512 * MIB
    monkeypatch.setenv(upload_cache.ENV_CAP, "0")
    assert upload_cache.cap_from_env() is None
    for bad in ("lots", "-5"):
        monkeypatch.setenv(upload_cache.ENV_CAP, bad)
        with pytest.raises(ValueError, match=rf"{upload_cache.ENV_CAP} must be a number of MiB"):
            upload_cache.cap_from_env()


def test_cache_dir_follows_gradio_temp_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    assert upload_cache.cache_dir() == tmp_path.resolve()


def test_analyze_refuses_an_upload_that_cannot_fit(tmp_path, monkeypatch):
    """The handlers admit the upload before decoding it: the refusal is the sentence they show."""
    (tmp_path / "h1").mkdir()
    clip = write(tmp_path / "h1" / "clip.wav", burst(1.0), 16000)  # 32 KB
    monkeypatch.setattr(upload_cache, "_default", UploadCache(tmp_path, cap=KB, grace_s=0))
    with pytest.raises(
        UploadRefused, match=r"^'clip\.wav' is 31 KB, more than this server keeps .* \(1 KB\)"
    ):
        service.analyze(str(clip), "any-model", [])


def test_the_endpoints_refuse_an_upload_that_cannot_fit(client, tmp_path, monkeypatch):
    """Over HTTP (the server runs in this process): /analyze, /compare and /timeline admit the
    upload first. A 1 KB cap refuses any upload before a sweep, so no other test's file is touched."""
    import os

    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    tiny = UploadCache(os.environ["GRADIO_TEMP_DIR"], cap=KB, grace_s=0)
    monkeypatch.setattr(upload_cache, "_default", tiny)
    clip = write(tmp_path / "laugh.wav", burst(1.0), 16000)
    for api, args in (("/analyze", ()), ("/compare", (["reno-tiny"],)), ("/timeline", ("reno-tiny", False))):
        with pytest.raises(AppError, match=r"^'laugh\.wav' is 31 KB, more than this server keeps"):
            client.predict(handle_file(str(clip)), *args, api_name=api)


def test_a_request_under_the_cap_does_not_walk_the_folder(tmp_path, monkeypatch):
    """After a sweep, uploads that fit in the measured size plus what was admitted since are let
    in without listing the folder; one that would not fit makes a real sweep."""
    first = _upload(tmp_path, "a.wav", 100 * KB)
    cache = UploadCache(tmp_path, cap=250 * KB, grace_s=0)
    cache.sweep()  # measures 100 KB
    walks = []
    real = cache._entries
    monkeypatch.setattr(cache, "_entries", lambda: walks.append(1) or real())
    second = _upload(tmp_path, "b.wav", 100 * KB)
    cache.admit(second)  # 100 + 100 <= 250: no walk
    assert walks == []
    third = _upload(tmp_path, "c.wav", 100 * KB)
    cache.admit(third)  # 300 > 250 by the estimate: a sweep, which evicts the oldest
    assert walks == [1] and not first.exists() and second.exists() and third.exists()
