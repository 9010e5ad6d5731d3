"""Do long recordings starve short requests? Two long timelines, then short analyses, on the app.

    python bench/bench_starvation.py                    # two 10-minute timelines, 5 analyses (issue 30)
    python bench/bench_starvation.py --minutes 3        # shorter recordings, same shape
    python bench/bench_starvation.py --streams 2        # two clients analysing at once (the gate's case)

Starts the app in-process as ``python app.py`` configures it (thread policy, queue, concurrency
groups, model-run gate, shipped checkpoints and default model), bound to 127.0.0.1 on a free port,
and warms the default model and the speech gate. Writes to a temp folder a recording of
``--minutes`` built from the shipped example clips (their audible part, repeated in a seeded
order, 3-9 s of quiet hiss between them) and a 2-s clip (one example clip padded with quiet).

Then, in one run:

1. **idle**: ``--idle`` sequential ``/analyze`` calls on the 2-s clip with nothing else running
   (after one untimed call), from each of ``--streams`` clients at once;
2. **load**: ``--timelines`` ``/timeline`` calls submitted at once (each from its own client,
   speech check on, as the page's default), and ``--delay`` s later ``--analyses`` sequential
   ``/analyze`` calls on the same clip from each of the ``--streams`` clients, while the second timeline's queue status (what its visitor
   sees: place in line, estimate) is sampled.

Prints each latency, the median idle and loaded ``/analyze`` latency and their ratio (goal ≤ 3),
whether every analysis ended while a timeline was still running (else the load was gone), each
timeline's wall time, bursts and time its batches waited at the gate, the queue statuses seen,
and the load average before and after ("idle" means nothing of ours runs, not an idle machine).
Exit status 0 when the ratio is ≤ 3 and every timeline finished. Bounded: a watchdog ends the
process after ``--deadline`` seconds whatever happens; nothing listens beyond loopback.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import nver_demo  # noqa: E402  (cheap: does not import torch)

HOST = "127.0.0.1"
SR = 16000
GOAL = 3.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def watchdog(seconds: float) -> None:
    def stop() -> None:
        time.sleep(seconds)
        print(f"\ndeadline of {seconds:.0f} s reached: stopping", flush=True)
        os._exit(2)

    threading.Thread(target=stop, daemon=True).start()


def write_inputs(folder: Path, minutes: float, seed: int = 0) -> tuple[Path, Path, int]:
    """(recording, 2-s clip, bursts placed): the shipped example clips in quiet hiss."""
    import numpy as np
    import soundfile as sf

    from nver_demo import audio
    from nver_demo.app import clips

    rng = np.random.default_rng(seed)
    parts = []
    for e in clips.examples(ROOT / "examples"):
        w = audio.prepare(*audio.load(e.path), SR)
        a, b = clips.trim_silence(w, SR, floor_db=30.0, pad_s=0.0)
        parts.append(w[a:b] / np.abs(w[a:b]).max() * 0.5)
    n = int(minutes * 60 * SR)
    x = (rng.standard_normal(n) * 10 ** (-65 / 20)).astype(np.float32)  # -65 dBFS hiss
    t, placed = int(2 * SR), 0
    while True:
        p = parts[int(rng.integers(len(parts)))]
        if t + len(p) >= n:
            break
        x[t : t + len(p)] += p
        placed += 1
        t += len(p) + int(rng.uniform(3, 9) * SR)
    recording = folder / f"recording-{minutes:g}min.wav"
    sf.write(recording, x, SR, subtype="PCM_16")
    short = np.zeros(2 * SR, np.float32)
    p = parts[0][: int(1.6 * SR)]
    short[int(0.2 * SR) : int(0.2 * SR) + len(p)] = p
    clip = folder / "clip-2s.wav"
    sf.write(clip, short, SR, subtype="PCM_16")
    return recording, clip, placed


def analyze_once(client, clip, model: str) -> float:
    from gradio_client import handle_file

    t = time.perf_counter()
    out = client.predict(handle_file(str(clip)), model, api_name="/analyze")
    assert out[-1]["label"] in out[-1]["probs"], out[-1]
    return time.perf_counter() - t


def run_timelines(url, recording, model, n: int) -> tuple[list[dict], list[threading.Thread], list]:
    """Submit ``n`` timelines at once, each from its own client; results land in the dicts."""
    from gradio_client import Client, handle_file

    results: list[dict] = [{} for _ in range(n)]
    jobs: list = [None] * n

    def one(i: int) -> None:
        c = Client(url, verbose=False, download_files=False)
        t = time.perf_counter()
        try:
            jobs[i] = c.submit(handle_file(str(recording)), model, True, api_name="/timeline")
            details = jobs[i].result(timeout=None)[3]
            results[i].update(seconds=time.perf_counter() - t, end=time.perf_counter(), details=details)
        except Exception as e:  # reported, never hidden: the bench then fails
            results[i].update(error=f"{type(e).__name__}: {str(e)[:300]}", end=time.perf_counter())

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
    for th in threads:
        th.start()
    return results, threads, jobs


def sample_status(jobs: list, seen: list[tuple[float, str]], stop: threading.Event) -> None:
    """What the last timeline's visitor is shown while it waits: Gradio's queue status."""
    while not stop.wait(2.0):
        job = jobs[-1]
        if job is None:
            continue
        s = job.status()
        code = getattr(s.code, "name", str(s.code))
        eta = f"{s.eta:.0f} s" if s.eta is not None else "none yet"
        line = f"{code}: rank {s.rank}, queue size {s.queue_size}, eta {eta}; {s.progress_data or ''}"
        if not seen or seen[-1][1] != line:  # each change once, with when it was first seen
            seen.append((time.perf_counter(), line[:200]))
        if code in ("FINISHED", "CANCELLED"):
            return


def report(idle: list[float], busy: list[tuple[float, float]], timelines: list[dict], placed: int) -> int:
    last_end = max((r.get("end", 0.0) for r in timelines), default=0.0)
    idle_med, busy_med = statistics.median(idle), statistics.median(s for s, _ in busy)
    ratio = busy_med / idle_med
    print(f"\nidle /analyze (s): {', '.join(f'{s:.2f}' for s in idle)}  -> median {idle_med:.2f}")
    print(f"under load (s):    {', '.join(f'{s:.2f}' for s, _ in busy)}  -> median {busy_med:.2f}")
    covered = sum(end <= last_end for _, end in busy)
    print(f"analyses that ended while a timeline still ran: {covered} of {len(busy)}")
    print(f"ratio median loaded / median idle: {ratio:.2f} (goal <= {GOAL:g})")
    print(f"slowest loaded / median idle: {max(s for s, _ in busy) / idle_med:.2f}")
    ok = True
    for i, r in enumerate(timelines, 1):
        if "error" in r or "details" not in r:
            print(f"timeline {i}: FAILED {r.get('error', 'did not finish')}")
            ok = False
            continue
        d = r["details"]
        wait = d["timings"].get("wait for a model slot", 0.0)
        print(f"timeline {i}: finished in {r['seconds']:.1f} s, {len(d['bursts'])} bursts "
              f"({placed} placed), {d['duration_s']:.0f} s of audio, batches waited {wait:.1f} s "
              f"at the gate")  # fmt: skip
    if covered < len(busy):
        print("NOT A MEASUREMENT UNDER LOAD: some analyses ended after the last timeline")
    return 0 if ok and ratio <= GOAL and covered == len(busy) else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="length of each long recording")
    ap.add_argument("--timelines", type=int, default=2)
    ap.add_argument("--analyses", type=int, default=5, help="sequential /analyze calls under load")
    ap.add_argument("--idle", type=int, default=5, help="sequential /analyze calls before the load")
    ap.add_argument("--streams", type=int, default=1,
                    help="clients sending their sequential /analyze calls at once (idle and under load)")  # fmt: skip
    ap.add_argument("--delay", type=float, default=3.0, help="seconds between the timelines and the analyses")
    ap.add_argument("--deadline", type=float, default=1800, help="seconds before the script stops itself")
    args = ap.parse_args()
    if not (0.5 <= args.minutes <= 30 and 1 <= args.timelines <= 8 and 1 <= args.analyses <= 50):
        ap.error("--minutes 0.5-30, --timelines 1-8, --analyses 1-50")
    if not 1 <= args.streams <= 4:
        ap.error("--streams 1-4 (Analyze/Compare run 2 at once)")
    watchdog(args.deadline)
    nver_demo.configure_threads(runs=2)  # before torch loads, as app.py does; re-applied below

    import app  # after the watchdog: importing gradio and torch takes seconds

    policy = nver_demo.configure_threads(runs=app.MODEL_RUNS)
    from gradio_client import Client

    from nver_demo.app import catalog, scheduler, service

    infos = catalog.models(hub=False)
    model = catalog.default_model(infos)
    load_before = os.getloadavg()[0]
    print(f"policy: {policy.describe()}; model {model}; long jobs at once {scheduler.long_jobs()}")
    with tempfile.TemporaryDirectory(prefix="bench-starvation-") as tmp:
        recording, clip, placed = write_inputs(Path(tmp), args.minutes)
        t0 = time.perf_counter()
        service.warm_up(model, infos)
        print(
            f"warm-up {time.perf_counter() - t0:.1f} s; load average {load_before:.1f} on {os.cpu_count()} cores"
        )
        demo = app.build_demo(infos)
        demo.launch(
            prevent_thread_lock=True, quiet=True, server_name=HOST, server_port=free_port(), **app.LAUNCH
        )
        try:
            client = Client(demo.local_url, verbose=False, download_files=False)
            analyze_once(client, clip, model)  # untimed: the first call over HTTP warms the server
            idle = [s for s, _ in streams(demo, clip, model, args.idle, args.streams, "idle")]
            print(f"idle: {', '.join(f'{s:.2f}' for s in idle)} s", flush=True)
            t_load = time.perf_counter()
            timelines, threads, jobs = run_timelines(demo.local_url, recording, model, args.timelines)
            seen: list[tuple[float, str]] = []
            stop = threading.Event()
            sampler = threading.Thread(target=sample_status, args=(jobs, seen, stop), daemon=True)
            sampler.start()
            time.sleep(args.delay)
            busy = streams(demo, clip, model, args.analyses, args.streams, "under load")
            for th in threads:
                th.join()
            stop.set()
            print(
                f"load phase {time.perf_counter() - t_load:.1f} s; load average after {os.getloadavg()[0]:.1f}"
            )
            print("what the last timeline's visitor saw (sampled every 2 s; each change once):")
            for t, line in seen[:12]:
                print(f"    +{t - t_load:5.1f} s {line}")
        finally:
            demo.close()
        return report(idle, busy, timelines, placed)


def streams(demo, clip, model: str, n: int, k: int, what: str) -> list[tuple[float, float]]:
    """``k`` clients at once, each sending ``n`` sequential ``/analyze`` calls: (seconds, end) each."""
    from gradio_client import Client

    out: list[tuple[float, float]] = []
    lock = threading.Lock()

    def one() -> None:
        client = Client(demo.local_url, verbose=False, download_files=False)
        for _ in range(n):
            s = analyze_once(client, clip, model)
            with lock:
                out.append((s, time.perf_counter()))
                print(f"{what}: {s:.2f} s (gate: {demo_gate_state(demo)})", flush=True)

    threads = [threading.Thread(target=one, daemon=True) for _ in range(k)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return out


def demo_gate_state(demo) -> str:
    """Runs and waiters at the model-run gate now, read from the Timeline event's tab."""
    for f in demo.fns.values():
        tab = getattr(f.fn, "__self__", None)
        gate = getattr(getattr(tab, "ctx", None), "gate", None)
        if type(tab).__name__ == "TimelineTab" and gate is not None:
            return ", ".join(f"{k} {v}" for k, v in gate.snapshot().items())
    return "none (an app without the gate)"


if __name__ == "__main__":
    sys.exit(main())
