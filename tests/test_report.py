"""Sentences about results: verdicts, timings, what was analysed."""

from __future__ import annotations

import numpy as np

from nver_demo import audio
from nver_demo.app import report, service
from nver_demo.app.clips import Clip
from nver_demo.predict import Prediction


def _pred(label: str) -> Prediction:
    return Prediction(
        label, {label: 0.6, "other": 0.4} if label != "other" else {"other": 0.6, "x": 0.4}, {}, {}
    )


def _comparison(labels: list[str]) -> service.Comparison:
    preds = {f"m{i}": _pred(lab) for i, lab in enumerate(labels)}
    clip = Clip(
        np.zeros(10, np.float32), 16000, "a.wav", "wav", 1.0, 0.0, 1.0, audio.ClipStats(1.0, 0.1, 0.5)
    )
    run = service.Run(preds, {"embed ge2e": 0.1}, "cpu")
    return service.Comparison(clip, preds, {}, service.agreement(preds), run, {"embed ge2e": 0.1})


def test_verdicts():
    assert "All 3 models say x" in report.compare_markdown(_comparison(["x", "x", "x"]))
    assert "2 of 3 models say x" in report.compare_markdown(_comparison(["x", "x", "y"]))
    assert "No agreement" in report.compare_markdown(_comparison(["x", "y", "z"]))
    assert "The model says x" in report.compare_markdown(_comparison(["x"]))


def test_timings_line_marks_the_slowest_stage():
    line = report.timings_line({"decode": 0.002, "embed ge2e": 1.5, "head": 0.01}, "cpu")
    assert "**embed ge2e 1.5 s**" in line and "decode 2 ms" in line and "`cpu`" in line
    assert report.timings_line({}, "cpu") == ""


def test_compare_rows_show_the_papers_numbers_only_for_pairs_it_tested():
    from nver_demo.app import catalog

    def info(name, head, bbs):
        return catalog.ModelInfo(name, name, head, tuple(bbs), ("x", "other"), {"accuracy_mean": 40.0})

    infos = {
        "a": info("a", "reno", ["wavlm-base", "audio-mamba-base"]),
        "b": info("b", "reno", ["ge2e", "compare"]),
    }
    agree = service.agreement({"a": _pred("x"), "b": _pred("x")})
    rows = {r[0]: r for r in report.compare_rows(agree, infos)}
    assert rows["RENO · wavlm-base + audio-mamba-base"][-1] == "83.6 / 72.6 / 72.8"
    assert rows["RENO · ge2e + compare"][-1] == "—" and rows["RENO · ge2e + compare"][5] == 40.0
