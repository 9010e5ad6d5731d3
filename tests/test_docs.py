"""The documentation: README.md is the Space's product page (short, every doc page linked from it, no
measured number typed by hand, its CLI examples and Python snippet still work), docs/ holds the rest
(links and anchors resolve; the fusion table is its script's output). The README's API example
runs against a live server in test_docs_app.py; its results table is checked in test_shipped.py."""

from __future__ import annotations

import glob
import importlib.util
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

README = ROOT / "README.md"
DOCS = ROOT / "docs"
MAX_README_LINES = 250  # the limit for the Space's page (front matter included)


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _body(text: str) -> str:
    """The Markdown without its YAML front matter."""
    return text.split("\n---\n", 1)[1] if text.startswith("---\n") else text


def _fences(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, re.S)


def _section(text: str, heading: str) -> str:
    """The body of the ``## heading`` section, up to the next ``## `` heading."""
    m = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert m, f"README has no '## {heading}' section"
    return m.group(1)


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, markup and punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*]|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", _text(path), flags=re.S)
    return {slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, re.M)}


def links(path: Path) -> list[str]:
    """Relative link targets of a Markdown file (code spans and fences left out)."""
    text = re.sub(r"```.*?```|`[^`\n]*`", "", _text(path), flags=re.S)
    return [t for t in re.findall(r"\]\(([^)\s]+)\)", text) if not re.match(r"[a-z]+:", t)]


# -- the README as a product page ------------------------------------------------------------------


def test_readme_is_short():
    n = len(_text(README).splitlines())
    assert n <= MAX_README_LINES, (
        f"README.md has {n} lines; at most {MAX_README_LINES} (the rest goes to docs/)"
    )


def test_every_doc_page_is_linked_from_the_readme():
    linked = {(README.parent / t.split("#")[0]).resolve() for t in links(README)}
    pages = sorted(DOCS.rglob("*.md"))
    assert pages, "docs/ holds no pages"
    missing = [str(p.relative_to(ROOT)) for p in pages if p.resolve() not in linked]
    assert not missing, f"doc pages the README does not link: {missing}"


@pytest.mark.parametrize("page", ["README.md", *sorted(str(p.relative_to(ROOT)) for p in DOCS.rglob("*.md"))])
def test_relative_links_and_anchors_resolve(page):
    path = ROOT / page
    bad = []
    for target in links(path):
        file, _, anchor = target.partition("#")
        dest = (path.parent / file).resolve() if file else path
        if not dest.exists():
            bad.append(f"{target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            bad.append(f"{target} (no such heading in {dest.name})")
    assert not bad, f"{page}: broken links: {bad}"


#: A measured quantity: a decimal, a percentage, a ±, or a number with a unit of time, size or ratio.
MEASURED = re.compile(
    r"±|\d+(?:[.,]\d+)?\s?%|\b\d+\.\d+\b|\b\d+(?:\.\d+)?\s?(?:ms|s|min|h|MB|GB|MiB|GiB|×)(?![\w-])"
)


def prose_outside_generated_tables(text: str) -> str:
    """README text a person types: no front matter, no generated blocks (between ``<!-- name: ... -->``
    and ``<!-- /name -->``), no code, no link targets, no arXiv identifiers."""
    text = _body(text)
    text = re.sub(r"<!-- ([\w-]+): .*?-->.*?<!-- /\1 -->", "", text, flags=re.S)
    text = re.sub(r"```.*?```|`[^`\n]*`|\]\([^)]*\)", "", text, flags=re.S)
    text = re.sub(r"arXiv \[?\d{4}\.\d{4,5}", "", text)
    return re.sub(r"\b(?:Apache|CC-BY(?:-NC)?(?:-SA)?|wav2vec)[- ]\d+\.\d+", "", text)


def test_readme_types_no_measured_number_by_hand():
    found = MEASURED.findall(prose_outside_generated_tables(_text(README)))
    assert not found, (
        f"README prose holds measured numbers {found}: put them in a generated table or a docs/ page "
        "that says the command that printed them"
    )


def test_the_measured_number_check_sees_a_typed_score_and_skips_generated_blocks():
    typed = "The default scores 32.3 ± 1.1 macro-F1 and runs in 54 ms.\n"
    generated = "<!-- t: python x.py -->\n| a | 32.3 ± 1.1 |\n<!-- /t -->\n`torch==2.13.0`\n"
    assert MEASURED.findall(prose_outside_generated_tables(typed)) == ["32.3", "±", "1.1", "54 ms"]
    assert MEASURED.findall(prose_outside_generated_tables(generated)) == []


def test_readme_names_every_registered_backbone_and_head_and_no_other():
    from nver_demo import backbones, heads

    section = _section(_text(README), "Models")
    items = [ln for ln in section.splitlines() if ln.startswith("- ")]
    named = {
        n for ln in items for n in re.findall(r"^- `([^`]+)`|, `([^`]+)`|; `([^`]+)`", ln) for n in n if n
    }
    registered = set(backbones.available()) | set(heads.available())
    assert named - registered == set(), (
        f"the README lists models that are not registered: {named - registered}"
    )
    assert registered - named == set(), f"registered models missing from the README: {registered - named}"


def _readme_cli_lines() -> list[str]:
    lines = [ln for block in _fences(_text(README), "bash") for ln in block.splitlines()]
    return [ln for ln in lines if ln.startswith("python -m nver_demo ")]


def test_readme_cli_examples_parse_and_name_real_files_and_models():
    from nver_demo import checkpoint
    from nver_demo.cli import build_parser

    lines = _readme_cli_lines()
    assert len(lines) >= 3
    for line in lines:
        argv = []
        for word in shlex.split(line, comments=True)[3:]:
            argv += sorted(glob.glob(word, root_dir=ROOT)) or [word] if "*" in word else [word]
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as e:
            raise AssertionError(f"the README's command does not parse: {line}") from e
        files = getattr(args, "files", None) or ([args.file] if getattr(args, "file", None) else [])
        for f in files:
            assert (ROOT / f).is_file(), f"{line}: {f} does not exist"
        if getattr(args, "model", None):
            assert args.model in checkpoint.available(), f"{line}: no checkpoint {args.model!r}"


def test_readme_python_example_runs_on_an_example_clip():
    code = next(b for b in _fences(_text(README), "python") if "Predictor" in b)
    setup = "from nver_demo import audio\nwave, sr = audio.load('examples/amusement_000292-02-2.mp3')\n"
    check = (
        "\nassert abs(sum(pred.probs.values()) - 1) < 1e-5 and pred.label in pred.probs\nprint(pred.label)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", setup + code + check], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip(), "the example printed no label"


# -- docs/ ------------------------------------------------------------------------------------------


def test_fusion_table_in_the_docs_is_its_scripts_output():
    mod = _script("fusion_table")
    text = _text(DOCS / "fusion.md")
    assert mod.BEGIN in text and mod.END in text
    assert mod.table() in text, "run: python scripts/fusion_table.py --write"


def test_results_table_markers_are_where_the_generator_writes(tmp_path):
    """The generator rewrites only what stands between its markers, and refuses a file without them."""
    mod = _script("results_table")
    page = tmp_path / "page.md"
    page.write_text(f"before\n{mod.BEGIN}\nold table\n{mod.END}\nafter\n")
    mod.write_between_markers(page, mod.BEGIN, mod.END, "new table")
    assert page.read_text() == f"before\n{mod.BEGIN}\nnew table\n{mod.END}\nafter\n"
    page.write_text("no markers\n")
    with pytest.raises(ValueError, match="lacks the markers"):
        mod.write_between_markers(page, mod.BEGIN, mod.END, "x")
