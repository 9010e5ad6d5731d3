"""Retake the app's screenshots (docs/screenshots): every tab, desktop and phone width, light and dark.

    python scripts/screenshots.py                 # all tabs, 1366 and 390 px, light and dark
    python scripts/screenshots.py --widths 390 --themes dark --out /tmp/shots

Starts ``python app.py`` on a free port with the shipped checkpoints, drives Debian's chromium
through playwright, runs each tab once (Analyze: the Amusement example; Compare: its default
selection on that clip; Live: a few seconds from a fake microphone playing that clip) and saves full-page JPEGs named ``<tab>-<phone|desktop>-<light|dark>.jpg``.
Prints each page's ``scrollWidth`` beside the viewport width (a page wider than the screen
scrolls sideways on a phone). Tabs it has no action for are captured as they open.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
HEIGHTS = {390: 844, 1366: 900}
TIMEOUT_MS = 120_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(port: int, tmp: str) -> subprocess.Popen:
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False",
           "GRADIO_TEMP_DIR": tmp, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}  # fmt: skip
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(240):
        try:
            urllib.request.urlopen(url, timeout=2)
            return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("app.py exited before serving") from None
            time.sleep(0.5)
    proc.terminate()
    raise SystemExit("app.py did not start serving within 2 minutes")


def run_analyze(page) -> None:
    page.get_by_text("Amusement", exact=True).first.click()
    page.locator("#summary").get_by_text("What ran").wait_for(timeout=TIMEOUT_MS)
    for chart in ("#bars", "#map"):  # plotly's script loads lazily: slow on a busy machine
        page.locator(f"{chart} .main-svg").first.wait_for(timeout=TIMEOUT_MS)


def run_compare(page) -> None:
    page.locator("#compare-btn").click()
    page.locator("#compare-summary").get_by_text("What ran").wait_for(timeout=TIMEOUT_MS)
    page.locator("#compare-bars .main-svg").first.wait_for(timeout=TIMEOUT_MS)


def run_live(page) -> None:
    """Record from the fake microphone (the Amusement example, looped) until the meter has
    answered a few times, then shoot while it is still recording."""
    mic = page.locator("#live-mic")
    mic.get_by_role("button", name="Record", exact=True).click()
    page.wait_for_function("() => document.querySelectorAll('#live-strip .live-cell').length >= 6",
                           timeout=TIMEOUT_MS)  # fmt: skip
    page.locator("#live-label").get_by_text("%").first.wait_for(timeout=TIMEOUT_MS)


def fake_mic(tmp: str) -> str:
    """The Amusement example as the 44.1 kHz WAV Chromium's fake microphone plays (looped)."""
    sys.path.insert(0, str(ROOT))
    import soundfile as sf

    from nver_demo import audio

    wave, sr = audio.load(ROOT / "examples" / "amusement_000292-02-2.mp3")
    x = audio.resample(audio.to_mono(audio.to_float(wave)), sr, 44100)
    path = Path(tmp) / "mic.wav"
    sf.write(path, x, 44100, subtype="PCM_16")
    return str(path)


ACTIONS = {"Analyze": run_analyze, "Compare": run_compare, "Live": run_live}
MIC = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


def shoot(url: str, out: Path, widths: list[int], themes: list[str]) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p, tempfile.TemporaryDirectory() as tmp:
        mic = [*MIC, f"--use-file-for-fake-audio-capture={fake_mic(tmp)}"]
        browser = p.chromium.launch(
            executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), args=[*ARGS, *mic]
        )
        for theme in themes:
            for width in widths:
                ctx = browser.new_context(viewport={"width": width, "height": HEIGHTS.get(width, 900)})
                page = ctx.new_page()
                page.set_default_timeout(TIMEOUT_MS)
                page.goto(url + ("?__theme=dark" if theme == "dark" else "?__theme=light"))
                page.get_by_role("tab").first.wait_for(timeout=TIMEOUT_MS)
                names = [t.strip() for t in page.get_by_role("tab").all_inner_texts()]
                for name in names:
                    page.get_by_role("tab", name=name).click()
                    page.wait_for_timeout(500)
                    if name in ACTIONS:
                        ACTIONS[name](page)
                    for chart in page.locator(".js-plotly-plot").all():  # every chart in view has drawn
                        if chart.is_visible():
                            chart.locator(".main-svg").first.wait_for(timeout=TIMEOUT_MS)
                    page.wait_for_timeout(1500)  # plotly's resize and transitions
                    size = "phone" if width < 700 else "desktop"
                    path = out / f"{name.lower()}-{size}-{theme}.jpg"
                    page.screenshot(path=str(path), full_page=True, type="jpeg", quality=70)
                    sw = page.evaluate("document.documentElement.scrollWidth")
                    print(f"{path.name}: scrollWidth {sw} px, viewport {width} px")
                ctx.close()
        browser.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    ap.add_argument("--widths", type=int, nargs="+", default=[1366, 390])
    ap.add_argument("--themes", nargs="+", default=["light", "dark"], choices=["light", "dark"])
    ap.add_argument("--url", help="an app already running (default: start app.py on a free port)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.url:
        shoot(args.url.rstrip("/") + "/", args.out, args.widths, args.themes)
        return
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        proc = start_app(port, tmp)
        try:
            time.sleep(5)  # let the background warm-up finish before the first run
            shoot(f"http://127.0.0.1:{port}/", args.out, args.widths, args.themes)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
