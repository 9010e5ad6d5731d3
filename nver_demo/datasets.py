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
EMOGATOR_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "emogator"


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
        return Dataset(self.name, [self.items[i] for i in indices], self.description, list(self.labels))


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


def read_emogator(root: str | Path = EMOGATOR_DIR) -> Dataset:
    """EmoGator vocal bursts (F. Buhl, arXiv 2301.00508, Apache-2.0)."""
    root = Path(root)
    ds = read_csv(root / "labels.csv", name="emogator")
    n_spk = len(set(ds.speakers or []))
    ds.description = (
        f"EmoGator vocal bursts (arXiv 2301.00508, Apache-2.0): {len(ds)} clips, "
        f"{n_spk} speakers, {len(ds.labels)} emotion categories"
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
