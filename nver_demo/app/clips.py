"""Reading an upload or a recording for the app, and the example clips it offers.

The reading itself is the package's input gate, shared with the CLI and the Python API: what a
file is and the sentences (:mod:`nver_demo.inputs`), and decoding, checking and trimming a short
clip (:mod:`nver_demo.clip_select`); both are re-exported here under the names the app uses.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from ..clip_select import (  # noqa: F401  (re-exported: the app's names for the gate)
    AMPLIFY_TO_DBFS,
    DECODE_S,
    LOUDEST_FRAME_MIN_DBFS,
    MAX_ANALYSIS_S,
    SOUND_OVER_FLOOR_DB,
    TRIM_LONGER_THAN_S,
    Clip,
    amplify_quiet_sound,
    read_clip,
    trim_silence,
)
from ..inputs import FORMATS, sniff  # noqa: F401

#: A clip shorter than this gets a "too short" warning (it is still analysed). The training clips
#: are 0.7–2 s (EmoGator: the shortest of 1,500 sampled was 0.72 s, 1 % under 1.0 s); under 0.3 s,
#: less than half the shortest, the backbones see mostly their own padding: a click, not a burst.
SHORT_CLIP_S = 0.3


@dataclass(frozen=True)
class Example:
    path: Path
    label: str
    speaker: str


def examples(folder: str | Path) -> list[Example]:
    """Example clips listed in ``folder/examples.csv`` (``file,label,speaker``)."""
    folder = Path(folder)
    index = folder / "examples.csv"
    if not index.exists():
        return []
    with open(index, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [Example(folder / r["file"], r["label"], r.get("speaker", "")) for r in rows
            if (folder / r["file"]).exists()]  # fmt: skip


def check_length(clip: Clip) -> None:
    """A clip shorter than :data:`SHORT_CLIP_S` (a record-then-stop-at-once) gets a warning."""
    seconds = len(clip.wave) / clip.sr
    if seconds < SHORT_CLIP_S:
        clip.warnings.append(
            f"The clip is very short ({seconds:.2f} s of sound): the models learnt from 0.7–2 s bursts, so "
            f"under {SHORT_CLIP_S:g} s the answer is little better than a guess. Record the whole sound."
        )
