"""Does training on speed-perturbed copies of the clips help a linear head on unseen speakers?

    python scripts/speed_perturb.py --factors 0.9 1.1 --head lda
    python scripts/speed_perturb.py --factors 0.9 1.1 1.2 --head linear

Speed perturbation (Kaldi-style: resample so the clip plays ``f`` times faster, pitch and tempo
together) changes a voice's pitch and pace while keeping the sound's kind, which is what a head
should learn to ignore across speakers. Each factor's Whisper-base embeddings (the backbone's own
blocks and pooling) are cached under ``whisper-base@speed<f>`` in ``$NVER_CACHE`` (about 12 min per
factor on one core, resumable). The cross-validation uses the checkpoints' speaker folds; each
fold trains on its clips plus their perturbed copies and is scored on the *original* test clips,
with the regularisation fixed (logistic C = 3e-4, LDA shrinkage 0.6, the values the shipped
heads choose) so both rows of one run differ only in the training copies. Prints both rows.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from nver_demo import audio, backbones, metrics
from nver_demo.training import cache, datasets, experiment, train

BACKBONE = "whisper-base"
FIXED = {"linear": {"C": 3e-4}, "lda": {"shrinkage": 0.6}}


def perturbed(items, factor: float, emb: cache.EmbeddingCache) -> np.ndarray:
    """Embeddings of every clip played ``factor`` times faster (cached, resumable)."""
    import librosa
    from tqdm.auto import tqdm

    tag = f"{backbones.spec(BACKBONE).cache_tag}@speed{factor:g}"
    model, out = None, []
    for it in tqdm(items, desc=f"extract {tag}", unit="clip"):
        key = cache.file_key(it.path)
        vec = emb.get(tag, key)
        if vec is None:
            wave, sr = audio.load(it.path)
            mono = audio.to_mono(audio.to_float(wave)).astype(np.float32)
            fast = librosa.resample(mono, orig_sr=round(sr * factor), target_sr=sr)
            model = model or backbones.load(BACKBONE)
            vec = model.embed(fast, sr)
            emb.put(tag, key, vec)
        out.append(vec)
    return np.stack(out).astype(np.float32)


def score(
    head_name: str, xs_train: list[np.ndarray], y_train: np.ndarray, x_test: np.ndarray, y_test, k: int
):
    """Fit ``head_name`` (its regularisation fixed) on the stacked training copies; score ``x_test``."""
    x, y = np.concatenate(xs_train), np.concatenate([y_train] * len(xs_train))
    config = train.TrainConfig(head_config=FIXED[head_name])
    head = train.fit_full_batch(head_name, [x], y, k, None, config).head
    return metrics.scores(y_test, train.predict_proba(head, [x_test]).argmax(1), k)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--factors", nargs="+", type=float, default=[0.9, 1.1])
    ap.add_argument("--head", choices=sorted(FIXED), default="lda")
    args = ap.parse_args()
    torch.set_num_threads(1)
    emb = cache.EmbeddingCache()
    feats = experiment.load_features(datasets.read_emogator(), [BACKBONE], emb, progress=False)
    x, y, k = feats.xs[0], feats.y, feats.n_classes
    aug = [perturbed(feats.dataset.items, f, emb) for f in args.factors]
    rows: dict[str, list[dict]] = {"original clips only": [], f"+ copies at speed {args.factors}": []}
    for tr, te in train.speaker_folds(y, feats.groups):
        rows["original clips only"].append(score(args.head, [x[tr]], y[tr], x[te], y[te], k))
        rows[f"+ copies at speed {args.factors}"].append(
            score(args.head, [x[tr], *(a[tr] for a in aug)], y[tr], x[te], y[te], k)
        )
    for what, folds in rows.items():
        f1 = [f["macro_f1"] for f in folds]
        acc = [f["accuracy"] for f in folds]
        print(
            f"{args.head} {FIXED[args.head]}, {what}: accuracy {np.mean(acc):.2f} ± {np.std(acc):.2f}  "
            f"macro-F1 {np.mean(f1):.2f} ± {np.std(f1):.2f}  per fold {[round(v, 2) for v in f1]}"
        )


if __name__ == "__main__":
    main()
