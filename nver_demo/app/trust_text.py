"""What the visitor is told when a clip is unlike the training bursts or is not a voice.

Plain data in, sentences out (no Gradio): the tabs call these and show what they return. The
verdicts themselves come from the model side: :attr:`Prediction.out_of_domain`,
:attr:`Prediction.novelty` (:mod:`nver_demo.novelty`) and :attr:`Prediction.voice`
(:mod:`nver_demo.voice_check`).
"""

from __future__ import annotations

import csv
import functools
import time
from pathlib import Path

import numpy as np

from .. import voice_check
from ..predict import Prediction, Predictor

#: EmoGator's size, for the sentence when a checkpoint does not say how many clips it learnt from.
EMOGATOR_CLIPS = 26_000
NOVEL = (
    "This sound is unlike the {n:,} vocal bursts the model learnt from (novelty {score:.1f}, "
    "threshold {thr:.1f}): its answer is a guess."
)
NOT_QUOTED = (
    "No accuracy is quoted for this answer: the model's accuracy was measured on EmoGator vocal "
    "bursts, and this clip is unlike them."
)
EXAMPLES_CSV = Path(__file__).resolve().parents[2] / "examples" / "examples.csv"


def trained_clips(meta: dict) -> int:
    """How many clips a checkpoint learnt from (its training record), else EmoGator's size."""
    n = (meta.get("training") or {}).get("n_clips")
    return int(n) if isinstance(n, int) and n > 0 else EMOGATOR_CLIPS


def no_voice_sentence(pred: Prediction) -> str | None:
    """'This does not sound like a voice (...)': the signal checks' sentence, or None."""
    return pred.voice.warning if pred.voice is not None else None


def novel_sentence(pred: Prediction, meta: dict) -> str | None:
    """'This sound is unlike the N vocal bursts the model learnt from...', or None when in domain
    (or when the checkpoint has no novelty threshold)."""
    if "novel" not in pred.ood_reasons or pred.novelty is None or pred.novelty_threshold is None:
        return None
    return NOVEL.format(n=trained_clips(meta), score=pred.novelty, thr=pred.novelty_threshold)


def warnings(pred: Prediction, meta: dict) -> list[str]:
    """The sentences to show beside a prediction, most important first: no voice, then novelty."""
    return [s for s in (no_voice_sentence(pred), novel_sentence(pred, meta)) if s]


def reliability_sentence(pred: Prediction) -> str | None:
    """The reliability line to show: the calibrated in-domain one, or, for an out-of-domain clip,
    :data:`NOT_QUOTED` (an in-domain accuracy is never quoted for it)."""
    return NOT_QUOTED if pred.out_of_domain else pred.reliability


def muted(pred: Prediction) -> bool:
    """True when the bars should be drawn muted (out of domain: the answer is a guess)."""
    return pred.out_of_domain


def answer_withheld(pred: Prediction) -> bool:
    """True when no emotion should be presented as the answer (the clip is not a voice)."""
    return pred.voice is not None and not pred.voice.is_voice


def add_to_clip(clip_warnings: list[str], sentences: list[str]) -> None:
    """Append sentences to a clip's warnings once each (Compare runs several models)."""
    clip_warnings.extend(s for s in sentences if s not in clip_warnings)


def check_clip(
    wave: np.ndarray,
    sr: int,
    clip_warnings: list[str],
    preds: dict[str, Prediction],
    predictors: list[Predictor],
) -> float:
    """Run the signal checks on a clip once, mark every model's prediction with the verdict and add
    the no-voice / unlike-the-training-bursts sentences to ``clip_warnings``. Returns the seconds
    the checks took."""
    t0 = time.perf_counter()
    check = voice_check.check(wave, sr)
    seconds = time.perf_counter() - t0
    for p in predictors:
        add_to_clip(clip_warnings, warnings(preds[p.name].mark_voice(check), p.meta))
    return seconds


@functools.cache
def _example_labels(path: Path = EXAMPLES_CSV) -> dict[str, str]:
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        return {
            row["file"]: row["label"] for row in csv.DictReader(f) if row.get("file") and row.get("label")
        }


def meant(example: str | Path) -> str | None:
    """'meant: Amusement' for an example clip (its true EmoGator label), None for other files."""
    label = _example_labels().get(Path(str(example)).name)
    return f"meant: {label}" if label else None
