""" "That was wrong, I meant X": keep a visitor's clip with the model's label and theirs — only with
their explicit consent, and only where the operator turned it on. No Gradio.

Off unless ``NVER_FEEDBACK=1``. Then each report is a folder ``<when>-<id>/`` holding the clip
(copied as uploaded) and ``labels.json`` (model, its label, the visitor's label, time), under
``NVER_FEEDBACK_DIR`` (default ``feedback/`` in the working directory). With
``NVER_FEEDBACK_DATASET=<user>/<dataset>`` the folder is also pushed to that Hub dataset by
``huggingface_hub.CommitScheduler`` (a commit every few minutes, in a background thread).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

ENABLE_ENV, DIR_ENV, DATASET_ENV = "NVER_FEEDBACK", "NVER_FEEDBACK_DIR", "NVER_FEEDBACK_DATASET"
#: Minutes between the scheduler's commits to the Hub dataset.
EVERY_MIN = 5.0


class FeedbackRefused(ValueError):
    """A report that may not be kept (no consent, feedback off, nothing to keep): the sentence says why."""


@dataclass
class FeedbackStore:
    """Where reports go. ``scheduler``: a ``CommitScheduler`` pushing ``folder`` to a Hub dataset."""

    enabled: bool
    folder: Path
    dataset: str | None = None
    scheduler: object | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> FeedbackStore:
        env = os.environ if env is None else env
        enabled = env.get(ENABLE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}
        folder = Path(env.get(DIR_ENV) or "feedback")
        dataset = env.get(DATASET_ENV) or None
        return cls(enabled, folder, dataset)

    def where(self) -> str:
        """Where a report is kept, for the consent text."""
        if self.dataset:
            return f"in the Hub dataset `{self.dataset}` (and on this server until it is pushed)"
        return "on this server only (a local folder the operator reads)"

    def _scheduler(self):
        if self.dataset and self.scheduler is None:
            from huggingface_hub import CommitScheduler

            self.folder.mkdir(parents=True, exist_ok=True)
            self.scheduler = CommitScheduler(
                repo_id=self.dataset, repo_type="dataset", folder_path=self.folder, every=EVERY_MIN,
                private=True,
            )  # fmt: skip
        return self.scheduler

    def keep(self, clip: str | Path | None, model: str, predicted: str, meant: str, consent: bool) -> Path:
        """Keep one report; returns its folder. Raises :class:`FeedbackRefused` (nothing written)
        when feedback is off, consent is not given, or there is no clip or label."""
        if not self.enabled:
            raise FeedbackRefused("Feedback is switched off on this server: nothing was kept.")
        if consent is not True:
            raise FeedbackRefused(
                "Nothing was kept: tick the box to agree that the clip and both labels are kept."
            )
        if not clip or not Path(clip).is_file():
            raise FeedbackRefused("There is no clip to keep: analyse a sound first.")
        if not meant or not predicted:
            raise FeedbackRefused("Pick the emotion you meant first.")
        scheduler = self._scheduler()
        when = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        record = {"model": model, "predicted": predicted, "meant": meant, "utc": when, "consent": True}
        lock = getattr(scheduler, "lock", None)
        if lock is not None:
            with lock:  # the scheduler must not push a half-written report
                return self._write(Path(clip), when, record)
        return self._write(Path(clip), when, record)

    def _write(self, clip: Path, when: str, record: dict) -> Path:
        out = self.folder / f"{when}-{uuid.uuid4().hex[:8]}"
        out.mkdir(parents=True)
        shutil.copyfile(clip, out / f"clip{clip.suffix.lower() or '.wav'}")
        (out / "labels.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
        log.info("feedback kept in %s", out)
        return out
