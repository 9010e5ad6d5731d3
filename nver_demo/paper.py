"""The seed paper's reported numbers (Table I: single backbones; Table II: RENO vs Concat pairs).

These are the paper's results on ASVP-ESD, JNV and VIVAE — never our measurements, and not
EmoGator. The app shows them beside a matching model, labelled as the paper's. The numbers
are copied from ``docs/paper_results.csv`` into ``nver_demo/data/paper_results.csv``.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from pathlib import Path

_CSV = Path(__file__).resolve().parent / "data" / "paper_results.csv"

#: Column prefix -> dataset name as the paper writes it.
DATASETS = {"asvp_esd": "ASVP-ESD", "jnv": "JNV", "vivae": "VIVAE"}
SOURCE = "seed paper (RENO), Tables I-II; accuracy / macro-F1 in %, on ASVP-ESD, JNV and VIVAE — not EmoGator"


@dataclass(frozen=True)
class PaperResult:
    table: str  # "I" (single backbone) or "II" (pairs)
    head: str  # registry name: "fcn", "cnn", "concat", "reno"
    backbones: tuple[str, ...]
    scores: dict[str, tuple[float, float]]  # dataset name -> (accuracy, macro-F1)

    def short(self) -> str:
        """``"ASVP-ESD 83.6 / JNV 72.6 / VIVAE 72.8"`` (accuracy)."""
        return " / ".join(f"{d} {acc:.1f}" for d, (acc, _) in self.scores.items())


@functools.cache
def results() -> tuple[PaperResult, ...]:
    """Every row of the paper's Tables I and II."""
    out = []
    with open(_CSV, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            scores = {
                name: (float(row[f"{key}_acc"]), float(row[f"{key}_f1"])) for key, name in DATASETS.items()
            }
            out.append(
                PaperResult(row["table"], row["head"].lower(), tuple(row["backbones"].split("+")), scores)
            )
    return tuple(out)


def lookup(head: str, backbones: list[str] | tuple[str, ...]) -> PaperResult | None:
    """The paper's row for this head and backbones (pair order does not matter), or None."""
    key = sorted(backbones)
    for r in results():
        if r.head == head and sorted(r.backbones) == key:
            return r
    return None


def table_rows(table: str) -> list[list]:
    """Rows for display: head, backbones, then accuracy and F1 per dataset."""
    rows = []
    for r in results():
        if r.table != table:
            continue
        nums = [v for acc_f1 in r.scores.values() for v in acc_f1]
        rows.append([r.head.upper() if r.head != "concat" else "Concat", " + ".join(r.backbones), *nums])
    return rows


def table_headers() -> list[str]:
    cols = [f"{d} {m}" for d in DATASETS.values() for m in ("acc", "F1")]
    return ["head", "backbones", *cols]
