"""``python -m nver_demo list`` prints what the registries and the checkpoint folders hold, the
``hub:`` names fetch a checkpoint folder through huggingface_hub (faked here: no network), and the
CLI's novelty line says the score, the threshold and the verdict."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nver_demo import backbones, checkpoint, cli, heads, voice_check
from nver_demo.predict import Prediction
from tests import quick_checkpoints as qc


def test_list_prints_every_backbone_head_and_checkpoint(monkeypatch, tmp_path, capsys):
    extra = tmp_path / "published"
    qc.save(extra / "lda-quick")
    monkeypatch.setenv("NVER_CHECKPOINT_DIRS", str(extra))
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Backbones:\n") and "\n\nHeads:\n" in out
    for name in backbones.available():
        s = backbones.spec(name)
        where = f"needs weights (Hub or ${s.env_var})" if s.needs_hub else "offline"
        assert re.search(
            rf"^  {re.escape(name)} +{re.escape(s.family)} +dim {s.dim} +{re.escape(where)}$", out, re.M
        ), name
    for name in heads.available():
        s = heads.spec(name)
        assert f"  {name:<8} {s.n_inputs} input(s)  {s.description}" in out.splitlines()
    assert f"Checkpoints ({checkpoint.checkpoints_dir()}):" in out and f"Checkpoints ({extra}):" in out
    for name in checkpoint.available():
        m = checkpoint.read_meta(name)
        cv = m["metrics"]["cv"]
        line = next(s for s in out.splitlines() if s.startswith(f"  {name} "))
        assert line.split()[1:3] == [m["head"], "+".join(m["backbones"])]
        assert line.endswith(f"CV acc {cv['accuracy_mean']:.1f}  macro-F1 {cv['macro_f1_mean']:.1f}")
    assert re.search(r"^  lda-quick +lda +logmel-stats +no CV$", out, re.M)


def _fake_snapshot(root: Path, calls: list):
    def snapshot_download(repo_id, allow_patterns):
        calls.append((repo_id, allow_patterns))
        return str(root)

    return snapshot_download


def test_a_hub_name_downloads_only_that_folder(monkeypatch, tmp_path):
    import huggingface_hub

    qc.save(tmp_path / "snap" / "lda-quick")
    calls: list = []
    monkeypatch.setattr(huggingface_hub, "snapshot_download", _fake_snapshot(tmp_path / "snap", calls))
    monkeypatch.setenv("NVER_CHECKPOINT_REPO", "alice/ckpts")
    assert checkpoint.resolve("hub:lda-quick") == tmp_path / "snap" / "lda-quick"
    assert calls == [("alice/ckpts", ["lda-quick/*"])]
    with pytest.raises(ValueError, match=r"^Hub repo 'alice/ckpts' has no checkpoint folder 'other/'$"):
        checkpoint.resolve("hub:other")


def test_hub_errors_are_sentences(monkeypatch, tmp_path):
    import huggingface_hub

    monkeypatch.delenv("NVER_CHECKPOINT_REPO", raising=False)
    with pytest.raises(ValueError, match=r"^hub:lda-quick needs \$NVER_CHECKPOINT_REPO set to a Hub repo id"):
        checkpoint.resolve("hub:lda-quick")

    def offline(**kwargs):
        raise OSError("no network")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    monkeypatch.setenv("NVER_CHECKPOINT_REPO", "alice/ckpts")
    with pytest.raises(
        ValueError,
        match=r"^Could not fetch checkpoint 'lda-quick' from Hub repo 'alice/ckpts' \(OSError: no network\)$",
    ):
        checkpoint.resolve("hub:lda-quick")


def _pred(novelty=None, threshold=None, reasons=(), voice=None) -> Prediction:
    return Prediction("mid", {"mid": 1.0}, {}, {}, novelty=novelty, novelty_threshold=threshold,
                      ood_reasons=list(reasons), voice=voice)  # fmt: skip


def test_the_novelty_line_says_score_threshold_and_verdict():
    assert (
        _pred()
        .novelty_line()
        .startswith("novelty: not fitted for this checkpoint (python -m nver_demo.training.novelty_fit")
    )
    assert _pred(3.14159, 7.6934).novelty_line() == "novelty 3.14 (threshold 7.69): like the training bursts"
    assert _pred(9.5, 7.6934, ["novel"]).novelty_line() == (
        "novelty 9.50 (threshold 7.69): unlike the training bursts: the answer is a guess"
    )
    tone = voice_check.check(qc.clip("mid", 0, seconds=0.05) * 0, qc.SR)  # silence: not a voice
    assert not tone.is_voice and tone.warning
    assert _pred(9.5, 7.6934, ["novel"], tone).novelty_line().endswith("; " + tone.warning)
