"""Fine-tune Whisper-base's conv stem and blocks 1-4 on vocal bursts: the shipped ``whisper-base-ft``
encoder and the default checkpoint ``lda-whisper-base-ft`` (docs/accuracy.md).

    python -m nver_demo finetune fold --fold 0   # one fold of the nested CV (0..4; ~35 min on one core)
    python -m nver_demo finetune final           # every speaker -> weights/whisper-base-ft.safetensors
    python -m nver_demo finetune checkpoint      # LDA on its features -> checkpoints/lda-whisper-base-ft

The model is the ``whisper-base`` embedding itself (:class:`PooledEncoder`: mean and std over time of
blocks 2-4) under the linear probe fitted on the frozen features of the fit speakers, so step 0 *is* the
probe; early stopping on held-out training speakers keeps the probe as the floor. Augmentation on the
log-mel (``<work>/mels.npz``): crops of both ends, SpecAugment time and frequency masks. A fold scores
the default head, LDA, on the tuned against the frozen features of its training speakers, on its test
speakers; the checkpoint's CV is the folds' (each fold's encoder never saw its test speakers).
Levers screened before (speaker adversary, supcon, VTLP, weight averaging, mixup, label smoothing, other
blocks, block 4 alone): git tag ``pre-house-experiments``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .. import metrics
from ..models.whisper_encoder import PooledEncoder, WhisperEncoder
from . import train

log = logging.getLogger(__name__)

DEFAULT_WORK = Path("runs/encoder_finetune")


@dataclass(frozen=True)
class FinetuneConfig:
    """The shipped recipe (docs/accuracy.md); ``--set FIELD=VALUE`` changes a field."""

    # AdamW at a constant rate on the encoder (stem + blocks 1-4) and the probe's linear layer
    epochs: int = 3
    batch_size: int = 32  # clips of similar length
    lr_encoder: float = 1e-5
    lr_head: float = 1e-5
    weight_decay: float = 0.01
    # augmentation of each training clip's log-mel
    crop: float = 0.15  # up to this share of frames cut from the start and from the end
    time_masks: int = 2
    time_width: float = 0.1  # each time mask up to this share of the clip
    freq_masks: int = 2
    freq_width: int = 8  # mel bands
    # validation macro-F1 on held-out training speakers: the weights of the best evaluation are kept
    evals_per_epoch: int = 1
    val_fraction: float = 0.15
    bf16: bool = True  # autocast for the training passes; evaluation stays float32
    seed: int = 0


def with_overrides(config: FinetuneConfig, pairs: list[str]) -> FinetuneConfig:
    """``config`` with ``KEY=VALUE`` overrides (each value JSON of the field's type)."""
    kinds = {f.name: type(getattr(config, f.name)) for f in fields(config)}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or key not in kinds:
            raise ValueError(f"--set expects FIELD=VALUE, got {pair!r}; fields: {', '.join(kinds)}")
        try:
            value = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"--set {key}: {text!r} is not a JSON value (e.g. 3, 1e-5, true)") from e
        kind = kinds[key]
        if isinstance(value, bool) != (kind is bool) or not isinstance(
            value, (int, float) if kind is float else kind
        ):
            raise ValueError(f"--set {key} takes a {kind.__name__}, got {text!r}")
        config = replace(config, **{key: kind(value)})
    return config


def length_batches(lengths: np.ndarray, idx: np.ndarray, size: int, rng: np.random.Generator | None = None):
    """Index batches of similar length (less padding), from pools of ``16 size``; shuffled with ``rng``."""
    idx = rng.permutation(idx) if rng is not None else np.asarray(idx)
    out = []
    for s in range(0, len(idx), size * 16):
        chunk = idx[s : s + size * 16]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        out.extend(chunk[j : j + size] for j in range(0, len(chunk), size))
    return [out[i] for i in rng.permutation(len(out))] if rng is not None else out


def augment(m: np.ndarray, cfg: FinetuneConfig, rng: np.random.Generator) -> np.ndarray:
    """Crops of both ends, then time and frequency masks at the clip's floor; clips under 40 frames
    (0.4 s) are left as they are."""
    n = m.shape[1]
    if n < 40:
        return m
    a, b = rng.integers(0, int(cfg.crop * n) + 1, size=2)
    m = m[:, a : n - b].copy()
    floor = m.min()
    for _ in range(cfg.time_masks):
        w = rng.integers(0, int(cfg.time_width * m.shape[1]) + 1)
        s = rng.integers(0, m.shape[1] - w + 1)
        m[:, s : s + w] = floor
    for _ in range(cfg.freq_masks):
        w = rng.integers(0, cfg.freq_width + 1)
        s = rng.integers(0, m.shape[0] - w + 1)
        m[s : s + w] = floor
    return m


