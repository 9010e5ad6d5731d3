"""Speaker enrolment: the normalisation, the enrolled head in a checkpoint, and its CV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nver_demo import checkpoint, heads
from nver_demo.enrolment import Enrolment, other_clip_means
from nver_demo.predict import Predictor
from nver_demo.training import enrol, experiment, train
from nver_demo.training.datasets import Dataset, Item
from tests import app_server
from tests.conftest import EXAMPLES

app_checkpoints = app_server.app_checkpoints


def speaker_corpus(n_speakers=24, n_classes=4, per_class=8, dim=8, offset=3.0, seed=0):
    """Clips whose embedding is a class mean + a large per-speaker offset + noise: the speaker
    dominates, as it does in EmoGator (data.md), so removing it must help."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1.0, (n_classes, dim))
    x, y, g = [], [], []
    for s in range(n_speakers):
        off = rng.normal(0, offset, dim)
        for c in range(n_classes):
            for _ in range(per_class):
                x.append(centres[c] + off + rng.normal(0, 0.5, dim))
                y.append(c)
                g.append(f"{s:03d}")
    return np.array(x, dtype=np.float32), np.array(y), np.array(g)


def test_other_clip_means_never_use_the_clip_itself():
    # One-hot rows: a mean's nonzero entries name exactly the rows it averaged.
    n = 12
    x = np.eye(n, dtype=np.float32)
    groups = np.array(["a"] * 5 + ["b"] * 7)
    rng = np.random.default_rng(0)
    for k in (1, 3, None):
        m = other_clip_means(x, groups, k, rng)
        for i in range(n):
            used = np.flatnonzero(m[i])
            assert i not in used
            assert set(groups[used]) == {groups[i]}
            assert len(used) == (int((groups == groups[i]).sum()) - 1 if k is None else k)
            assert m[i].sum() == pytest.approx(1.0)


def test_other_clip_means_take_all_others_when_k_exceeds_them_and_zero_for_a_lone_clip():
    x = np.arange(8, dtype=np.float32).reshape(4, 2)
    groups = np.array(["a", "a", "a", "b"])
    m = other_clip_means(x, groups, 10, np.random.default_rng(0))
    np.testing.assert_allclose(m[0], x[[1, 2]].mean(0))
    np.testing.assert_array_equal(m[3], 0)


def _lda(x, y, n_classes):
    head = heads.build("lda", (x.shape[1],), n_classes, shrinkage=0.1)
    t = torch.from_numpy(x)
    head.fit_normalization([t])
    head.fit_full(t, torch.from_numpy(y).long())
    return head.eval()


@pytest.fixture
def enrolled_predictor(tmp_path):
    x, y, g = speaker_corpus()
    rng = np.random.default_rng(1)
    normed = x - other_clip_means(x, g, enrol.draw_k(len(y), rng), rng)
    labels = ["a", "b", "c", "d"]
    meta = {"enrolment": {"min_clips": 5, "k_train": [5, 30], "calibration": {"temperature": 2.0}},
            "calibration": {"temperature": 1.5}}  # fmt: skip
    path = checkpoint.save(tmp_path / "toy", _lda(x, y, 4), "lda", ["ge2e"], labels, meta,
                           enrolled=_lda(normed, y, 4))  # fmt: skip
    return Predictor.load(path), x, y, g


def test_enrolment_below_break_even_equals_the_plain_prediction(enrolled_predictor):
    p, x, _, g = enrolled_predictor
    assert p.min_enrolment_clips == 5
    clip = {"ge2e": x[0]}
    plain = p.predict_embeddings(clip)
    others = [{"ge2e": v} for v in x[1:][g[1:] == g[0]]]
    for few in ([], others[:1], others[:4]):
        pred = p.predict_embeddings(clip, Enrolment.from_embeddings(few))
        assert pred.enrolment_clips == 0
        assert pred.probs == plain.probs


def test_enrolment_uses_the_enrolled_head_on_the_normalised_clip_with_its_calibration(enrolled_predictor):
    p, x, _, g = enrolled_predictor
    others = [{"ge2e": v} for v in x[1:][g[1:] == g[0]][:10]]
    e = Enrolment.from_embeddings(others)
    pred = p.predict_embeddings({"ge2e": x[0]}, e)
    assert pred.enrolment_clips == 10
    z = torch.from_numpy((x[0] - np.mean([o["ge2e"] for o in others], 0))[None].astype(np.float32))
    with torch.inference_mode():
        logits = p.checkpoint.enrolled(z).logits[0].double().numpy()
    expect = np.exp(logits / 2.0 - (logits / 2.0).max())
    expect /= expect.sum()
    got = np.array([pred.probs[lab] for lab in p.labels])
    np.testing.assert_allclose(got, expect, rtol=1e-5, atol=1e-7)


