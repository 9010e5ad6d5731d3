"""What /analyze does when a part it relies on is missing: no speech gate (the clip is analysed,
unchecked), no stored UMAP layout (PCA, said in the map's note), a head that cannot be read or a
backbone this app lacks (a message naming the model, no crash). Real checkpoints of the fast
subset (tests/quick_checkpoints.py) read back through the app's catalogue."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import soundfile as sf
import torch

from nver_demo import backbones
from nver_demo.app import catalog, service, speech_gate
from tests import quick_checkpoints as qc


@pytest.fixture
def clip_path(tmp_path) -> Path:
    path = tmp_path / "higher.wav"
    sf.write(path, qc.clip("higher", 1, seconds=1.2), qc.SR)
    return path


def _models(root: Path, **kinds: dict) -> list[catalog.ModelInfo]:
    for name, options in kinds.items():
        qc.save(root / name, **options)
    service.get_predictor.cache_clear()
    return catalog.models(root, hub=False, local=False)


def _no_gate(monkeypatch):
    def unavailable():
        raise backbones.WeightsUnavailable("whisper-base weights are not installed")

    monkeypatch.setattr(speech_gate, "get_gate", unavailable)


def test_without_the_speech_gate_the_clip_is_analysed_and_the_log_says_why(
    tmp_path, clip_path, monkeypatch, caplog
):
    infos = _models(tmp_path / "ck", **{"lda-quick": {}})
    _no_gate(monkeypatch)
    with caplog.at_level(logging.WARNING, logger=service.log.name):
        a = service.analyze(str(clip_path), "lda-quick", infos)
    assert a.pred.label in qc.LABELS and abs(sum(a.pred.probs.values()) - 1) < 1e-5
    assert "speech gate" not in a.timings  # not checked, and not pretending it was
    [rec] = [r for r in caplog.records if "speech gate unavailable" in r.getMessage()]
    assert "WeightsUnavailable" in rec.getMessage() and "not installed" in rec.getMessage()


@pytest.mark.parametrize("has_umap", [False, True])
def test_umap_without_a_stored_layout_falls_back_to_pca_and_says_so(
    tmp_path, clip_path, monkeypatch, has_umap
):
    infos = _models(tmp_path / "ck", **{"lda-quick": {"umap": has_umap}})
    _no_gate(monkeypatch)
    a = service.analyze(str(clip_path), "lda-quick", infos, method="umap")
    refs = a.map.ref_xy
    assert refs.shape == (len(qc.embeddings()[1]), 2) and a.map.point_xy.shape == (2,)
    if has_umap:
        assert a.map.method == "umap" and "No UMAP layout" not in a.map.note
    else:
        assert a.map.method == "pca" and a.map.note.startswith(
            "No UMAP layout stored for this view; showing PCA."
        )


def test_a_head_that_cannot_be_read_names_the_model(tmp_path, clip_path, monkeypatch):
    infos = _models(tmp_path / "ck", **{"lda-quick": {}})
    (tmp_path / "ck" / "lda-quick" / "model.safetensors").write_bytes(b"not a safetensors file")
    _no_gate(monkeypatch)
    with pytest.raises(catalog.ModelUnavailable, match=r"^Could not load model 'lda-quick': "):
        service.analyze(str(clip_path), "lda-quick", infos)


def test_a_backbone_this_app_lacks_names_it(tmp_path, clip_path, monkeypatch):
    infos = _models(tmp_path / "ck", **{"lda-alien": {"backbone": "alien-fm"}})
    _no_gate(monkeypatch)
    with pytest.raises(catalog.ModelUnavailable, match=r"needs backbone 'alien-fm', which this app lacks"):
        service.analyze(str(clip_path), "lda-alien", infos)


def test_warm_up_builds_the_backbones_and_runs_the_model(tmp_path, monkeypatch, caplog):
    """After a warm-up, the first visitor's request loads nothing: head and backbone are cached,
    the model ran once (a failure inside would only be logged: none is) and it says how long it took."""
    import time

    from nver_demo import predict

    infos = _models(tmp_path / "ck", **{"lda-quick": {}})
    monkeypatch.setattr(speech_gate, "get_gate", lambda: None)  # the gate's model is its own test
    ran = []
    real_remap = service.remap
    monkeypatch.setattr(service, "remap", lambda *a: ran.append(a) or real_remap(*a))
    predict._cached_backbone.cache_clear()
    t0 = time.perf_counter()
    with caplog.at_level(logging.INFO, logger=service.log.name):
        seconds = service.warm_up("lda-quick", infos)
    assert 0 < seconds <= time.perf_counter() - t0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert any(r.getMessage().startswith("warm-up of lda-quick done in") for r in caplog.records)
    [(p, pred, method, view)] = ran  # the map of the model's own prediction of the warm-up sound
    assert p.name == "lda-quick" and pred.label in qc.LABELS and (method, view) == ("pca", "fused")
    assert service.get_predictor.cache_info().currsize == 1
    assert predict._cached_backbone.cache_info().currsize == 1
    _, loads = service.load_models(["lda-quick"], infos)
    assert all(v < 0.005 for v in loads.values()), loads  # cache hits only


def test_weights_that_do_not_fit_the_config_name_the_model(tmp_path, clip_path, monkeypatch):
    """A weights file from another head (wrong tensors) is a message, not a server error."""
    from safetensors.torch import save_file

    infos = _models(tmp_path / "ck", **{"lda-quick": {}})
    save_file({"something.else": torch.zeros(3)}, str(tmp_path / "ck" / "lda-quick" / "model.safetensors"))
    _no_gate(monkeypatch)
    with pytest.raises(
        catalog.ModelUnavailable, match=r"^Could not load model 'lda-quick': model.safetensors does not fit"
    ):
        service.analyze(str(clip_path), "lda-quick", infos)


def test_an_unreadable_novelty_model_names_the_model(tmp_path, clip_path, monkeypatch):
    """Every shipped checkpoint carries novelty.safetensors: a broken one is a message, not a crash."""
    import json

    from nver_demo import novelty

    infos = _models(tmp_path / "ck", **{"lda-quick": {}})
    ck = tmp_path / "ck" / "lda-quick"
    meta = json.loads((ck / "config.json").read_text())
    meta["novelty"] = {"score": novelty.SCORE, "threshold": 7.0}
    (ck / "config.json").write_text(json.dumps(meta))
    (ck / novelty.FILE).write_bytes(b"not a safetensors file")
    _no_gate(monkeypatch)
    with pytest.raises(
        catalog.ModelUnavailable, match=r"^Could not load model 'lda-quick': .*not a readable novelty model"
    ):
        service.analyze(str(clip_path), "lda-quick", infos)