def _batch(mels, ids, cfg=None, rng=None) -> tuple[torch.Tensor, torch.Tensor]:
    ms = [mels[i].astype(np.float32) for i in ids]
    if rng is not None:
        ms = [augment(m, cfg, rng) for m in ms]
    frames = np.array([m.shape[1] for m in ms])
    out = np.zeros((len(ms), ms[0].shape[0], frames.max()), dtype=np.float32)
    for r, m in enumerate(ms):
        out[r, :, : m.shape[1]] = m
    return torch.from_numpy(out), torch.from_numpy(frames)


@torch.inference_mode()
def features(model: PooledEncoder, mels, ids, device=torch.device("cpu"), batch_size: int = 64) -> np.ndarray:
    """``(len(ids), model.dim)`` float32 features of the clips ``ids``."""
    model.eval()
    ids = np.asarray(ids)
    out = np.zeros((len(ids), model.dim), dtype=np.float32)
    for b in length_batches(np.array([mels[i].shape[1] for i in ids]), np.arange(len(ids)), batch_size):
        mel, frames = _batch(mels, ids[b])
        out[b] = model(mel.to(device), frames.to(device)).float().cpu().numpy()
    return out


@dataclass
class FinetuneResult:
    model: PooledEncoder
    history: list[dict]
    best_step: int  # 0 = the probe itself
    probe_val_f1: float
    best_val_f1: float
    seconds: float

    def record(self, device: torch.device) -> dict:
        """What a run writes down about its fine-tuning (fold or final)."""
        return {"probe_val_macro_f1": self.probe_val_f1, "best_val_macro_f1": self.best_val_f1,
                "best_step": self.best_step, "history": self.history,
                "train_seconds": round(self.seconds, 1), "device": str(device)}  # fmt: skip


def finetune_encoder(encoder: WhisperEncoder, mels: list[np.ndarray], base: np.ndarray, y: np.ndarray,
                     n_classes: int, fit_idx: np.ndarray, val_idx: np.ndarray,
                     config: FinetuneConfig = FinetuneConfig(), device: torch.device = torch.device("cpu"),
                     progress: bool = True) -> FinetuneResult:  # fmt: skip
    """Tune a copy of ``encoder`` under the probe fitted on ``base`` (its frozen features) of
    ``fit_idx``; keep the weights with the best macro-F1 on ``val_idx`` (step 0 = the probe)."""
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    probe = train.fit_full_batch("linear", [base], y, n_classes, None,
                                 train.TrainConfig(refit_on_validation=False, seed=config.seed),
                                 (fit_idx, val_idx)).head  # fmt: skip
    model = PooledEncoder(copy.deepcopy(encoder)).to(device).requires_grad_(True)
    if base.shape[1] != model.dim:
        raise ValueError(f"base has {base.shape[1]} features, the encoder's blocks 2-4 give {model.dim}")
    model.embed_positions.requires_grad_(False)  # Whisper's fixed sinusoids
    norm, linear = copy.deepcopy(probe.norms[0]).to(device), copy.deepcopy(probe.linear).to(device)
    linear.requires_grad_(True)

    def val_f1() -> float:
        f = torch.from_numpy(features(model, mels, val_idx, device)).to(device)
        with torch.inference_mode():
            pred = linear(norm(f)).argmax(1).cpu().numpy()
        return metrics.scores(y[val_idx], pred, n_classes)["macro_f1"]

    floor = val_f1()
    best = (floor, 0, copy.deepcopy(model.state_dict()))
    history = [{"step": 0, "epoch": 0.0, "val_macro_f1": floor}]
    log.info("probe (step 0): val macro-F1 %.2f", floor)
    opt = torch.optim.AdamW([{"params": model.parameters(), "lr": config.lr_encoder},
                             {"params": linear.parameters(), "lr": config.lr_head}],
                            weight_decay=config.weight_decay)  # fmt: skip
    lengths, yt, step = np.array([m.shape[1] for m in mels]), torch.from_numpy(y).long(), 0
    for epoch in range(config.epochs):
        batches = length_batches(lengths, fit_idx, config.batch_size, rng)
        marks = {round(len(batches) * (j + 1) / config.evals_per_epoch) for j in range(config.evals_per_epoch)}  # fmt: skip
        bar = tqdm(batches, desc=f"encoder epoch {epoch + 1}", unit="batch", disable=not progress)
        for j, b in enumerate(bar, 1):
            model.train()
            mel, frames = _batch(mels, b, config, rng)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.bf16):
                f = model(mel.to(device), frames.to(device))
            loss = F.cross_entropy(linear(norm(f.float())), yt[b].to(device))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_([*model.parameters(), *linear.parameters()], 1.0)
            opt.step()
            step += 1
            bar.set_postfix(loss=f"{loss.item():.3f}")
            if j in marks:
                f1 = val_f1()
                history.append({"step": step, "epoch": round(epoch + j / len(batches), 2), "val_macro_f1": f1})  # fmt: skip
                log.info("step %d: val macro-F1 %.2f (best %.2f)", step, f1, best[0])
                if f1 > best[0]:
                    best = (f1, step, copy.deepcopy(model.state_dict()))
    model.load_state_dict(best[2])
    model.eval()
    return FinetuneResult(model, history, best[1], floor, best[0], time.perf_counter() - t0)


