"""Cache of Whisper-base's frozen lower blocks, the input of fine-tuning (issue: adapt Whisper).

One pass over a dataset runs the frozen encoder once per clip, exactly as the ``whisper-base``
backbone does (peak-normalised, un-padded clip, at least 0.2 s), and writes per clip, keyed by
the SHA-1 of the file's bytes like :mod:`nver_demo.training.cache`:

- ``stats/<key>.npy``: float32 ``(layers + 1, 2 * d)``, mean and std over time of every hidden
  state (0 = conv stem + positions, i = block i). Rows 2-4 are the ``whisper-base`` embedding,
  so the pass also fills the ordinary embedding cache for that backbone;
- ``h<k>/<key>.npy``: float16 ``(T, d)``, the output of block ``k`` for every ``k`` in
  ``keep``: what the fine-tuned upper blocks start from.

Resumable (existing keys are skipped), shardable (``--shard i/n``, one process per core).
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

BACKBONE = "whisper-base"
KEEP = (2, 3)  # block outputs cached as fine-tuning inputs


def states_root(cache_root: Path) -> Path:
    return Path(cache_root) / "whisper-base-states"


def _save(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, arr)
    os.replace(tmp, path)


def run(dataset, cache_root: Path, shard: tuple[int, int] = (0, 1), keep=KEEP, progress=True) -> int:
    """Fill the cache for one shard of ``dataset``; returns how many clips were computed."""
    import torch
    from tqdm.auto import tqdm

    from .. import audio, backbones
    from ..backbones.whisper import encoder_input
    from .cache import EmbeddingCache, file_key

    root = states_root(cache_root)
    emb_cache = EmbeddingCache(cache_root)
    tag = backbones.spec(BACKBONE).cache_tag
    model = None
    done = 0
    i, n = shard
    items = dataset.items[i::n]
    for item in tqdm(items, desc=f"whisper states {i}/{n}", unit="clip", disable=not progress):
        key = file_key(item.path)
        targets = [root / "stats" / f"{key}.npy"] + [root / f"h{k}" / f"{key}.npy" for k in keep]
        if all(p.exists() for p in targets):
            continue
        try:
            wave, sr = audio.load(item.path)
        except audio.AudioError as e:
            log.warning("skipping %s: %s", item.path, e)
            continue
        mono = audio.to_mono(audio.to_float(wave))
        if audio.stats(mono, sr).is_quiet:
            marks = Path(cache_root) / "_quiet"
            marks.mkdir(parents=True, exist_ok=True)
            (marks / key).touch()
        if model is None:
            model = backbones.load(BACKBONE)
        w = encoder_input(audio.prepare(mono, sr, model.sample_rate))
        with torch.inference_mode():
            mel = model.logmel(torch.from_numpy(w))
            states = model.encoder(mel[None])
        stats = np.stack(
            [torch.cat([h[0].mean(0), h[0].std(0, unbiased=False)]).numpy() for h in states]
        ).astype(np.float32)
        for k in keep:
            _save(root / f"h{k}" / f"{key}.npy", states[k][0].numpy().astype(np.float16))
        _save(root / "stats" / f"{key}.npy", stats)
        emb_cache.put(tag, key, stats[list(model.blocks)].reshape(-1))
        done += 1
    return done


def main(argv=None) -> None:
    from .datasets import read_emogator

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shard", default="0/1", help="i/n: this process takes every n-th clip from i")
    ap.add_argument("--cache", default=None, help="cache root (default $NVER_CACHE)")
    args = ap.parse_args(argv)
    from .cache import default_root

    i, n = (int(x) for x in args.shard.split("/"))
    ds = read_emogator()
    print(run(ds, Path(args.cache) if args.cache else default_root(), (i, n)))


if __name__ == "__main__":
    main()
