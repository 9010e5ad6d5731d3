"""The package's layering, read from the source (AST), never by importing it: the app (``app.py``,
``nver_demo/app/``) never imports the training code (``nver_demo/training/``), not even through
another module or a lazy import inside a function, and no modules of ``nver_demo`` import each
other in a cycle.

Every import statement counts, wherever it stands (module level, inside a function, under
``if TYPE_CHECKING``), absolute or relative, and so does ``importlib.import_module("...")`` with a
literal name. ``from pkg import name`` is an import of ``pkg.name`` when that is a module, else of
``pkg``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = "nver_demo"
APP = "nver_demo.app"
TRAINING = "nver_demo.training"


def module_name(path: Path, root: Path = ROOT) -> str:
    """``nver_demo/app/service.py`` -> ``nver_demo.app.service``; ``__init__.py`` -> its package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def sources(root: Path = ROOT) -> dict[str, Path]:
    """Module name -> file, for app.py and every module of the package."""
    files = [root / "app.py", *sorted((root / PACKAGE).rglob("*.py"))]
    return {module_name(p, root): p for p in files if p.is_file()}


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name of a (possibly relative) ``from`` import's module."""
    if level == 0:
        return target or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def imports_of(module: str, path: Path, known: set[str]) -> set[str]:
    """Every module ``module`` names in an import, as absolute names (inside the package or not)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node.level, node.module)
            for a in node.names:
                sub = f"{base}.{a.name}" if base else a.name
                out.add(sub if sub in known else base)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            out.add(node.args[0].value)
    out.discard("")
    return out


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the modules of the package (and ``app``) it imports."""
    src = sources(root)
    known = set(src)
    edges = {}
    for mod, path in src.items():
        targets = set()
        for name in imports_of(mod, path, known):
            # `import nver_demo.app.x` names a module; a name below a module (a function) is its module.
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != mod:
                targets.add(name)
        edges[mod] = targets
    return edges


def _parents(module: str) -> list[str]:
    """Packages Python runs before ``module``: ``nver_demo.app.x`` -> ``nver_demo``, ``nver_demo.app``."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def reach(edges: dict[str, set[str]], start: str) -> dict[str, str | None]:
    """Every module importing ``start`` runs (its parent packages included) -> the module that
    brought it in (for the chain in a failure message)."""
    seen: dict[str, str | None] = {start: None}
    todo = [start]
    while todo:
        mod = todo.pop()
        for nxt in [*edges.get(mod, ()), *(p for p in _parents(mod) if p in edges)]:
            if nxt not in seen:
                seen[nxt] = mod
                todo.append(nxt)
    return seen


def chain(seen: dict[str, str | None], end: str) -> str:
    path = [end]
    while seen[path[-1]] is not None:
        path.append(seen[path[-1]])
    return " -> ".join(reversed(path))


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module, or a module importing itself
    (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            for nxt in it:
                if nxt not in edges:
                    continue
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(edges[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        m = stack.pop()
                        on_stack.discard(m)
                        comp.append(m)
                        if m == node:
                            break
                    if len(comp) > 1 or node in edges[node]:
                        out.append(sorted(comp))
    return out


# -- the rules -----------------------------------------------------------------------------------


def test_the_app_never_imports_training_code():
    edges = graph()
    app_modules = ["app", *(m for m in edges if m == APP or m.startswith(APP + "."))]
    assert len(app_modules) > 3, "the scan found no app modules: has the package moved?"
    bad = []
    for start in app_modules:
        seen = reach(edges, start)
        bad += [chain(seen, m) for m in seen if m == TRAINING or m.startswith(TRAINING + ".")]
    assert not bad, "the app reaches the training code:\n" + "\n".join(sorted(set(bad)))


def test_no_import_cycles_in_the_package():
    found = cycles(graph())
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


# -- the scanner itself, on a package written for the purpose ---------------------------------------


@pytest.fixture
def fake_tree(tmp_path):
    """A tiny nver_demo/ with every form of import the scanner must see."""
    files = {
        "app.py": "import nver_demo.app.ui\n",
        "nver_demo/__init__.py": "",
        "nver_demo/shared.py": "import numpy\n",
        "nver_demo/app/__init__.py": "",
        "nver_demo/app/ui.py": "from . import tabs\nfrom ..shared import thing\n",
        "nver_demo/app/tabs.py": (
            "def handler():\n    from nver_demo import helpers  # lazy, inside a function\n"
        ),
        "nver_demo/helpers.py": "import importlib\nimportlib.import_module('nver_demo.training.fit')\n",
        "nver_demo/training/__init__.py": "",
        "nver_demo/training/fit.py": "from .. import shared\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def test_scanner_resolves_relative_lazy_and_dynamic_imports(fake_tree):
    edges = graph(fake_tree)
    assert edges["app"] == {"nver_demo.app.ui"}
    assert edges["nver_demo.app.ui"] == {"nver_demo.app.tabs", "nver_demo.shared"}
    assert edges["nver_demo.app.tabs"] == {"nver_demo.helpers"}
    assert edges["nver_demo.helpers"] == {"nver_demo.training.fit"}
    assert edges["nver_demo.training.fit"] == {"nver_demo.shared"}
    seen = reach(edges, "app")
    assert chain(seen, "nver_demo.training.fit") == (
        "app -> nver_demo.app.ui -> nver_demo.app.tabs -> nver_demo.helpers -> nver_demo.training.fit"
    )


def test_scanner_finds_a_cycle_and_only_that(fake_tree):
    assert cycles(graph(fake_tree)) == []
    (fake_tree / "nver_demo/training/fit.py").write_text("from .. import shared\nfrom ..helpers import x\n")
    assert cycles(graph(fake_tree)) == [["nver_demo.helpers", "nver_demo.training.fit"]]


# -- size: small files named after pipeline stages -------------------------------------------------

MAX_FILE_LINES, MAX_FUNCTION_LINES = 400, 80  # the house rules (docs/development.md)


def long_parts(files: dict[str, Path]) -> list[str]:
    """Files over MAX_FILE_LINES lines and functions (decorators to last line) over MAX_FUNCTION_LINES."""
    out = []
    for path in files.values():
        text = path.read_text(encoding="utf-8")
        if (n := len(text.splitlines())) > MAX_FILE_LINES:
            out.append(f"{path.name}: {n} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                if (n := node.end_lineno - first + 1) > MAX_FUNCTION_LINES:
                    out.append(f"{path.name}:{node.lineno} {node.name}(): {n} lines")
    return out


def test_no_file_over_400_lines_and_no_function_over_80():
    found = long_parts(sources())
    assert not found, "split these: " + "; ".join(found)


def test_the_size_scan_sees_a_long_function(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    (tmp_path / "m.py").write_text(f"def short():\n    return 1\n\n\n@decorated\ndef long():\n{body}\n")
    assert long_parts({"m": tmp_path / "m.py"}) == [f"m.py:6 long(): {MAX_FUNCTION_LINES + 2} lines"]
