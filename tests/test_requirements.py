"""Dependencies: the runtime (what a Space installs) apart from what only the tests need, one
install command in the README, and CI running that same command."""

from __future__ import annotations

import ast
import re

from tests.conftest import ROOT

TEST_ONLY = {
    "pytest": "pytest",
    "pytest-randomly": "pytest_randomly",
    "playwright": "playwright",
    "POT": "ot",
    "mambapy": "mambapy",
}


def _names(path) -> list[str]:
    lines = [ln.split("#")[0].strip() for ln in path.read_text().splitlines()]
    return [re.split(r"[<>=!~ ;\[]", ln)[0] for ln in lines if ln and not ln.startswith("-")]


def test_runtime_requirements_hold_no_test_packages():
    runtime = _names(ROOT / "requirements.txt")
    assert not set(TEST_ONLY) & set(runtime)
    assert "torchaudio" not in runtime and "threadpoolctl" in runtime
    torch_line = next(
        ln for ln in (ROOT / "requirements.txt").read_text().splitlines() if ln.startswith("torch")
    )
    assert torch_line == "torch==2.13.0"


def test_test_requirements_include_the_runtime_and_the_test_packages():
    lines = [ln.strip() for ln in (ROOT / "requirements-test.txt").read_text().splitlines()]
    assert "-r requirements.txt" in lines
    assert set(TEST_ONLY) <= set(_names(ROOT / "requirements-test.txt"))


def test_readme_install_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    install = next(ln.split("#")[0].strip() for ln in quick.splitlines() if ln.startswith("pip install"))
    assert install == "pip install -r requirements-test.txt"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python -m pip install -q -r requirements-test.txt" in ci
    assert "\npython -m pytest -q" in ci and "python -m pytest -q" in quick


def test_app_and_package_never_import_test_only_packages():
    modules = set(TEST_ONLY.values())
    for path in [ROOT / "app.py", *(ROOT / "nver_demo").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            assert not {n.split(".")[0] for n in names} & modules, f"{path} imports a test-only package"
