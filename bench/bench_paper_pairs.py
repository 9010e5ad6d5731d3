"""Per-clip cost of the paper-pairs extraction, per backbone, and what the whole run would take.

    OMP_NUM_THREADS=1 python bench/bench_paper_pairs.py --clips 20 --threads 1

Full-size backbones at random init (the same compute as the real weights) embed the first
``--clips`` EmoGator clips (synthetic 1.5 s bursts when the data is absent), after one warm-up
clip. Prints milliseconds per clip (wall and process CPU), the ratios to WavLM base measured in
the same run, and the CPU-hours ``--total`` clips need (on a shared machine the wall time also
counts waiting for a core; the CPU time does not).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nver_demo import audio, backbones
from nver_demo.training import datasets, paper_pairs


def clips(n: int) -> list[tuple[np.ndarray, int]]:
    try:
        ds = datasets.read_emogator()
    except (OSError, ValueError):
        rng = np.random.default_rng(0)
        return [(0.1 * rng.standard_normal(24000).astype(np.float32), 16000) for _ in range(n)]
    out = []
    for it in ds.items[:: max(1, len(ds) // n)][:n]:
        wave, sr = audio.load(it.path)
        out.append((audio.to_mono(audio.to_float(wave)), sr))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--total", type=int, default=18000, help="clips of a full run (both EmoGator folders)")
    ap.add_argument("--backbones", nargs="+", default=None, help="default: every backbone of Table II")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    names = args.backbones or paper_pairs.Plan(tuple(paper_pairs.table_ii_pairs())).backbones
    data = clips(args.clips)
    seconds = np.mean([len(w) / sr for w, sr in data])
    print(
        f"{len(data)} clips, mean {seconds:.2f} s; {args.threads} thread(s); random-init full-size backbones"
    )
    rows = {}
    for name in names:
        t0 = time.perf_counter()
        bb = backbones.load(name, random_init=True, device="cpu")
        load_s = time.perf_counter() - t0
        bb.embed(*data[0])  # warm-up
        w0, c0 = time.perf_counter(), time.process_time()
        for wave, sr in data:
            bb.embed(wave, sr)
        wall, cpu = (time.perf_counter() - w0) / len(data), (time.process_time() - c0) / len(data)
        rows[name] = (load_s, wall, cpu)
        del bb
    ref_wall, ref_cpu = rows.get("wavlm-base", next(iter(rows.values())))[1:]
    # CPU time is what a dedicated core spends; wall time also counts waiting on a shared machine.
    print(f"\n| backbone | load s | ms/clip (wall) | ms/clip (CPU) | / wavlm-base (wall, CPU) | "
          f"{args.total} clips, CPU-hours |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for name, (load_s, wall, cpu) in rows.items():
        print(f"| {name} | {load_s:.1f} | {wall * 1e3:.0f} | {cpu * 1e3:.0f} | "
              f"{wall / ref_wall:.2f}, {cpu / ref_cpu:.2f} | {cpu * args.total / 3600:.2f} |")  # fmt: skip
    total = sum(c for *_, c in rows.values()) * args.total / 3600
    print(
        f"\nall {len(rows)} backbones, {args.total} clips: {total:.1f} CPU-hours at {args.threads} thread(s)"
    )


if __name__ == "__main__":
    main()
