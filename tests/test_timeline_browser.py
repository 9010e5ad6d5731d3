"""The Timeline tab in a real browser (Debian chromium + playwright): upload a recording, find its
bursts, see the timeline and the table, click a row to hear that burst and see its bars.
Skipped cleanly where chromium or playwright is missing."""

from __future__ import annotations

import os

import pytest
import soundfile as sf

from tests import app_server
from tests.test_browser import ARGS, CHROMIUM, TIMEOUT_MS, sync_api
from tests.test_bursts import SR, _recording

app_checkpoints = app_server.app_checkpoints
app_url = app_server.app_url


@pytest.fixture
def page(app_url):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 1000})
        page.goto(app_url)
        page.get_by_role("tab", name="Timeline").click()
        yield page
        browser.close()


def test_upload_find_bursts_and_play_one(page, tmp_path):
    x, truth = _recording(-60, seed=6)
    path = tmp_path / "party.wav"
    sf.write(path, x, SR, subtype="PCM_16")
    page.locator("#timeline-speech input[type=checkbox]").uncheck()  # speed: no Whisper here
    page.locator("#timeline-audio input[type=file]").set_input_files(str(path))
    page.locator("#timeline-audio").get_by_label("Play", exact=True).wait_for(timeout=TIMEOUT_MS)
    page.locator("#timeline-btn").click()
    page.locator("#timeline-summary").get_by_text("vocal bursts in party.wav").wait_for(timeout=TIMEOUT_MS)
    n = page.locator("#timeline-table [role=row]").count() - 1  # minus the header
    assert n >= len(truth)
    assert page.locator("#timeline-plot .js-plotly-plot").count() == 1
    assert page.locator("#timeline-plot .barlayer .point").count() == n + 1  # a bar per burst + the selected outline
    page.locator("#timeline-table [role=row]").nth(2).locator("[role=gridcell], td").nth(3).click()  # burst 2
    page.get_by_text("Burst #2", exact=False).first.wait_for(timeout=TIMEOUT_MS)
    page.locator("#timeline-player").get_by_label("Play", exact=True).wait_for(timeout=TIMEOUT_MS)
    files = page.locator("#timeline-files").inner_text()  # name and extension are separate elements
    assert files.count("party_timeline") == 2 and ".csv" in files and ".json" in files
    if os.environ.get("NVER_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["NVER_SCREENSHOTS"], "timeline.png"), full_page=True)