def fit_lda(x_train, y_train, g_train, n_classes: int, seed: int = 0):
    """The default head as a checkpoint fits it: LDA, shrinkage chosen on held-out speakers."""
    return train.fit("lda", [x_train], y_train, n_classes, g_train, train.TrainConfig(seed=seed)).head


def data_record(dataset, groups: np.ndarray) -> dict:
    """What a run was trained on: the dataset's description, folders and clip and speaker counts."""
    return {"data": dataset.description, "sources": dataset.sources,
            "n_clips": len(groups), "n_speakers": len(np.unique(groups))}  # fmt: skip


def run_fold(encoder, mels, base, y, groups, n_classes, k, config, work: Path | None = None,
             device=torch.device("cpu"), progress=True, n_splits: int = 5, labels=None, data=None) -> dict:  # fmt: skip
    """Fine-tune on fold ``k``'s training speakers, then fit LDA on the frozen and on the tuned features
    of the whole training fold and score both on its test speakers. Writes to ``work``: ``fold<k>.json``
    (scores, ``data``: :func:`data_record`), ``fold<k>.npz`` (test indices, out-of-fold probabilities)
    and ``fold<k>.features.npy`` (the tuned features of every clip, float16)."""
    from .experiment import family_scores

    train_idx, test_idx = train.speaker_folds(y, groups, n_splits, 0)[k]
    fit_rel, val_rel = train.validation_split(y[train_idx], groups[train_idx], config.val_fraction, config.seed)  # fmt: skip
    res = finetune_encoder(encoder, mels, base, y, n_classes, train_idx[fit_rel], train_idx[val_rel],
                           config, device, progress)  # fmt: skip
    sets = {"frozen": base, "tuned": features(res.model, mels, np.arange(len(y)), device)}
    proba, scores = {}, {}
    for name, x in sets.items():
        head = fit_lda(x[train_idx], y[train_idx], groups[train_idx], n_classes, config.seed)
        proba[name] = train.predict_proba(head, [x[test_idx]])
        pred = proba[name].argmax(1)
        scores[name] = {**metrics.scores(y[test_idx], pred, n_classes), "shrinkage": float(head.shrinkage)}
        if labels is not None:
            scores[name]["family_accuracy"] = family_scores(y[test_idx], pred, labels)
    out = {"fold": k, "config": asdict(config), **(data or {}),
           "lda_frozen_test_macro_f1": scores["frozen"]["macro_f1"],
           "lda_tuned_test_macro_f1": scores["tuned"]["macro_f1"],
           "lda_frozen": scores["frozen"], "lda_tuned": scores["tuned"], "n_test": len(test_idx),
           **res.record(device)}  # fmt: skip
    if work is not None:
        work.mkdir(parents=True, exist_ok=True)
        np.savez(work / f"fold{k}.npz", test_idx=test_idx, **proba)
        np.save(work / f"fold{k}.features.npy", sets["tuned"].astype(np.float16))
        (work / f"fold{k}.json").write_text(json.dumps(out, indent=1))
    return out


