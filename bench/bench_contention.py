"""Does a model run collapse when another process competes for the CPU?

    python bench/bench_contention.py                 # the app's policy: 2 concurrent runs
    python bench/bench_contention.py --runs 1        # the CLI's policy: one run, all cores
    python bench/bench_contention.py --nice -10      # on a shared machine (root): see --nice
    python bench/bench_contention.py --no-policy     # library defaults, for contrast

Calls ``nver_demo.configure_threads(runs)`` first (before torch is imported, as the app's
start-up does), then times each model on the same 5 s clip alone ("idle") and while one CPU-bound process of
its own spins on one core ("contended"). The competitor is started once, paused (SIGSTOP) for
the idle calls and resumed for the contended ones, alternating call by call, so load from
other jobs on a shared machine falls on both sides alike; it is stopped at the end (and stops
itself after a time limit). Prints per model the median wall and CPU seconds of each side,
the ratio contended / idle, and the load average seen ("idle" means no competitor of ours,
not necessarily an idle machine).

Models: audio-mamba-base and wavlm-base with random weights (same compute as the real ones)
and the shipped default checkpoint with its real backbone (``checkpoint.DEFAULT``).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nver_demo  # cheap: does not import torch

SR = 16000
SPIN = "import time\nend = time.time() + {limit}\nwhile time.time() < end:\n    pass\n"


def clip(seconds: float = 5.0):
    import numpy as np

    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * SR)) / SR
    voice = np.sin(2 * np.pi * 220 * t * (1 + 0.1 * np.sin(2 * np.pi * 3 * t)))
    return (0.3 * voice + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


def runners(names: list[str]) -> dict[str, Callable[[], object]]:
    """name -> a zero-argument call that embeds/predicts the 5 s clip once."""
    from nver_demo import backbones, checkpoint
    from nver_demo.predict import Predictor

    wave, out = clip(), {}
    for name in names:
        if name == "default":
            p = Predictor.load(checkpoint.DEFAULT)
            out[f"default ({checkpoint.DEFAULT})"] = lambda p=p: p.predict(wave, SR)
        else:
            bb = backbones.load(name, random_init=True)
            out[f"{name} (random init)"] = lambda bb=bb: bb.embed(wave, SR)
    return out


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, process CPU seconds over all threads) of one call."""
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w0, time.process_time() - c0


def measure(calls: dict[str, Callable[[], object]], reps: int, spin: subprocess.Popen) -> dict[str, dict]:
    """Per model, ``reps`` calls alone and ``reps`` with the spinner running, interleaved
    (alone, contended, alone, ...) so that drifting load from other jobs hits both sides alike.
    The spinner is paused (SIGSTOP) for the calls alone and resumed (SIGCONT) for the others."""
    out = {}
    for name, fn in calls.items():
        rows: dict[str, list] = {"idle": [], "busy": [], "load_idle": [], "load_busy": []}
        for _ in range(reps):
            for side, sig in (("idle", signal.SIGSTOP), ("busy", signal.SIGCONT)):
                spin.send_signal(sig)
                time.sleep(0.3)  # let the scheduler settle
                rows[side].append(timed(fn))
                rows[f"load_{side}"].append(os.getloadavg()[0])
        out[name] = rows
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=2, help="concurrent model runs (the app's MODEL_RUNS is 2)")
    ap.add_argument("--reps", type=int, default=5, help="timed calls per model and side (median)")
    ap.add_argument("--models", nargs="+", default=["audio-mamba-base", "wavlm-base", "default"])
    ap.add_argument(
        "--nice",
        type=int,
        default=0,
        help="run this process and its competitor at this niceness (e.g. -10, needs root): on a machine "
        "shared with other jobs, they then weigh little, and the two sides compare as on a quiet machine",
    )
    ap.add_argument("--no-policy", action="store_true", help="skip configure_threads: library defaults")
    args = ap.parse_args()

    if args.nice:
        os.nice(args.nice)  # the competitor, a child, inherits it
    if args.no_policy:
        import torch

        print(f"policy: none (library defaults); torch get_num_threads={torch.get_num_threads()}")
    else:
        policy = nver_demo.configure_threads(runs=args.runs)  # before torch is imported, like app.py
        import torch

        print(f"policy: {policy.describe()}; torch get_num_threads={torch.get_num_threads()}")
    print(f"torch {torch.__version__}; niceness {os.nice(0)} for this process and the competitor")
    calls = runners(args.models)
    for fn in calls.values():  # warm-up: lazy init, allocator, numba
        fn()
    print(f"load average (1 min) before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    limit = 60 + 2 * args.reps * len(calls) * 20  # the spinner stops itself even if we are killed
    spin = subprocess.Popen([sys.executable, "-c", SPIN.format(limit=limit)])
    try:
        res = measure(calls, args.reps, spin)
    finally:
        spin.send_signal(signal.SIGCONT)
        spin.terminate()
        spin.wait(timeout=10)

    med = statistics.median
    print(f"\n{'model':34s} {'wall idle':>9s} {'wall busy':>9s} {'ratio':>6s} {'cpu idle':>9s} "
          f"{'cpu busy':>9s}  load avg idle/busy")  # fmt: skip
    worst = 0.0
    for name, r in res.items():
        wi, wb = med(w for w, _ in r["idle"]), med(w for w, _ in r["busy"])
        ci, cb = med(c for _, c in r["idle"]), med(c for _, c in r["busy"])
        worst = max(worst, wb / wi)
        print(f"{name:34s} {wi:9.3f} {wb:9.3f} {wb / wi:5.2f}x {ci:9.3f} {cb:9.3f}  "
              f"{med(r['load_idle']):.1f} / {med(r['load_busy']):.1f}")  # fmt: skip
    verdict = "ok" if worst <= 1.5 else "ABOVE 1.5x"
    print(f"\nworst contended/idle wall ratio: {worst:.2f}x (target <= 1.5x: {verdict})")
    print("cpu = process CPU seconds, all threads: it grows when threads spin-wait, not when they wait")
    print("for a core. Load average counts other jobs on this machine as well as our competitor.")


if __name__ == "__main__":
    main()
