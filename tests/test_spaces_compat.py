"""spaces.GPU only on ZeroGPU with the package importable; harmless everywhere else."""

from __future__ import annotations

import sys
import types

from nver_demo import spaces_compat


def fn(x):
    return x + 1


def test_unchanged_off_zero_gpu(monkeypatch):
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    assert spaces_compat.gpu(fn) is fn
    assert spaces_compat.where() in {"local", "Hugging Face Space (cpu)"}


def test_unchanged_on_zero_gpu_without_the_package(monkeypatch):
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    monkeypatch.setitem(sys.modules, "spaces", None)  # import spaces -> ImportError
    assert spaces_compat.gpu(fn) is fn
    spaces_compat.init()


def test_decorated_on_zero_gpu(monkeypatch):
    seen = {}

    def GPU(duration):  # mirrors spaces.GPU
        seen["duration"] = duration
        return lambda f: ("wrapped", f)

    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    monkeypatch.setitem(sys.modules, "spaces", types.SimpleNamespace(GPU=GPU))
    assert spaces_compat.gpu(fn, duration=15) == ("wrapped", fn)
    assert seen == {"duration": 15}
    assert "ZeroGPU" in spaces_compat.where()
