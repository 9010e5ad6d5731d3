"""Result files a visitor can download (CSV of probabilities, the JSON the API returns).

Each result gets its own folder under one private temporary directory; folders older than
:data:`KEEP_S` are removed whenever a new one is written, so a long-running Space does not fill
its disk (Gradio copies what it serves into its own cache, which it cleans itself).
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
import time
import uuid
from pathlib import Path

log = logging.getLogger(__name__)

#: Seconds a result's files are kept.
KEEP_S = 3600.0


class Downloads:
    """Writes result files into ``root`` (default: a new private temporary directory)."""

    def __init__(self, root: str | Path | None = None) -> None:
        self._root = Path(root) if root is not None else None

    @property
    def root(self) -> Path:
        """The folder, made on first use (building the app writes nothing)."""
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="nver_results_"))
        self._root.mkdir(parents=True, exist_ok=True)
        return self._root

    def write(self, stem: str, csv_text: str, details: dict) -> list[str]:
        """``<stem>.csv`` and ``<stem>.json`` in a fresh folder; returns their paths."""
        self.prune()
        folder = self.root / uuid.uuid4().hex[:12]
        folder.mkdir()
        stem = safe_stem(stem)
        csv_path, json_path = folder / f"{stem}.csv", folder / f"{stem}.json"
        csv_path.write_text(csv_text, encoding="utf-8")
        json_path.write_text(json.dumps(details, indent=2, ensure_ascii=False), encoding="utf-8")
        return [str(csv_path), str(json_path)]

    def prune(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        for folder in self.root.iterdir():
            try:
                if folder.is_dir() and now - folder.stat().st_mtime > KEEP_S:
                    shutil.rmtree(folder)
            except OSError as e:  # another request removed it first
                log.debug("could not prune %s: %s", folder, e)


def safe_stem(text: str, limit: int = 80) -> str:
    """A file name from a clip and model name: letters, digits, ``.-_+`` only."""
    stem = re.sub(r"[^A-Za-z0-9.+_-]+", "_", text).strip("._") or "result"
    return stem[:limit]
