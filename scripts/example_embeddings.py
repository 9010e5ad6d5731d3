"""Record what the shipped backbones give on the example clips, for tests/test_example_embeddings.py.

The example clips ship in examples/, so this regression check runs on a fresh clone without
../shared. For every backbone a shipped checkpoint uses and every example clip it stores the
embedding's norm and its projection onto PROJ_DIM fixed random unit directions (numpy seed
PROJ_SEED): a 10 kB summary instead of the vectors. By the Johnson-Lindenstrauss lemma the
cosine of two projections tracks the cosine of the full vectors, so a change in preprocessing,
weights or pooling that moves an embedding shows up as a low projected cosine.

    python scripts/example_embeddings.py            # rewrite tests/data/example_embeddings.json
    python scripts/example_embeddings.py --check    # print today's projected cosines, write nothing
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nver_demo import backbones, checkpoint  # noqa: E402
from nver_demo.audio import load  # noqa: E402

OUT = ROOT / "tests" / "data" / "example_embeddings.json"
EXAMPLES = ROOT / "examples"
PROJ_DIM, PROJ_SEED = 32, 0


def projection(dim: int) -> np.ndarray:
    """``(PROJ_DIM, dim)`` fixed random unit rows: the same for a given ``dim`` on every machine."""
    rows = np.random.default_rng(PROJ_SEED).standard_normal((PROJ_DIM, dim))
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def shipped_backbones() -> list[str]:
    names = {
        b
        for p in checkpoint.SHIPPED_DIR.glob("*/config.json")
        for b in json.loads(p.read_text())["backbones"]
    }
    return sorted(names)


def example_files() -> list[str]:
    return [row["file"] for row in csv.DictReader((EXAMPLES / "examples.csv").open())]


def summarise(backbone: str, files: list[str]) -> dict[str, dict]:
    bb = backbones.load(backbone)
    proj = projection(bb.dim)
    out = {}
    for name in files:
        vec = bb.embed(*load(EXAMPLES / name)).astype(np.float64)
        out[name] = {
            "norm": float(np.linalg.norm(vec)),
            "projection": [round(float(x), 6) for x in proj @ vec],
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with the stored file instead of writing it")
    args = ap.parse_args()
    files = example_files()
    now = {b: summarise(b, files) for b in shipped_backbones()}
    if args.check:
        stored = json.loads(OUT.read_text())["backbones"]
        for b, clips in now.items():
            for name, s in clips.items():
                a, c = np.array(s["projection"]), np.array(stored[b][name]["projection"])
                cos = a @ c / (np.linalg.norm(a) * np.linalg.norm(c))
                print(
                    f"{b:16s} {name:36s} projected cosine {cos:.6f}  norm ratio {s['norm'] / stored[b][name]['norm']:.5f}"
                )
        return
    OUT.parent.mkdir(exist_ok=True)
    doc = {
        "about": "scripts/example_embeddings.py: each shipped backbone on each example clip, as the norm and "
        f"the projection onto {PROJ_DIM} fixed random unit directions (numpy default_rng({PROJ_SEED}))",
        "proj_dim": PROJ_DIM,
        "proj_seed": PROJ_SEED,
        "backbones": now,
    }
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(now)} backbones x {len(files)} clips")


if __name__ == "__main__":
    main()
