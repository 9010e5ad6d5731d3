"""The app in a real browser: Debian chromium driven by PyPI playwright (no browser download).

Skipped cleanly where chromium or playwright is missing. Paths covered: upload -> Analyze ->
label; fake microphone (chromium records a WAV file we made) -> Analyze -> label; an example
click runs the analysis; a bad file shows its message in a toast.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests import app_server
from tests.app_server import REAL_CLIP, burst, write

# Session fixtures shared by the app test modules (built and launched once per session).
app_checkpoints = app_server.app_checkpoints
app_url = app_server.app_url


sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("Debian chromium not installed", allow_module_level=True)

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]  # fmt: skip
LABELS = ("low", "mid", "high")  # the tiny checkpoint's classes
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    mic = write(tmp_path_factory.mktemp("mic") / "mic.wav", burst(2.0, 44100), 44100, subtype="PCM_16")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM, args=[*ARGS, f"--use-file-for-fake-audio-capture={mic}"]
        )
        yield b
        b.close()


@pytest.fixture
def page(browser, app_url):
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    page = ctx.new_page()
    page.goto(app_url)
    page.get_by_text("What emotion is in this sound?").wait_for(timeout=TIMEOUT_MS)
    yield page
    ctx.close()


def _analyze_and_read_label(page) -> str:
    page.locator("#analyze-btn").click()
    result = page.locator("#summary").get_by_text("What ran")
    result.or_(page.get_by_test_id("toast-body")).first.wait_for(timeout=TIMEOUT_MS)
    toasts = page.get_by_test_id("toast-body").all_inner_texts()
    assert result.is_visible(), f"no result; messages shown: {toasts}"
    return page.locator("#top-label").inner_text()


def test_upload_then_analyze_shows_the_label(page):
    page.locator("#clip input[type=file]").set_input_files(str(REAL_CLIP))
    page.locator("#clip").get_by_label("Play", exact=True).wait_for(timeout=TIMEOUT_MS)
    label = _analyze_and_read_label(page)
    assert any(lab in label for lab in LABELS)
    assert REAL_CLIP.name in page.locator("#summary").inner_text()


def test_record_with_the_microphone_then_analyze(page):
    clip = page.locator("#clip")
    clip.get_by_label("Record audio").click()
    clip.get_by_role("button", name="Record", exact=True).click()
    stop = clip.get_by_role("button", name="Stop", exact=True).first
    stop.wait_for(timeout=TIMEOUT_MS)  # recording has started
    page.wait_for_timeout(2500)
    stop.click()
    clip.get_by_label("Play", exact=True).wait_for(timeout=TIMEOUT_MS)
    label = _analyze_and_read_label(page)
    assert any(lab in label for lab in LABELS)
    assert "(wav, " in page.locator("#summary").inner_text()  # the browser sent a WAV recording


def test_clicking_an_example_runs_the_analysis(page):
    page.get_by_text("Amusement", exact=True).first.click()
    page.locator("#summary").get_by_text("What ran").wait_for(timeout=TIMEOUT_MS)
    assert "amusement_" in page.locator("#summary").inner_text()


def test_a_text_file_gets_a_message_and_the_page_keeps_working(page, tmp_path):
    bad = tmp_path / "notes.wav"
    bad.write_text("not a sound\n" * 20)
    page.locator("#clip input[type=file]").set_input_files(str(bad))
    page.locator("#analyze-btn").click()
    toast = page.get_by_test_id("toast-body").first
    toast.wait_for(timeout=TIMEOUT_MS)
    assert "text file, not audio" in toast.inner_text()
