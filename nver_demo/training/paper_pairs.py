"""The papers' pairs, from backbone weights to trained checkpoints (``python -m nver_demo paper-pairs``).

Stages, each resumable, all state in one work folder::

    weights   fetch (or, with --random-init, make) the backbones' weights    -> <work>/weights/
    extract   embed the clips of shard i of n with every backbone             -> <work>/shards/, <work>/cache/
    merge     check the n shards cover every clip, fill the cache             -> <work>/merged/<backbone>.json
    train     5-fold speaker-grouped CV + final fit: CNN on each backbone,
              Concat and RENO on each pair (the seed paper's Table II)        -> <work>/checkpoints/<name>/
    publish   see :mod:`nver_demo.training.publish`

The extraction of shard ``i/n`` touches only every n-th clip, so any existing engine can fan it
out (a Slurm array, Ray tasks, ``datasets.map(num_proc=n)``) by calling :func:`extract` with a
different ``i``; :func:`merge` then gathers the shard files (copied into ``<work>/shards/`` when
the workers did not share a disk). The clip list is fixed by the dataset, ``speakers`` and
``seed``, so every worker computes the same one; shard files carry its fingerprint and merge
refuses shards of another list. Feature extraction and training are the project's own
(:mod:`.cache`, :mod:`.experiment`, :mod:`.train`); this module only orders them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .. import backbones, paper
from . import cache, experiment, train, weights
from .datasets import Dataset

log = logging.getLogger(__name__)

PAIR_HEADS = ("concat", "reno")
SINGLE_HEAD = "cnn"


def table_ii_pairs() -> list[tuple[str, str]]:
    """The 18 pairs of the seed paper's Table II, in its order: 12 MAFM+AAFM, then 6 AAFM+AAFM."""
    pairs = [r.backbones for r in paper.results() if r.table == "II" and r.head == "reno"]
    return [tuple(p) for p in pairs]  # type: ignore[misc]


def is_mafm_pair(pair: tuple[str, ...]) -> bool:
    return any(backbones.spec(b).family == "state-space" for b in pair)


def select_pairs(wanted: list[str] | None) -> list[tuple[str, str]]:
    """Pairs by keyword (``all``, ``mafm+aafm``, ``aafm+aafm``) or by name (``a+b``, either order);
    every named pair must be one of Table II's."""
    table = table_ii_pairs()
    out: list[tuple[str, str]] = []
    for w in wanted or ["all"]:
        if w == "all":
            chosen = table
        elif w == "mafm+aafm":
            chosen = [p for p in table if is_mafm_pair(p)]
        elif w == "aafm+aafm":
            chosen = [p for p in table if not is_mafm_pair(p)]
        else:
            key = sorted(w.split("+"))
            chosen = [p for p in table if sorted(p) == key]
            if not chosen:
                names = ", ".join("+".join(p) for p in table)
                raise ValueError(f"{w!r} is not a pair of the paper's Table II. Pairs: {names}")
        out += [p for p in chosen if p not in out]
    return out


@dataclass(frozen=True)
class Plan:
    """Which models a run trains: ``pair_heads`` on each pair, ``single_head`` on each backbone."""

    pairs: tuple[tuple[str, str], ...]
    pair_heads: tuple[str, ...] = PAIR_HEADS
    single_head: str | None = SINGLE_HEAD

    @property
    def backbones(self) -> list[str]:
        return list(dict.fromkeys(b for p in self.pairs for b in p))

    def models(self) -> list[tuple[str, list[str]]]:
        """(head, backbones) to train: singles first (cheap, and each pair's reference), then pairs."""
        singles = [(self.single_head, [b]) for b in self.backbones] if self.single_head else []
        return singles + [(h, list(p)) for p in self.pairs for h in self.pair_heads]


def model_name(head: str, names: list[str]) -> str:
    """What ``train`` and the app call this combination: ``reno-audio-mamba-base+wavlm-base``."""
    return f"{head}-{'+'.join(names)}"


