"""The model catalogue: trained checkpoints found on disk (and in a Hub repo), ordered, with the defaults."""

from __future__ import annotations

import os
from unittest import mock

import pytest

from nver_demo import checkpoint
from nver_demo.app import catalog, choices
from tests import app_server
from tests.app_server import HUB_MODEL
from tests.test_choices import _sentence

# Session fixtures shared by the app test modules (built and launched once per session).
app_checkpoints = app_server.app_checkpoints


@pytest.fixture(scope="module")
def infos(app_checkpoints):
    return catalog.models(app_checkpoints, hub=False)


def test_models_are_ordered_offline_pairs_first(infos):
    assert [m.name for m in infos] == ["reno-tiny", "cnn-logmel-stats", HUB_MODEL]
    assert [m.group for m in infos] == [catalog.OFFLINE, catalog.OFFLINE, catalog.NEEDS_HUB]
    assert infos[-1].needs_hub == ["wavlm-base"]


def test_default_model_and_selection(infos):
    assert catalog.default_model(infos) == "reno-tiny"
    assert catalog.default_selection(infos) == ["reno-tiny", "cnn-logmel-stats"]  # no Hub model
    assert catalog.default_model([]) is None and catalog.default_selection([]) == []


def test_default_selection_shows_every_fusion_of_the_default_and_each_backbone_alone():
    """The shipped layout: a single-backbone default, three fusions of a pair, three single heads."""
    shipped = [
        ("linear-whisper-base", "linear", ("whisper-base",), 30),
        ("reno-whisper-base+ge2e", "reno", ("whisper-base", "ge2e"), 24),
        ("concat-whisper-base+ge2e", "concat", ("whisper-base", "ge2e"), 25),
        ("mata-whisper-base+ge2e", "mata", ("whisper-base", "ge2e"), 23),
        ("fcn-whisper-base", "fcn", ("whisper-base",), 27),
        ("cnn-whisper-base", "cnn", ("whisper-base",), 26),
        ("cnn-ge2e", "cnn", ("ge2e",), 15),
        ("cnn-egemaps", "cnn", ("egemaps",), 14),
        ("reno-wavlm-base+ge2e", "reno", ("wavlm-base", "ge2e"), 40),
    ]
    infos = sorted(
        (catalog.ModelInfo(n, n, h, b, ("a",), {"accuracy_mean": acc}) for n, h, b, acc in shipped),
        key=lambda m: catalog._order(m, []),
    )
    with mock.patch.object(catalog.checkpoint, "DEFAULT", "linear-whisper-base"):
        sel = catalog.default_selection(infos)
    assert sel == [
        "linear-whisper-base",
        "concat-whisper-base+ge2e",
        "reno-whisper-base+ge2e",
        "mata-whisper-base+ge2e",
        "cnn-ge2e",  # the backbone the pairs add, alone
        "fcn-whisper-base",  # then the best other head on a backbone already running
    ]
    assert len({b for n in sel for b in dict((s[0], s[2]) for s in shipped)[n]}) == 2  # two backbones run


def test_choice_labels_name_the_group_and_score(infos):
    label = infos[0].choice_label()
    assert label.startswith("Offline-ready · RENO · logmel-stats + egemaps") and "CV acc" in label


def test_unreachable_hub_repo_is_skipped_not_fatal(monkeypatch, tmp_path):
    monkeypatch.setenv(catalog.HUB_ENV, "nobody/no-such-repo")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert catalog.hub_models() == []
    assert catalog.models(tmp_path) == []


def test_second_readings_show_the_papers_numbers_of_their_method():
    # The Compare tab's paper column: reno_token is still RENO, mata_batch still MATA.
    def info(head, bbs):
        return catalog.ModelInfo("m", "m", head, tuple(bbs), ("x", "y"))

    pair = ("wavlm-base", "audio-mamba-base")
    assert info("reno_token", pair).paper_result() == info("reno", pair).paper_result() is not None
    assert (
        info("mata_batch", ("ge2e", "egemaps")).paper_result()
        == info("mata", ("ge2e", "egemaps")).paper_result()
    )
    assert info("mata", ("ge2e", "egemaps")).paper_result() is not None
    assert catalog.head_title("reno_token") == "RENO (token reading)" and catalog.head_title("reno") == "RENO"


def test_checkpoint_dirs_are_listed_as_label_slash_name(app_checkpoints, tmp_path, monkeypatch):
    import json
    import shutil

    runs, other = tmp_path / "runs", tmp_path / "elsewhere" / "runs"  # two folders named "runs"
    shutil.copytree(app_checkpoints / "cnn-logmel-stats", runs / "my-cnn")
    shutil.copytree(app_checkpoints / "reno-tiny", other / "my-reno")
    shutil.copytree(app_checkpoints / "reno-tiny", runs / "broken")
    meta = json.loads((runs / "broken" / "config.json").read_text())
    (runs / "broken" / "config.json").write_text(json.dumps({**meta, "dims": [4_000_000, 10]}))
    (runs / "not a name").mkdir()
    (runs / "not a name" / "config.json").write_text("{}")
    monkeypatch.setenv(checkpoint.DIRS_ENV, f"{runs}{os.pathsep}{other}{os.pathsep}")
    infos = catalog.models(app_checkpoints, hub=False)
    names = [m.name for m in infos]
    assert names == ["reno-tiny", "cnn-logmel-stats", "runs/my-cnn", "runs-2/my-reno", HUB_MODEL]
    local = infos[2]
    assert local.group == "Local (runs)" and local.choice_label().startswith("Local (runs) · CNN")
    assert choices.resolve("runs/my-cnn", infos) == str(runs / "my-cnn")
    assert choices.resolve("runs-2/my-reno", infos) == str(other / "my-reno")
    assert checkpoint.resolve("runs/my-cnn") == runs / "my-cnn"  # the CLI takes the same names
    # Listed or not, a folder is reached by its name only, never by its path.
    assert _sentence(str(runs / "my-cnn"), infos).startswith("Unknown model")
    assert _sentence("runs/broken", infos).startswith("Unknown model")  # invalid config: not listed
