"""NVER_CHECKPOINT_DIRS: more folders of checkpoints beside the shipped ones, and the papers' group."""

from __future__ import annotations

import os
import shutil

import pytest

from nver_demo import checkpoint, heads
from nver_demo.app import catalog, choices


@pytest.fixture
def two_dirs(tmp_path, tiny_checkpoint, monkeypatch):
    """Shipped folder with reno-tiny; two extra folders, one repeating that name, one a papers' pair."""
    shipped, a, b = tmp_path / "shipped", tmp_path / "a", tmp_path / "b"
    for d in (shipped, a):
        shutil.copytree(tiny_checkpoint, d / "reno-tiny")
    labels = checkpoint.read_meta(tiny_checkpoint)["labels"]
    pair = ["audio-mamba-base", "wavlm-base"]
    head = heads.build("reno", (3840, 768), len(labels))
    meta = {"training": {"weights_origin": "random-init"}}
    checkpoint.save(b / "reno-audio-mamba-base+wavlm-base", head, "reno", pair, labels, meta)
    head = heads.build("cnn", (768,), len(labels))
    checkpoint.save(b / "cnn-wavlm-base", head, "cnn", ["wavlm-base"], labels, {})
    head = heads.build("reno", (768, 128), len(labels))
    checkpoint.save(
        b / "reno-wavlm-base+logmel-stats", head, "reno", ["wavlm-base", "logmel-stats"], labels, {}
    )
    monkeypatch.setenv("NVER_CHECKPOINTS", str(shipped))
    monkeypatch.setenv(checkpoint.DIRS_ENV, os.pathsep.join([str(a), "", str(b), str(tmp_path / "missing")]))
    return shipped, a, b


def test_extra_dirs_are_listed_after_the_shipped_ones(two_dirs) -> None:
    _, a, b = two_dirs
    infos = catalog.models(hub=False)
    names = [m.name for m in infos]
    # shipped offline first; each extra folder's checkpoints as <folder>/<name>, in the variable's
    # order; within a folder pairs before single backbones
    assert names == [
        "reno-tiny",
        "a/reno-tiny",
        "b/reno-audio-mamba-base+wavlm-base",
        "b/reno-wavlm-base+logmel-stats",
        "b/cnn-wavlm-base",
    ]
    by_name = {m.name: m for m in infos}
    assert by_name["reno-tiny"].group == catalog.OFFLINE and by_name["a/reno-tiny"].group == "Local (a)"
    paper_pair = by_name["b/reno-audio-mamba-base+wavlm-base"]
    assert paper_pair.group == "Local (b) · papers' models · needs Hub weights"  # a Table II pair
    assert by_name["b/reno-wavlm-base+logmel-stats"].group == "Local (b) · needs Hub weights"
    assert by_name["a/reno-tiny"].source == str(a / "reno-tiny")
    assert by_name["b/cnn-wavlm-base"].source == str(b / "cnn-wavlm-base")
    assert paper_pair.random_backbones
    assert "random weights" in choices.describe("b/reno-audio-mamba-base+wavlm-base", infos)
    assert [m.name for m in catalog.models(hub=False, local=False)] == ["reno-tiny"]


def test_resolve_finds_names_in_extra_dirs_and_says_where_it_looked(two_dirs) -> None:
    shipped, _, b = two_dirs
    assert checkpoint.resolve("reno-tiny") == shipped / "reno-tiny"  # shipped wins
    assert checkpoint.resolve("b/cnn-wavlm-base") == b / "cnn-wavlm-base"
    assert checkpoint.resolve("cnn-wavlm-base") == b / "cnn-wavlm-base"  # the CLI also takes plain names
    with pytest.raises(ValueError, match=f"also looked in \\${checkpoint.DIRS_ENV}"):
        checkpoint.resolve("nope")
    infos = catalog.models(hub=False)
    assert choices.resolve("b/reno-audio-mamba-base+wavlm-base", infos) == str(
        b / "reno-audio-mamba-base+wavlm-base"
    )


def test_cli_list_shows_every_folder(two_dirs, capsys) -> None:
    from nver_demo.cli import main

    shipped, _, b = two_dirs
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert f"Checkpoints ({shipped})" in out and f"Checkpoints ({b})" in out
    assert "reno-audio-mamba-base+wavlm-base" in out
