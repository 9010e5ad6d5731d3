"""The fusion ablation table of docs/fusion.md, from what scripts/fusion_ablation.sh measured.

    python scripts/fusion_table.py             # print it
    python scripts/fusion_table.py --write     # also write it into docs/fusion.md between its markers

Rows that are shipped checkpoints read checkpoints/<name>/config.json; the others read
records/fusion/<name>.json (written by ``python -m nver_demo evaluate --out``). A row not yet
measured is listed as missing, with the command that measures it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- fusion-table: python scripts/fusion_table.py --write -->"
END = "<!-- /fusion-table -->"
A, B = os.environ.get("A", "whisper-base"), os.environ.get("B", "ge2e")
P = f"{A}+{B}"

#: (row name, what it is, shipped checkpoint?) in the table's order.
ROWS = [
    (f"reno-{P}", "**RENO, authors' reading** (β 2, δ 0.2, λ 0.4, 256-d alignment)", True),
    (f"reno-no-renyi-{P}", "RENO without the Rényi term (λ = 1: cross-entropy only)", False),
    (f"reno-no-attention-{P}", "RENO without the two self-attention blocks", False),
    (f"reno-lam0.2-{P}", "RENO, λ = 0.2", False),
    (f"reno-lam0.7-{P}", "RENO, λ = 0.7", False),
    (f"reno-beta0.5-{P}", "RENO, β = 0.5", False),
    (f"reno_token-{P}", "RENO, our earlier token-level reading (`reno_token`)", False),
    (f"concat-{P}", "**Concat** (the papers' fusion baseline)", True),
    (f"mata-{P}", "MATA, our per-clip token reading (`mata`)", True),
    (
        f"mata_batch-{P}",
        "MATA, authors' batch-transport reading (`mata_batch`), scored one clip at a time",
        False,
    ),
]
SINGLE_HEADS = ("lda", "linear", "fcn", "cnn")


def result(name: str, shipped: bool) -> dict | None:
    if shipped:
        path = ROOT / "checkpoints" / name / "config.json"
        if not path.is_file():
            return None
        meta = json.loads(path.read_text())
        if "200 speakers" not in meta["training"]["data"]:  # an older checkpoint, not this table's data
            return None
        cv = meta.get("metrics", {}).get("cv")
        return {**cv, "config": meta["training"]["config"], "params": meta.get("parameters")} if cv else None
    path = ROOT / "records" / "fusion" / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def single_candidates(backbone: str) -> list[tuple[str, str, dict]]:
    """The measurements of ``backbone`` alone on the 200 speakers, one per head: (head, source, cv).

    A head measured twice (a shipped checkpoint and an ablation row of the same folds) is listed
    once, from the shipped checkpoint.
    """
    out = []
    for head in SINGLE_HEADS:
        ck = ROOT / "checkpoints" / f"{head}-{backbone}" / "config.json"
        if ck.is_file():
            meta = json.loads(ck.read_text())
            cv = meta.get("metrics", {}).get("cv")
            if cv and "200 speakers" in meta["training"]["data"]:  # the same clips as the other rows
                out.append((head, f"`checkpoints/{head}-{backbone}`", cv))
                continue
        path = ROOT / "records" / "fusion" / f"{head}-{backbone}.json"
        if path.is_file():
            out.append((head, f"`records/fusion/{path.name}`", json.loads(path.read_text())))
    return out


def table() -> str:
    out = [
        "| row | accuracy % | macro-F1 % | best epochs | source |",
        "|---|---|---|---|---|",
    ]
    missing = []
    for name, what, shipped in ROWS:
        r = result(name, shipped)
        if r is None:
            missing.append(name)
            out.append(
                f"| {what} | not measured | not measured | | `bash scripts/fusion_ablation.sh {name}` |"
            )
            continue
        epochs = ", ".join(str(f.get("best_epoch", "")) for f in r["folds"]) if r["folds"] else ""
        src = f"`checkpoints/{name}`" if shipped else f"`records/fusion/{name}.json`"
        out.append(
            f"| {what} | {r['accuracy_mean']:.1f} ± {r['accuracy_std']:.1f} "
            f"| {r['macro_f1_mean']:.1f} ± {r['macro_f1_std']:.1f} | {epochs} | {src} |"
        )
    for b in (A, B):
        cands = single_candidates(b)
        if not cands:
            missing.append(f"linear-{b}")
            out.append(
                f"| **{b} alone** | not measured | not measured | | `bash scripts/fusion_ablation.sh linear-{b}` |"
            )
            continue
        head, src, r = max(cands, key=lambda c: c[2]["macro_f1_mean"])
        others = ", ".join(f"{h} {c['macro_f1_mean']:.1f}" for h, _, c in cands if (h, _) != (head, src))
        note = f" (macro-F1 of the others: {others})" if others else ""
        epochs = ", ".join(str(f.get("best_epoch", "")) for f in r["folds"]) if head not in ("linear", "lda") else "–"
        out.append(
            f"| **{b} alone**, best head measured: {head}{note} | {r['accuracy_mean']:.1f} ± {r['accuracy_std']:.1f} "
            f"| {r['macro_f1_mean']:.1f} ± {r['macro_f1_std']:.1f} | {epochs} | {src} |"
        )
    if missing:
        out.append(f"\nNot measured yet ({len(missing)}): " + ", ".join(f"`{m}`" for m in missing) + ".")
    return "\n".join(out)


def main() -> None:
    text = table()
    print(text)
    if "--write" in sys.argv:
        from results_table import write_between_markers  # this script's folder is on sys.path

        write_between_markers(ROOT / "docs" / "fusion.md", BEGIN, END, text)


if __name__ == "__main__":
    main()
