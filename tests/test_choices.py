"""Model choices: what a name or combination resolves to, and the how-to messages for what cannot run."""

from __future__ import annotations

import pytest

from nver_demo.app import catalog, choices
from tests import app_server
from tests.app_server import HUB_MODEL

# Session fixtures shared by the app test modules (built and launched once per session).
app_checkpoints = app_server.app_checkpoints


@pytest.fixture(scope="module")
def infos(app_checkpoints):
    return catalog.models(app_checkpoints, hub=False)


def test_resolve_names_and_combinations_to_folders(infos, app_checkpoints):
    assert choices.resolve("reno-tiny", infos) == str(app_checkpoints / "reno-tiny")
    assert choices.resolve("reno-logmel-stats+egemaps", infos) == str(app_checkpoints / "reno-tiny")


def test_a_path_is_never_a_model_even_to_a_listed_checkpoint(infos, app_checkpoints):
    unknown = _sentence("nonsense", infos)
    for path in (str(app_checkpoints / "cnn-logmel-stats"), str(app_checkpoints / "reno-tiny") + "/",
                 "../checkpoints/reno-tiny", "/etc", "reno-tiny/../reno-tiny"):  # fmt: skip
        assert _sentence(path, infos) == unknown.replace("nonsense", choices.shown(path))


def _sentence(choice, infos) -> str:
    with pytest.raises(catalog.ModelUnavailable) as err:
        choices.resolve(choice, infos)
    return str(err.value)


@pytest.mark.parametrize(
    "choice",
    ["x" * 10_000, "reno-" + "y" * 300, "hub:" + "z" * 300, "cnn-\x00\n<script>", "a/" * 200, 12345, ["a"]],
    ids=["10k", "long-combination", "long-hub", "control-chars", "deep-path", "int", "list"],
)
def test_long_or_odd_strings_get_the_unknown_sentence_shortened(infos, choice):
    msg = _sentence(choice, infos)
    assert msg.startswith("Unknown model '") and "Trained models here: reno-tiny" in msg
    assert len(msg) < 1000 and "\x00" not in msg and "<script>" not in msg


def test_shown_keeps_short_names_and_shortens_long_ones():
    assert choices.shown("reno-tiny") == "reno-tiny"
    assert choices.shown("x" * 10_000) == "x" * choices.SHOWN_CHARS + "… (10,000 characters)"


@pytest.mark.parametrize(
    ("choice", "message"),
    [
        ("", "Pick a model"),
        ("nonsense", "Unknown model 'nonsense'.*reno-tiny"),
        ("concat-ge2e+egemaps", "python -m nver_demo train --head concat --backbones ge2e egemaps"),
        ("reno-ge2e", "takes 2 backbones"),
        ("cnn-nope", "Unknown model 'cnn-nope'.*and backbones .*whisper-base"),
        ("reno-wavlm-base+hubert-base", "NVER_HUBERT_BASE"),
        ("hub:reno-x", "NVER_CHECKPOINT_REPO"),
    ],
)
def test_unavailable_choices_say_what_is_missing(infos, choice, message, monkeypatch):
    monkeypatch.delenv(catalog.HUB_ENV, raising=False)
    with pytest.raises(catalog.ModelUnavailable, match=message):
        choices.resolve(choice, infos)


def test_no_models_at_all_says_how_to_train(tmp_path):
    with pytest.raises(catalog.ModelUnavailable, match="No trained models found"):
        choices.resolve("", catalog.models(tmp_path, hub=False))


def test_describe_explains_hub_weights(infos):
    assert "NVER_WAVLM_BASE" in choices.describe(HUB_MODEL, infos)
    assert "CV accuracy" in choices.describe("reno-tiny", infos)
    assert "python -m nver_demo train" in choices.describe("fcn-ge2e", infos)
