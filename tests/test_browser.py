"""The app in a real browser: Debian chromium driven by PyPI playwright (no browser download).

Skipped cleanly where chromium or playwright is missing. One server (the session's) and one
browser per module; each test opens its own page. Covered: a sound runs by itself (upload, fake
microphone, example click) and the button re-runs; no tab is wider than a phone's or a laptop's
screen after a run; an error's sentence stays on the page and the previous result goes; changing
the model re-runs without a click; in dark mode the charts sit on a dark background. No fixed
sleeps: every wait is for a condition (the recorder's clock, a scroll or a layout that has settled,
the toasts gone).
"""

from __future__ import annotations

import os
import re
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
PHONE, DESKTOP = (390, 844), (1366, 900)


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
def open_page(browser, app_url):
    """``open_page(size, theme)`` -> a page on the app; every context is closed after the test."""
    contexts = []

    def open_(size=DESKTOP, theme: str | None = None):
        ctx = browser.new_context(viewport={"width": size[0], "height": size[1]})
        contexts.append(ctx)
        page = ctx.new_page()
        page.goto(app_url + (f"?__theme={theme}" if theme else ""))
        page.get_by_text("What emotion is in this sound?").wait_for(timeout=TIMEOUT_MS)
        return page

    yield open_
    for ctx in contexts:
        ctx.close()


@pytest.fixture
def page(open_page):
    return open_page()


def _settled(page, check: str, accept: str = "true", timeout: int = TIMEOUT_MS):
    """The value of the JS expression ``check`` once it has stopped changing (the same on four
    polls in a row, 100 ms apart: a scroll or a layout that has stopped moving for 300 ms) with
    ``accept`` (a JS expression of ``v``) true; None when that never happens within ``timeout``
    (the caller's assert then says what it saw)."""
    page.evaluate("window.__settled = undefined; window.__same = 0")
    settled = f"""() => {{ const v = {check}; window.__same = window.__settled === v ? window.__same + 1 : 0;
      window.__settled = v; return window.__same >= 3 && ({accept}); }}"""
    try:
        page.wait_for_function(settled, polling=100, timeout=timeout)
    except sync_api.TimeoutError:
        return None
    return page.evaluate(check)


def _width(page) -> int:
    """The page's width once its layout has settled (a chart resizing after it is drawn)."""
    check = "document.documentElement.scrollWidth"
    return _settled(page, check, timeout=10_000) or page.evaluate(check)


def _result(page):
    return page.locator("#summary").get_by_text("What ran")


def _wait_for_result(page) -> str:
    status = page.locator("#analyze-status")
    _result(page).or_(status).first.wait_for(timeout=TIMEOUT_MS)
    assert _result(page).is_visible(), f"no result; the page says: {status.inner_text()}"
    return page.locator("#top-label").inner_text()


def _run_example(page) -> None:
    page.get_by_text("Amusement", exact=True).first.click()
    _wait_for_result(page)
    assert "amusement_" in page.locator("#summary").inner_text()


def test_an_upload_runs_by_itself_and_the_button_runs_again(page):
    page.locator("#clip input[type=file]").set_input_files(str(REAL_CLIP))
    label = _wait_for_result(page)  # no click
    assert any(lab in label for lab in LABELS)
    assert REAL_CLIP.name in page.locator("#summary").inner_text()
    names = page.locator("#analyze-files").inner_text()
    assert ".csv" in names and ".json" in names  # the downloads
    before = page.locator("#summary").inner_text()
    page.locator("#analyze-btn").click()  # a new run: new timings in the summary
    page.wait_for_function(
        "t => document.querySelector('#summary').innerText !== t && /What ran/.test("
        "document.querySelector('#summary').innerText)",
        arg=before,
        timeout=TIMEOUT_MS,
    )


def test_a_recording_runs_by_itself_when_it_stops(page):
    clip = page.locator("#clip")
    clip.get_by_label("Record audio").click()
    clip.get_by_role("button", name="Record", exact=True).click()
    stop = clip.get_by_role("button", name="Stop", exact=True).first
    stop.wait_for(timeout=TIMEOUT_MS)  # recording has started
    # Two seconds of sound by the recorder's own clock (it shows whole seconds while recording).
    clip.locator("time").filter(has_text=re.compile(r"^0:0[2-9]$")).first.wait_for(timeout=TIMEOUT_MS)
    stop.click()
    label = _wait_for_result(page)
    assert any(lab in label for lab in LABELS)
    assert "(wav, " in page.locator("#summary").inner_text()  # the browser sent a WAV recording