def run_final(encoder, mels, base, y, groups, n_classes, config, out: Path, work: Path | None = None,
              device=torch.device("cpu"), progress=True, data=None) -> dict:  # fmt: skip
    """Fine-tune on every speaker (early stopping on ``val_fraction`` of them, as in each fold) and
    save the tuned stem and blocks as float16 safetensors at ``out``; ``<work>/final.json`` says
    what made them (``data``: :func:`data_record`)."""
    from ..backbones.whisper_ft import save_tuned

    fit_idx, val_idx = train.validation_split(y, groups, config.val_fraction, config.seed)
    res = finetune_encoder(encoder, mels, base, y, n_classes, fit_idx, val_idx, config, device, progress)
    record = {"what": "Whisper-base conv stem + blocks 1-4 fine-tuned on EmoGator vocal bursts "
              "(python -m nver_demo finetune final); derived from openai/whisper-base (MIT)",
              "config": asdict(config), **(data or {}), "n_fit": len(fit_idx), "n_val": len(val_idx),
              **res.record(device)}  # fmt: skip
    save_tuned(res.model.state_dict(), out, best_step=res.best_step, best_val_macro_f1=f"{res.best_val_f1:.2f}")  # fmt: skip
    if work is not None:
        work.mkdir(parents=True, exist_ok=True)
        (work / "final.json").write_text(json.dumps(record, indent=1))
    return record


def nested_cv(work: Path, y: np.ndarray, n_classes: int, n_splits: int = 5, data: str | None = None) -> train.CVResult:  # fmt: skip
    """The checkpoint's cross-validation: every fold's LDA on the features of an encoder tuned on that
    fold's training speakers only (``fold<k>.npz`` from :func:`run_fold`), as :func:`train.cross_validate`
    reports it. ``data``: the clips' description, which a fold's record must match when it has one."""
    oof = np.zeros((len(y), n_classes), dtype=np.float32)
    fold_of, folds, seconds = np.full(len(y), -1), [], 0.0
    for k in range(n_splits):
        npz, js = work / f"fold{k}.npz", work / f"fold{k}.json"
        if not (npz.is_file() and js.is_file()):
            raise FileNotFoundError(f"fold {k} of the encoder fine-tuning is missing in {work}: run "
                                    f"python -m nver_demo finetune fold --work {work} --fold {k}")  # fmt: skip
        rec = json.loads(js.read_text())
        if data and rec.get("data", data) != data:
            raise ValueError(f"fold {k} in {work} was run on other clips ({rec['data']}) than these ({data})")
        with np.load(npz) as z:
            test_idx, proba = z["test_idx"], z["tuned"]
        if len(proba) != len(test_idx) or (len(test_idx) and test_idx.max() >= len(y)):
            raise ValueError(f"{npz} does not belong to this clip list ({len(y)} clips)")
        oof[test_idx], fold_of[test_idx] = proba, k
        s = metrics.scores(y[test_idx], proba.argmax(1), n_classes)
        folds.append({**s, "best_step": rec["best_step"], "n_test": len(test_idx), "seconds": rec["train_seconds"]})  # fmt: skip
        seconds += rec["train_seconds"]
    if (fold_of < 0).any():
        raise ValueError(f"{int((fold_of < 0).sum())} clips are in no fold's test set: other clips than the folds'")  # fmt: skip
    return train.CVResult.from_folds(folds, y, oof, seconds, fold_of)


def make_checkpoint(feats, work: Path, out: Path, weights: Path, n_splits: int = 5):
    """``lda-whisper-base-ft``: LDA fitted as ``train`` fits it on ``feats`` (the ``whisper-base-ft``
    embeddings, from the ``weights`` file), recording :func:`nested_cv` and its calibration."""
    from . import experiment

    cv = nested_cv(work, feats.y, feats.n_classes, n_splits, feats.dataset.description)
    final = json.loads((work / "final.json").read_text()) if (work / "final.json").is_file() else {}
    kept = ("config", "data", "n_fit", "n_val", "probe_val_macro_f1", "best_val_macro_f1", "best_step",
            "train_seconds", "device")  # fmt: skip
    extra = {
        "cv_procedure": f"nested: in each of the {n_splits} speaker-grouped folds the encoder was fine-tuned on "
        "that fold's training speakers only (python -m nver_demo finetune fold --fold k), then LDA fitted on "
        "their tuned features",
        "backbone_weights": {"file": f"weights/{weights.name}", "sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
                             **{k: final[k] for k in kept if k in final}},
    }  # fmt: skip
    return experiment.train_checkpoint(feats, "lda", out, train.TrainConfig(), cv, extra_training=extra)


