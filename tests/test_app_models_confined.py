"""Which models a request may name (over HTTP, against the session's app server): only what the
catalogue lists, registry combinations and hub names; never a path, not even one the client
just uploaded. Every refusal is the one "Unknown model" sentence, shortened, on both endpoints."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from tests import app_server
from tests.app_server import REAL_CLIP

# Session fixtures shared by the app test modules (built and launched once per session).
app_checkpoints = app_server.app_checkpoints
app_url = app_server.app_url
client = app_server.client

#: What a client sends as a checkpoint: a 548-byte config.json whose head would need 4M-wide inputs.
HOSTILE_CONFIG = {
    "format": "nver-demo-checkpoint/1", "name": "x", "head": "fcn", "head_config": {}, "backbones": ["ge2e"],
    "dims": [4_000_000], "labels": ["a", "b"],
}  # fmt: skip


def _error(client, model, endpoint: str) -> str:
    arg = [model] if endpoint == "/compare" else model
    with pytest.raises(AppError) as err:
        client.predict(handle_file(str(REAL_CLIP)), arg, api_name=endpoint)
    return str(err.value)


def _unknown(client, endpoint: str, model: str) -> str:
    """The sentence for ``model``, with the model's own text replaced by a placeholder."""
    from nver_demo.app import choices

    msg = _error(client, model, endpoint)
    assert msg.startswith(f"Unknown model '{choices.shown(model)}'."), msg
    return msg.replace(choices.shown(model), "<model>", 1)


def _upload(app_url: str, name: str, data: bytes) -> Path:
    r = httpx.post(f"{app_url.rstrip('/')}/gradio_api/upload", files=[("files", (name, data))], timeout=60)
    r.raise_for_status()
    return Path(r.json()[0])


@pytest.mark.parametrize("endpoint", ["/analyze", "/compare"])
def test_an_uploaded_config_and_a_server_path_are_refused_like_an_unknown_name(client, app_url, endpoint):
    uploaded = _upload(app_url, "config.json", json.dumps(HOSTILE_CONFIG).encode())
    assert uploaded.name == "config.json" and uploaded.is_file()  # it is on the server, next to nothing
    reference = _unknown(client, endpoint, "nonsense")
    assert _unknown(client, endpoint, str(uploaded.parent)) == reference
    assert (
        _unknown(client, endpoint, str(app_server.ROOT / "checkpoints" / "linear-whisper-base")) == reference
    )
    assert _unknown(client, endpoint, "/etc") == reference  # exists or not: no difference to see


@pytest.mark.parametrize("endpoint", ["/analyze", "/compare"])
def test_a_10000_character_model_name_gets_the_sentence_shortened(client, endpoint):
    msg = _error(client, "m" * 10_000, endpoint)
    assert msg.startswith("Unknown model 'mmmm") and "… (10,000 characters)" in msg
    assert len(msg) < 1000 and "not in the list of choices" not in msg


def test_both_endpoints_say_the_same_sentence(client):
    name = "reno-" + "\x00<b>" * 50
    assert _error(client, name, "/analyze") == _error(client, name, "/compare")


def test_the_server_keeps_serving_after_hostile_model_names(client):
    _error(client, "z" * 300, "/analyze")  # 256+ characters once raised an uncaught OSError
    *_, details = client.predict(handle_file(str(REAL_CLIP)), api_name="/analyze")
    assert details["label"] in details["probs"]


def test_compare_still_takes_the_listed_models(client):
    *_, details = client.predict(handle_file(str(REAL_CLIP)), ["cnn-logmel-stats"], api_name="/compare")
    assert list(details["models"]) == ["cnn-logmel-stats"]
