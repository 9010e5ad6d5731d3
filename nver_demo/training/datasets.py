"""Dataset readers: a labelled list of clips, with speakers where known.

- :func:`read_csv`: any ``path,label[,speaker]`` CSV (paths relative to the CSV's folder);
  ASVP-ESD and JNV fit here.
- :func:`read_emogator`: EmoGator's ``labels.csv`` (30 vocal-burst categories).
- :func:`read_vivae`: VIVAE, labels and speakers parsed from ``S<spk>_<emotion>_<intensity>_<idx>.wav``.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

#: Default location of the EmoGator sample beside the project checkout.
EMOGATOR_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "emogator"
#: 100 more EmoGator contributors (re-encoded 16 kHz mono mp3), used with EMOGATOR_DIR when present.
EMOGATOR_EXTRA_DIR = EMOGATOR_DIR.parent / "emogator_extra"
#: The last 97 contributors not kept back for testing (Ogg/Opus 20 kbps, 16 kHz mono), used when present.
EMOGATOR_MORE_DIR = EMOGATOR_DIR.parent / "emogator_more"


@dataclass(frozen=True)
class Item:
    path: Path
    label: str
    speaker: str | None = None


@dataclass
class Dataset:
    """Clips with labels. ``labels`` fixes the class order used by heads and checkpoints."""

    name: str
    items: list[Item]
    description: str = ""
    labels: list[str] = field(default_factory=list)
    #: Where the clips came from: one dict per folder (``folder``, ``clips``, ``speakers``).
    sources: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.items:
            raise ValueError(f"Dataset {self.name!r} has no clips")
        if not self.labels:
            self.labels = sorted({it.label for it in self.items})

    def __len__(self) -> int:
        return len(self.items)

    @property
    def targets(self) -> list[int]:
        index = {lab: i for i, lab in enumerate(self.labels)}
        return [index[it.label] for it in self.items]

    @property
    def speakers(self) -> list[str] | None:
        if any(it.speaker is None for it in self.items):
            return None
        return [it.speaker for it in self.items]

    def subset(self, indices) -> Dataset:
        return Dataset(
            self.name, [self.items[i] for i in indices], self.description, list(self.labels), self.sources
        )


def read_csv(path: str | Path, name: str | None = None) -> Dataset:
    """Read a ``path,label[,speaker]`` CSV with a header row."""
    path = Path(path)
    root = path.parent
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields = set(reader.fieldnames or [])
        if not {"path", "label"} <= fields:
            raise ValueError(f"{path}: the header must contain 'path' and 'label' (got {sorted(fields)})")
        items = [
            Item(root / row["path"], row["label"].strip(), (row.get("speaker") or "").strip() or None)
            for row in reader
        ]
    return Dataset(name or path.stem, items, f"{len(items)} clips listed in {path.name}")


#: EmoGator's 30 categories; file ``NNNNNN-EE-I.mp3`` has category ``EE`` (01-30) in this order.
EMOGATOR_CATEGORIES = (
    "Adoration", "Amusement", "Anger", "Awe", "Confusion", "Contempt", "Contentment", "Desire",
    "Disappointment", "Disgust", "Distress", "Ecstasy", "Elation", "Embarrassment", "Fear", "Guilt",
    "Interest", "Neutral", "Pain", "Pride", "Realization", "Relief", "Romantic Love", "Sadness",
    "Serenity", "Shame", "Surprise (Negative)", "Surprise (Positive)", "Sympathy", "Triumph",
)  # fmt: skip
_EMOGATOR_FILE = re.compile(r"^(?P<spk>\d+)-(?P<cat>\d{2})-(?P<inst>\d+)\.(mp3|opus)$")


def _read_emogator_names(root: Path) -> Dataset:
    """A folder without ``labels.csv`` (e.g. a clone of github fredbuhl/EmoGator): labels and
    speakers from the file names ``<speaker>-<category 01-30>-<instance>.mp3`` below ``root``."""
    items = []
    for p in sorted([*root.rglob("*.mp3"), *root.rglob("*.opus")]):
        m = _EMOGATOR_FILE.match(p.name)
        if m and 1 <= int(m["cat"]) <= len(EMOGATOR_CATEGORIES):
            items.append(Item(p, EMOGATOR_CATEGORIES[int(m["cat"]) - 1], m["spk"]))
    if not items:
        raise ValueError(f"{root}: no labels.csv and no EmoGator files (<speaker>-<01-30>-<i>.mp3) below it")
    return Dataset("emogator", items, f"{len(items)} EmoGator files below {root.name}")


def default_emogator_roots() -> list[Path]:
    """The EmoGator folders beside the checkout: ``emogator`` and, when present, ``emogator_extra``
    and ``emogator_more`` (297 speakers in all)."""
    roots = (EMOGATOR_DIR, EMOGATOR_EXTRA_DIR, EMOGATOR_MORE_DIR)
    return [r for r in roots if (r / "labels.csv").exists()] or [EMOGATOR_DIR]


def read_emogator(*roots: str | Path) -> Dataset:
    """EmoGator vocal bursts (F. Buhl, arXiv 2301.00508, Apache-2.0) from one or more folders.

    Each folder has its own ``labels.csv`` with paths relative to it (a folder without one is read
    from its file names, see :func:`_read_emogator_names`); with no argument, both
    default folders are read (:func:`default_emogator_roots`). A speaker found in two folders is
    refused: cross-validation groups by speaker, and a duplicate would leak across folds.
    """
    roots = [Path(r) for r in roots] or default_emogator_roots()
    parts = [
        read_csv(r / "labels.csv", name="emogator")
        if (r / "labels.csv").is_file()
        else _read_emogator_names(r)
        for r in roots
    ]
    seen: dict[str, Path] = {}
    for r, part in zip(roots, parts):
        for spk in set(part.speakers or []):
            if spk in seen and seen[spk] != r:
                raise ValueError(f"Speaker {spk} appears in both {seen[spk]} and {r}")
            seen[spk] = r
    items = [it for part in parts for it in part.items]
    ds = Dataset("emogator", items)
    ds.sources = [
        {"folder": r.name, "clips": len(part), "speakers": len(set(part.speakers or []))}
        for r, part in zip(roots, parts)
    ]
    folders = "; ".join(f"{s['folder']}: {s['clips']} clips, {s['speakers']} speakers" for s in ds.sources)
    ds.description = (
        f"EmoGator vocal bursts (arXiv 2301.00508, Apache-2.0): {len(ds)} clips, "
        f"{len(seen)} speakers, {len(ds.labels)} emotion categories ({folders})"
    )
    return ds


_VIVAE = re.compile(r"^S(?P<spk>\d+)_(?P<emo>[a-z]+)_(?P<intensity>[a-z]+)_(?P<idx>\d+)\.wav$", re.I)


def read_vivae(root: str | Path) -> Dataset:
    """VIVAE: every ``S<spk>_<emotion>_<intensity>_<index>.wav`` below ``root``."""
    root = Path(root)
    items = []
    for p in sorted(root.rglob("*.wav")):
        m = _VIVAE.match(p.name)
        if m:
            items.append(Item(p, m["emo"].lower(), f"S{int(m['spk']):02d}"))
    if not items:
        raise ValueError(f"No VIVAE files (S<spk>_<emotion>_<intensity>_<idx>.wav) found below {root}")
    return Dataset("vivae", items, f"VIVAE: {len(items)} clips, {len({i.speaker for i in items})} speakers")


READERS = {"csv": read_csv, "emogator": read_emogator, "vivae": read_vivae}


def read(kind: str, path: str | Path | None = None) -> Dataset:
    """Dispatch by dataset kind; ``emogator`` defaults to the shared sample."""
    if kind not in READERS:
        raise ValueError(f"Unknown dataset kind {kind!r}; valid: {sorted(READERS)}")
    if path is None:
        if kind != "emogator":
            raise ValueError(f"Dataset kind {kind!r} needs a path")
        return read_emogator()
    return READERS[kind](path)
