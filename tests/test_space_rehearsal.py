"""nver_demo/space_rehearsal.py: how a failed rehearsal is reported, and the environment it gives the
server. The rehearsal itself (a fresh venv, minutes) runs in .ci/run: `python -m nver_demo space rehearse`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nver_demo import space_rehearsal


def test_rehearsal_failures_name_the_missing_piece():
    assert "'umap'" in space_rehearsal.missing_piece(
        "Traceback ...\nModuleNotFoundError: No module named 'umap'\n"
    )
    msg = space_rehearsal.missing_piece(
        "FileNotFoundError: [Errno 2] No such file: '/s/nver_demo/app/style.css'"
    )
    assert "style.css" in msg and "deploy set" in msg
    assert space_rehearsal.missing_piece("all fine") == ""
    env = space_rehearsal.space_env(7861)
    assert env["SYSTEM"] == "spaces" and env["GRADIO_SERVER_PORT"] == "7861"
    assert not [k for k in env if k.startswith(("NVER_", "PYTHONPATH", "VIRTUAL_ENV"))]


def test_a_server_that_dies_at_start_is_reported_with_what_it_missed(tmp_path):
    log_path = tmp_path / "app.log"
    with open(log_path, "w") as lf:
        proc = subprocess.Popen([sys.executable, "-c", "import a_module_nobody_installed"], stdout=lf,
                                stderr=subprocess.STDOUT)  # fmt: skip
    with pytest.raises(space_rehearsal.RehearsalFailed, match="'a_module_nobody_installed' is not installed"):
        space_rehearsal._wait_up(proc, "http://127.0.0.1:9", log_path, timeout_s=60)
