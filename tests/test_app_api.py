"""The app over HTTP: launched in-process, called with gradio_client like any API user would."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from nver_demo import checkpoint
from nver_demo.app import catalog, service
from tests import app_server
from tests.app_server import HUB_MODEL, REAL_CLIP

# Session fixtures shared by the app test modules (built and launched once per session).
app_checkpoints = app_server.app_checkpoints
app_url = app_server.app_url
client = app_server.client


def test_analyze_with_only_the_audio_uses_the_defaults(client):
    label, bars, emap, summary, details = client.predict(handle_file(str(REAL_CLIP)), api_name="/analyze")
    assert label["label"] in details["probs"]
    assert len(label["confidences"]) == 3  # the tiny checkpoint knows 3 classes
    assert sum(details["probs"].values()) == pytest.approx(1.0, abs=1e-4)
    assert details["model"] == "reno-tiny"  # best offline model here = the default
    assert details["clip"]["format"] == "mp3" and details["clip"]["analysed_seconds"][0] == 0.0
    assert details["map"]["method"] == "pca" and len(details["map"]["neighbours"]) > 0
    assert any(k.startswith("embed ") for k in details["timings_s"])
    for fig in (bars, emap):
        assert fig["type"] == "plotly" and json.loads(fig["plot"])["data"]
    assert "What ran" in summary and "chance" in summary


def test_analyze_umap_and_a_backbone_view(client):
    *_, details = client.predict(
        handle_file(str(REAL_CLIP)), "cnn-logmel-stats", "UMAP", "backbone1", api_name="/analyze"
    )
    assert details["model"] == "cnn-logmel-stats"
    assert details["map"] == {
        "method": "umap",
        "view": "logmel-stats",
        "neighbours": details["map"]["neighbours"],
    }


def test_compare_with_only_the_audio(client):
    bars, table, summary, details = client.predict(handle_file(str(REAL_CLIP)), api_name="/compare")
    assert len(table["data"]) == len(details["models"]) >= 2
    assert "What ran" in summary and details["majority"] in {r[1] for r in table["data"]}
    assert len(json.loads(bars["plot"])["data"]) == len(details["models"])


def test_every_input_after_the_audio_has_a_default(client):
    api = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    for name in ("/analyze", "/compare"):
        params = api[name]["parameters"]
        assert params[0]["component"] == "Audio"
        assert all(p["parameter_has_default"] for p in params[1:]), name


def test_a_model_without_weights_says_how_to_get_them(client):
    with pytest.raises(AppError, match="NVER_WAVLM_BASE"):
        client.predict(handle_file(str(REAL_CLIP)), HUB_MODEL, api_name="/analyze")


def test_an_untrained_combination_gives_the_training_command(client):
    with pytest.raises(
        AppError, match="python -m nver_demo train --head concat --backbones logmel-stats egemaps"
    ):
        client.predict(handle_file(str(REAL_CLIP)), "concat-logmel-stats+egemaps", api_name="/analyze")


def test_a_combination_with_a_checkpoint_runs_it(client):
    *_, details = client.predict(handle_file(str(REAL_CLIP)), "cnn-logmel-stats", api_name="/analyze")
    assert details["model"] == "cnn-logmel-stats"


def test_compare_runs_each_backbone_once(app_checkpoints, monkeypatch):
    """Three models over two backbones: two embeddings per clip, not five."""
    from nver_demo.backbones.base import Backbone

    calls = []
    original = Backbone.embed_batch
    monkeypatch.setattr(
        Backbone, "embed_batch", lambda self, w, sr: calls.append(self.name) or original(self, w, sr)
    )
    infos = catalog.models(app_checkpoints, hub=False)
    models = [m.name for m in infos if not m.needs_hub]
    wave, sr = np.sin(np.arange(16000) / 8).astype(np.float32) * 0.3, 16000
    path = app_checkpoints / "clip.wav"
    import soundfile as sf

    sf.write(path, wave, sr)
    c = service.compare(str(path), models, infos)
    assert sorted(calls) == ["egemaps", "logmel-stats"]
    assert set(c.predictions) == {"reno-tiny", "cnn-logmel-stats"}


def test_shipped_default_checkpoint_runs_on_a_real_clip():
    """Against the checkpoint the Space ships (skipped until main has checkpoints/)."""
    infos = [m for m in catalog.models(checkpoint.SHIPPED_DIR, hub=False) if not m.needs_hub]
    if not infos:
        pytest.skip("no shipped offline checkpoints in checkpoints/ yet")
    default = catalog.default_model(infos)
    a = service.analyze(str(REAL_CLIP), default, infos)
    assert a.pred.label in a.info.labels and len(a.pred.probs) == len(a.info.labels)
    assert a.map is not None and a.info.cv.get("accuracy_mean") is not None
