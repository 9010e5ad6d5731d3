"""nver_demo.app.feedback: a report is kept only with consent and only where the operator enabled
feedback; what is kept is the clip and both labels."""

from __future__ import annotations

import json
import threading

import pytest

from nver_demo.app.feedback import FeedbackRefused, FeedbackStore


@pytest.fixture
def clip(tmp_path):
    p = tmp_path / "laugh.wav"
    p.write_bytes(b"RIFF....WAVEfmt ")
    return p


def _files(folder):
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_off_unless_the_operator_enables_it(tmp_path, clip):
    store = FeedbackStore.from_env({"NVER_FEEDBACK_DIR": str(tmp_path / "fb")})
    assert not store.enabled
    with pytest.raises(FeedbackRefused, match="switched off"):
        store.keep(clip, "m", "Contempt", "Amusement", consent=True)
    assert _files(tmp_path / "fb") == []


@pytest.mark.parametrize("consent", [False, None, "yes"])
def test_nothing_is_written_without_consent(tmp_path, clip, consent):
    store = FeedbackStore.from_env({"NVER_FEEDBACK": "1", "NVER_FEEDBACK_DIR": str(tmp_path / "fb")})
    with pytest.raises(FeedbackRefused, match="tick the box"):
        store.keep(clip, "m", "Contempt", "Amusement", consent=consent)
    assert _files(tmp_path / "fb") == []


def test_with_consent_the_clip_and_both_labels_are_kept(tmp_path, clip):
    store = FeedbackStore.from_env({"NVER_FEEDBACK": "1", "NVER_FEEDBACK_DIR": str(tmp_path / "fb")})
    out = store.keep(clip, "reno-x", "Contempt", "Amusement", consent=True)
    assert (out / "clip.wav").read_bytes() == clip.read_bytes()
    record = json.loads((out / "labels.json").read_text())
    assert record | {"utc": None} == {"model": "reno-x", "predicted": "Contempt", "meant": "Amusement",
                                      "utc": None, "consent": True}  # fmt: skip
    assert "this server only" in store.where()


def test_a_hub_dataset_gets_the_reports_through_the_scheduler_lock(tmp_path, clip):
    class Scheduler:  # stands for huggingface_hub.CommitScheduler (no Hub here): its lock only
        lock = threading.Lock()

    store = FeedbackStore.from_env({"NVER_FEEDBACK": "yes", "NVER_FEEDBACK_DIR": str(tmp_path / "fb"),
                                    "NVER_FEEDBACK_DATASET": "me/nver-feedback"})  # fmt: skip
    store.scheduler = Scheduler()
    assert "me/nver-feedback" in store.where()
    out = store.keep(clip, "m", "Fear", "Awe", consent=True)
    assert out.parent == tmp_path / "fb" and not Scheduler.lock.locked()
