"""A first visit in a real browser (Debian chromium + playwright), at a phone's and a laptop's width,
light and dark: the example buttons name what they were meant as after a run, the map sentence's
counts add up, the Timeline keeps its error on screen and clears the old result, its phone table
breaks no word, and a share link reopens that visitor's result and nobody else's (gradio #11201).
Skipped cleanly where chromium or playwright is missing. No fixed sleeps: every wait is a condition."""

from __future__ import annotations

import re

import pytest
import soundfile as sf

from tests import app_server
from tests.test_browser import ARGS, CHROMIUM, DESKTOP, PHONE, TIMEOUT_MS, sync_api
from tests.test_bursts import SR, _recording

app_checkpoints = app_server.app_checkpoints
app_url = app_server.app_url
SIZES = [(PHONE, None), (DESKTOP, "dark")]
IDS = ["phone-light", "desktop-dark"]


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def open_page(browser, app_url):
    contexts = []

    def open_(size=DESKTOP, theme=None, url=None):
        ctx = browser.new_context(viewport={"width": size[0], "height": size[1]},
                                  permissions=["clipboard-read", "clipboard-write"])  # fmt: skip
        contexts.append(ctx)
        page = ctx.new_page()
        page.goto(url or app_url + (f"?__theme={theme}" if theme else ""))
        page.get_by_text("What emotion is in this sound?").wait_for(timeout=TIMEOUT_MS)
        return page

    yield open_
    for ctx in contexts:
        ctx.close()


def _run_example(page, label: str) -> None:
    page.locator("#examples").get_by_text(label, exact=True).first.click()
    page.locator("#summary").get_by_text("What ran").wait_for(timeout=TIMEOUT_MS)


@pytest.mark.parametrize(("size", "theme"), SIZES, ids=IDS)
def test_the_example_buttons_name_their_true_label_after_a_run(open_page, size, theme):
    page = open_page(size, theme)
    _run_example(page, "Amusement")
    assert "Meant: Amusement" in page.locator("#family").inner_text()
    button = page.locator("#examples").get_by_text(re.compile(r"^Amusement → heard .+ [✓✗]$"))
    button.wait_for(timeout=TIMEOUT_MS)
    top = page.locator("#top-label").inner_text().split("\n")
    heard = button.inner_text().split("→ heard ")[1][:-2]
    assert heard in top  # the button says what the model's top emotion is
    assert page.locator("#examples").get_by_text("Sadness", exact=True).is_visible()  # the others: label only


@pytest.mark.parametrize(("size", "theme"), SIZES, ids=IDS)
def test_the_map_sentence_counts_add_up_to_the_neighbours_named(open_page, size, theme):
    page = open_page(size, theme)
    _run_example(page, "Fear")
    text = page.locator("#summary").inner_text()
    m = re.search(r"Map: its (\d+) nearest reference clips are (.+?)\.", text)
    assert m, text
    each = re.search(r"1× each of (\d+) other labels", m.group(2))
    counts = [int(n) for n in re.findall(r"(\d+)× (?!each)", m.group(2))] + (
        [int(each.group(1))] if each else []
    )
    assert sum(counts) == int(m.group(1)), m.group(0)


def _timeline_file(tmp_path):
    x, _ = _recording(-60, seed=6)
    path = tmp_path / "party.wav"
    sf.write(path, x, SR, subtype="PCM_16")
    return path


def _find_bursts(page, path) -> None:
    box = page.locator("#timeline-audio")
    if box.locator("input[type=file]").count() == 0:  # a file is in the box: clear it first
        box.get_by_label("Clear", exact=True).click()
        # the player gone and the empty box's file input in place before the next file is set
        box.get_by_label("Play", exact=True).wait_for(state="detached", timeout=TIMEOUT_MS)
        box.locator("input[type=file]").wait_for(state="attached", timeout=TIMEOUT_MS)
    box.locator("input[type=file]").set_input_files(str(path))
    # a player for a sound, the file's name for one the box cannot play (it keeps a hidden player)
    box.get_by_label("Play", exact=True).or_(box.get_by_text(path.name)).filter(visible=True).first.wait_for(
        timeout=TIMEOUT_MS
    )
    page.locator("#timeline-btn").click()


