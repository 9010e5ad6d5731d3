"""Thread policy: every pool sized for the concurrent model runs, configurable, cheap to import."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from nver_demo import threads
from tests.conftest import ROOT


def _run(code: str, **env) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "NVER_THREADS")}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


POLICY_THEN_TORCH = """
import json, os, sys, nver_demo
p = nver_demo.configure_threads(runs={runs})
before = "torch" in sys.modules
import numpy, torch
from threadpoolctl import threadpool_info
print(json.dumps({{"threads": p.threads, "cores": p.cores, "source": p.source, "torch_before": before,
    "torch": torch.get_num_threads(), "wait": os.environ["OMP_WAIT_POLICY"],
    "blas": sorted({{i["num_threads"] for i in threadpool_info()}})}}))
"""


def test_policy_before_torch_sizes_every_pool_without_importing_torch():
    r = _run(POLICY_THEN_TORCH.format(runs=2))
    expected = max(1, threads.available_cores() // 2)
    assert not r["torch_before"]  # configure_threads itself stays cheap
    assert r["threads"] == r["torch"] == expected and r["blas"] == [expected]
    assert r["source"] == "cores // runs" and r["wait"] == "PASSIVE"


def test_policy_after_torch_and_the_env_override():
    code = """
import json, torch, numpy, nver_demo
from threadpoolctl import threadpool_info
p = nver_demo.configure_threads(runs=8)
print(json.dumps({"threads": p.threads, "torch": torch.get_num_threads(), "source": p.source,
    "pools": list(p.pools), "blas": sorted({i["num_threads"] for i in threadpool_info()})}))
"""
    r = _run(code, NVER_THREADS="3")
    assert r["threads"] == r["torch"] == 3 and r["blas"] == [3] and r["source"] == "NVER_THREADS"
    assert "torch" in r["pools"] and "openblas" in r["pools"]


def test_an_omp_num_threads_set_by_the_operator_is_kept_across_calls(monkeypatch):
    for var in (threads.ENV, "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY", threads._WRITTEN):
        monkeypatch.delenv(var, raising=False)  # restored after the test, whatever the policy wrote
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    for runs in (1, 1, 2):
        p = threads.configure_threads(runs)
        assert (p.threads, p.source) == (1, "OMP_NUM_THREADS")
    monkeypatch.delenv("OMP_NUM_THREADS")
    first = threads.configure_threads(1)  # computed, written into OMP_NUM_THREADS ...
    again = threads.configure_threads(1)  # ... and recognised as ours next time
    assert first.source == again.source == "cores // runs" and first.threads == again.threads
    threads.configure_threads(2)
    import torch

    torch.set_num_threads(1)  # leave the test process as conftest set it


@pytest.mark.parametrize("value", ["two", "0", "-1", "100000"])
def test_a_bad_override_says_what_is_expected(monkeypatch, value):
    monkeypatch.setenv(threads.ENV, value)
    with pytest.raises(ValueError, match="NVER_THREADS"):
        threads.configure_threads()


def test_cores_respect_a_cgroup_quota(tmp_path):
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("100000 100000\n")  # one CPU's worth
    assert threads.available_cores(cpu_max) == 1
    cpu_max.write_text("150000 100000\n")  # 1.5 CPUs: round up, capped by the affinity mask
    assert threads.available_cores(cpu_max) == min(2, threads.available_cores(tmp_path / "none"))
    cpu_max.write_text("max 100000\n")
    assert threads.available_cores(cpu_max) == threads.available_cores(tmp_path / "none") >= 1


def test_app_and_cli_apply_the_policy_at_start_up():
    app_src = (ROOT / "app.py").read_text()
    top = app_src.split("import gradio")[0]  # before torch is imported
    assert 'if __name__ == "__main__":' in top and "configure_threads(runs=MODEL_RUNS)" in top
    r = _run(
        "import json, torch; from nver_demo import cli; cli.main(['list']);"
        "print(json.dumps({'torch': torch.get_num_threads()}))",
        NVER_THREADS="1",
    )
    assert r["torch"] == 1
