"""The sentences shown for out-of-domain and non-voice clips."""

from __future__ import annotations

from nver_demo import voice_check
from nver_demo.app import trust_text
from nver_demo.predict import Prediction


def _pred(**kw) -> Prediction:
    p = Prediction(
        "Amusement", {"Amusement": 0.6, "Relief": 0.4}, {}, {}, reliability="Right 40 % of the time."
    )
    for k, v in kw.items():
        setattr(p, k, v)
    return p


def test_in_domain_keeps_its_reliability_and_has_no_warning():
    p = _pred(novelty=2.0, novelty_threshold=7.8)
    assert trust_text.warnings(p, {}) == [] and not trust_text.muted(p)
    assert trust_text.reliability_sentence(p) == "Right 40 % of the time."


def test_novel_clip_gets_the_guess_sentence_and_no_accuracy():
    p = _pred(novelty=9.5, novelty_threshold=7.8, out_of_domain=True, ood_reasons=["novel"])
    [w] = trust_text.warnings(p, {"training": {"n_clips": 17526}})
    assert "unlike the 17,526 vocal bursts" in w and "guess" in w and "9.5" in w
    assert trust_text.reliability_sentence(p) == trust_text.NOT_QUOTED and trust_text.muted(p)
    assert not trust_text.answer_withheld(p)


def test_no_voice_comes_first_and_withholds_the_answer():
    p = _pred(novelty=20.0, novelty_threshold=7.8, out_of_domain=True, ood_reasons=["novel"])
    p.mark_voice(voice_check.VoiceCheck(False, ["tonal"], {}))
    ws = trust_text.warnings(p, {})
    assert ws[0].startswith("This does not sound like a voice (a steady tone or chord)")
    assert len(ws) == 2 and trust_text.answer_withheld(p) and p.reliability is None
    assert p.ood_reasons == ["novel", "no voice: tonal"]


def test_sentences_join_the_clip_warnings_once():
    warnings = ["a"]
    trust_text.add_to_clip(warnings, ["b", "a"])
    trust_text.add_to_clip(warnings, ["b"])
    assert warnings == ["a", "b"]


def test_examples_say_what_they_meant():
    assert trust_text.meant("examples/amusement_000292-02-2.mp3") == "meant: Amusement"
    assert trust_text.meant("/tmp/upload.wav") is None


def test_what_the_page_shows_for_a_guess_and_for_no_voice():
    from nver_demo.app import plots, report

    p = _pred(novelty=9.5, novelty_threshold=7.8, out_of_domain=True, ood_reasons=["novel"])
    text = report.family_markdown(p)
    assert trust_text.NOT_QUOTED in text and "Right 40 %" not in text
    bars = plots.probability_bars(p.probs, 0.5, muted=True)
    assert set(bars.data[0].marker.color) == {plots.MUTED_COLOUR}
    assert plots.TOP_COLOUR in plots.probability_bars(p.probs, 0.5).data[0].marker.color
    p.mark_voice(voice_check.VoiceCheck(False, ["tonal"], {}))
    text = report.family_markdown(p)
    assert text.startswith("**No emotion is given**") and "Amusement" not in text
