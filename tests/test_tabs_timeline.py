"""The Timeline tab's event functions (no browser): the page rule shared by every tab — an error's
sentence stays in the status panel and the previous result goes — and the API rule (gr.Error)."""

from __future__ import annotations

import gradio as gr
import pytest
import soundfile as sf

from nver_demo.app import catalog, timeline_view
from nver_demo.app.tabs import common
from nver_demo.app.tabs.timeline import PAGE_OUTPUTS, TimelineTab
from tests import app_server
from tests.test_bursts import SR, _recording

app_checkpoints = app_server.app_checkpoints


def no_progress(*args, **kwargs) -> None:
    """Stands in for gr.Progress outside an event."""


@pytest.fixture(scope="module")
def tab(app_checkpoints) -> TimelineTab:
    return TimelineTab(common.Context(catalog.models(app_checkpoints, hub=False, local=False)))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("tabs-tl")
    x, _ = _recording(-60, seed=5)
    sf.write(folder / "party.wav", x, SR, subtype="PCM_16")
    (folder / "notes.wav").write_text("hello")
    return {"party": str(folder / "party.wav"), "text": str(folder / "notes.wav")}


def _page(tab: TimelineTab, path: str) -> dict:
    out = tab.page(path, "reno-tiny", False, progress=no_progress)
    assert len(out) == len(PAGE_OUTPUTS)
    return dict(zip(PAGE_OUTPUTS, out))


def test_an_error_stays_on_screen_and_clears_the_previous_result(tab, files):
    ok = _page(tab, files["party"])
    assert ok["status"]["visible"] is False  # no error: the panel is hidden
    assert "vocal bursts** in party.wav" in ok["summary"] and ok["table"] and ok["state"]["timeline"].rows
    assert ok["pick"]["value"] == 0 and ok["player"][0] == SR  # the first burst is on show

    bad = _page(tab, files["text"])
    assert bad["status"]["visible"] is True and "text file, not audio" in bad["status"]["value"]
    assert bad["summary"] == common.EMPTY_SUMMARY  # the previous summary is gone...
    assert bad["plot"] == timeline_view.figure(None)  # ...and so are its timeline, table, files,
    assert bad["table"] is bad["details"] is bad["state"] is None
    assert bad["files"]["value"] is None and bad["files"]["visible"] is False  # no empty download box
    assert bad["pick"]["choices"] == [] and bad["player"] is bad["bars"] is None  # and its burst
    assert bad["burst_md"] == ""

    again = _page(tab, files["party"])  # the next run hides the panel again
    assert again["status"]["visible"] is False and "vocal bursts** in party.wav" in again["summary"]


def test_a_model_that_cannot_run_follows_the_same_rule(tab, files):
    out = dict(zip(PAGE_OUTPUTS, tab.page(files["party"], "nonsense", False, progress=no_progress)))
    assert out["status"]["visible"] is True and "Unknown model" in out["status"]["value"]
    assert out["summary"] == common.EMPTY_SUMMARY and out["state"] is None


def test_the_api_raises_the_same_sentence(tab, files):
    with pytest.raises(gr.Error, match="text file, not audio"):
        tab.run(files["text"], "reno-tiny", False, progress=no_progress)
    plot, table, summary, details, downloads = tab.run(
        files["party"], "reno-tiny", False, progress=no_progress
    )
    assert "vocal bursts** in party.wav" in summary and len(table) == len(details["bursts"]) > 0
    assert len(plot.data) > 0 and sorted(f.rsplit(".", 1)[1] for f in downloads) == ["csv", "json"]


def test_only_a_new_run_writes_the_status_panel(app_checkpoints):
    """What keeps the sentence on screen: no other event of the app touches the panel."""
    import app

    demo = app.build_demo(catalog.models(app_checkpoints, hub=False, local=False))
    [panel] = [b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "timeline-status"]
    writers = [f for f in demo.fns.values() if panel in f.outputs]
    assert [f.fn.__name__ for f in writers] == ["page"]
    assert writers[0].api_visibility == "private"  # the page event; /timeline is the API one
