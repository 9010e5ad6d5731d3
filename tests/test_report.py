"""Sentences about results: verdicts, timings, what was analysed."""

from __future__ import annotations

import numpy as np

from nver_demo import audio, families
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


def test_the_papers_numbers_are_in_their_own_table_only_for_heads_they_tested():
    from nver_demo.app import catalog

    def info(name, head, bbs):
        return catalog.ModelInfo(name, name, head, tuple(bbs), ("x", "other"), {"accuracy_mean": 40.0})

    infos = {
        "a": info("a", "reno", ["wavlm-base", "audio-mamba-base"]),
        "b": info("b", "reno", ["ge2e", "compare"]),
    }
    agree = service.agreement({"a": _pred("x"), "b": _pred("x")})
    rows = {r[0]: r for r in report.compare_rows(agree, infos)}
    assert len(rows["RENO · ge2e + compare"]) == len(report.COMPARE_HEADERS)
    assert rows["RENO · ge2e + compare"][6] == "40.0"  # one decimal, as text: never "40" beside "29.9"
    papers = {r[0]: r for r in report.paper_rows(infos)}
    assert papers == {"RENO · wavlm-base + audio-mamba-base": [
        "RENO · wavlm-base + audio-mamba-base", "83.6 / 72.6 / 72.8", "the same"]}  # fmt: skip


def test_family_line_reliability_and_calibration():
    probs = {"Amusement": 0.5, "Elation": 0.2, "Fear": 0.3}
    pred = Prediction("Amusement", probs, {}, {}, families=families.family_probs(probs),
                      reliability="When this model's top answer has 40–60 % confidence, it was right 48 %.",
                      calibrated=True)  # fmt: skip
    text = report.family_markdown(pred)
    assert (
        "Family: Joy & triumph" in text and "**70 %** in total" in text and "Amusement alone has 50 %" in text
    )
    assert "right 48 %" in text and report.CALIBRATED in text
    plain = report.family_markdown(Prediction("low", {"low": 1.0}, {}, {}))  # labels without families
    assert "Family" not in plain and report.UNCALIBRATED in plain


def test_markdown_keeps_angle_brackets_outside_code():
    text = report.md_text("A combination is written '<head>-<backbone>'; run `x <y>`.")
    assert "&lt;head&gt;-&lt;backbone&gt;" in text and "`x <y>`" in text


def test_glossary_lists_every_label_under_its_family():
    g = report.glossary_markdown()
    assert all(f"**{lab}**" in g for lab in families.GLOSSARY)
    assert g.index("Joy & triumph") < g.index("**Amusement**") < g.index("Warmth & calm")


def test_compare_says_when_all_models_agree_on_the_family():
    from types import SimpleNamespace as NS

    same = NS(predictions={"a": NS(family="Fear & pain"), "b": NS(family="Fear & pain")})
    assert report.family_agreement(same) == "**All 2 agree on the family: Fear & pain.**"
    split = NS(predictions={k: NS(family=f) for k, f in zip("abc", ["X", "Y", "X"])})
    assert report.family_agreement(split) == "**Families:** 2 of 3 say X, 1 of 3 say Y."
    assert report.family_agreement(NS(predictions={"a": NS(family="X")})) == ""
