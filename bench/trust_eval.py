"""Measure the novelty score and the no-voice checks on sounds the models never saw (docs/trust.md).

    PYTHONPATH=. NVER_CACHE=/work/cache python bench/trust_eval.py --model lda-whisper-base-ft

1. Out-of-fold on the EmoGator speakers whose embeddings are cached (5 speaker-grouped folds, as
   ``nver_demo.training.novelty_fit``): four candidate scores, each thresholded at its own 95th
   out-of-fold percentile: the shipped one (Mahalanobis to the nearest emotion centre in the LDA
   discriminant subspace), the full-space Mahalanobis to the nearest centre under the same shrunk
   covariance, the mean distance to the 10 nearest training clips in the discriminant subspace,
   and 1 - the LDA head's top probability. The LDA head is refitted per fold for the accuracies.
2. Models fitted on all those clips then score held-out sets: EmoGator clips of speakers not
   among them (never seen by the novelty model, and from ``emogator_more``, never by the shipped
   heads either), the same clips through other channels, synthetic non-affective vocal sounds,
   and synthetic non-voice signals (which must all get the no-voice verdict and leave no
   Timeline burst).

Every embedding and verdict is cached under ``runs/trust_eval/`` (resumable).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np
import torch

from nver_demo import checkpoint, novelty, voice_check
from nver_demo.app import bursts
from nver_demo.predict import Predictor, get_backbone
from nver_demo.training import cache, datasets, novelty_fit, train, trust_sounds

WORK = Path("runs/trust_eval")
SCORES = ("subspace", "full", "knn10", "maxprob")


def _eigh_fit(x, y, k, a):
    """Standardiser, class means and whitening of the shrunk pooled covariance (as novelty.fit)."""
    mean, std = x.mean(0), np.where(x.std(0) > 1e-8, x.std(0), 1.0)
    z = np.clip((x - mean) / std, -10, 10)
    means = np.stack([z[y == c].mean(0) for c in range(k)])
    r = z - means[y]
    cov = r.T @ r / (len(y) - k)
    cov = (1 - a) * cov + a * np.trace(cov) / len(cov) * np.eye(len(cov))
    ev, evec = np.linalg.eigh(cov)
    w = evec / np.sqrt(ev)
    return mean, std, means, w


def scorers(x, y, k, a, head):
    """Fit every candidate on (x, y): a function (n, d) -> {score name: (n,)}."""
    mean, std, means, w = _eigh_fit(x, y, k, a)
    centres_w = means @ w
    # the shipped subspace model from the same whitening (novelty.fit's steps, one eigh not two)
    _, sv, vt = np.linalg.svd((means - means.mean(0)) @ w, full_matrices=False)
    proj = w @ vt[: int(min(k - 1, (sv > 1e-9 * sv[0]).sum()))].T
    sub = novelty.NoveltyModel(mean, std, proj, means @ proj)
    train_u = sub.coordinates(x)

    def score(xt):
        z = np.clip((xt - mean) / std, -10, 10) @ w
        d2 = (z * z).sum(1)[:, None] - 2 * z @ centres_w.T + (centres_w**2).sum(1)[None]
        u = sub.coordinates(xt)
        dk = np.sqrt(np.maximum((u * u).sum(1)[:, None] - 2 * u @ train_u.T + (train_u**2).sum(1)[None], 0))
        with torch.inference_mode():
            p = head(torch.from_numpy(xt.astype(np.float32))).logits.softmax(1).numpy()
        return {"subspace": sub.scores(xt), "full": np.sqrt(np.maximum(d2.min(1), 0)),
                "knn10": np.sort(dk, 1)[:, :10].mean(1), "maxprob": 1 - p.max(1), "pred": p.argmax(1)}  # fmt: skip

    return score


def out_of_fold(meta, x, y, groups, a):
    key = novelty_fit.fingerprint(x, y, groups, {"eval": 1, "a": a})
    path = WORK / f"oof-{meta['name']}-{key}.npz"
    if path.exists():
        return dict(np.load(path))
    out = {s: np.zeros(len(y)) for s in SCORES} | {"pred": np.zeros(len(y), int)}
    for kf, (tr, te) in enumerate(train.speaker_folds(y, groups, 5, seed=0)):
        t0 = time.perf_counter()
        head = novelty_fit._refit_head(meta, x[tr], y[tr])
        res = scorers(x[tr], y[tr], len(meta["labels"]), a, head)(x[te])
        for s, v in res.items():
            out[s][te] = v
        print(f"fold {kf}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    np.savez(path, **out)
    return out


def held_out_sets(ds: datasets.Dataset, seen_speakers: set[str], n: int, seed: int = 0):
    """(set, name, label or None, make) with make() -> (wave, sr)."""
    from nver_demo import audio

    rng = np.random.default_rng(seed)
    more = [it for it in ds.items if it.speaker not in seen_speakers and "emogator_more" in str(it.path)]
    pick = [more[i] for i in rng.choice(len(more), min(n, len(more)), replace=False)]
    rows = []
    for it in pick:
        rows.append(
            (
                "EmoGator, unseen speakers (emogator_more)",
                it.path.name,
                it.label,
                lambda it=it: audio.load(it.path),
            )
        )
        for ch in trust_sounds.CHANNELS:

            def make(it=it, ch=ch):
                return trust_sounds.channel_shift(*audio.load(it.path), ch)

            rows.append((f"same clips, channel: {ch}", f"{ch}/{it.path.name}", it.label, make))
    for name, text in trust_sounds.ESPEAK.items():
        for voice, pitch in (("en", 40), ("en+f3", 70), ("de", 50)):
            rows.append(("espeak-ng speech / voice-like", f"{name}-{voice}", None,
                         lambda t=text, v=voice, p=pitch: (trust_sounds.espeak(t, v, pitch=p), 16000)))  # fmt: skip
    for kind in trust_sounds.SHAPED:
        for s in range(4):
            rows.append(("shaped-noise cough/throat/lip/sniff", f"{kind}-{s}", None,
                         lambda k=kind, s=s: (trust_sounds.shaped(k, s), 16000)))  # fmt: skip
    for kind in trust_sounds.NON_VOICE:
        for lv in trust_sounds.LEVELS_DBFS:
            for length in trust_sounds.LENGTHS_S:
                rows.append(("synthetic non-voice", f"{kind}{lv}{length}", None,
                             lambda k=kind, lv=lv, L=length: (trust_sounds.non_voice(k, L, lv), 16000)))  # fmt: skip
    return rows


def embed_rows(rows, backbone: str):
    """Per row: the embedding (cached: the slow part) and, computed afresh each run so that they
    follow the current checks, the voice verdict and the Timeline sounds that would count."""
    from nver_demo import audio

    d = WORK / "rows" / backbone
    d.mkdir(parents=True, exist_ok=True)
    out = []
    for setname, name, label, make in rows:
        f = d / (hashlib.sha1(f"{setname}|{name}".encode()).hexdigest()[:16] + ".npz")
        wave, sr = make()
        if f.exists():
            emb = np.load(f)["emb"]
        else:
            emb = get_backbone(backbone).embed(wave, sr)
            np.savez(f, emb=emb)
        check = voice_check.check(wave, sr)
        mono = audio.resample(audio.to_mono(audio.to_float(wave)), sr, 16000)
        found = bursts.detect(mono, 16000)
        survivors = sum(voice_check.check(b.wave, 16000).is_voice for b in found)
        out.append({"set": setname, "name": name, "label": label, "emb": emb, "voice": check.is_voice,
                    "reasons": check.reasons, "detected": len(found), "survivors": survivors,
                    "measures": check.measures})  # fmt: skip
    return out


def pct(v) -> str:
    return "–" if v is None else f"{100 * v:.0f} %"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="lda-whisper-base-ft")
    ap.add_argument(
        "--n", type=int, default=60, help="held-out EmoGator clips (each also through every channel)"
    )
    ap.add_argument(
        "--folders",
        nargs="*",
        default=["emogator"],
        help="EmoGator folders whose cached clips are the in-domain set (as novelty_fit --folders)",
    )
    args = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    meta = checkpoint.read_meta(args.model)
    meta["name"] = checkpoint.resolve(args.model).name
    a = float(meta.get("head_config", {}).get("shrinkage", 0.6))
    x, y, groups, _ = novelty_fit.features(
        meta, novelty_fit.read_folders(args.folders), cache.EmbeddingCache(), False
    )
    ds = datasets.read_emogator()  # every folder: the held-out clips come from the others
    oof = out_of_fold(meta, x, y, groups, a)
    thr = {s: float(np.quantile(oof[s], 0.95)) for s in SCORES}
    correct = oof["pred"] == y
    head = novelty_fit._refit_head(meta, x, y)
    score_all = scorers(x, y, len(meta["labels"]), a, head)
    [backbone] = meta["backbones"]
    rows = embed_rows(held_out_sets(ds, set(groups), args.n), backbone)
    shipped = Predictor.load(args.model)
    lines = ["| set | n | bandwidth / noise floor | no voice | " + " | ".join(f"novel: {s}" for s in SCORES)
             + " | out of domain (shipped) | of those it gets right | accuracy all / unflagged | Timeline bursts left |",
             "|" + "---|" * (len(SCORES) + 8)]  # fmt: skip
    flag_oof = {s: oof[s] > thr[s] for s in SCORES}
    lines.append(f"| EmoGator, unseen speakers (out-of-fold, {len(np.unique(groups))} speakers) | {len(y)} | – | – | "
                 + " | ".join(pct(flag_oof[s].mean()) for s in SCORES)
                 + f" | {pct(flag_oof['subspace'].mean())} | {pct(flag_oof['subspace'][correct].mean())} | "
                 f"{100 * correct.mean():.1f} % / {100 * correct[~flag_oof['subspace']].mean():.1f} % | – |")  # fmt: skip
    labels = meta["labels"]
    for setname in dict.fromkeys(r["set"] for r in rows):
        rs = [r for r in rows if r["set"] == setname]
        xs = novelty.concat([np.stack([r["emb"] for r in rs])])
        sc = score_all(xs)
        flags = {s: sc[s] > thr[s] for s in SCORES}
        nov = np.array([not r["voice"] for r in rs])
        ood = nov | (shipped.novelty.scores(xs) > shipped.novelty.threshold)
        acc = right = "–"
        if rs[0]["label"] is not None:
            preds = [shipped.predict_embeddings({backbone: r["emb"]}).label for r in rs]
            ok = np.array([p == r["label"] for p, r in zip(preds, rs)])
            acc = f"{100 * ok.mean():.0f} % / " + (f"{100 * ok[~ood].mean():.0f} %" if (~ood).any() else "–")
            right = pct(ood[ok].mean()) if ok.any() else "–"
        left = sum(r["survivors"] for r in rs)
        bw = np.nanmedian([r["measures"].get("bandwidth_hz", np.nan) for r in rs])
        floor = np.nanmedian([r["measures"].get("noise_floor_db", np.nan) for r in rs])
        lines.append(f"| {setname} | {len(rs)} | {bw / 1000:.1f} kHz / {floor:.0f} dB | {pct(nov.mean())} | "
                     + " | ".join(pct(flags[s].mean()) for s in SCORES)
                     + f" | {pct(ood.mean())} | {right} | {acc} | {left} of {sum(r['detected'] for r in rs)} |")  # fmt: skip
    table = "\n".join(lines)
    thr_line = ", ".join(f"{s} {thr[s]:.3f}" for s in SCORES)
    text = f"{table}\n\nThresholds (95th out-of-fold percentile): {thr_line}. Labels: {len(labels)}.\n"
    (WORK / f"{meta['name']}.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
