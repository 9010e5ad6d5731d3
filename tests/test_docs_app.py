"""README.md: its API example runs against a live server; its Space front matter is sane."""

from __future__ import annotations

import re
import subprocess
import sys

import yaml

from nver_demo import backbones
from tests import app_server
from tests.app_server import ROOT

# Session fixtures shared by the app test modules (built and launched once per session).
app_checkpoints = app_server.app_checkpoints
app_url = app_server.app_url


def test_api_example_in_the_docs_runs(app_url):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    code = next(b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "gradio_client" in b)
    assert 'Client("http://127.0.0.1:7860/")' in code
    code = code.replace("http://127.0.0.1:7860/", app_url)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "[0.0," in out.stdout


def test_space_front_matter():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    meta = yaml.safe_load(text.split("---\n")[1])
    assert meta["sdk"] == "gradio" and meta["app_file"] == "app.py"
    assert meta["sdk_version"] == __import__("gradio").__version__
    assert float(meta["python_version"]) >= 3.11 and len(meta["short_description"]) <= 60
    sources = " ".join(backbones.spec(b).source for b in backbones.available())
    assert all(m in sources for m in meta["models"])  # every listed model backs a registered backbone
