"""NVER_CHECKPOINT_DIRS: more folders of checkpoints beside the shipped ones, and the papers' group."""

from __future__ import annotations

import os
import shutil

import pytest

from nver_demo import checkpoint, heads
from nver_demo.app import catalog


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
    _, a, _ = two_dirs
    infos = catalog.models(hub=False)
    names = [m.name for m in infos]
    # offline first; the same name in an extra folder is kept apart by its folder's name
    assert set(names[:2]) == {"reno-tiny", "a/reno-tiny"}
    assert names[2:] == [
        "reno-audio-mamba-base+wavlm-base",  # the papers' models: pairs, then single backbones
        "cnn-wavlm-base",
        "reno-wavlm-base+logmel-stats",  # other Hub models last
    ]
    groups = [m.group for m in infos]
    assert groups == [catalog.OFFLINE] * 2 + [catalog.PAPERS] * 2 + [catalog.NEEDS_HUB]
    by_name = {m.name: m for m in infos}
    assert by_name["a/reno-tiny"].source == str(a / "reno-tiny")
    assert by_name["reno-audio-mamba-base+wavlm-base"].random_backbones
    assert "random weights" in catalog.describe("reno-audio-mamba-base+wavlm-base", infos)
    assert (
        catalog.models(hub=False, extra=False)[0].name == "reno-tiny"
        and len(catalog.models(extra=False)) == 1
    )


def test_resolve_finds_names_in_extra_dirs_and_says_where_it_looked(two_dirs) -> None:
    shipped, _, b = two_dirs
    assert checkpoint.resolve("reno-tiny") == shipped / "reno-tiny"  # shipped wins
    assert checkpoint.resolve("cnn-wavlm-base") == b / "cnn-wavlm-base"
    with pytest.raises(ValueError, match=f"also looked in \\${checkpoint.DIRS_ENV}"):
        checkpoint.resolve("nope")
    infos = catalog.models(hub=False)
    assert catalog.resolve("reno-audio-mamba-base+wavlm-base", infos) == str(
        b / "reno-audio-mamba-base+wavlm-base"
    )


def test_cli_list_shows_every_folder(two_dirs, capsys) -> None:
    from nver_demo.cli import main

    shipped, _, b = two_dirs
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert f"Checkpoints ({shipped})" in out and f"Checkpoints ({b})" in out
    assert "reno-audio-mamba-base+wavlm-base" in out
