"""Fit a checkpoint's novelty threshold out-of-fold on unseen EmoGator speakers, and store it.

    python -m nver_demo.training.novelty_fit --model checkpoints/lda-whisper-base-ft

Speaker-grouped folds: the novelty model (:mod:`nver_demo.novelty`) is fitted on the other folds'
speakers and scores the held-out speakers' clips, so every score is what a clip of an unseen
speaker gets. The threshold is the ``1 - share`` quantile of those scores (``share`` = 5 % by
default: that share of in-domain clips is flagged). The final novelty model is then fitted on
every clip and written with the threshold into the checkpoint (``novelty.safetensors`` and
``config.json["novelty"]``: score, threshold, quantile, folds, clips, speakers, how fitted).
For heads fitted in one step (lda, linear) the head is refitted per fold as well, so the record
also says the out-of-fold accuracy of all clips and of the unflagged ones.

Embeddings come from the cache (``$NVER_CACHE``); by default only clips already cached for every
backbone are used (``--compute-missing`` embeds the rest). Per-fold results are kept in
``runs/novelty_fit/<name>/`` keyed by the data and settings, so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

from .. import checkpoint, heads, novelty
from . import cache, datasets, train

log = logging.getLogger(__name__)

SHARE = 0.05
FOLDS = 5
WORK = Path("runs/novelty_fit")


def cached_only(ds: datasets.Dataset, tags: list[str], emb_cache: cache.EmbeddingCache) -> datasets.Dataset:
    """The clips whose embeddings are cached for every backbone tag (nothing is computed)."""
    keep = []
    for i, item in enumerate(ds.items):
        key = cache.file_key(item.path)
        if all((emb_cache.root / t / f"{key}.npy").exists() for t in tags):
            keep.append(i)
    return ds.subset(np.array(keep, dtype=int))


def features(meta: dict, ds: datasets.Dataset, emb_cache: cache.EmbeddingCache, compute_missing: bool):
    """(x, y, groups, n_dropped) for the checkpoint's backbones, labels in the checkpoint's order."""
    from .. import backbones

    tags = [backbones.spec(b).cache_tag for b in meta["backbones"]]
    if not compute_missing:
        ds = cached_only(ds, tags, emb_cache)
    ex = [cache.extract(ds, b, emb_cache, progress=False) for b in meta["backbones"]]
    ok = np.ones(len(ds), bool)
    for e in ex:
        ok &= e.usable & np.isfinite(e.vectors).all(1)
    index = {lab: k for k, lab in enumerate(meta["labels"])}
    labels = [it.label for it in ds.items]
    ok &= np.array([lab in index for lab in labels], bool)
    idx = np.flatnonzero(ok)
    x = novelty.concat([e.vectors[idx] for e in ex])
    y = np.array([index[labels[i]] for i in idx])
    groups = np.array([ds.items[i].speaker for i in idx])
    return x, y, groups, int(len(ds) - len(idx))


def _refit_head(meta: dict, x: np.ndarray, y: np.ndarray) -> heads.Head | None:
    """The checkpoint's head refitted on (x, y) when it is a one-step head, else None."""
    spec = heads.spec(meta["head"])
    head = heads.build(meta["head"], tuple(meta["dims"]), len(meta["labels"]), **meta.get("head_config", {}))
    if not getattr(head, "full_batch", False) or spec.n_inputs != 1:
        return None
    xt = torch.from_numpy(x.astype(np.float32))
    head.fit_normalization([xt])
    head.fit_full(xt, torch.from_numpy(y).long())
    return head.eval()


def run_fold(meta: dict, x, y, train_idx, test_idx, shrinkage: float) -> dict:
    model = novelty.fit(x[train_idx], y[train_idx], len(meta["labels"]), shrinkage)
    out = {"test": test_idx, "scores": model.scores(x[test_idx])}
    head = _refit_head(meta, x[train_idx], y[train_idx])
    if head is not None:
        with torch.inference_mode():
            logits = head(torch.from_numpy(x[test_idx].astype(np.float32))).logits
        out["correct"] = (logits.argmax(1).numpy() == y[test_idx]).astype(np.int8)
    return out


def fingerprint(x: np.ndarray, y: np.ndarray, groups: np.ndarray, settings: dict) -> str:
    h = hashlib.sha1(json.dumps(settings, sort_keys=True).encode())
    h.update(np.ascontiguousarray(x[:, :8], dtype=np.float32).tobytes())
    h.update(y.astype(np.int64).tobytes())
    h.update("|".join(map(str, groups)).encode())
    return h.hexdigest()[:16]


