"""nver_demo.app.live: chunks of 0.1 s make an answer each 0.5 s of sound, on the last 2 s; silence
is skipped without a model run; the meter stops by itself; the history strip shows families."""

from __future__ import annotations

import numpy as np

from nver_demo import families
from nver_demo.app import live
from nver_demo.predict import Prediction
from tests.conftest import tone

SR = 48000


class Model:
    """Records what it was asked; answers Amusement (family of the first FAMILY) or Fear."""

    def __init__(self):
        self.calls = []

    def __call__(self, wave, sr):
        self.calls.append((len(wave), sr))
        label = "Amusement" if len(self.calls) % 2 else "Fear"
        probs = {"Amusement": 0.6, "Fear": 0.4} if label == "Amusement" else {"Amusement": 0.3, "Fear": 0.7}
        return Prediction(
            label=label, probs=probs, embeddings={}, views={}, families=families.family_probs(probs)
        )


def _feed(session, model, x, chunk_s=0.1):
    n = int(chunk_s * SR)
    return [
        live.step(session, SR, (x[i : i + n] * 32767).astype(np.int16), model) for i in range(0, len(x), n)
    ]


def test_an_answer_each_half_second_of_sound_on_the_last_two_seconds():
    s, m = live.Session(), Model()
    ups = _feed(s, m, tone(3.0, SR, 300.0))
    answers = [u for u in ups if u.prediction is not None]
    assert len(answers) == 6 == len(m.calls)  # 3 s / 0.5 s
    assert m.calls[-1] == (int(live.WINDOW_S * live.SR), live.SR)  # the last 2 s, at 16 kHz
    assert m.calls[0][0] == int(0.5 * live.SR)  # at the start: what there is
    assert abs(s.seconds - 3.0) < 1e-3 and len(s.recording()) == 3 * live.SR


def test_silence_is_skipped_without_a_model_run():
    s, m = live.Session(), Model()
    quiet = 0.0003 * np.random.default_rng(0).standard_normal(2 * SR)  # -70 dBFS
    ups = _feed(s, m, quiet.astype(np.float32))
    assert m.calls == [] and any("listening" in u.status for u in ups)
    assert [f for _, f in s.history] == [None] * 4


def test_the_meter_stops_by_itself(monkeypatch):
    monkeypatch.setattr(live, "MAX_S", 1.0)
    s, m = live.Session(), Model()
    ups = _feed(s, m, tone(2.0, SR, 300.0))
    assert s.stopped and "stopped" in ups[-1].status and len(m.calls) == 1
    assert len(s.recording()) <= 1.05 * live.SR  # nothing kept after the limit


def test_the_history_strip_has_a_cell_per_answer_in_the_family_colour():
    s, m = live.Session(), Model()
    _feed(s, m, tone(1.5, SR, 300.0))
    html = live.history_html(s)
    assert html.count("class='live-cell'") == 3
    fam = {families.family_of("Amusement").name, families.family_of("Fear").name}
    assert all(families.family_of(lab).color in html for lab in ("Amusement", "Fear"))
    assert all(f in html for f in fam)  # the legend names the families seen
    assert "nothing yet" in live.history_html(None)
