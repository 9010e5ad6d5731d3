""" "Tune to my voice": a visitor's own earlier clips as a speaker enrolment.

What the Analyze tab keeps is the *embeddings* of the clips a visitor analysed in this browser
session, in that session's state only (:class:`VoiceClips`): never written on the server, capped,
cleared with one click and when the session ends. From the model's break-even (its checkpoint's
``enrolment.min_clips``) on, the speaker-enrolled head reads each new clip normalised by them.
"""

from __future__ import annotations

from ..enrolment import Enrolment
from ..predict import Prediction, Predictor


def enrolled(predictor: Predictor, pred: Prediction, enrol: list[dict]) -> tuple[Prediction, str]:
    """``pred`` read again by the speaker-enrolled head, normalised by ``enrol`` (the visitor's other
    clips' embeddings for this model's backbones), with a sentence on what it used and bought in CV.
    Below the model's break-even, or for a model without an enrolled head, ``pred`` is unchanged."""
    need = predictor.min_enrolment_clips
    usable = [e for e in enrol if all(b in e for b in predictor.backbones)]
    if need is None:
        return pred, ""
    cv = (predictor.meta.get("enrolment") or {}).get("cv") or {}
    bought = (f" (in cross-validation on unseen speakers, 10 clips moved macro-F1 from {cv['0']['macro_f1']:.1f} "
              f"to {cv['10']['macro_f1']:.1f})" if "0" in cv and "10" in cv else "")  # fmt: skip
    if len(usable) < need:
        return pred, (f"Tune to my voice: {len(usable)} of your earlier clips so far; from {need} on, the answer "
                      f"is tuned to your voice{bought}.")  # fmt: skip
    tuned = predictor.predict_embeddings(pred.embeddings, Enrolment.from_embeddings(usable))
    if pred.voice is not None:
        tuned.mark_voice(pred.voice)
    tuned.timings = {**pred.timings, "enrolled head": tuned.timings["head"]}
    return tuned, f"Tuned to your voice with {tuned.enrolment_clips} of your earlier clips{bought}."


#: Clips a session keeps (the newest): past a few tens the enrolment mean hardly moves (data.md: k = 30
#: scored 34.3 against 34.6 for all ~89 other clips), and each is only a few kB of floats.
MAX_CLIPS = 40


def remember(clips: list[dict] | None, pred: Prediction) -> list[dict]:
    """The session's clips with this prediction's embeddings added (the newest :data:`MAX_CLIPS`).
    Only clips that sound like a voice and are not out of domain are kept: a tone or a cough would
    pull the mean away from the speaker's bursts."""
    clips = list(clips or [])
    if pred.out_of_domain or not pred.embeddings:
        return clips
    clips.append({b: v.copy() for b, v in pred.embeddings.items()})
    return clips[-MAX_CLIPS:]


def status(clips: list[dict] | None) -> str:
    n = len(clips or [])
    if not n:
        return (
            "No clips of yours are kept. With **Tune to my voice** on, the embeddings (not the sound) of the "
            "clips you analyse are kept in this browser session only, to tune later answers to your voice."
        )
    return (f"{n} of your clips (their embeddings only) are kept in this browser session, on this page only: "
            "they are dropped when you close it or click **Forget my clips**.")  # fmt: skip


#: Enrolment files an API call may send: enough for the break-even and more, bounded in cost.
MAX_FILES = 30
