"""The timeline run (detect -> classify each burst -> rows), its exports, and the ``/timeline``
endpoint through gradio_client."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import soundfile as sf
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from nver_demo import audio, families
from nver_demo.app import bursts, timeline, timeline_view
from nver_demo.predict import Predictor
from tests import app_server
from tests.test_bursts import SR, _recording

app_checkpoints = app_server.app_checkpoints
app_url = app_server.app_url
client = app_server.client


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> tuple[str, list[tuple[float, float]]]:
    x, truth = _recording(-60, seed=5)
    path = tmp_path_factory.mktemp("tl") / "party.wav"
    sf.write(path, x, SR, subtype="PCM_16")
    return str(path), truth


def test_run_classifies_every_burst(recording, tiny_checkpoint):
    path, truth = recording
    predictor = Predictor.load(tiny_checkpoint)
    calls = []
    tl = timeline.run(path, predictor, gate=False, progress=lambda f, what: calls.append(f), batch_size=3)
    assert len(truth) <= len(tl.rows) <= len(truth) + 2
    assert [r.start for r in tl.rows] == sorted(r.start for r in tl.rows)
    for r in tl.rows:
        assert r.label == next(iter(r.probs)) and sum(r.probs.values()) == pytest.approx(1.0, abs=1e-5)
        assert r.family is None and r.verdict == "not checked"  # the tiny model's labels have no family
    assert calls[-1] == 1.0 and calls == sorted(calls)
    assert tl.duration_s == pytest.approx(sf.info(path).duration, abs=0.01)
    # Batched run == one burst at a time through the ordinary predictor.
    x, sr = sf.read(path, dtype="float32")
    first = bursts.detect(x, sr)[0]
    assert first.start == pytest.approx(tl.rows[0].start)
    assert predictor.predict(first.wave, bursts.SAMPLE_RATE).probs == pytest.approx(
        tl.rows[0].probs, abs=1e-5
    )


def test_exports_round_trip(recording, tiny_checkpoint):
    tl = timeline.run(recording[0], Predictor.load(tiny_checkpoint), gate=False)
    rows = list(csv.DictReader(io.StringIO(tl.to_csv())))
    assert len(rows) == len(tl.rows) and rows[0]["emotion"] == tl.rows[0].label
    assert {f"p_{lab}" for lab in tl.rows[0].probs} <= set(rows[0])
    d = json.loads(tl.to_json())
    assert d["bursts"][0]["top3"][0][0] == tl.rows[0].label and d["file"] == "party.wav"
    fig = timeline_view.figure(tl)
    assert sum(len(t.x) for t in fig.data) == len(tl.rows)
    assert timeline_view.table(tl)[0][3] == tl.rows[0].label


def test_family_colours_in_the_figure():
    g = None
    rows = [timeline.Row(0.0, 1.0, "Amusement", "Joy & triumph", "#E69F00", {"Amusement": 0.6, "Awe": 0.4}, g, -20),
            timeline.Row(2.0, 3.0, "Fear", "Fear & pain", "#D55E00", {"Fear": 0.7, "Awe": 0.3}, g, -20)]  # fmt: skip
    fig = timeline_view.figure(timeline.Timeline("x.wav", "m", 4.0, rows))
    colours = {t.name: t.marker.color for t in fig.data}
    assert colours == {f.name: f.color for f in families.FAMILIES if f.name in colours}
    assert set(colours) == {"Joy & triumph", "Fear & pain"}
    assert "Amusement: 60%" in fig.data[0].hovertext[0]


def test_bad_files_are_refused_with_a_sentence(tmp_path, tiny_checkpoint):
    text = tmp_path / "notes.wav"
    text.write_text("hello")
    with pytest.raises(audio.AudioError, match="text file, not audio"):
        timeline.run(text, Predictor.load(tiny_checkpoint), gate=False)
    with pytest.raises(audio.AudioError, match="Nothing to analyse"):
        timeline.check_file(None)


def test_burst_audio_reads_only_that_stretch(recording):
    sr, x = timeline.burst_audio(recording[0], 1.0, 2.5)
    assert sr == SR and len(x) == int(1.5 * SR)


# --- over HTTP ------------------------------------------------------------------------------------


def test_timeline_endpoint(client, recording):
    path, truth = recording
    plot, table, summary, details, files = client.predict(
        handle_file(path), "reno-tiny", False, api_name="/timeline"
    )
    assert len(truth) <= len(details["bursts"]) <= len(truth) + 2
    assert len(table["data"]) == len(details["bursts"]) and details["model"] == "reno-tiny"
    assert f"{len(details['bursts'])} vocal bursts" in summary
    assert json.loads(plot["plot"])["data"]
    assert sorted(f["orig_name"].rsplit(".", 1)[1] for f in files) == ["csv", "json"]
    assert details["bursts"][0]["speech_gate"] == "not checked"


def test_timeline_endpoint_with_the_speech_gate_and_defaults(client, tmp_path):
    x = np.zeros(8 * SR, np.float32)
    from tests.test_bursts import _real_bursts

    b = _real_bursts()[0]
    x[SR : SR + len(b)] = b
    path = tmp_path / "one.wav"
    sf.write(path, x, SR)
    *_, details, _ = client.predict(handle_file(str(path)), api_name="/timeline")  # model and gate default
    assert [r["speech_gate"] for r in details["bursts"]] == ["vocal burst"]


def test_timeline_endpoint_messages(client, tmp_path):
    quiet = tmp_path / "hum.wav"
    sf.write(quiet, (0.01 * np.sin(np.arange(5 * SR) / 10)).astype(np.float32), SR)
    _, _, summary, details, files = client.predict(handle_file(str(quiet)), api_name="/timeline")
    assert details["bursts"] == [] and "No vocal bursts found" in summary and not files
    text = tmp_path / "notes.mp3"
    text.write_text("not audio")
    with pytest.raises(AppError, match="text file, not audio"):
        client.predict(handle_file(str(text)), api_name="/timeline")


def test_sounds_that_are_not_a_voice_are_not_bursts(tmp_path, tiny_checkpoint):
    """A recording of a tone, a chord, steady noise and clicks between pauses: the detector finds
    sounds, the signal checks refuse each, and none is counted as a burst."""
    from nver_demo.training import trust_sounds

    pause = np.zeros(SR, np.float32)
    parts = [
        trust_sounds.non_voice(k, 2.0, -12.0, seed=i)
        for i, k in enumerate(("tone", "chord", "pink", "clicks", "square"))
    ]
    x = np.concatenate([pause] + [p for part in parts for p in (part, pause)])
    path = tmp_path / "signals.wav"
    sf.write(path, x, SR, subtype="PCM_16")
    assert bursts.detect(x, SR)  # there are sounds to be refused
    tl = timeline.run(path, Predictor.load(tiny_checkpoint), gate=False)
    assert tl.rows == [] and tl.not_voice >= 1
    assert any("not counted as bursts" in n for n in tl.notes)
    d = tl.to_dict()
    assert d["bursts"] == [] and d["not_voice"] == tl.not_voice


def test_rows_carry_novelty_fields(recording, tiny_checkpoint):
    tl = timeline.run(recording[0], Predictor.load(tiny_checkpoint), gate=False)
    d = tl.rows[0].to_dict()
    assert {"novelty", "out_of_domain", "out_of_domain_reasons", "voice"} <= set(d)
    assert d["voice"]["is_voice"] is True  # real bursts pass the signal checks