def select_speakers(ds: Dataset, n: int | None, seed: int = 0) -> Dataset:
    """All clips of ``n`` speakers drawn at random (seeded); the whole dataset when ``n`` is None."""
    speakers = ds.speakers
    if n is None:
        return ds
    if speakers is None:
        raise ValueError(f"{ds.name} has no speaker ids, so --speakers cannot pick speakers")
    pool = sorted(set(speakers))
    if n > len(pool):
        raise ValueError(f"--speakers {n}: {ds.name} has only {len(pool)} speakers")
    keep = set(np.random.default_rng(seed).choice(pool, size=n, replace=False).tolist())
    sub = ds.subset([i for i, s in enumerate(speakers) if s in keep])
    sub.description = f"{ds.description}; this run: {n} of its speakers, {len(sub)} clips (seed {seed})"
    return sub


def fingerprint(ds: Dataset) -> str:
    """Identifies the clip list (file names, labels, speakers, order) across machines."""
    h = hashlib.sha1()
    for it in ds.items:
        h.update(f"{it.path.name}\t{it.label}\t{it.speaker}\n".encode())
    return h.hexdigest()[:16]


def parse_shard(text: str) -> tuple[int, int]:
    """``"3/16"`` -> (3, 16); shards are numbered 0 .. n-1 (a Slurm array ``--array=0-15``)."""
    i, sep, n = text.partition("/")
    try:
        i_, n_ = int(i), int(n)
    except ValueError:
        i_, n_ = -1, 0
    if not sep or n_ < 1 or not 0 <= i_ < n_:
        raise ValueError(f"--shard expects i/n with 0 <= i < n (e.g. 0/4), got {text!r}")
    return i_, n_


@dataclass(frozen=True)
class Work:
    """The work folder's layout."""

    root: Path

    @property
    def weights(self) -> Path:
        return self.root / "weights"

    @property
    def cache(self) -> cache.EmbeddingCache:
        return cache.EmbeddingCache(self.root / "cache")

    def shard_file(self, backbone: str, i: int, n: int) -> Path:
        return self.root / "shards" / backbone / f"shard-{i:04d}-of-{n:04d}.npz"

    def merged(self, backbone: str) -> Path:
        return self.root / "merged" / f"{backbone}.json"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"


def extract(
    ds: Dataset, names: list[str], work: Work, shard: tuple[int, int] = (0, 1), device: str | None = None
) -> dict[str, dict]:
    """Embed shard ``i`` of ``n`` (every n-th clip, from the i-th) with each backbone in turn.

    Reads the weights from ``work.weights``; writes each vector to the content-addressed cache
    (resumable: a rerun skips what is cached) and one shard file per backbone. Returns per
    backbone the clips embedded and the seconds spent (wall and process CPU; cached clips cost
    next to nothing, so a resumed shard reports less).
    """
    i, n = shard
    index = np.arange(len(ds))[i::n]
    sub = ds.subset(index)
    fp = fingerprint(ds)
    stats = {}
    with weights.use_weights(work.weights):
        for name in names:
            t0, c0 = time.perf_counter(), time.process_time()
            ex = cache.extract(sub, name, work.cache, device=device)
            seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
            out = work.shard_file(ex.backbone, i, n)
            out.parent.mkdir(parents=True, exist_ok=True)
            quiet = np.zeros(len(index), dtype=bool)
            quiet[ex.quiet] = True
            tmp = out.with_name(out.stem + ".tmp.npz")
            np.savez(tmp, index=index, vectors=ex.vectors, quiet=quiet,
                     failed=json.dumps({str(index[k]): v for k, v in ex.failed.items()}),
                     fingerprint=fp, shard=np.array([i, n]))  # fmt: skip
            os.replace(tmp, out)
            stats[name] = {"clips": len(index), "seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1),
                           "failed": len(ex.failed)}  # fmt: skip
            log.info("%s shard %d/%d: %d clips in %.0f s (%.0f s CPU)", name, i, n, len(index), seconds, cpu)
    return stats