def out_of_fold(meta, x, y, groups, *, folds: int, shrinkage: float, work: Path) -> dict:
    """Pooled out-of-fold scores (and correctness), each fold cached in ``work``."""
    key = fingerprint(x, y, groups, {"folds": folds, "shrinkage": shrinkage, "score": novelty.SCORE,
                                     "head": meta["head"], "head_config": meta.get("head_config")})  # fmt: skip
    work.mkdir(parents=True, exist_ok=True)
    scores = np.full(len(y), np.nan)
    correct = np.full(len(y), -1, np.int8)
    for k, (tr, te) in enumerate(train.speaker_folds(y, groups, folds, seed=0)):
        path = work / f"fold{k}-{key}.npz"
        if path.exists():
            f = dict(np.load(path))
        else:
            t0 = time.perf_counter()
            f = run_fold(meta, x, y, tr, te, shrinkage)
            np.savez(path, **f)
            log.info("fold %d: %d clips scored in %.1f s", k, len(te), time.perf_counter() - t0)
        scores[f["test"]] = f["scores"]
        if "correct" in f:
            correct[f["test"]] = f["correct"]
    return {"scores": scores, "correct": correct, "key": key}


def summarise(scores: np.ndarray, correct: np.ndarray, threshold: float) -> dict:
    flagged = scores > threshold
    out = {"flagged_share": round(float(flagged.mean()), 4)}
    if (correct >= 0).all():
        out["accuracy_all"] = round(100 * float(correct.mean()), 2)
        out["accuracy_unflagged"] = round(100 * float(correct[~flagged].mean()), 2)
        out["accuracy_flagged"] = round(100 * float(correct[flagged].mean()), 2) if flagged.any() else None
    return out


def fit_checkpoint(model_dir: str | Path, *, share: float = SHARE, folds: int = FOLDS,
                   compute_missing: bool = False, work: Path = WORK, dataset: datasets.Dataset | None = None,
                   emb_cache: cache.EmbeddingCache | None = None) -> dict:  # fmt: skip
    """Fit and write the novelty model and threshold of one checkpoint folder; returns the record.
    ``dataset`` defaults to every EmoGator folder (:func:`datasets.read_emogator`)."""
    if not 0 < share < 0.5:
        raise ValueError(f"share must be between 0 and 0.5, got {share}")
    directory = checkpoint.resolve(model_dir)
    cfg_path = directory / "config.json"
    meta = json.loads(cfg_path.read_text(encoding="utf-8"))
    shrinkage = float(meta.get("head_config", {}).get("shrinkage", 0.6))
    ds = dataset if dataset is not None else datasets.read_emogator()
    x, y, groups, dropped = features(meta, ds, emb_cache or cache.EmbeddingCache(), compute_missing)
    if len(np.unique(groups)) < folds:
        raise ValueError(f"{len(np.unique(groups))} speakers cached: need at least {folds} for {folds} folds")
    oof = out_of_fold(meta, x, y, groups, folds=folds, shrinkage=shrinkage, work=work / directory.name)
    threshold = float(np.quantile(oof["scores"], 1 - share))
    final = novelty.fit(x, y, len(meta["labels"]), shrinkage)
    record = {
        "score": novelty.SCORE,
        "threshold": round(threshold, 4),
        "quantile": round(1 - share, 4),
        "fitted": (
            f"{folds}-fold speaker-grouped out-of-fold: the novelty model fitted on the other folds' "
            f"speakers scored each held-out speaker's clips; threshold = the {100 * (1 - share):g}th "
            "percentile of those scores; final model fitted on all clips"
        ),
        "folds": folds,
        "shrinkage": shrinkage,
        "n_clips": len(y),
        "n_speakers": len(np.unique(groups)),
        "excluded_near_silent_or_undecodable": dropped,
        "data": ds.description + ("" if compute_missing else "; clips with cached embeddings only"),
        "out_of_fold": summarise(oof["scores"], oof["correct"], threshold),
        "key": oof["key"],
    }
    final.threshold, final.info = threshold, record
    novelty.save(final, directory)
    meta["novelty"] = record
    cfg_path.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    return record


def read_folders(folders: list[str] | None) -> datasets.Dataset:
    """EmoGator from the named folders (a bare name is looked up beside the default folder)."""
    if not folders:
        return datasets.read_emogator()
    roots = [Path(f) if Path(f).is_dir() else datasets.EMOGATOR_DIR.parent / f for f in folders]
    missing = [str(r) for r in roots if not r.is_dir()]
    if missing:
        raise ValueError(f"no such EmoGator folder: {', '.join(missing)}")
    return datasets.read_emogator(*roots)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", nargs="+", required=True, help="checkpoint folder(s) or shipped name(s)")
    ap.add_argument("--share", type=float, default=SHARE, help="share of unseen-speaker clips flagged")
    ap.add_argument("--folds", type=int, default=FOLDS)
    ap.add_argument("--compute-missing", action="store_true", help="embed clips missing from the cache")
    ap.add_argument("--folders", nargs="*", default=None,
                    help="EmoGator folders (paths, or names beside the default one: emogator emogator_extra); "
                         "default: every folder")  # fmt: skip
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ds = read_folders(args.folders)
    for m in args.model:
        rec = fit_checkpoint(
            m, share=args.share, folds=args.folds, compute_missing=args.compute_missing, dataset=ds
        )
        print(f"{m}: threshold {rec['threshold']} on {rec['n_clips']} clips / {rec['n_speakers']} speakers; "
              f"out of fold {rec['out_of_fold']}")  # fmt: skip


if __name__ == "__main__":
    main()
