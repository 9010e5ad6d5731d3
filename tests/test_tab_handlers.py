"""The tabs' event functions without a browser, on what they return for the page: Compare (a run,
a bad clip, a new clip or selection under a result), Analyze (re-map, re-run on a model change,
the model note), Live (start, chunks, stop), the feedback box, the combination picker and the
Timeline's row click. Real checkpoints of the fast subset (tests/quick_checkpoints.py); the
speech gate is left out (its Whisper model is the gate's own test)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import soundfile as sf

from nver_demo import backbones, families
from nver_demo.app import catalog, feedback, live, service, speech_gate
from nver_demo.app.tabs import analyze, common, compare, pickers
from nver_demo.app.tabs import feedback as feedback_tab
from nver_demo.app.tabs import live as live_tab
from nver_demo.app.tabs import timeline as timeline_tab
from nver_demo.predict import Prediction
from tests import quick_checkpoints as qc

SKIP = gr.skip()


@pytest.fixture
def ctx(tmp_path, monkeypatch) -> common.Context:
    def no_gate():
        raise backbones.WeightsUnavailable("not in this test")

    monkeypatch.setattr(speech_gate, "get_gate", no_gate)
    qc.save(tmp_path / "ck" / "lda-quick", umap=True)
    qc.save(tmp_path / "ck" / "lda-plain")
    service.get_predictor.cache_clear()
    return common.Context(catalog.models(tmp_path / "ck", hub=False, local=False))


@pytest.fixture
def clip(tmp_path) -> str:
    path = tmp_path / "higher.wav"
    sf.write(path, qc.clip("higher", 2, seconds=1.2), qc.SR)
    return str(path)


@pytest.fixture
def text_file(tmp_path) -> str:
    path = tmp_path / "notes.wav"
    path.write_text("not a sound\n" * 40)
    return str(path)


def _hidden(update) -> bool:
    return update == gr.update(value=None, visible=False)


# --- Compare ---------------------------------------------------------------------------------


def test_compare_page_shows_every_model_and_writes_the_downloads(ctx, clip):
    out = dict(zip(compare.OUTPUTS, compare.Compare(ctx).page(clip, ["lda-quick", "lda-plain"]), strict=True))
    assert out["status"] == gr.update(value="", visible=False)  # no error panel
    assert set(out["details"]["models"]) == {"lda-quick", "lda-plain"}
    assert len(out["table"]) == 2 and out["shown"] == clip
    assert out["papers"]["visible"] is False  # no paper numbers for these models
    assert out["files"]["visible"] is True
    csv_path, json_path = map(Path, out["files"]["value"])
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text())))
    assert len(rows) == 2 * len(qc.LABELS) and {r["clip"] for r in rows} == {"higher.wav"}
    for name in ("lda-quick", "lda-plain"):
        mine = [r for r in rows if r["model"] == name]
        assert abs(sum(float(r["probability"]) for r in mine) - 1) < 1e-4
        [top] = [r for r in mine if r["top"] == "True"]
        assert top["emotion"] == out["details"]["models"][name]["label"]
    assert json.loads(json_path.read_text()) == out["details"]


def test_compare_page_with_a_bad_clip_clears_the_result_and_says_why(ctx, text_file):
    out = dict(zip(compare.OUTPUTS, compare.Compare(ctx).page(text_file, ["lda-quick"]), strict=True))
    assert out["status"]["visible"] and "notes.wav" in out["status"]["value"]
    assert out["status"]["elem_classes"] == ["status-panel"]
    assert out["bars"] is out["table"] is out["details"] is out["shown"] is None
    assert _hidden(out["papers"]) and _hidden(out["files"]) and out["summary"] == common.EMPTY_SUMMARY


def test_compare_follows_a_new_clip_or_selection_under_a_result(ctx, clip):
    tab = compare.Compare(ctx)
    assert tab.clip_changed(clip, None) == tuple(SKIP for _ in compare.OUTPUTS)  # nothing on screen
    assert tab.clip_changed(clip, clip) == tuple(SKIP for _ in compare.OUTPUTS)  # the same clip
    out = dict(zip(compare.OUTPUTS, tab.clip_changed("other.wav", clip), strict=True))
    assert out["status"]["elem_classes"] == ["stale-panel"] and "A new clip" in out["status"]["value"]
    assert out["bars"] is None and _hidden(out["files"])
    assert compare.Compare.selection_changed(None) == SKIP
    stale = compare.Compare.selection_changed(clip)
    assert stale["elem_classes"] == ["stale-panel"] and "selection changed" in stale["value"]


# --- Analyze ---------------------------------------------------------------------------------


def test_analyze_remap_redraws_the_map_of_the_result_on_screen(ctx, clip):
    tab = analyze.Analyze(ctx)
    assert analyze.Analyze.remap(None, "UMAP", "fused") == (SKIP, SKIP)
    state = tab.page(clip, "lda-plain", "PCA", "fused")[9]
    assert state["model"] == "lda-plain" and state["pred"].label in qc.LABELS
    fig, note = analyze.Analyze.remap(state, "UMAP", "fused")  # lda-plain stores no UMAP layout
    assert "showing PCA" in note and len(fig.data) >= 2
    quick = tab.page(clip, "lda-quick", "PCA", "fused")[9]
    fig, note = analyze.Analyze.remap(quick, "UMAP", "fused")
    assert "showing PCA" not in note and len(fig.data) >= 2


def test_analyze_rerun_on_a_model_change(ctx, clip):
    tab = analyze.Analyze(ctx)
    assert tab.rerun(None, "lda-plain", "PCA", "fused")[1] is None  # no clip: cleared
    plain = tab.rerun(clip, "lda-plain", "PCA", "fused")
    assert plain[1] is not None and plain[9]["model"] == "lda-plain"
    tuned = tab.rerun(clip, "lda-quick", "PCA", "fused", tune=True, voice=None)
    assert tuned[9]["model"] == "lda-quick" and tuned[-2:] == (SKIP, SKIP)  # the clip is not kept again


def test_analyze_cleared_leaves_nothing_of_an_old_result(ctx):
    out = analyze.Analyze(ctx).cleared("Pick a model first.")
    assert out[0]["visible"] and "Pick a model" in out[0]["value"]
    assert out[1] is None and out[3] is None and out[4] is None and out[7] is None and out[9] is None
    assert out[6] == common.EMPTY_SUMMARY and _hidden(out[8]) and out[-2:] == (SKIP, SKIP)


def test_analyze_model_note_and_map_views(ctx):
    note, views = analyze.Analyze(ctx).on_model("lda-quick")
    assert "lda-quick" in note or "LDA" in note or "lda" in note
    assert views["value"] == "fused" and [k for _, k in views["choices"]] == ["fused", "backbone1"]
    _, none = analyze.Analyze(ctx).on_model("no-such-model")
    assert [k for _, k in none["choices"]] == ["fused"]


# --- Live ------------------------------------------------------------------------------------


def _chunks(seconds: float, every: float = live.EVERY_S):
    x = np.concatenate([qc.clip(lab, 1, seconds=0.6) for lab in ("high", "higher", "mid", "low")] * 3)
    x = (x[: int(seconds * qc.SR)] * 32767).astype(np.int16)
    n = int(every * qc.SR)
    return [(qc.SR, x[i : i + n]) for i in range(0, len(x), n)]


def test_live_start_stream_and_finish(ctx):
    tab = live_tab.LiveTab(ctx)
    label, fam, meter, strip, session = tab.start()
    assert (label, fam, meter) == (None, "", "listening…") and session.samples == 0
    assert tab.stream(None, session) == (SKIP, SKIP, SKIP, SKIP, session)
    assert tab.finish(session) == (common.status(), SKIP, SKIP, SKIP)  # nothing recorded yet
    answers = []
    for chunk in _chunks(3.0):
        out = tab.stream(chunk, session)
        assert out[4] is session
        if out[0] != SKIP:
            answers.append(out)
    assert session.runs == len(answers) >= 4 and abs(session.seconds - 3.0) < 0.05
    probs, line, meter, strip, _ = answers[-1]
    assert set(probs) == set(qc.LABELS) and line == f"**{session.last.label}**"  # no EmoGator family
    assert meter.startswith("live · ") and "<" in strip
    status, final, fam, summary = tab.finish(session)
    assert status == common.status() and set(final) == set(qc.LABELS)  # the whole recording's bars
    assert abs(sum(final.values()) - 1) < 1e-4 and isinstance(fam, str)
    assert "live-recording-" in summary and "of 3.0 s." in summary  # the whole recording, 3 s
    assert list(tab.folder.iterdir()) == []  # the recording's file is gone with the request


def test_live_finish_of_a_recording_too_short_to_analyse_says_so(ctx):
    tab = live_tab.LiveTab(ctx)
    session = live.Session()
    tab.stream((qc.SR, np.zeros(qc.SR // 20, np.int16)), session)  # 50 ms of silence
    status, final, fam, summary = tab.finish(session)
    assert status["visible"] and status["elem_classes"] == ["status-panel"] and status["value"]
    assert (final, fam, summary) == (None, "", common.EMPTY_SUMMARY)
    assert list(tab.folder.iterdir()) == []


def test_live_stream_survives_a_lost_session_and_reports_a_bad_chunk(ctx, monkeypatch):
    tab = live_tab.LiveTab(ctx)
    out = tab.stream(_chunks(0.5)[0], None)  # the page lost its state: a new session
    assert isinstance(out[4], live.Session) and out[4].samples == qc.SR // 2

    def broken(session, sr, x, predict):
        raise live.audio.AudioError("This chunk could not be read.")

    monkeypatch.setattr(live, "step", broken)
    session = live.Session()
    out = tab.stream(_chunks(0.5)[0], session)
    assert session.stopped and out[2] == "This chunk could not be read." and out[0] == SKIP


def test_family_line_names_the_family_its_share_and_the_top_label():
    fam = families.FAMILIES[0]
    label = sorted(fam.members)[0]
    pred = Prediction(label, {label: 0.6, "x": 0.4}, {}, {}, families={fam.name: 0.734})
    line = live_tab.family_line(pred)
    assert f"**{fam.name}**" in line and "73 %" in line and line.endswith(f"top: {label}")
    assert fam.color in line and f"({fam.valence}, {fam.arousal})" in line
    assert live_tab.family_line(Prediction("low", {"low": 1.0}, {}, {})) == "**low**"


# --- feedback, pickers, timeline ---------------------------------------------------------------


def test_feedback_box_keeps_a_report_only_with_consent(tmp_path, ctx, clip):
    box = feedback_tab.FeedbackBox(feedback.FeedbackStore(True, tmp_path / "fb"))
    state = analyze.Analyze(ctx).page(clip, "lda-plain", "PCA", "fused")[9]
    msg, consent = box.send(clip, None, "mid", True)
    assert "Analyse a sound first" in msg and consent == SKIP
    msg, consent = box.send(clip, state, "mid", False)
    assert "tick the box" in msg and consent == SKIP and not (tmp_path / "fb").exists()
    msg, consent = box.send(clip, state, "mid", True)
    assert msg == "Thank you: kept, with **mid** as the emotion you meant." and consent is False
    [kept] = list((tmp_path / "fb").iterdir())
    record = json.loads((kept / "labels.json").read_text())
    assert (
        record["meant"] == "mid"
        and record["predicted"] == state["pred"].label
        and record["model"] == "lda-plain"
    )
    assert feedback_tab.FeedbackBox.choices(state) == gr.update(choices=sorted(qc.LABELS), value=None)
    assert feedback_tab.FeedbackBox.choices(None) == gr.update(choices=[], value=None)


def test_the_combination_picker_shows_the_second_backbone_for_fusion_heads_only(ctx):
    p = pickers.Pickers(ctx)
    second, note = p.on_combination("reno", "whisper-base", "ge2e")
    assert second == gr.update(visible=True) and "reno-whisper-base+ge2e" in note
    second, note = p.on_combination("lda", "whisper-base", "ge2e")
    assert second == gr.update(visible=False) and "lda-whisper-base" in note and "ge2e" not in note


def test_a_timeline_row_click_selects_that_burst():
    class Evt:
        index = (3, 1)

    assert timeline_tab.TimelineTab.row_selected(Evt()) == 3
    assert timeline_tab.TimelineTab.row_selected(None) == SKIP


# --- Timeline ----------------------------------------------------------------------------------


@pytest.fixture
def party(tmp_path) -> str:
    """9 s: three bursts of different pitch between pauses."""
    x = np.zeros(9 * qc.SR, np.float32)
    for k, (lab, at) in enumerate((("low", 1.0), ("high", 4.0), ("highest", 7.0))):
        b = qc.clip(lab, k, seconds=0.8)
        x[int(at * qc.SR) : int(at * qc.SR) + len(b)] += b
    path = tmp_path / "party.wav"
    sf.write(path, x, qc.SR)
    return str(path)


def _no_progress(*args, **kwargs):
    return None


def test_timeline_page_shows_the_first_burst_and_offers_every_one(ctx, party):
    from nver_demo.app import timeline_view

    tab = timeline_tab.TimelineTab(ctx)
    out = dict(zip(timeline_tab.PAGE_OUTPUTS, tab.page(party, "lda-plain", False, _no_progress), strict=True))
    tl = out["state"]["timeline"]
    assert out["status"] == common.status() and out["state"]["path"] == party and len(tl.rows) == 3
    picks = timeline_view.choices(tl)
    assert out["pick"] == gr.update(choices=picks, value=picks[0][1]) and picks[0][1] == 0
    assert out["plot"].to_json() == timeline_view.figure(tl, selected=0).to_json()  # burst 0 outlined
    assert out["files"]["visible"] is True and all(Path(f).is_file() for f in out["files"]["value"])
    sr, wave = out["player"]
    assert sr > 0 and abs(len(wave) / sr - (tl.rows[0].end - tl.rows[0].start)) < 0.6  # burst 0, with context
    assert out["burst_md"] == timeline_view.burst_markdown(tl, 0)
    assert out["details"] == tl.to_dict() and out["summary"] == timeline_view.markdown(tl)


def test_timeline_show_picks_a_burst_in_range_only(ctx, party):
    from nver_demo.app import timeline_view

    tab = timeline_tab.TimelineTab(ctx)
    state = tab.page(party, "lda-plain", False, _no_progress)[6]
    n = len(state["timeline"].rows)
    skip4 = (SKIP, SKIP, SKIP, SKIP)
    assert tab.show(state, n) == skip4 and tab.show(state, -1) == skip4
    assert tab.show(None, 0) == skip4 and tab.show(state, None) == skip4
    (sr, wave), bars, md, fig = tab.show(state, n - 1)
    assert sr > 0 and len(wave) > 0 and bars is not None
    assert md == timeline_view.burst_markdown(state["timeline"], n - 1)
    assert fig.to_json() == timeline_view.figure(state["timeline"], selected=n - 1).to_json()


def test_timeline_page_with_a_bad_file_clears_everything(ctx, text_file):
    out = dict(zip(timeline_tab.PAGE_OUTPUTS, timeline_tab.TimelineTab(ctx).page(text_file, "lda-plain", False,
                                                                             _no_progress), strict=True))  # fmt: skip
    assert out["status"]["visible"] and "notes.wav" in out["status"]["value"]
    assert out["state"] is None and out["pick"] == gr.update(choices=[], value=None)
    assert _hidden(out["files"]) and out["table"] is None and out["player"] is None and out["burst_md"] == ""
