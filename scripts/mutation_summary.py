"""Summarise a mutmut run (``mutants/**/*.meta``) as Markdown: per module, how many mutants were
killed, survived, timed out or had no test; then the survivors grouped by function.

    python scripts/mutation_summary.py            # after `mutmut run` (docs/development.md)
    python scripts/mutation_summary.py --names    # also every survivor's name (`mutmut show NAME`)
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: mutmut 3.8's exit codes (mutmut/stats.py): 1 and 3 kill, 0 survives, SIGXCPU is a timeout.
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped",
          36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout", 255: "timeout", None: "not checked"}  # fmt: skip
#: "suspicious": an exit status mutmut has no name for (the mutant made pytest itself exit oddly).
COLUMNS = ("killed", "timeout", "suspicious", "survived", "no tests", "not checked")


def read(root: Path = ROOT / "mutants") -> dict[str, str]:
    out = {}
    for meta in sorted(root.rglob("*.py.meta")):
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            out[name] = STATUS.get(code, "suspicious")
    return out


def function_of(name: str) -> str:
    """``nver_demo.cli.x_cmd_list__mutmut_3`` -> ``nver_demo.cli.cmd_list``; methods as ``Class.method``."""
    module, fn = name.split("__mutmut_")[0].rsplit(".", 1)
    fn = re.sub(r"^(x_|xǁ)", "", fn).replace("ǁ", ".")
    return f"{module}.{fn}"


def main() -> None:
    status = read()
    if not status:
        raise SystemExit("no mutants/ here: run `mutmut run` first (docs/development.md)")
    by_module: dict[str, Counter] = defaultdict(Counter)
    for name, s in status.items():
        by_module[name.split("__mutmut_")[0].rsplit(".", 1)[0]][s] += 1
    print("| module | " + " | ".join(COLUMNS) + " | killed of checked |")
    print("|---|" + "---|" * (len(COLUMNS) + 1))
    total = Counter()
    for module, c in sorted(by_module.items()):
        total.update(c)
        print(_row(f"`{module}`", c))
    print(_row("**all**", total))
    survivors: dict[str, list[str]] = defaultdict(list)
    for name, s in status.items():
        if s in ("survived", "no tests"):
            survivors[function_of(name)].append(name)
    print("\n| function | survivors |\n|---|---|")
    for fn, names in sorted(survivors.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        print(f"| `{fn}` | {len(names)} |")
    if "--names" in sys.argv:
        for fn, names in sorted(survivors.items()):
            print(f"\n{fn}: " + " ".join(n.rsplit("__mutmut_", 1)[1] for n in names))


def _row(label: str, c: Counter) -> str:
    checked = sum(c[k] for k in ("killed", "timeout", "suspicious", "survived", "no tests"))
    share = f"{100 * (c['killed'] + c['timeout']) / checked:.1f} %" if checked else "–"
    return f"| {label} | " + " | ".join(str(c[k]) for k in COLUMNS) + f" | {share} |"


if __name__ == "__main__":
    main()
