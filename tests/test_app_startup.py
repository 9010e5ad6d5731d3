"""Start-up does no model work: importing the app and building the UI on the shipped catalogue
(nine checkpoints, every one loadable here) loads no weights."""

from __future__ import annotations

import subprocess
import sys

from tests.app_server import ROOT

CHECK = """
import os
stub_before = os.path.exists("app.pyi")
import app
from nver_demo import predict
from nver_demo.app import catalog, service
infos = catalog.models({ckpts!r}, hub=False)
assert len([m for m in infos if not m.needs_hub]) >= 9, [m.name for m in infos]
demo = app.build_demo(infos)
assert predict._cached_backbone.cache_info().currsize == 0, "a backbone was built at start-up"
assert service.get_predictor.cache_info().currsize == 0, "a checkpoint head was loaded at start-up"
assert "torch" in sys.modules  # registries need it; the weights are what stays lazy
assert os.path.exists("app.pyi") == stub_before, "building the app wrote a .pyi (a Component subclass?)"
print("ok")
"""


def test_building_the_app_loads_no_model():
    code = "import sys\n" + CHECK.format(ckpts=str(ROOT / "checkpoints"))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]
