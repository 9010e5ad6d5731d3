"""What fine-tuning Whisper-base costs per training clip on this machine, in one run.

    python bench/bench_finetune_cost.py                # 1 thread, batch 32 of 2 s clips
    python bench/bench_finetune_cost.py --device cuda  # the same on a GPU

Times one AdamW step (forward, backward, update) through the whole encoder (all 6 blocks, from
the log-mel, what ``python -m nver_demo finetune`` trains: it stops at block 4, so this is an
upper bound) and through block 4 alone (from a cached block-3 output, what the block-4 path at git
tag ``pre-house-experiments`` trained), in float32 and under bfloat16 autocast, on random-init
weights (the same compute as the real ones). Prints ms per clip and the ratio of the two, so the
time of a cross-validated fine-tuning run can be planned: clips per fold x epochs x ms per clip.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from nver_demo.models.whisper_encoder import SIZES, WhisperEncoder


def step_ms(fn, params, inputs, bf16: bool, device: torch.device, reps: int) -> float:
    """Median ms per clip of one AdamW step of ``params`` through ``fn(inputs)``."""
    opt = torch.optim.AdamW(params, lr=1e-5)
    times = []
    for i in range(reps + 1):  # the first is a warm-up
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            out = fn(inputs)
        loss = out.float().mean(1).square().mean()
        loss.backward()
        opt.step()
        opt.zero_grad()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i:
            times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times) / len(inputs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    enc = WhisperEncoder(SIZES["base"]).to(device)
    frames = int(args.seconds * 100)  # 10 ms hop; the conv stem halves it to tokens
    mel = torch.randn(args.batch, 80, frames, device=device)
    block3 = torch.randn(args.batch, frames // 2, SIZES["base"].d_model, device=device)

    block4 = enc.layers[3]
    rows = {}
    for bf16 in (False, True):
        tag = "bf16 autocast" if bf16 else "float32"
        rows[f"whole encoder, {tag}"] = step_ms(
            lambda m: enc(m)[-1], list(enc.parameters()), mel, bf16, device, args.reps
        )
        rows[f"block 4 alone, {tag}"] = step_ms(
            block4, list(block4.parameters()), block3, bf16, device, args.reps
        )
    for k, v in rows.items():
        print(
            f"{k:<28} {v:7.1f} ms per clip per step ({args.batch} x {args.seconds:g} s, {args.threads} thread, {device})"
        )
    print(
        f"ratio whole / block 4 (bf16): "
        f"{rows['whole encoder, bf16 autocast'] / rows['block 4 alone, bf16 autocast']:.1f}x"
    )


if __name__ == "__main__":
    main()