#: Cells of the Timeline table on screen (the table also keeps hidden rows to measure columns).
CELLS = "#timeline-table [role=gridcell], #timeline-table tbody td"
ROWS = (
    f"[...document.querySelectorAll('{CELLS}')].filter(c => c.getBoundingClientRect().height > 0 "
    "&& c.innerText.trim()).length"
)
#: For every table cell: the words whose letters the browser laid out on more than one line.
BROKEN_WORDS = r"""() => { const out = [];
  for (const cell of document.querySelectorAll('#timeline-table [role=gridcell], #timeline-table tbody td')) { if (!cell.getBoundingClientRect().height) continue;
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      for (const m of n.textContent.matchAll(/[A-Za-z]{2,}/g)) {
        const r = document.createRange(); r.setStart(n, m.index); r.setEnd(n, m.index + m[0].length);
        const tops = new Set([...r.getClientRects()].map(q => Math.round(q.top)));
        if (tops.size > 1) out.push(m[0]); } } }
  return out; }"""


@pytest.mark.parametrize(("size", "theme"), SIZES, ids=IDS)
def test_timeline_errors_stay_and_clear_the_result_and_no_word_is_broken(open_page, tmp_path, size, theme):
    page = open_page(size, theme)
    page.get_by_role("tab", name="Timeline").click()
    page.locator("#timeline-speech input[type=checkbox]").uncheck()  # speed: no Whisper here
    _find_bursts(page, _timeline_file(tmp_path))
    summary = page.locator("#timeline-summary")
    summary.get_by_text("vocal bursts in party.wav").wait_for(timeout=TIMEOUT_MS)
    page.wait_for_function(f"() => ({ROWS}) > 0", timeout=TIMEOUT_MS)
    assert page.evaluate(BROKEN_WORDS) == []  # "st ar t", "Distr ess" on a phone, before
    page.locator("#timeline-files").wait_for(state="visible", timeout=TIMEOUT_MS)  # the downloads, now
    assert page.locator("#timeline-plot .barlayer .point").count() > 1

    bad = tmp_path / "notes.wav"
    bad.write_text("not a sound\n" * 20)
    _find_bursts(page, bad)
    status = page.locator("#timeline-status")
    status.get_by_text("text file, not audio").wait_for(timeout=TIMEOUT_MS)
    assert "vocal bursts in party.wav" not in summary.inner_text()  # the previous result went
    assert page.locator("#timeline-plot .barlayer .point").count() == 0
    assert page.evaluate(f"() => {ROWS}") == 0
    page.locator("#timeline-files").wait_for(state="hidden", timeout=TIMEOUT_MS)
    # It stays: a panel in the page, not a toast (none is shown) and no bare "Error" badge.
    page.wait_for_function("() => !document.querySelector('.toast-body')", timeout=TIMEOUT_MS)
    assert status.is_visible() and "text file, not audio" in status.inner_text()
    assert page.locator("#timeline-plot").get_by_text("Error", exact=True).count() == 0


def _share_link(page) -> str:
    page.evaluate("navigator.clipboard.writeText('')")  # one clipboard for the whole browser
    page.locator(".share-link").first.click()
    page.wait_for_function("() => navigator.clipboard.readText().then(t => /deep_link=/.test(t))",
                           timeout=TIMEOUT_MS)  # fmt: skip
    return page.evaluate("navigator.clipboard.readText()")


def test_a_share_link_reopens_that_visitors_result_and_never_anothers(open_page):
    alice, bob = open_page(), open_page()
    _run_example(alice, "Amusement")
    _run_example(bob, "Sadness")
    links = {"amusement_": _share_link(alice), "sadness_": _share_link(bob)}
    assert links["amusement_"] != links["sadness_"]
    _run_example(alice, "Fear")  # Alice goes on: her link keeps what she shared
    alice.wait_for_function("() => (document.querySelector('#summary') || {innerText: ''}).innerText.includes('fear_')",
                            timeout=TIMEOUT_MS)  # fmt: skip
    for clip, link in links.items():
        other = next(c for c in links if c != clip)
        for _ in range(2):  # a fresh visitor each time, twice (no link shows whoever opened last)
            visitor = open_page(url=link)
            summary = visitor.locator("#summary")
            visitor.wait_for_function("c => (document.querySelector('#summary') || {innerText: ''}).innerText.includes(c)",
                                      arg=clip, timeout=TIMEOUT_MS)  # fmt: skip
            assert other not in summary.inner_text() and "fear_" not in summary.inner_text()
