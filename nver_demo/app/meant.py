"""What an example clip was meant to be: its EmoGator label (``examples/examples.csv``), and the
sentence that tells a visitor whether the model's answer is a hit or a miss. No Gradio: the
Analyze tab (and anything else that shows a result on an example) calls these."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .clips import Example


def meant_label(clip_name: str | Path | None, examples: Sequence[Example]) -> str | None:
    """The label an example clip was recorded as (``"Amusement"``), matched by file name (the
    page hands Gradio's copy of the example, which keeps the name); ``None`` for any other clip."""
    if not clip_name:
        return None
    name = Path(clip_name).name
    return next((e.label for e in examples if e.path.name == name), None)


def _rank(probs: dict[str, float], label: str) -> int:
    ordered = sorted(probs, key=probs.get, reverse=True)
    return ordered.index(label) + 1 if label in ordered else 0


def meant_markdown(meant: str | None, probs: dict[str, float]) -> str:
    """``"**Meant: Amusement** (the speaker's brief in EmoGator) · the model's top emotion,
    Contempt, is a miss: Amusement ranks 4th of 30 (9 %)."``; empty when ``meant`` is None."""
    if not meant:
        return ""
    top = max(probs, key=probs.get)
    head = f"**Meant: {meant}** (what the EmoGator speaker was asked to express)"
    if top == meant:
        return f"{head} · the model's top emotion is **a hit**."
    rank = _rank(probs, meant)
    where = (
        f"{meant} ranks {_ordinal(rank)} of {len(probs)} ({probs[meant] * 100:.0f} %)"
        if rank
        else "this model does not know that label"
    )
    return f"{head} · the model's top emotion, {top}, is **a miss**: {where}."


def button_labels(
    examples: Sequence[Example], clip_name: str | Path | None = None, top: str | None = None
) -> list[str]:
    """The example buttons' text: each names its true label; after a run on one of them
    (``clip_name``), that button also says what the model heard (``"Amusement → heard Contempt ✗"``)."""
    name = Path(clip_name).name if clip_name else None
    out = []
    for e in examples:
        if top is not None and e.path.name == name:
            out.append(f"{e.label} → heard {top} {'✓' if top == e.label else '✗'}")
        else:
            out.append(e.label)
    return out


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
