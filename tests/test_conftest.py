"""tests/conftest.py's markers: registered (pytest runs with --strict-markers), and the lists that
mark slow tests name files and tests that exist, so a renamed test file cannot silently fall out
of the slow set (and slow down the fast subset documented in docs/development.md)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests import conftest
from tests.conftest import ROOT


def test_markers_are_registered_and_strict():
    text = (ROOT / "pyproject.toml").read_text()
    ini = text.split("[tool.pytest.ini_options]", 1)[1].split("\n[", 1)[0]  # tomllib needs Python 3.11
    assert re.search(r'^addopts = ".*--strict-markers', ini, re.M)
    markers = re.search(r"^markers = \[(.*?)^\]", ini, re.S | re.M).group(1)
    assert {"slow", "browser"} <= set(re.findall(r'^\s*"(\w+):', markers, re.M))


def test_slow_files_exist():
    missing = sorted(f for f in conftest.SLOW_FILES if not (ROOT / "tests" / f).is_file())
    assert not missing, f"conftest.SLOW_FILES names files that no longer exist: {missing}"


def test_slow_tests_exist():
    missing = []
    for test_id in sorted(conftest.SLOW_TESTS):
        path, _, name = test_id.partition("::")
        file = ROOT / path
        defs = (
            {n.name for n in ast.walk(ast.parse(file.read_text())) if isinstance(n, ast.FunctionDef)}
            if file.is_file()
            else set()
        )
        if name not in defs:
            missing.append(test_id)
    assert not missing, f"conftest.SLOW_TESTS names tests that no longer exist: {missing}"


def test_every_browser_test_file_is_caught_by_the_file_rule():
    """Files that drive Chromium are marked `browser` by their name: none may be named otherwise."""
    drivers = [
        p.name
        for p in (ROOT / "tests").glob("test_*.py")
        if p.name != Path(__file__).name
        and "sync_playwright" in p.read_text(encoding="utf-8")
        and "browser" not in p.name
    ]
    assert not drivers, f"these files drive a browser but their names lack 'browser': {drivers}"


def test_no_test_draws_from_numpys_global_generator():
    """Numpy's legacy global generator is reseeded per test (conftest's ``_seeded``), but under
    pytest-randomly its state depends on the chosen seed: tests draw from a seeded
    ``np.random.default_rng(seed)`` instead, so every seed gives one result."""
    legacy = re.compile(r"np\.random\.(?!default_rng\b|Generator\b|SeedSequence\b)\w+\(")
    offenders = [
        f"{p.name}:{i}"
        for p in sorted((ROOT / "tests").glob("*.py"))
        if p.name != Path(__file__).name
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if legacy.search(line) and "np.random.seed(SEED)" not in line
    ]
    assert not offenders, f"draw from np.random.default_rng(seed) instead: {offenders}"
