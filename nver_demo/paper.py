"""The papers' reported numbers: the seed paper's Table I (single backbones) and Table II (RENO
vs Concat pairs), and the MATA paper's LanguageBind + ImageBind result.

These are the papers' results on ASVP-ESD, JNV and VIVAE — never our measurements, and not
EmoGator. The app shows them beside a matching model, labelled as the paper's. The numbers are
copied from ``docs/paper_results.csv`` into ``nver_demo/data/paper_results.csv``; the MATA row
(accuracy only: our copy of that paper's F1 values is not verified) is ``data/paper_mata.csv``.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from pathlib import Path

_DATA = Path(__file__).resolve().parent / "data"
#: CSV file -> where its numbers come from.
_SOURCES = {
    "paper_results.csv": "seed paper (RENO), Tables I-II",
    "paper_mata.csv": "MATA paper (Phukan et al., 2024, arXiv 2409.14221)",
}

#: Column prefix -> dataset name as the paper writes it.
DATASETS = {"asvp_esd": "ASVP-ESD", "jnv": "JNV", "vivae": "VIVAE"}
SOURCE = "seed paper (RENO), Tables I-II; accuracy / macro-F1 in %, on ASVP-ESD, JNV and VIVAE — not EmoGator"
MATA_SOURCE = f"{_SOURCES['paper_mata.csv']}; accuracy in %, on ASVP-ESD, JNV and VIVAE — not EmoGator"


@dataclass(frozen=True)
class PaperResult:
    table: str  # "I" (single backbone), "II" (pairs) or "MATA"
    head: str  # registry name: "fcn", "cnn", "concat", "reno", "mata"
    backbones: tuple[str, ...]
    scores: dict[str, tuple[float, float | None]]  # dataset name -> (accuracy, macro-F1 or None)
    source: str = _SOURCES["paper_results.csv"]

    def short(self) -> str:
        """``"ASVP-ESD 83.6 / JNV 72.6 / VIVAE 72.8"`` (accuracy)."""
        return " / ".join(f"{d} {acc:.1f}" for d, (acc, _) in self.scores.items())


@functools.cache
def results() -> tuple[PaperResult, ...]:
    """Every row of the seed paper's Tables I and II, then the MATA paper's row."""
    out = []
    for filename, source in _SOURCES.items():
        with open(_DATA / filename, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                scores = {
                    name: (float(row[f"{key}_acc"]), float(row[f"{key}_f1"]) if row[f"{key}_f1"] else None)
                    for key, name in DATASETS.items()
                }
                backbones = tuple(row["backbones"].split("+"))
                out.append(PaperResult(row["table"], row["head"].lower(), backbones, scores, source))
    return tuple(out)


def lookup(head: str, backbones: list[str] | tuple[str, ...]) -> PaperResult | None:
    """The paper's row for this head and backbones (pair order does not matter), or None."""
    key = sorted(backbones)
    for r in results():
        if r.head == head and sorted(r.backbones) == key:
            return r
    return None


def head_reference(head: str) -> PaperResult | None:
    """The papers' result for ``head`` on whatever backbones they used, when they report only
    one (MATA: LanguageBind + ImageBind), so a MATA model on other backbones can show it."""
    rows = [r for r in results() if r.head == head]
    return rows[0] if len(rows) == 1 else None


def table_rows(table: str) -> list[list]:
    """Rows for display: head, backbones, then accuracy and F1 per dataset."""
    rows = []
    for r in results():
        if r.table != table:
            continue
        nums = [v for acc_f1 in r.scores.values() for v in acc_f1]
        head = {"concat": "Concat"}.get(r.head, r.head.upper())
        rows.append([head, " + ".join(r.backbones), *nums])
    return rows


def table_headers() -> list[str]:
    cols = [f"{d} {m}" for d in DATASETS.values() for m in ("acc", "F1")]
    return ["head", "backbones", *cols]
