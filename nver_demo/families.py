"""Emotion families: the 30 EmoGator categories grouped into six, and a glossary of the labels.

The grouping places each category by valence (pleasant / unpleasant) and arousal (activated /
calm), Russell's circumplex (J. Russell, 1980, "A circumplex model of affect"), with the
self-conscious and cognitive states kept apart as in the vocal-burst taxonomy EmoGator's
categories come from (A. Cowen, H. Elfenbein, P. Laukka, D. Keltner, 2019, "Mapping 24 emotions
conveyed by brief human vocalization", American Psychologist 74(6)). It is our grouping, not the
dataset's: EmoGator labels categories only. Families are what a user can trust more than the
exact category (cross-validated family accuracy is reported beside category accuracy).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Family:
    name: str
    valence: str
    arousal: str
    color: str  # one colour per family, for maps and timelines (colour-blind-safe Okabe-Ito)
    members: tuple[str, ...]


FAMILIES: tuple[Family, ...] = (
    Family("Joy & triumph", "pleasant", "activated", "#E69F00",
           ("Amusement", "Ecstasy", "Elation", "Pride", "Surprise (Positive)", "Triumph")),
    Family("Warmth & calm", "pleasant", "calm", "#009E73",
           ("Adoration", "Contentment", "Desire", "Relief", "Romantic Love", "Serenity", "Sympathy")),
    Family("Attention & thought", "neutral", "moderate", "#56B4E9",
           ("Awe", "Confusion", "Interest", "Neutral", "Realization")),
    Family("Fear & pain", "unpleasant", "activated", "#D55E00",
           ("Distress", "Fear", "Pain", "Surprise (Negative)")),
    Family("Anger & aversion", "unpleasant", "activated", "#CC79A7",
           ("Anger", "Contempt", "Disgust")),
    Family("Sadness & shame", "unpleasant", "calm", "#0072B2",
           ("Disappointment", "Embarrassment", "Guilt", "Sadness", "Shame")),
)  # fmt: skip

#: What each category means, and what tells it from its neighbours.
GLOSSARY: dict[str, str] = {
    "Adoration": "tender delight in someone (an 'aww' at a baby or a puppy); softer and warmer than Amusement.",
    "Amusement": "finding something funny: laughter, giggles, snorts.",
    "Anger": "hostile arousal at being wronged: growls, shouted 'argh'; louder and more activated than Contempt.",
    "Awe": "being struck by something vast or wonderful: a breathy 'whoa' or 'wow'; slower and quieter than Surprise.",
    "Confusion": "not understanding: a puzzled 'huh?' or 'hmm?', rising pitch.",
    "Contempt": "looking down on someone: a scoff, a 'pfft' or a dismissive snort; colder than Disgust.",
    "Contentment": "quiet satisfaction: a pleased 'mmm'; calmer than Elation.",
    "Desire": "wanting something or someone: an appreciative 'mmm' or a sultry sigh.",
    "Disappointment": "an expectation let down: a deflated 'aww' or a falling sigh; milder than Sadness.",
    "Disgust": "revulsion at something physically gross: 'ew', 'yuck', gagging; Contempt is aimed at people.",
    "Distress": "acute anguish or panic: whimpers, cries of alarm; less sudden than Fear, rawer than Sadness.",
    "Ecstasy": "overwhelming pleasure: long, breathy moans of delight.",
    "Elation": "joyful excitement: a happy 'woo!' or 'yay!'; not about a win, unlike Triumph.",
    "Embarrassment": "awkwardness at being seen: a nervous laugh, an 'oops' or a cringing groan.",
    "Fear": "sudden threat: a gasp or a scream of fright.",
    "Guilt": "regret at having done wrong: a remorseful groan; inward, where Embarrassment is social.",
    "Interest": "curiosity, wanting to know more: an engaged 'ooh?' or 'hmm!'.",
    "Neutral": "no particular feeling: a plain 'uh' or 'hm'.",
    "Pain": "physical hurt: 'ow', 'ouch', groans of pain.",
    "Pride": "satisfaction with one's own achievement: a self-satisfied 'hmph' or 'ha'; calmer than Triumph.",
    "Realization": "suddenly understanding: an 'oh!' or 'aha!'; about knowing, where Surprise is about the unexpected.",
    "Relief": "a worry lifted: a long exhale, 'phew'.",
    "Romantic Love": "tender, loving feeling for a partner: a warm, intimate 'mmm' or sigh.",
    "Sadness": "sorrow or loss: sobbing, crying, a heavy sigh.",
    "Serenity": "deep calm and peace: a slow, relaxed exhale.",
    "Shame": "feeling bad about oneself: a low, withdrawn groan; heavier than Embarrassment.",
    "Surprise (Negative)": "an unpleasant shock: a sharp gasp or 'oh no!'; briefer than Fear.",
    "Surprise (Positive)": "a pleasant shock: a delighted gasp or 'oh!'.",
    "Sympathy": "feeling for someone else's pain: a compassionate 'aww' or 'oh no', soft and falling.",
    "Triumph": "winning: a victorious 'yes!' or cheer; more activated than Pride.",
}

_BY_LABEL = {label: fam for fam in FAMILIES for label in fam.members}


def family_of(label: str) -> Family | None:
    """The family a category belongs to, or None for labels outside EmoGator's 30."""
    return _BY_LABEL.get(label)


def covers(labels: Sequence[str]) -> bool:
    """True when every label has a family (an EmoGator head); other datasets have none."""
    return bool(labels) and all(lab in _BY_LABEL for lab in labels)


def family_probs(probs: Mapping[str, float]) -> dict[str, float]:
    """Sum category probabilities per family, in family order; labels without a family are ignored."""
    out = {fam.name: 0.0 for fam in FAMILIES}
    for label, p in probs.items():
        fam = _BY_LABEL.get(label)
        if fam is not None:
            out[fam.name] += float(p)
    return out


def family_index(labels: Sequence[str]) -> np.ndarray:
    """``(n_labels,)`` index into FAMILIES for each label (-1 where the label has none)."""
    order = {fam.name: i for i, fam in enumerate(FAMILIES)}
    return np.array([order[_BY_LABEL[lab].name] if lab in _BY_LABEL else -1 for lab in labels])
