"""The CLI's ``predict`` and ``timeline`` on bad inputs: a sentence per failed file, every input in
the ``--json`` output, exit status 1 with a summary line when any input failed, and no
third-party warnings on stderr in normal use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nver_demo import cli
from tests.app_server import REAL_CLIP, burst, write

ROOT = Path(__file__).resolve().parent.parent


def _bad_inputs(tmp: Path) -> dict[str, tuple[Path, str]]:
    (tmp / "notes.wav").write_text("not a sound\n" * 20)
    (tmp / "folder").mkdir()
    return {
        "missing": (tmp / "nowhere.wav", "'nowhere.wav' was not found"),
        "directory": (tmp / "folder", "'folder' is a folder, not an audio file"),
        "text": (tmp / "notes.wav", "'notes.wav' is a text file, not audio"),
    }


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    rc = cli.main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize("case", ["missing", "directory", "text"])
@pytest.mark.parametrize("command", ["predict", "timeline"])
def test_a_bad_input_fails_with_its_sentence(tmp_path, tiny_checkpoint, capsys, command, case):
    path, sentence = _bad_inputs(tmp_path)[case]
    extra = ["--no-gate", "--quiet"] if command == "timeline" else []
    rc, out, err = _run([command, "--model", str(tiny_checkpoint), *extra, str(path)], capsys)
    assert rc == cli.EXIT_INPUTS_FAILED != 0
    assert f"{path}: {sentence}" in err
    assert err.strip().splitlines()[-1] == f"1 of 1 input failed: {path}"
    assert "Could not decode" not in err and out == ""


@pytest.mark.parametrize("command", ["predict", "timeline"])
def test_json_reports_a_failed_input(tmp_path, tiny_checkpoint, capsys, command):
    path, sentence = _bad_inputs(tmp_path)["missing"]
    extra = ["--no-gate", "--quiet"] if command == "timeline" else []
    rc, out, _ = _run([command, "--json", "--model", str(tiny_checkpoint), *extra, str(path)], capsys)
    assert rc == cli.EXIT_INPUTS_FAILED
    [record] = [json.loads(line) for line in out.splitlines()]
    assert record["file"] == str(path) and record["error"].startswith(sentence)


def test_mixed_batch_reports_every_input_in_order(tmp_path, tiny_checkpoint, capsys):
    bad = _bad_inputs(tmp_path)
    good = write(tmp_path / "burst.wav", burst(1.0), 16000)
    files = [good, bad["missing"][0], REAL_CLIP, bad["directory"][0], bad["text"][0]]
    rc, out, err = _run(["predict", "--json", "--model", str(tiny_checkpoint), *map(str, files)], capsys)
    assert rc == cli.EXIT_INPUTS_FAILED
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["file"] for r in records] == [str(f) for f in files]
    ok = [r for r in records if "error" not in r]
    assert [r["file"] for r in ok] == [str(good), str(REAL_CLIP)]
    assert all(r["label"] and abs(sum(r["probs"].values()) - 1) < 1e-5 for r in ok)
    errors = {r["file"]: r["error"] for r in records if "error" in r}
    assert set(errors) == {str(p) for p, _ in bad.values()}
    for p, sentence in bad.values():
        assert errors[str(p)].startswith(sentence)
    failed = ", ".join(str(p) for p in [bad["missing"][0], bad["directory"][0], bad["text"][0]])
    assert err.strip().splitlines()[-1] == f"3 of 5 inputs failed: {failed}"


def test_all_good_inputs_exit_zero(tmp_path, tiny_checkpoint, capsys):
    good = write(tmp_path / "burst.wav", burst(1.0), 16000)
    rc, out, err = _run(["predict", "--model", str(tiny_checkpoint), str(good), str(REAL_CLIP)], capsys)
    assert rc == 0 and "failed" not in err
    assert f"{good}  (reno-tiny)" in out and f"{REAL_CLIP}  (reno-tiny)" in out


def test_an_unknown_model_is_an_error_not_an_input_failure(capsys):
    rc, _, err = _run(["predict", "--model", "no-such-model", str(REAL_CLIP)], capsys)
    assert rc == cli.EXIT_ERROR and err.startswith("error: ")


def _subprocess(argv: list[str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}  # Python's default filters
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "nver_demo", *argv], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env=env)  # fmt: skip


def test_no_third_party_warnings_in_normal_use(tmp_path, tiny_checkpoint):
    """``timeline`` imports webrtcvad (burst detection), whose ``import pkg_resources`` warns
    under setuptools >= 80; the import site silences that one warning. Nothing else may be
    printed on stderr by a successful run."""
    good = write(tmp_path / "burst.wav", burst(1.0), 16000)
    for argv in (["timeline", "--quiet", "--no-gate", "--model", str(tiny_checkpoint), str(good)],
                 ["predict", "--model", str(tiny_checkpoint), str(good)]):  # fmt: skip
        done = _subprocess(argv)
        assert done.returncode == 0, done.stderr
        assert done.stderr == "", done.stderr
        assert done.stdout


def test_the_pkg_resources_warning_is_what_is_silenced():
    """Without the import-site filter, importing webrtcvad warns (so the test above is not empty)."""
    code = "import warnings; warnings.simplefilter('always'); import webrtcvad"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    if "pkg_resources is deprecated" not in done.stderr:
        pytest.skip("this setuptools does not warn about pkg_resources")
    code = "from nver_demo.app import bursts; bursts.BurstDetector()"
    done = subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    assert done.returncode == 0 and "pkg_resources" not in done.stderr, done.stderr
