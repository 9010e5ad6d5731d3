"""What the tabs share: the error rule (API: gr.Error; page: the sentence, no raise; a bug still
raises) and the model choices, built once and offered by every picker."""

from __future__ import annotations

import gradio as gr
import pytest

from nver_demo import audio
from nver_demo.app import catalog
from nver_demo.app.tabs import common
from tests import app_server

app_checkpoints = app_server.app_checkpoints


def _bad_clip(path):
    raise audio.AudioError(f"'{path}' is a text file, not audio.")


def test_api_events_raise_the_sentence_as_gr_error():
    with pytest.raises(gr.Error, match="text file, not audio") as err:
        common.for_api(_bad_clip, "notes.wav")
    assert isinstance(err.value.__cause__, audio.AudioError)
    with pytest.raises(gr.Error, match="Pick a model"):
        common.for_api(lambda: (_ for _ in ()).throw(catalog.ModelUnavailable("Pick a model first.")))


def test_page_events_get_the_sentence_and_bugs_still_raise():
    assert common.attempt(_bad_clip, "notes.wav") == (None, "'notes.wav' is a text file, not audio.")
    assert common.attempt(lambda x: x + 1, 1) == (2, "")
    with pytest.raises(ZeroDivisionError):  # not a human error: never shown as one, never swallowed
        common.attempt(lambda: 1 / 0)


def test_status_panel_shows_errors_and_stale_notes_or_hides():
    assert common.status() == gr.update(value="", visible=False)
    error = common.status("Unknown model '<x>'.")
    assert error["visible"] and error["elem_classes"] == ["status-panel"] and "&lt;x&gt;" in error["value"]
    assert common.status("press **Compare**", "stale")["elem_classes"] == ["stale-panel"]


def test_every_picker_offers_the_choices_built_once(app_checkpoints):
    import app

    infos = catalog.models(app_checkpoints, hub=False, local=False)
    ctx = common.Context(infos)
    assert ctx.choices == [(m.choice_label(), m.name) for m in infos] and ctx.default == "reno-tiny"
    demo = app.build_demo(infos)
    by_id = {getattr(b, "elem_id", None): b for b in demo.blocks.values()}
    for picker in ("model", "timeline-model", "compare-models"):
        assert by_id[picker].choices == ctx.choices, picker
    assert by_id["model"].value == by_id["timeline-model"].value == "reno-tiny"
