"""Comparing models on one clip: which emotion most of them pick, and which models a request may
compare (the Compare tab's logic; plain data, no models)."""

from __future__ import annotations

from dataclasses import dataclass

from ..predict import Prediction
from . import catalog


@dataclass
class Agreement:
    majority: str
    votes: int
    n: int
    rows: list[list]  # per model: name, top label, its prob, prob of the majority label, agrees


def agreement(preds: dict[str, Prediction]) -> Agreement:
    """Top-1 vote across models; ties go to the label with the larger summed probability."""
    votes: dict[str, int] = {}
    mass: dict[str, float] = {}
    for p in preds.values():
        votes[p.label] = votes.get(p.label, 0) + 1
        for lab, v in p.probs.items():
            mass[lab] = mass.get(lab, 0.0) + v
    majority = max(votes, key=lambda lab: (votes[lab], mass[lab]))
    rows = [
        [name, p.label, round(100 * p.probs[p.label], 1), round(100 * p.probs.get(majority, 0.0), 1),
         "✓" if p.label == majority else "✗"]
        for name, p in preds.items()
    ]  # fmt: skip
    return Agreement(majority, votes[majority], len(preds), rows)


def check_selection(selection: list[str] | str | None) -> list[str]:
    """The models of a comparison, without repeats; ModelUnavailable with a sentence when none.
    Whatever a client sent becomes a list of strings (an odd one is then an unknown model).
    (Their cost is bounded by :data:`MAX_BACKBONES`, checked by :func:`load_models`.)"""
    if selection is None:
        selection = []
    elif not isinstance(selection, (list, tuple)):
        selection = [selection]
    selection = [s if isinstance(s, str) else str(s) for s in selection if s not in (None, "")]
    if not selection:
        raise catalog.ModelUnavailable("Select at least one model to compare.")
    return list(dict.fromkeys(selection))