def test_on_a_phone_an_example_click_scrolls_to_the_result(open_page):
    page = open_page(PHONE)
    page.get_by_text("Amusement", exact=True).first.click()
    _wait_for_result(page)
    # Smooth scrolling: the result's position once the page has stopped scrolling.
    where = "document.querySelector('#result').getBoundingClientRect().top"
    _settled(page, where, f"v >= -5 && v < {PHONE[1] / 2}", timeout=10_000)
    top = page.evaluate(where)
    assert -5 <= top < PHONE[1] / 2, f"the result starts {top:.0f} px down the screen"


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_no_tab_is_wider_than_the_screen_after_a_run(open_page, size):
    page = open_page(size)
    _run_example(page)
    widths = {"Analyze": _width(page)}
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-btn").click()
    page.locator("#compare-summary").get_by_text("What ran").wait_for(timeout=TIMEOUT_MS)
    page.locator("#compare-bars .main-svg").first.wait_for(timeout=TIMEOUT_MS)  # the chart is drawn
    widths["Compare"] = _width(page)
    for tab in page.get_by_role("tab").all_inner_texts():  # every other tab, as it opens
        if tab.strip() not in widths:
            page.get_by_role("tab", name=tab.strip()).click()
            page.get_by_role("tabpanel").first.wait_for(timeout=TIMEOUT_MS)
            widths[tab.strip()] = _width(page)
    assert len(widths) >= 3 and all(w <= size[0] for w in widths.values()), widths


def test_an_error_stays_on_the_page(page, tmp_path):
    bad = tmp_path / "notes.wav"
    bad.write_text("not a sound\n" * 20)
    page.locator("#clip input[type=file]").set_input_files(str(bad))
    status = page.locator("#analyze-status")
    status.get_by_text("text file, not audio").wait_for(timeout=TIMEOUT_MS)
    # It stays: a panel in the page, not a toast. Once every toast is gone (Gradio's close after
    # seconds), the sentence is still there, in no toast.
    assert not status.evaluate("el => !!el.closest('.toast-wrap, .toast-body')")
    page.wait_for_function("() => !document.querySelector('.toast-body')", timeout=TIMEOUT_MS)
    assert status.is_visible() and "text file, not audio" in status.inner_text()


def test_changing_the_model_reruns_without_a_click_and_an_error_clears_the_result(page):
    _run_example(page)
    assert "RENO" in page.locator("#summary").inner_text()  # the default here: reno-tiny
    page.locator("#model input").click()
    page.get_by_role("option", name="CNN").first.click()
    page.locator("#summary").get_by_text("CNN · logmel-stats").wait_for(timeout=TIMEOUT_MS)
    assert "RENO" not in page.locator("#summary").inner_text()
    # A model whose weights are missing: the sentence shows and the last result goes.
    page.locator("#model input").click()
    page.get_by_role("option", name="Needs Hub weights").first.click()
    status = page.locator("#analyze-status")
    status.get_by_text("NVER_WAVLM_BASE").wait_for(timeout=TIMEOUT_MS)
    assert not _result(page).is_visible() and "amusement_" not in page.locator("#summary").inner_text()
    assert not any(lab in page.locator("#top-label").inner_text() for lab in LABELS)
    # A name that is no model: the sentence is whole (not cut at "<head>").
    box = page.locator("#model input")
    box.fill("no-such-model")
    box.press("Enter")
    status.get_by_text("Unknown model").wait_for(timeout=TIMEOUT_MS)
    assert "'<head>-<backbone>'" in status.inner_text()


def _luminance(rgb: str) -> float:
    r, g, b = (int(float(v)) for v in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


BACKGROUND = """el => { for (let e = el; e; e = e.parentElement) { const c = getComputedStyle(e).backgroundColor;
  if (c && c !== 'transparent' && !c.startsWith('rgba(0, 0, 0, 0')) return c; } return 'rgb(255, 255, 255)'; }"""


def test_dark_mode_draws_the_charts_on_a_dark_background(open_page):
    page = open_page(DESKTOP, theme="dark")
    _run_example(page)
    for chart in ("#bars", "#map"):
        svg = page.locator(f"{chart} .main-svg").first
        svg.wait_for(timeout=TIMEOUT_MS)
        assert _luminance(svg.evaluate(BACKGROUND)) < 0.3, chart
        tick = page.locator(f"{chart} .ytick text, {chart} .legendtext").first
        assert _luminance(tick.evaluate("el => getComputedStyle(el).fill")) > 0.6, chart
