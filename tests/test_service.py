"""Service: voting, selections, map views, warm-up."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from nver_demo.app import catalog, service
from nver_demo.predict import Prediction
from tests import app_server

# Session fixtures shared by the app test modules (built and launched once per session).
app_checkpoints = app_server.app_checkpoints


def _pred(probs: dict[str, float]) -> Prediction:
    label = max(probs, key=probs.get)
    return Prediction(label, dict(sorted(probs.items(), key=lambda kv: -kv[1])), {}, {})


def test_agreement_majority_and_ties():
    a = service.agreement({"m1": _pred({"x": 0.6, "y": 0.4}), "m2": _pred({"x": 0.2, "y": 0.8}),
                           "m3": _pred({"x": 0.7, "y": 0.3})})  # fmt: skip
    assert (a.majority, a.votes, a.n) == ("x", 2, 3)
    assert [r[-1] for r in a.rows] == ["✓", "✗", "✓"]
    tie = service.agreement({"m1": _pred({"x": 0.9, "y": 0.1}), "m2": _pred({"x": 0.4, "y": 0.6})})
    assert tie.majority == "x"  # more summed probability


def test_selection_limits():
    with pytest.raises(catalog.ModelUnavailable, match="at least one"):
        service.check_selection([])
    many = [f"m{i}" for i in range(20)]  # any number of models: their backbones are the cost
    assert service.check_selection(many) == many
    assert service.check_selection("a") == ["a"] and service.check_selection(["a", "a", "b"]) == ["a", "b"]


def test_a_comparison_is_limited_by_its_different_backbones(app_checkpoints):
    infos = catalog.models(app_checkpoints, hub=False)
    names = [m.name for m in infos if not m.needs_hub]  # reno-tiny (2 backbones) + cnn (1, shared)
    predictors, _ = service.load_models(names, infos, max_backbones=2)
    assert len(predictors) == 2
    with pytest.raises(catalog.ModelUnavailable, match="need 2 different backbones"):
        service.load_models(names, infos, max_backbones=1)


def test_view_keys_map_to_backbones(app_checkpoints):
    p = service.get_predictor(str(app_checkpoints / "reno-tiny"))
    assert service.view_name(p, "backbone2") == "egemaps" and service.view_name(p, "fused") == "fused"
    assert service.views(p)[0] == "fused"
    assert [k for _, k in service.view_choices(p.backbones)] == ["fused", "backbone1", "backbone2"]


def test_remap_falls_back_to_an_existing_view(app_checkpoints):
    p = service.get_predictor(str(app_checkpoints / "cnn-logmel-stats"))
    pred = p.predict_embeddings({"logmel-stats": p.checkpoint.references.views["logmel-stats"][0]})
    data, _ = service.remap(p, pred, "umap", "backbone2")  # a single-backbone model has no backbone2
    assert data.view == "fused" and data.method == "umap"
    assert data.note.startswith("This model has no 'backbone2' map")
    data, _ = service.remap(p, pred, "pca", "backbone1")
    assert data.view == "logmel-stats" and data.point_xy.shape == (2,)


def test_warm_up_never_raises_and_logs_why_it_failed(caplog):
    """A warm-up that cannot load its model returns (the server starts regardless) and says why in
    a warning naming the choice and the error, not a "done" line."""
    for choice in ("no-such-model", ["no-such-model", "reno-nothing+none"]):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger=service.log.name):
            seconds = service.warm_up(choice, [])
        assert isinstance(seconds, float)
        failed = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(failed) == 1 and not any("done in" in r.getMessage() for r in caplog.records)
        msg = failed[0].getMessage()
        assert msg.startswith(f"warm-up of {choice} failed: ModelUnavailable") and "no-such-model" in msg


def test_warm_up_loads_every_model_of_a_selection(app_checkpoints):
    infos = catalog.models(app_checkpoints, hub=False)
    names = [m.name for m in infos if not m.needs_hub]
    service.get_predictor.cache_clear()
    service.warm_up(names, infos)
    assert service.get_predictor.cache_info().currsize == len(names)


def test_map_survives_non_finite_reference_dimensions(app_checkpoints):
    """float16 references overflow for large features (ComParE): the map leaves those out."""
    p = service.get_predictor(str(app_checkpoints / "cnn-logmel-stats"))
    refs = p.checkpoint.references
    pred = p.predict_embeddings({"logmel-stats": refs.views["logmel-stats"][0]})
    saved = refs.views["logmel-stats"].copy()
    try:
        refs.views["logmel-stats"][:5, 3] = np.inf
        data = service.embedding_map(p, pred, "pca", "logmel-stats")
        assert np.isfinite(data.ref_xy).all() and "1 of 128 dimensions" in data.note
    finally:
        refs.views["logmel-stats"] = saved


def test_view_choices_can_be_padded_for_a_stable_api():
    assert [k for _, k in service.view_choices(["ge2e"], pad_to=2)] == ["fused", "backbone1", "backbone2"]
    assert [k for _, k in service.view_choices(["a", "b"], pad_to=2)] == ["fused", "backbone1", "backbone2"]


@pytest.mark.parametrize("kind", ["dc", "square", "pink"])
def test_non_voice_clips_get_the_sentence_and_are_out_of_domain(app_checkpoints, tmp_path, kind):
    """/analyze and /compare details: the no-voice sentence in warnings, out_of_domain per model."""
    from nver_demo.app import report
    from nver_demo.training import trust_sounds

    path = app_server.write(tmp_path / f"{kind}.wav", trust_sounds.non_voice(kind, 2.0, -6.0), 16000)
    infos = catalog.models(app_checkpoints, hub=False)
    names = [m.name for m in infos if not m.needs_hub]
    d = report.analysis_view(service.analyze(str(path), names[0], infos)).details
    assert d["out_of_domain"] is True and d["voice"]["is_voice"] is False
    assert any(w.startswith("This does not sound like a voice") for w in d["warnings"])
    assert d["reliability"] is None  # no in-domain accuracy quoted for it
    c = report.comparison_view(service.compare(str(path), names, infos)).details
    assert all(m["out_of_domain"] and m["out_of_domain_reasons"] for m in c["models"].values())
    assert sum(w.startswith("This does not sound like a voice") for w in c["warnings"]) == 1


def test_a_voice_like_clip_is_not_refused(app_checkpoints, tmp_path):
    from nver_demo.app import report

    path = app_server.write(tmp_path / "burst.wav", app_server.burst(1.5), 16000)
    infos = catalog.models(app_checkpoints, hub=False)
    d = report.analysis_view(service.analyze(str(path), infos[0].name, infos)).details
    assert d["voice"]["is_voice"] is True
    assert not any("does not sound like a voice" in w for w in d["warnings"])
    assert "novelty" in d and "novelty_threshold" in d


def test_the_neighbour_summary_counts_add_up_to_the_neighbours():
    ten = ["Sadness"] * 4 + ["Elation"] * 2 + ["Fear", "Awe", "Pain", "Pride"]
    assert service.neighbour_summary(ten) == "4× Sadness, 2× Elation, 1× Fear, 1× each of 3 other labels"
    many = ["A"] * 3 + ["B"] * 2 + ["C"] * 2 + ["D"] * 2 + ["E"]
    assert service.neighbour_summary(many) == "3× A, 2× B, 2× C, 3× among 2 other labels"
    assert service.neighbour_summary(["A"] * 6 + ["B"] * 3 + ["C"]) == "6× A, 3× B, 1× C"
    assert service.neighbour_summary(["A"] * 6 + ["B"] * 2 + ["C", "D"]) == "6× A, 2× B, 1× C, 1× D"