def merge(ds: Dataset, names: list[str], work: Work, n: int) -> dict[str, dict]:
    """Gather the ``n`` shard files of each backbone into the cache and mark it complete.

    Raises ValueError naming the missing shards, or shards made from another clip list.
    """
    fp = fingerprint(ds)
    out = {}
    quiet_marks = work.cache.root / "_quiet"
    for name in names:
        tag = backbones.spec(name).cache_tag
        files = [work.shard_file(tag, i, n) for i in range(n)]
        missing = [i for i, f in enumerate(files) if not f.is_file()]
        if missing:
            raise ValueError(
                f"{name}: shards {missing} of {n} are missing in {files[0].parent}; run "
                f"`paper-pairs --stage extract --shard <i>/{n}` for them (or copy their files there)"
            )
        covered = np.zeros(len(ds), dtype=bool)
        failed, quiet = {}, 0
        for f in files:
            with np.load(f) as z:
                if str(z["fingerprint"]) != fp:
                    raise ValueError(
                        f"{f} was made from another clip list (dataset, --speakers or --seed differ)"
                    )
                idx, vecs, q = z["index"], z["vectors"], z["quiet"]
                failed.update(json.loads(str(z["failed"])))
            for row, k in enumerate(idx):
                covered[k] = True
                if str(k) in failed:
                    continue
                key = cache.file_key(ds.items[k].path)
                if work.cache.get(tag, key) is None:
                    work.cache.put(tag, key, vecs[row])
                if q[row]:
                    quiet += 1
                    quiet_marks.mkdir(parents=True, exist_ok=True)
                    (quiet_marks / key).touch()
        if not covered.all():
            raise ValueError(
                f"{name}: the {n} shards miss {int((~covered).sum())} clips; were they made with {n}?"
            )
        summary = {"clips": len(ds), "shards": n, "undecodable": len(failed), "near_silent": quiet,
                   "fingerprint": fp}  # fmt: skip
        work.merged(tag).parent.mkdir(parents=True, exist_ok=True)
        work.merged(tag).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
        out[name] = summary
    return out


def _check_merged(ds: Dataset, names: list[str], work: Work) -> None:
    fp = fingerprint(ds)
    for name in names:
        p = work.merged(backbones.spec(name).cache_tag)
        if not p.is_file() or json.loads(p.read_text(encoding="utf-8")).get("fingerprint") != fp:
            raise ValueError(
                f"{name}: no merged embeddings of this clip list in {work.root}; run the extract and "
                "merge stages first (or the whole pipeline: --stage all)"
            )


def train_models(
    ds: Dataset,
    plan: Plan,
    work: Work,
    config: train.TrainConfig = train.TrainConfig(),
    folds: int = 5,
    refs_per_class: int = 10,
) -> list[Path]:
    """Cross-validate and train every model of ``plan`` on the merged embeddings.

    A checkpoint already trained on this clip list is kept (the stage resumes); each new one
    records where its backbones' weights came from.
    """
    _check_merged(ds, plan.backbones, work)
    feats = experiment.load_features(ds, plan.backbones, work.cache, progress=False)
    sources = weights.read_sources(work.weights)
    fp = fingerprint(ds)
    paths = []
    for head, names in plan.models():
        out = work.checkpoints / model_name(head, names)
        cfg = out / "config.json"
        if cfg.is_file() and json.loads(cfg.read_text(encoding="utf-8"))["training"].get("clip_list") == fp:
            log.info("%s: already trained on this clip list, kept", out.name)
            paths.append(out)
            continue
        sub = replace(feats, backbones=names, xs=[feats.xs[feats.backbones.index(b)] for b in names])
        cv = train.cross_validate(head, sub.xs, sub.y, sub.n_classes, sub.groups, config, folds)
        extra = {
            "recipe": "python -m nver_demo paper-pairs",
            "clip_list": fp,
            "weights_origin": sources.get("origin", weights.PRETRAINED),
            "backbone_weights": {b: sources.get("backbones", {}).get(b, "?") for b in names},
        }
        experiment.train_checkpoint(sub, head, out, config, cv, refs_per_class, extra)
        log.info("%s: CV accuracy %.1f, macro-F1 %.1f", out.name, cv.summary["accuracy_mean"],
                 cv.summary["macro_f1_mean"])  # fmt: skip
        paths.append(out)
    return paths
