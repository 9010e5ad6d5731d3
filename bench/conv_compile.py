"""Training step of the RENO head on Whisper-base + GE2E sizes (3072 + 768), batch 32, one thread:
eager vs the conv blocks compiled (``TrainConfig.compile`` / ``--compile``). Prints the ratio.

    OMP_NUM_THREADS=1 python bench/conv_compile.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nver_demo import heads
from nver_demo.heads.blocks import ConvBlock


def per_step(fn, reps: int = 8) -> float:
    fn()
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t) / reps


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    head = heads.build("reno", (3072, 768), 30).train()
    x1, x2, y = torch.randn(32, 3072), torch.randn(32, 768), torch.randint(0, 30, (32,))

    def step() -> None:
        head.zero_grad()
        head.loss(head(x1, x2), y).backward()

    blocks = [m for m in head.modules() if isinstance(m, ConvBlock)]
    eager = per_step(step)
    t = time.perf_counter()
    for b in blocks:
        b.compile()
    step()
    print(f"compilation: {time.perf_counter() - t:.0f} s (once per process; cached on disk)")
    compiled = per_step(step)
    for b in blocks:
        b.__dict__.pop("_compiled_net")
    eager = min(eager, per_step(step))
    print(
        f"eager {eager * 1000:.0f} ms/step, compiled {compiled * 1000:.0f} ms/step: {eager / compiled:.2f}x"
    )


if __name__ == "__main__":
    main()
