"""Load test of the app: many clients at once over the HTTP API, on this machine only.

    python bench/load_app.py                       # 16 clients x 5 requests, shipped checkpoints
    python bench/load_app.py --clients 4 --requests 2 --deadline 300

Starts the app in-process as ``python app.py`` configures it (thread policy, queue, limits),
bound to 127.0.0.1 on a free port, and warms the default models. Then ``--clients`` threads,
each with its own ``gradio_client.Client``, send ``--requests`` requests each, alternating
``/analyze`` (cycling through the shipped offline models and the example clips) and ``/compare``
(the default selection). Prints failures, and per endpoint and overall the p50 / p95 / max
latency and the throughput, then closes the server. Bounded: a watchdog ends the process after
``--deadline`` seconds whatever happens, and nothing listens beyond loopback.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import nver_demo  # noqa: E402  (cheap: does not import torch)

HOST = "127.0.0.1"


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--requests", type=int, default=5, help="requests per client")
    ap.add_argument("--deadline", type=float, default=900, help="seconds before the script stops itself")
    args = ap.parse_args()
    if not (1 <= args.clients <= 64 and 1 <= args.requests <= 50):
        ap.error("at most 64 clients and 50 requests each")
    watchdog(args.deadline)
    nver_demo.configure_threads(runs=2)  # before torch loads, as app.py does; re-applied below

    import app  # after the watchdog: importing gradio and torch takes seconds

    policy = nver_demo.configure_threads(runs=app.MODEL_RUNS)
    from gradio_client import Client, handle_file

    from nver_demo.app import catalog, service

    infos = catalog.models(hub=False)
    offline = [m.name for m in infos if not m.needs_hub]
    selection = catalog.default_selection(infos)
    clips = sorted(app.EXAMPLES.glob("*.mp3"))
    print(f"policy: {policy.describe()}")
    print(f"models: {len(offline)} offline; compare selection: {', '.join(selection)}; {len(clips)} clips")
    t0 = time.perf_counter()
    service.warm_up(selection, infos)
    print(
        f"warm-up {time.perf_counter() - t0:.1f} s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )

    demo = app.build_demo(infos)
    demo.launch(prevent_thread_lock=True, quiet=True, server_name=HOST, server_port=free_port(), **app.LAUNCH)
    url = demo.local_url
    results: list[tuple[str, float, str | None]] = []  # endpoint, seconds, error
    lock = threading.Lock()

    def client(i: int) -> None:
        c = Client(url, verbose=False, download_files=False)
        for j in range(args.requests):
            clip = handle_file(str(clips[(i + j) % len(clips)]))
            endpoint = "/analyze" if (i + j) % 2 == 0 else "/compare"
            t = time.perf_counter()
            err = None
            try:
                if endpoint == "/analyze":
                    out = c.predict(clip, offline[(i * args.requests + j) % len(offline)], api_name=endpoint)
                    assert out[-1]["label"] in out[-1]["probs"]
                else:
                    out = c.predict(clip, selection, api_name=endpoint)
                    assert set(out[-1]["models"]) == set(selection)
            except Exception as e:  # every failure is counted and shown, none stops the run
                err = f"{type(e).__name__}: {str(e)[:200]}"
            with lock:
                results.append((endpoint, time.perf_counter() - t, err))

    print(f"{args.clients} clients x {args.requests} requests against {url} ...", flush=True)
    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    load = os.getloadavg()[0]
    demo.close()

    failures = [r for r in results if r[2]]
    for endpoint, _, err in failures[:10]:
        print(f"FAILED {endpoint}: {err}")
    print(f"\n{'endpoint':10s} {'n':>4s} {'p50 s':>7s} {'p95 s':>7s} {'max s':>7s}")
    for name in ("/analyze", "/compare", "all"):
        xs = [s for e, s, err in results if (name == "all" or e == name) and not err]
        if xs:
            print(
                f"{name:10s} {len(xs):4d} {statistics.median(xs):7.2f} {percentile(xs, 0.95):7.2f} {max(xs):7.2f}"
            )
    n = args.clients * args.requests
    print(
        f"\n{len(results)} of {n} requests done, {len(failures)} failed; {wall:.1f} s wall, "
        f"{len(results) / wall:.2f} requests/s; load average at the end {load:.1f}"
    )
    return 1 if failures or len(results) != n else 0


if __name__ == "__main__":
    sys.exit(main())
