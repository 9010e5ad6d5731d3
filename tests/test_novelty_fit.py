"""Fitting a checkpoint's novelty threshold out-of-fold, and the predictor reading it back."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from nver_demo import novelty
from nver_demo.predict import Predictor
from nver_demo.training import cache, datasets, novelty_fit
from tests.conftest import tone


@pytest.fixture(scope="module")
def fitted(tiny_checkpoint, tiny_dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp("nf")
    ck = root / "ck"
    shutil.copytree(tiny_checkpoint, ck)
    rec = novelty_fit.fit_checkpoint(ck, share=0.1, folds=3, compute_missing=True, work=root / "work",
                                     dataset=datasets.read_csv(tiny_dataset),
                                     emb_cache=cache.EmbeddingCache(root / "cache"))  # fmt: skip
    return ck, rec, root


def test_record_describes_the_fit(fitted):
    ck, rec, _ = fitted
    meta = json.loads((ck / "config.json").read_text())
    assert meta["novelty"] == rec
    assert rec["score"] == novelty.SCORE and rec["folds"] == 3 and rec["quantile"] == 0.9
    assert rec["n_clips"] == 54 and rec["n_speakers"] == 6 and "speaker-grouped" in rec["fitted"]
    # the threshold is a quantile of the out-of-fold scores: about 10 % of clips are above it
    assert 0.0 < rec["out_of_fold"]["flagged_share"] <= 0.15
    assert (ck / novelty.FILE).is_file()


def test_rerun_resumes_from_the_fold_cache(fitted, tiny_dataset, tmp_path):
    ck, rec, root = fitted
    done = sorted((root / "work" / "ck").glob("fold*.npz"))
    assert len(done) == 3
    mtimes = [p.stat().st_mtime_ns for p in done]
    copy = tmp_path / "ck"  # the same name (the fold cache's key), not the module's checkpoint:
    shutil.copytree(ck, copy)  # rewriting that one would change what the other tests read
    again = novelty_fit.fit_checkpoint(copy, share=0.1, folds=3, work=root / "work",
                                       dataset=datasets.read_csv(tiny_dataset),
                                       emb_cache=cache.EmbeddingCache(root / "cache"))  # fmt: skip
    assert again["threshold"] == rec["threshold"]
    assert [p.stat().st_mtime_ns for p in done] == mtimes  # folds were read, not recomputed


def test_predictor_reads_the_threshold_from_the_config(fitted):
    ck, rec, _ = fitted
    p = Predictor.load(ck)
    pred = p.predict(tone(0.6, 16000, 330.0, seed=4), 16000)
    assert pred.novelty_threshold == pytest.approx(rec["threshold"])
    assert pred.novelty is not None and np.isfinite(pred.novelty)
    assert ("novel" in pred.ood_reasons) == (pred.novelty > rec["threshold"])
    meta = json.loads((ck / "config.json").read_text())
    meta["novelty"]["threshold"] = -1.0  # every clip is now beyond it
    (ck / "config.json").write_text(json.dumps(meta))
    low = Predictor.load(ck).predict_embeddings(pred.embeddings)
    assert low.out_of_domain and low.ood_reasons == ["novel"] and low.reliability is None
    assert "unlike the training bursts" in low.novelty_line()
    meta["novelty"]["threshold"] = rec["threshold"]
    (ck / "config.json").write_text(json.dumps(meta))


def test_too_few_speakers_is_refused(tiny_checkpoint, tiny_dataset, tmp_path):
    ck = tmp_path / "ck"
    shutil.copytree(tiny_checkpoint, ck)
    with pytest.raises(ValueError, match="need at least 10"):
        novelty_fit.fit_checkpoint(ck, folds=10, compute_missing=True, work=tmp_path / "w",
                                   dataset=datasets.read_csv(tiny_dataset),
                                   emb_cache=cache.EmbeddingCache(tmp_path / "c"))  # fmt: skip
