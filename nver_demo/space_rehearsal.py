"""Rehearse a Space's install here: ``python -m nver_demo space rehearse``.

What a Space does with the upload, as far as one machine can: the deploy set
(:func:`nver_demo.space.deploy_files`) is copied into an empty temporary folder (no ``../shared``,
no tests, no checkout beside it), a fresh venv installs ``requirements.txt`` and nothing else,
``python app.py`` starts from the staged folder with none of this checkout's environment
(``NVER_*``, ``PYTHONPATH``, ``HF_*``, ``GRADIO_*`` dropped; ``SYSTEM=spaces``), and
``gradio_client`` (from that venv) sends an example clip to ``/analyze`` and checks the answer has
a label the model knows. The server is stopped either way. A failure raises
:class:`RehearsalFailed` naming the missing piece (a Python module requirements.txt does not
install, a file outside the deploy set, a server that never came up) with the log's tail.

pip may use this machine's wheel cache and package index (as CI does); a Space downloads the same
pins from PyPI. Python is this interpreter's; the Space uses the front matter's ``python_version``
(a mismatch is reported, not fatal).
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from . import space

log = logging.getLogger(__name__)

#: Runs in the staged venv: one /analyze call per argument after the URL (each an example clip),
#: printing one JSON line per call (label, model, seconds, the server's timings).
CLIENT = """
import json, sys, time
from gradio_client import Client, handle_file
client = Client(sys.argv[1], verbose=False)
for clip in sys.argv[2:]:
    t0 = time.perf_counter()
    label, _bars, _map, _summary, details = client.predict(handle_file(clip), api_name="/analyze")
    print(json.dumps({"clip": clip, "label": label, "model": details.get("model"),
                      "probs": details.get("probs"), "seconds": time.perf_counter() - t0,
                      "timings_s": details.get("timings_s")}), flush=True)
"""


class RehearsalFailed(RuntimeError):
    """The staged Space did not install, start or answer; the message names what is missing."""


def space_env(port: int) -> dict[str, str]:
    """The environment a Space's process sees: none of this checkout's settings (pip's are kept,
    so the install may use the local index and wheel cache)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NVER_", "PYTHON", "VIRTUAL_ENV", "GRADIO_", "HF_", "OMP_"))}  # fmt: skip
    env.update(GRADIO_SERVER_PORT=str(port), GRADIO_SERVER_NAME="127.0.0.1", GRADIO_ANALYTICS_ENABLED="False",
               SYSTEM="spaces", HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")  # fmt: skip
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def missing_piece(log_text: str) -> str:
    """The first thing the server's log says it could not find, in a sentence (or "")."""
    m = re.search(r"ModuleNotFoundError: No module named '([^']+)'", log_text)
    if m:
        return f"the Python module '{m.group(1)}' is not installed by requirements.txt (or not in the deploy set)"
    m = re.search(r"(?:FileNotFoundError|WeightsUnavailable|OSError)[^\n]*?'([^']+)'", log_text)
    if m:
        return f"the file '{m.group(1)}' is missing from the deploy set (nver_demo/space.py INCLUDE)"
    m = re.search(r"(ImportError: [^\n]+)", log_text)
    return m.group(1) if m else ""


def _tail(path: Path, n: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-n:])


def _install(site: Path, venv: Path, log_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    with open(log_path, "w") as lf:
        proc = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                               "--disable-pip-version-check", "-r", "requirements.txt"],
                              cwd=site, stdout=lf, stderr=subprocess.STDOUT, check=False)  # fmt: skip
    if proc.returncode:
        raise RehearsalFailed(f"pip could not install requirements.txt:\n{_tail(log_path)}")


