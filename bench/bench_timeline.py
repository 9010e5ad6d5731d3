"""Timeline benchmark: a 10-minute recording built from real EmoGator clips placed at known times
in silence and background noise (fixed seed), run through the timeline.

Prints detection recall and precision (a true burst is found when one detected burst covers at
least 50 % of it; a detected burst is right when at least 50 % of it lies inside a true burst),
agreement of each found burst's label with the clip-level prediction of the same model on the
original clip, wall time as a fraction of the recording's length (goal <= 0.1) and peak memory::

    OMP_NUM_THREADS=2 python bench/bench_timeline.py --threads 2              # default model, with gate
    OMP_NUM_THREADS=2 python bench/bench_timeline.py --threads 2 --no-gate
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nver_demo import audio, checkpoint
from nver_demo.app import clips, timeline
from nver_demo.predict import Predictor

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SR = 16000


def emogator_rows() -> list[tuple[Path, str]]:
    rows = []
    for name in ("emogator", "emogator_extra"):
        index = DATA / name / "labels.csv"
        if index.exists():
            with open(index, newline="") as f:
                rows += [(DATA / name / r["path"], r["label"]) for r in csv.DictReader(f)]
    if not rows:
        raise SystemExit(f"no EmoGator data under {DATA}")
    return rows


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """1/f noise, unit RMS (spectral shaping of white noise)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec))
    spec[1:] /= np.sqrt(f[1:])
    spec[0] = 0
    x = np.fft.irfft(spec, n)
    return (x / np.sqrt(np.mean(x**2))).astype(np.float32)


def build(minutes: float, seed: int) -> tuple[np.ndarray, list[dict]]:
    """The recording and its truth: ``[{start, end, path, label}]``. First half near-silent
    (-70 dBFS hiss), second half background noise (pink, -45 to -35 dBFS, slowly varying)."""
    rng = np.random.default_rng(seed)
    n = int(minutes * 60 * SR)
    x = pink_noise(n, rng) * 10 ** (-70 / 20)
    half = n // 2
    level = 10 ** (rng.uniform(-45, -35) / 20) * (1 + 0.3 * np.sin(np.linspace(0, 6 * np.pi, n - half)))
    x[half:] += pink_noise(n - half, rng) * level.astype(np.float32)
    pool = emogator_rows()
    random.Random(seed).shuffle(pool)
    truth, t = [], rng.uniform(1, 3)
    for path, label in pool:
        wave = audio.prepare(*audio.load(path), SR)
        if audio.stats(wave, SR).is_quiet:
            continue
        a, b = clips.trim_silence(wave, SR, floor_db=30.0, pad_s=0.0)  # the audible part: 30 dB
        w = wave[a:b] / max(1e-6, float(np.abs(wave[a:b]).max())) * 10 ** (rng.uniform(-20, -3) / 20)
        if t + len(w) / SR > minutes * 60 - 1:
            break
        i = int(t * SR)
        x[i : i + len(w)] += w
        truth.append({"start": i / SR, "end": (i + len(w)) / SR, "path": path, "label": label})
        t = (i + len(w)) / SR + rng.uniform(1.5, 10)
    return x, truth


def score(truth: list[dict], rows: list[timeline.Row]) -> dict:
    def inter(a, b):
        return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))

    found, right, pairs = 0, 0, []
    for tr in truth:
        span = (tr["start"], tr["end"])
        best = max(rows, key=lambda r: inter(span, (r.start, r.end)), default=None)
        if best is not None and inter(span, (best.start, best.end)) >= 0.5 * (span[1] - span[0]):
            found += 1
            pairs.append((tr, best))
    for r in rows:
        covered = sum(inter((r.start, r.end), (tr["start"], tr["end"])) for tr in truth)
        right += covered >= 0.5 * (r.end - r.start)
    return {"recall": found / len(truth), "precision": right / max(1, len(rows)), "pairs": pairs}


class RssSampler(threading.Thread):
    """Resident memory of this process, sampled every 50 ms (torch's allocations included)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak, self.stop = 0.0, threading.Event()

    @staticmethod
    def now() -> float:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def run(self) -> None:
        while not self.stop.wait(0.05):
            self.peak = max(self.peak, self.now())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default=checkpoint.DEFAULT)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-gate", action="store_true", help="skip the speech gate")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    x, truth = build(args.minutes, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "recording.wav"
        import soundfile as sf

        sf.write(path, x, SR, subtype="PCM_16")
        del x
        print(f"recording: {args.minutes:g} min, {len(truth)} EmoGator bursts placed (seed {args.seed})")
        predictor = Predictor.load(args.model)
        # Warm up: load every model before timing (a server has them loaded).
        predictor.predict(np.sin(np.arange(SR) / 10).astype(np.float32) * 0.1, SR)
        gate = None if args.no_gate else timeline.speech_gate.get_gate()
        rss0 = RssSampler.now()
        sampler = RssSampler()
        sampler.start()
        t0, c0 = time.perf_counter(), time.process_time()
        tl = timeline.run(path, predictor, gate=gate if gate else False)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        sampler.stop.set()
        sampler.join()

    s = score(truth, tl.rows)
    print(f"detected {len(tl.rows)} bursts: recall {100 * s['recall']:.1f} %, precision {100 * s['precision']:.1f} % "
          "(overlap >= 50 %)")  # fmt: skip
    same = fam = 0
    for tr, row in s["pairs"]:
        clip_pred = predictor.predict(*audio.load(tr["path"]))
        same += clip_pred.label == row.label
        fam += clip_pred.family == row.family
    n = max(1, len(s["pairs"]))
    print(
        f"label agreement with the clip-level prediction: {100 * same / n:.1f} % "
        f"(family {100 * fam / n:.1f} %) over {len(s['pairs'])} found bursts"
    )
    true_label = sum(tr["label"] == row.label for tr, row in s["pairs"]) / n
    print(f"burst label = EmoGator's label: {100 * true_label:.1f} % (chance 3.3 %)")
    if gate is not None:
        flagged = sum(r.verdict == "speech" for r in tl.rows)
        print(f"speech gate: {flagged}/{len(tl.rows)} bursts flagged as speech")
    length = args.minutes * 60
    print(
        f"wall time {wall:.1f} s = {wall / length:.3f} of the recording (goal <= 0.1); CPU {cpu:.1f} s = "
        f"{cpu / length:.3f}; {args.threads} torch threads; load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} cores"
    )
    print("  stages: " + ", ".join(f"{k} {v:.1f} s" for k, v in tl.timings.items()))
    print(
        f"memory: {rss0:.0f} MiB resident before the run (models loaded), peak {sampler.peak:.0f} MiB during it "
        f"(+{sampler.peak - rss0:.0f} MiB); process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )


if __name__ == "__main__":
    main()
