"""Print the cross-validated results of every shipped checkpoint as a Markdown table.

    python scripts/results_table.py            # checkpoints/ (or $NVER_CHECKPOINTS)
    python scripts/results_table.py --readme   # also write it into README.md between its markers
    python scripts/results_table.py --trust    # the novelty thresholds, into docs/trust.md

The numbers come from each checkpoint's config.json (written by `python -m nver_demo train`),
so the README table is regenerated, never typed.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from nver_demo import checkpoint, heads

BEGIN = "<!-- results-table: python scripts/results_table.py --readme -->"
END = "<!-- /results-table -->"
TRUST_BEGIN = "<!-- novelty-table: python scripts/results_table.py --trust -->"
TRUST_END = "<!-- /novelty-table -->"


def table() -> str:
    rows = []
    for name in checkpoint.available():
        m = checkpoint.read_meta(name)
        cv = m.get("metrics", {}).get("cv")
        if not cv:
            continue
        t = m["training"]
        rows.append((cv["macro_f1_mean"], name, m, cv, t))
    out = [
        "| checkpoint | head | backbones | params | speakers | accuracy % | macro-F1 % "
        "| macro-F1 %, 10 enrolment clips | family acc. % | ECE before → after | CV time |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for _, name, m, cv, t in sorted(rows, key=lambda r: -r[0]):
        default = " (default)" if name == checkpoint.DEFAULT else ""
        head = heads.spec(m["head"]).name
        out.append(
            f"| `{name}`{default} | {head} | {' + '.join(m['backbones'])} | {m['parameters'] / 1e6:.2f}M "
            f"| {_speakers(t)} "
            f"| {cv['accuracy_mean']:.1f} ± {cv['accuracy_std']:.1f} | {cv['macro_f1_mean']:.1f} ± "
            f"{cv['macro_f1_std']:.1f} | {_enrolled(m)} | {_family(cv)} | {_ece(m)} | {_cv_seconds(cv, t) / 60:.0f} min |"
        )
    seen = []
    for _, _, _, _, t in sorted(rows, key=lambda r: -r[0]):
        line = (f"{t['data']}; {t['n_clips']} clips used, excluded: "
                + ", ".join(f"{n} {why}" for why, n in t["excluded"].items()) + ".")  # fmt: skip
        if line not in seen:
            seen.append(line)
    if seen:
        out.append("\n" + "\n\n".join(seen))
    return "\n".join(out)


def _cv_seconds(cv: dict, training: dict) -> float:
    """Compute time of the cross-validation: the folds' own fit times when all are recorded (a run
    that resumed from kept folds spent little time itself), else the run's wall time."""
    folds = cv.get("folds") or []
    if folds and all(f.get("seconds") is not None for f in folds):
        return float(sum(f["seconds"] for f in folds))
    return float(training.get("cv_seconds") or 0)


def _speakers(training: dict) -> str:
    """Speakers the checkpoint was trained on (older checkpoints only say it in their description)."""
    sources = training.get("sources")
    if sources:
        return str(sum(s["speakers"] for s in sources))
    import re

    m = re.search(r"(\d+) speakers", training.get("data", ""))
    return m.group(1) if m else "?"


def _enrolled(meta: dict) -> str:
    """Macro-F1 of the speaker-enrolled head with 10 other clips of each test speaker (ECE after
    its calibration), from the checkpoint's enrolment CV; "–" for a checkpoint without one."""
    cv = (meta.get("enrolment") or {}).get("cv", {}).get("10")
    if not cv:
        return "–"
    f = np.array(cv["macro_f1_folds"])
    return f"{cv['macro_f1']:.1f} (folds {f.mean():.1f} ± {f.std():.1f}; ECE {cv['ece']:.3f})"


def _family(cv: dict) -> str:
    if "family_accuracy_mean" not in cv:
        return "–"
    return f"{cv['family_accuracy_mean']:.1f} ± {cv['family_accuracy_std']:.1f}"


def _ece(meta: dict) -> str:
    cal = meta.get("calibration")
    return f"{cal['ece_before']:.3f} → {cal['ece_after']:.3f}" if cal else "–"


def novelty_table() -> str:
    """Every shipped checkpoint's novelty threshold and what fitting it measured out of fold."""
    out = [
        "| checkpoint | threshold | fitted on | flagged (unseen speakers) | accuracy % all / unflagged / flagged |",
        "|---|---|---|---|---|",
    ]
    for name in checkpoint.available():
        nov = checkpoint.read_meta(name).get("novelty")
        if not nov:
            out.append(f"| `{name}` | – | not fitted | – | – |")
            continue
        oof = nov["out_of_fold"]
        acc = "–"
        if oof.get("accuracy_all") is not None:
            acc = f"{oof['accuracy_all']:.1f} / {oof['accuracy_unflagged']:.1f} / {oof['accuracy_flagged']:.1f}"
        out.append(
            f"| `{name}` | {nov['threshold']:.2f} | {nov['n_clips']:,} clips, {nov['n_speakers']} speakers "
            f"({nov['folds']} folds) | {100 * oof['flagged_share']:.1f} % | {acc} |"
        )
    return "\n".join(out)


def write_between_markers(path: Path, begin: str, end: str, text: str) -> None:
    """Replace what stands between two marker lines of a Markdown file (README.md here,
    docs/fusion.md for fusion_table.py); a file without the markers raises, naming them."""
    src = path.read_text(encoding="utf-8")
    if begin not in src or end not in src:
        raise ValueError(f"{path} lacks the markers {begin!r} and {end!r}")
    start = src.index(begin) + len(begin)
    stop = src.index(end)
    path.write_text(src[:start] + "\n" + text + "\n" + src[stop:], encoding="utf-8")


def main() -> None:
    text = table()
    print(text)
    root = Path(__file__).resolve().parent.parent
    if "--readme" in sys.argv:
        write_between_markers(root / "README.md", BEGIN, END, text)
    if "--trust" in sys.argv:
        nov = novelty_table()
        print("\n" + nov)
        write_between_markers(root / "docs" / "trust.md", TRUST_BEGIN, TRUST_END, nov)


if __name__ == "__main__":
    main()