def _features(data: list[Path] | None, backbone: str):
    """The usable EmoGator clips (``data``: its folders, default :func:`~.datasets.read_emogator`'s)
    with their ``backbone`` embeddings (cached)."""
    from . import cache, datasets, experiment

    return experiment.load_features(datasets.read_emogator(*(data or [])), [backbone], cache.EmbeddingCache())


def load_inputs(work: Path, data: list[Path] | None = None):
    """What every fine-tuning run reads: :func:`_features` of ``whisper-base`` (the frozen features),
    the clips' log-mels (``<work>/mels.npz``) and OpenAI's encoder."""
    from ..backbones.whisper import VARIANTS, load_encoder
    from .cache import log_mels

    feats = _features(data, "whisper-base")
    return feats, log_mels(feats.dataset, cache=work / "mels.npz"), load_encoder(VARIANTS[0])


def _cmd(args) -> None:
    from ..backbones.whisper_ft import NAME, default_weights_path

    cfg = with_overrides(FinetuneConfig(), args.set)  # refused before minutes of loading
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if args.stage == "checkpoint":
        from ..checkpoint import checkpoints_dir

        out = args.out or checkpoints_dir() / f"lda-{NAME}"
        print("saved", make_checkpoint(_features(args.data, NAME), args.work, out, default_weights_path()).path)  # fmt: skip
        return
    folds = [k for k in (args.fold or range(5)) if not (args.work / f"fold{k}.json").exists()]
    if args.stage == "fold" and not folds:
        print(f"every fold asked for is already done in {args.work}")
        return
    feats, mels, encoder = load_inputs(args.work, args.data)
    common = (encoder, mels, feats.xs[0], feats.y, feats.groups, feats.n_classes)
    data = data_record(feats.dataset, feats.groups)
    if args.stage == "final":
        out = args.out or default_weights_path()
        r = run_final(*common, cfg, out, args.work, device, data=data)
        print(json.dumps({k: r[k] for k in ("probe_val_macro_f1", "best_val_macro_f1", "best_step")}), "->", out)  # fmt: skip
        return
    for k in folds:
        r = run_fold(*common, k, cfg, args.work, device, labels=feats.dataset.labels, data=data)
        print(json.dumps({key: r[key] for key in ("fold", "lda_frozen_test_macro_f1", "lda_tuned_test_macro_f1",
                                                   "probe_val_macro_f1", "best_val_macro_f1", "best_step")}))  # fmt: skip


def add_parser(sub) -> None:
    """``python -m nver_demo finetune {fold,final,checkpoint}``."""
    import argparse

    p = sub.add_parser("finetune", help="fine-tune Whisper-base's stem + blocks 1-4: folds, final fit, checkpoint",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    stages = p.add_subparsers(dest="stage", required=True)
    helps = {"fold": "one speaker-grouped fold of the nested CV (resumes: a fold with a record is skipped)",
             "final": "every speaker -> the whisper-base-ft weights, <work>/final.json",
             "checkpoint": "LDA on the whisper-base-ft features with the folds' nested CV"}  # fmt: skip
    names = ", ".join(f.name for f in fields(FinetuneConfig))
    for stage, text in helps.items():
        s = stages.add_parser(stage, help=text, description=text)
        s.add_argument("--work", type=Path, default=DEFAULT_WORK, help=f"run records, log-mels (default {DEFAULT_WORK})")  # fmt: skip
        s.add_argument("--data", type=Path, nargs="+", default=None, metavar="FOLDER",
                       help="EmoGator folders (default: those beside the checkout)")  # fmt: skip
        if stage != "checkpoint":
            s.add_argument("--device", default=None, help="default: cuda when present, else cpu")
            s.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE", help=f"recipe fields: {names}")  # fmt: skip
        if stage == "fold":
            s.add_argument("--fold", type=int, action="append", choices=range(5), help="0..4, repeatable (default all)")  # fmt: skip
        else:
            s.add_argument("--out", type=Path, default=None,
                           help="the weights file (default: the backbone's)" if stage == "final"
                           else "the checkpoint folder (default checkpoints/lda-whisper-base-ft)")  # fmt: skip
        s.set_defaults(func=_cmd, fold=None, out=None, set=[], device=None)