def _wait_up(proc: subprocess.Popen, url: str, log_path: Path, timeout_s: float) -> None:
    t_end = time.monotonic() + timeout_s
    while time.monotonic() < t_end:
        if proc.poll() is not None:
            text = log_path.read_text(errors="replace")
            why = missing_piece(text) or f"app.py exited with code {proc.returncode}"
            raise RehearsalFailed(f"{why}.\n{_tail(log_path)}")
        try:
            with urllib.request.urlopen(f"{url}/gradio_api/info", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise RehearsalFailed(f"app.py did not answer on {url} within {timeout_s:.0f} s.\n{_tail(log_path)}")


def _rss_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    m = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(m.group(1)) / 1024 if m else None


def _ask(venv: Path, url: str, clips: list[Path], log_path: Path) -> list[dict]:
    proc = subprocess.run([str(venv / "bin" / "python"), "-c", CLIENT, url, *map(str, clips)],
                          capture_output=True, text=True, timeout=600, env=space_env(0), check=False)  # fmt: skip
    if proc.returncode:
        raise RehearsalFailed(
            f"/analyze failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}."
            f"\nServer log:\n{_tail(log_path)}"
        )
    answers = [json.loads(ln) for ln in proc.stdout.splitlines() if ln.startswith("{")]
    for a in answers:
        label = (a.get("label") or {}).get("label")
        if not label or label not in (a.get("probs") or {}):
            raise RehearsalFailed(f"/analyze answered without a label the model knows: {a}")
    return answers


def _answer_line(a: dict) -> str:
    """One /analyze answer: label, model, wall seconds, and the server's own timings (no loading)."""
    work = {k: v for k, v in (a.get("timings_s") or {}).items() if not k.startswith("load ")}
    steps = ", ".join(f"{k} {v:.2f}" for k, v in work.items())
    return (f"/analyze {Path(a['clip']).name}: {a['label']['label']} ({a['model']}); {a['seconds']:.2f} s "
            f"wall, server {sum(work.values()):.2f} s ({steps})")  # fmt: skip


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _python_note(site: Path) -> str:
    from huggingface_hub import metadata_load

    want = str((metadata_load(site / "README.md") or {}).get("python_version", "3.10"))
    have = f"{sys.version_info.major}.{sys.version_info.minor}"
    return "" if have == want else f" (note: Python {have} here, the Space's front matter asks for {want})"


def rehearse(keep: bool = False, timeout_s: float = 600, root: Path = space.ROOT, print_=print) -> list[dict]:
    """Stage, install, start, ask, stop. Returns the /analyze answers; raises RehearsalFailed."""
    files = space.deploy_files(root)
    tmp = Path(tempfile.mkdtemp(prefix="nver-rehearsal-"))
    site, venv = tmp / "space", tmp / "venv"
    times = {}
    proc = None
    try:
        t0 = time.perf_counter()
        space.stage(site, files, root)
        examples = sorted((site / "examples").glob("*.mp3"))[:3]
        if not examples:
            raise RehearsalFailed("the deploy set has no examples/*.mp3 to send to /analyze")
        print_(f"staged {len(files)} files in {site}{_python_note(site)}; installing requirements.txt ...")
        _install(site, venv, tmp / "pip.log")
        times["install"] = time.perf_counter() - t0
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        log_path = tmp / "app.log"
        t1 = time.perf_counter()
        with open(log_path, "w") as lf:
            proc = subprocess.Popen([str(venv / "bin" / "python"), "app.py"], cwd=site, env=space_env(port),
                                    stdout=lf, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        _wait_up(proc, url, log_path, timeout_s)
        times["start"] = time.perf_counter() - t1
        answers = _ask(venv, url, examples, log_path)
        times["first answer"] = answers[0]["seconds"]
        rss = _rss_mb(proc.pid)
        for a in answers:
            print_(_answer_line(a))
        rest = f", server RSS {rss:.0f} MB" if rss else ""
        print_("rehearsal passed: " + ", ".join(f"{k} {v:.1f} s" for k, v in times.items()) + rest)
        return answers
    finally:
        if proc is not None:
            _stop(proc)
        if keep:
            print_(f"kept {tmp} (space/, venv/, pip.log, app.log)")
        else:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
