"""What one live-meter visitor costs: CPU share of one core, and the latency from sound to bars.

    python bench/bench_live.py                      # the default model, 30 s of live sound
    python bench/bench_live.py --seconds 60 --model linear-whisper-base

Feeds :func:`nver_demo.app.live.step` the way Gradio 6's browser microphone does (a chunk every
0.1 s, 48 kHz int16; its front end fixes the chunk at 0.1 s whatever ``stream_every`` says), in
real time, with a sound that is half bursts (an EmoGator clip) and half silence. Prints, measured in
this one run:

- CPU seconds the process spent per second of live sound = the share of one core a live visitor
  takes (the model runs each 0.5 s of sound that is not silence; silence costs no model run);
- the server-side latency from a sound to its bars: its wait for the next 0.5-s answer (0-0.5 s,
  0.25 s on average) plus the model run on the 2-s window.
  The browser's upload of a chunk and its redraw come on top (not measured here).

One thread, as the app gives each run on a 2-core machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch

from nver_demo import audio, checkpoint
from nver_demo.app import live
from nver_demo.predict import Predictor

CLIP = Path(__file__).resolve().parent.parent / "examples" / "amusement_000292-02-2.mp3"
CHUNK_S, BROWSER_SR = 0.1, 48000


def live_sound(seconds: float) -> np.ndarray:
    """``seconds`` of 48 kHz int16: 2 s of the clip (looped), 2 s of faint room noise, in turn."""
    wave, sr = audio.load(CLIP)
    x = audio.resample(audio.to_mono(audio.to_float(wave)), sr, BROWSER_SR)
    burst = np.tile(x, int(np.ceil(2 * BROWSER_SR / len(x))))[: 2 * BROWSER_SR]
    quiet = 0.0005 * np.random.default_rng(0).standard_normal(2 * BROWSER_SR)
    period = np.concatenate([burst, quiet])
    out = np.tile(period, int(np.ceil(seconds * BROWSER_SR / len(period))))[: int(seconds * BROWSER_SR)]
    return (np.clip(out, -1, 1) * 32767).astype(np.int16)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=checkpoint.DEFAULT)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    predictor = Predictor.load(args.model)
    warm = np.zeros(2 * live.SR, np.float32) + 0.01
    for _ in range(3):  # first calls compile / allocate (the app warms the default at start-up)
        predictor.predict(warm, live.SR)
    sound = live_sound(args.seconds)
    step_n = int(CHUNK_S * BROWSER_SR)
    session, runs = live.Session(), []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(0, len(sound), step_n):
        due = wall0 + i / BROWSER_SR  # the chunk arrives when its sound has been recorded
        if (lag := due - time.perf_counter()) > 0:
            time.sleep(lag)
        t = time.perf_counter()
        u = live.step(session, BROWSER_SR, sound[i : i + step_n], predictor.predict)
        if u.prediction is not None:
            runs.append(time.perf_counter() - t)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    heard = len(sound) / BROWSER_SR
    med = statistics.median(runs)
    p95 = sorted(runs)[int(0.95 * (len(runs) - 1))]
    print(
        f"model {predictor.name}, {heard:.0f} s of live sound (half bursts, half quiet), {args.threads} thread"
    )
    print(f"model runs: {len(runs)} ({session.runs} in the session; quiet half-seconds skipped)")
    print(
        f"CPU per live visitor: {cpu / heard:.2f} of one core ({cpu:.1f} CPU s over {heard:.0f} s; wall {wall:.1f} s)"
    )
    print(
        f"one model run on the {live.WINDOW_S:g}-s window: median {med * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms"
    )
    print(
        f"sound -> bars (server side): mean {(live.EVERY_S / 2 + med) * 1000:.0f} ms, at most "
        f"{(live.EVERY_S + p95) * 1000:.0f} ms (a sound waits for the next {live.EVERY_S:g}-s answer: "
        f"0-{live.EVERY_S * 1000:.0f} ms, then the model run; median and p95 runs)"
    )


if __name__ == "__main__":
    main()