def test_predict_accepts_clips_as_enrolment(enrolled_predictor, monkeypatch):
    p, x, _, _ = enrolled_predictor
    seen = []

    def fake_embed(names, wave, sr, **kw):
        seen.append(float(wave[0]))
        return {"ge2e": x[len(seen) - 1]}, {}

    monkeypatch.setattr("nver_demo.predict.embed_clip", fake_embed)
    clips = [(np.full(8000, 0.1 * (i + 1), dtype=np.float32), 16000) for i in range(6)]
    e = p.enrolment(clips)
    assert e.n_clips == 6 and len(seen) == 6
    np.testing.assert_allclose(e.means["ge2e"], x[:6].mean(0), rtol=1e-5)


def test_a_bad_enrolment_block_is_refused(tmp_path, enrolled_predictor):
    p, *_ = enrolled_predictor
    meta = dict(p.meta)
    meta["enrolment"] = {**meta["enrolment"], "min_clips": 0}
    with pytest.raises(ValueError, match="min_clips"):
        checkpoint.validate(meta)
    meta["enrolment"] = {**meta["enrolment"], "min_clips": 5, "file": "../elsewhere.safetensors"}
    with pytest.raises(ValueError, match=r"enrolled\.safetensors"):
        checkpoint.validate(meta)


def test_cv_enrolment_beats_plain_where_the_speaker_dominates():
    x, y, g = speaker_corpus()
    r = enrol.evaluate(
        "lda", [x], y, g, 4, ks=(0, 1, 10), config=train.TrainConfig(head_config={"shrinkage": 0.1})
    )
    f1 = {k: v["macro_f1"] for k, v in r["ks"].items()}
    # Speaker offsets (sd 3) swamp class means (sd 1): the plain head is near chance (25 %),
    # removing a 10-clip speaker mean leaves class + noise (sd 0.5), which LDA separates.
    assert f1[0] < 60 and f1[10] > f1[0] + 25, f1
    assert r["n_test"] == len(y)


def test_cv_with_a_test_pool_only_tests_its_speakers():
    x, y, g = speaker_corpus(n_speakers=20)
    pool = np.isin(g, [f"{s:03d}" for s in range(10)])
    r = enrol.evaluate(
        "lda",
        [x],
        y,
        g,
        4,
        test_pool=pool,
        ks=(0, 5),
        config=train.TrainConfig(head_config={"shrinkage": 0.1}),
    )
    assert set(g[r["test_index"]]) == set(g[pool])
    assert r["n_test"] == int(pool.sum())


def test_break_even_is_the_smallest_k_from_which_enrolment_always_pays():
    s = {0: {"macro_f1": 31.0}, 3: {"macro_f1": 30.5}, 5: {"macro_f1": 32.0}, 10: {"macro_f1": 34.0}}
    assert enrol.break_even(s) == 5
    s[3]["macro_f1"] = 31.5
    assert enrol.break_even(s) == 3


def test_enrolled_checkpoint_end_to_end(tmp_path):
    x, y, g = speaker_corpus(n_speakers=20)
    folders = ["emogator_more" if int(s) < 8 else "emogator" for s in g]
    items = [
        Item(Path(f"/data/{f}/audio/{s}-{i}.opus"), "abcd"[c], s)
        for i, (f, s, c) in enumerate(zip(folders, g, y))
    ]
    ds = Dataset("toy", items, "toy corpus", labels=list("abcd"))
    feats = experiment.Features(ds, ["ge2e"], [x], y, g, {})
    ck, _ = enrol.enrolled_checkpoint(feats, "lda", tmp_path / "ck", head_config={"shrinkage": 0.1},
                                      test_folders=("emogator_more",), procedure="toy")  # fmt: skip
    assert (tmp_path / "ck" / "enrolled.safetensors").is_file()
    assert ck.enrolled is not None and ck.meta["enrolment"]["min_clips"] >= 1
    assert ck.meta["training"]["cv_test_clips"] == int((np.array(folders) == "emogator_more").sum())
    assert set(ck.meta["enrolment"]["cv"]) == {str(k) for k in enrol.KS}
    assert ck.meta["metrics"]["cv"]["macro_f1_mean"] == pytest.approx(
        np.mean(ck.meta["enrolment"]["cv"]["0"]["macro_f1_folds"]), abs=1e-6
    )


def _rows(x, g, speaker):
    from nver_demo.app.timeline import Row

    return [Row(i, i + 0.5, "a", None, "#888888", {"a": 1.0}, None, -20.0, {"out_of_domain": False},
                {"ge2e": v}) for i, v in enumerate(x[g == speaker])]  # fmt: skip


def test_timeline_reads_each_burst_enrolled_by_the_other_bursts(enrolled_predictor):
    from nver_demo.app.timeline import enrol_rows

    p, x, _, g = enrolled_predictor
    rows = _rows(x, g, g[0])[:12]
    note = enrol_rows(p, rows)
    assert note is not None and "other 11 bursts" in note
    embs = np.array([r.embeddings["ge2e"] for r in rows])
    for i, r in enumerate(rows):
        assert r.enrolment_clips == 11
        others = Enrolment({"ge2e": np.delete(embs, i, 0).mean(0)}, 11)
        # enrol_rows sums in float64, this mean is float32: agree to float32 rounding.
        assert r.probs == pytest.approx(
            p.predict_embeddings({"ge2e": embs[i]}, others).probs, rel=1e-4, abs=1e-6
        )


