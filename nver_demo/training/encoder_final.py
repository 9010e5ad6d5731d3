"""Ship the fine-tuned encoder: tune Whisper-base's conv stem and blocks 1-4 on every speaker
(the ``whisper-base-ft`` weights), then fit the default head on its features and record the
nested cross-validation that :mod:`.encoder_finetune` ran fold by fold.

    python -m nver_demo.training.encoder_finetune --fold K     # K = 0..4: the nested CV
    python -m nver_demo.training.encoder_final                 # weights/whisper-base-ft.safetensors
    python -m nver_demo.training.encoder_final --checkpoint    # checkpoints/lda-whisper-base-ft

The checkpoint's CV is the folds' (each fold's encoder never saw its test speakers): an LDA
cross-validated on the final encoder's features would score speakers that encoder was tuned on.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from .. import metrics
from . import train
from .encoder_finetune import (
    POOLED_BLOCKS,
    EncoderFinetuneConfig,
    PooledEncoder,
    finetune_encoder,
    load_inputs,
)
from .finetune import with_overrides

log = logging.getLogger(__name__)


def tuned_state(model: PooledEncoder) -> dict[str, torch.Tensor]:
    """The weights a fine-tuning moved (conv stem, blocks 1..4), named as in :class:`WhisperEncoder`,
    in float16: what ships as the ``whisper-base-ft`` backbone."""
    return {k: v.detach().to(torch.float16).cpu().contiguous()
            for k, v in model.state_dict().items() if not k.startswith("embed_positions")}  # fmt: skip


def run_final(encoder, mels, base, y, groups, n_classes, config, out: Path, work: Path | None = None,
              device=torch.device("cpu"), progress=True, data: str = "") -> dict:  # fmt: skip
    """Fine-tune on every speaker (early stopping on ``val_fraction`` of them, as in each fold) and
    save the tuned stem and blocks as float16 safetensors at ``out``, with what made them."""
    from safetensors.torch import save_file

    from ..backbones.whisper_ft import FORMAT

    if tuple(config.blocks) != POOLED_BLOCKS:
        raise ValueError(f"the whisper-base-ft backbone pools blocks {list(POOLED_BLOCKS)}, "
                         f"not {list(config.blocks)}: only a fold (encoder_finetune) can try others")  # fmt: skip
    fit_idx, val_idx = train.validation_split(y, groups, config.val_fraction, config.seed)
    res = finetune_encoder(encoder, mels, base, y, n_classes, fit_idx, val_idx, config, device, progress, groups)
    record = {
        "what": "Whisper-base conv stem + blocks 1-4 fine-tuned on EmoGator vocal bursts "
        "(python -m nver_demo.training.encoder_final); derived from openai/whisper-base (MIT)",
        "config": asdict(config),
        "data": data,
        "n_fit": len(fit_idx),
        "n_val": len(val_idx),
        **res.record(device),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"format": FORMAT, "blocks": json.dumps(list(POOLED_BLOCKS)),
            "best_step": str(res.best_step), "best_val_macro_f1": f"{res.best_val_f1:.2f}"}  # fmt: skip
    save_file(tuned_state(res.model), str(out), metadata=meta)
    if work is not None:
        work.mkdir(parents=True, exist_ok=True)
        (work / "final.json").write_text(json.dumps(record, indent=1))
    return record


def nested_cv(work: Path, y: np.ndarray, n_classes: int, n_splits: int = 5) -> train.CVResult:
    """The cross-validation of the shipped ``lda-whisper-base-ft``: every fold's LDA on features
    of an encoder tuned on that fold's training speakers only (``fold<k>.npz`` from
    :func:`run_fold`), assembled as :func:`train.cross_validate` would report it."""
    oof = np.zeros((len(y), n_classes), dtype=np.float32)
    fold_of = np.full(len(y), -1)
    folds, seconds = [], 0.0
    for k in range(n_splits):
        npz, js = work / f"fold{k}.npz", work / f"fold{k}.json"
        if not (npz.is_file() and js.is_file()):
            raise FileNotFoundError(f"fold {k} of the encoder fine-tuning is missing in {work}: run "
                                    f"python -m nver_demo.training.encoder_finetune --fold {k}")  # fmt: skip
        rec = json.loads(js.read_text())
        with np.load(npz) as z:
            test_idx, proba = z["test_idx"], z["tuned"]
        if len(proba) != len(test_idx) or (len(test_idx) and test_idx.max() >= len(y)):
            raise ValueError(f"{npz} does not belong to this clip list ({len(y)} clips)")
        oof[test_idx], fold_of[test_idx] = proba, k
        s = metrics.scores(y[test_idx], proba.argmax(1), n_classes)
        folds.append({**s, "best_step": rec["best_step"], "n_test": len(test_idx), "seconds": rec["train_seconds"]})
        seconds += rec["train_seconds"]
    if (fold_of < 0).any():
        raise ValueError(f"{int((fold_of < 0).sum())} clips are in no fold's test set: other clips than the folds'")
    return train.CVResult.from_folds(folds, y, oof, seconds, fold_of)


def make_checkpoint(feats, work: Path, out: Path, weights: Path, n_splits: int = 5):
    """``lda-whisper-base-ft``: LDA fitted as ``train`` fits it on ``feats`` (the shipped
    ``whisper-base-ft`` embeddings of every usable clip, from the ``weights`` file), recording the
    nested CV of :func:`nested_cv` and its calibration (an LDA cross-validated on the final
    encoder's features would score speakers that encoder was tuned on)."""
    from . import experiment

    cv = nested_cv(work, feats.y, feats.n_classes, n_splits)
    final = json.loads((work / "final.json").read_text()) if (work / "final.json").is_file() else {}
    extra = {
        "cv_procedure": f"nested: in each of the {n_splits} speaker-grouped folds the encoder was fine-tuned on "
        "that fold's training speakers only (encoder_finetune --fold k), then LDA fitted on their tuned features",
        "backbone_weights": {
            "file": f"weights/{weights.name}",
            "sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
            **{k: final[k] for k in ("config", "n_fit", "n_val", "probe_val_macro_f1", "best_val_macro_f1",
                                     "best_step", "train_seconds", "device") if k in final},
        },
    }  # fmt: skip
    return experiment.train_checkpoint(feats, "lda", out, train.TrainConfig(), cv, extra_training=extra)


def main(argv=None) -> None:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m nver_demo.training.encoder_final",
                                 description=__doc__.splitlines()[0])  # fmt: skip
    ap.add_argument("--checkpoint", action="store_true",
                    help="fit LDA on the whisper-base-ft features, with the folds' nested CV")  # fmt: skip
    ap.add_argument("--out", type=Path, default=None,
                    help="the weights file (default: the backbone's), or with --checkpoint the checkpoint "
                    "folder (default checkpoints/lda-whisper-base-ft)")  # fmt: skip
    ap.add_argument("--work", type=Path, default=Path("runs/encoder_finetune"))
    ap.add_argument("--device", default=None, help="default: cuda when present, else cpu")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="EncoderFinetuneConfig fields")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from ..backbones.whisper_ft import NAME, default_weights_path

    if args.checkpoint:
        from .. import checkpoint
        from . import cache, datasets, experiment

        feats = experiment.load_features(datasets.read_emogator(), [NAME], cache.EmbeddingCache())
        out = args.out or checkpoint.checkpoints_dir() / f"lda-{NAME}"
        print("saved", make_checkpoint(feats, args.work, out, default_weights_path()).path)
        return

    cfg = with_overrides(EncoderFinetuneConfig(), args.set)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    feats, mels, encoder = load_inputs(args.work)
    out = args.out or default_weights_path()
    r = run_final(encoder, mels, feats.xs[0], feats.y, feats.groups, feats.n_classes, cfg, out,
                  args.work, device, data=feats.dataset.description)  # fmt: skip
    print(json.dumps({k: r[k] for k in ("probe_val_macro_f1", "best_val_macro_f1", "best_step")}), "->", out)


if __name__ == "__main__":
    main()