def test_timeline_with_too_few_bursts_keeps_the_plain_answers(enrolled_predictor):
    from nver_demo.app.timeline import enrol_rows

    p, x, _, g = enrolled_predictor
    rows = _rows(x, g, g[0])[:5]  # 4 others < min_clips 5
    assert enrol_rows(p, rows) is None
    assert all(r.enrolment_clips == 0 and r.probs == {"a": 1.0} for r in rows)


def test_tune_to_my_voice_from_the_break_even_on(enrolled_predictor):
    from nver_demo.app import voice_enrolment

    p, x, _, g = enrolled_predictor
    pred = p.predict_embeddings({"ge2e": x[0]})
    mine = [{"ge2e": v} for v in x[1:][g[1:] == g[0]]]
    same, note = voice_enrolment.enrolled(p, pred, mine[:3])
    assert same is pred and "3 of your earlier clips so far" in note and "from 5 on" in note
    tuned, note = voice_enrolment.enrolled(p, pred, mine[:8])
    assert tuned.enrolment_clips == 8 and "with 8 of your earlier clips" in note
    assert tuned.probs == p.predict_embeddings({"ge2e": x[0]}, Enrolment.from_embeddings(mine[:8])).probs


def test_the_session_keeps_only_voice_clips_and_at_most_the_newest_few(enrolled_predictor):
    from nver_demo.app import voice_enrolment

    p, x, _, _ = enrolled_predictor
    kept: list = []
    for i in range(voice_enrolment.MAX_CLIPS + 5):
        kept = voice_enrolment.remember(kept, p.predict_embeddings({"ge2e": x[i]}))
    assert len(kept) == voice_enrolment.MAX_CLIPS
    np.testing.assert_array_equal(kept[-1]["ge2e"], x[voice_enrolment.MAX_CLIPS + 4])
    odd = p.predict_embeddings({"ge2e": x[0]})
    odd.out_of_domain = True
    assert voice_enrolment.remember(kept, odd) == kept
    assert "are kept" in voice_enrolment.status(kept) and "No clips" in voice_enrolment.status([])


def test_analyze_tab_tunes_to_the_session_and_forgets(app_checkpoints, monkeypatch, tmp_path):
    """The page keeps the session's clips only with 'Tune to my voice' on, each after its own analysis
    (never its own enrolment), and passes them to the next analysis."""
    from nver_demo.app import catalog, service
    from nver_demo.app.tabs.analyze import OUTPUTS, Analyze
    from nver_demo.app.tabs.common import Context

    infos = catalog.models(app_checkpoints, hub=False)
    h = Analyze(Context(infos))
    seen = []
    real = service.analyze

    def spy(*a, enrol=None, **k):
        seen.append(len(enrol) if enrol is not None else None)
        return real(*a, enrol=enrol, **k)

    monkeypatch.setattr(service, "analyze", spy)
    path = app_server.write(tmp_path / "b.wav", app_server.burst(1.5), 16000)
    out = h.page(str(path), infos[0].name, "PCA", "fused", False, [])
    voice = out[OUTPUTS.index("voice")]
    assert voice == [] and seen == [None]
    for n in range(3):
        out = h.page(str(path), infos[0].name, "PCA", "fused", True, voice)
        voice = out[OUTPUTS.index("voice")]
        assert len(voice) == n + 1 and seen[-1] == n
    assert "3 of your clips" in out[OUTPUTS.index("voice_md")]


def test_analyze_api_tunes_to_the_enrolment_files_it_is_sent():
    """/analyze's optional enrol_files: the shipped default reads the clip with its enrolled head
    from its break-even on, says so in details, and refuses more than MAX_FILES files."""
    from nver_demo import checkpoint
    from nver_demo.app import catalog, voice_enrolment
    from nver_demo.app.tabs.analyze import Analyze
    from nver_demo.app.tabs.common import Context

    infos = [i for i in catalog.models(checkpoint.SHIPPED_DIR, hub=False) if i.name == checkpoint.DEFAULT]
    if not infos:
        pytest.skip("no shipped default in this checkout")
    h = Analyze(Context(infos))
    clips = sorted(str(p) for p in EXAMPLES.glob("*.mp3"))
    clip, others = clips[0], clips[1:5]
    _, _, _, plain_md, plain = h.analyze(clip, checkpoint.DEFAULT, "PCA", "fused")
    assert plain["enrolment"] == {"clips": 0, "note": None} and "Your voice" not in plain_md
    _, _, _, md, tuned = h.analyze(clip, checkpoint.DEFAULT, "PCA", "fused", others)
    assert tuned["enrolment"]["clips"] == len(others)
    assert f"with {len(others)} of your earlier clips" in tuned["enrolment"]["note"] and "Your voice" in md
    assert tuned["probs"] != plain["probs"]
    with pytest.raises(Exception, match=f"At most {voice_enrolment.MAX_FILES} enrolment clips"):
        h.analyze(clip, checkpoint.DEFAULT, "PCA", "fused", [clip] * (voice_enrolment.MAX_FILES + 1))
