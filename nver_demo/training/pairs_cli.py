"""``python -m nver_demo paper-pairs``: the command line of :mod:`.paper_pairs` and :mod:`.publish`."""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

log = logging.getLogger(__name__)

STAGES = ("all", "weights", "extract", "merge", "train", "publish")

DESCRIPTION = """\
Train the heads of the RENO paper's backbone pairs on EmoGator and publish them.

From backbone weights to published checkpoints, in one work folder (every stage resumes):
  weights  WavLM, UniSpeech-SAT, wav2vec 2.0, HuBERT by Hub id; Audio-MAMBA from its official
           Google Drive release (gdown), converted to safetensors
  extract  embeddings of every clip with every backbone the pairs need (--shard i/n: a part)
  merge    gather the shards (needed after --shard; done by --stage all otherwise)
  train    5-fold speaker-grouped CV + final fit: CNN per backbone, Concat and RENO per pair
  publish  checkpoint folders + model card to a local folder and/or a Hub model repo
"""

EPILOG = """\
examples:
  # everything on one machine with Hub access (GPU used when present), publish to the Hub
  python -m nver_demo paper-pairs --work runs/pairs --publish-repo me/nver-paper-pairs

  # three pairs on 10 speakers, random weights (no downloads: a pipeline test), local publish
  python -m nver_demo paper-pairs --work /tmp/pp --random-init --speakers 10 \\
      --pairs audio-mamba-tiny+wavlm-base audio-mamba-tiny+hubert-base hubert-base+wavlm-base \\
      --publish-dir /tmp/pp-published
  NVER_CHECKPOINT_DIRS=/tmp/pp-published python app.py     # the app lists them

  # fan the extraction out over 16 Slurm tasks (any engine works: each task is one command)
  python -m nver_demo paper-pairs --work W --stage weights
  sbatch --array=0-15 --wrap 'python -m nver_demo paper-pairs --work W --stage extract \\
      --shard $SLURM_ARRAY_TASK_ID/16'
  python -m nver_demo paper-pairs --work W --stage merge --shards 16
  python -m nver_demo paper-pairs --work W --stage train
  python -m nver_demo paper-pairs --work W --stage publish --publish-repo me/nver-paper-pairs

Pass the same --data/--speakers/--seed/--pairs to every stage: they fix the clip list and models.
Pairs (the paper's Table II): all (default), mafm+aafm (12), aafm+aafm (6), or names like
audio-mamba-base+wavlm-base. Costs and machines: docs/paper_pairs.md.
"""


def add_parser(sub) -> None:
    p = sub.add_parser(
        "paper-pairs",
        help="the papers' pairs: weights -> embeddings -> CV-trained CNN/Concat/RENO -> published",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--work",
        type=Path,
        default=Path("paper-pairs-work"),
        help="work folder: weights, embedding cache, shards, checkpoints (default ./paper-pairs-work)",
    )
    p.add_argument("--stage", choices=STAGES, default="all", help="run one stage only (default: all)")
    p.add_argument(
        "--pairs",
        nargs="+",
        default=["all"],
        metavar="PAIR",
        help="all | mafm+aafm | aafm+aafm | <backbone>+<backbone> ... (default all)",
    )
    p.add_argument("--pair-heads", nargs="+", default=["concat", "reno"], help="heads per pair")
    p.add_argument("--no-singles", action="store_true", help="skip the CNN head on each single backbone")
    g = p.add_argument_group("data")
    g.add_argument(
        "--data",
        type=Path,
        nargs="+",
        default=None,
        metavar="DIR",
        help="EmoGator folders (labels.csv, or files <speaker>-<01-30>-<i>.mp3); "
        "default ../shared/data/emogator and emogator_extra",
    )
    g.add_argument("--speakers", type=int, default=None, help="use N speakers drawn at random (default all)")
    g.add_argument("--seed", type=int, default=0, help="speaker draw, folds, training (default 0)")
    g = p.add_argument_group("weights and extraction")
    g.add_argument(
        "--random-init",
        action="store_true",
        help="random weights of the real architectures instead of downloads (pipeline tests, timing)",
    )
    g.add_argument(
        "--audio-mamba-source",
        default=None,
        help="the official Audio-MAMBA Drive folder (default: the README's link), or a local "
        "folder laid out like it",
    )
    g.add_argument("--device", default=None, help="cpu, cuda ... (default: CUDA when available)")
    g.add_argument("--shard", default="0/1", help="extract only shard i/n, i = 0..n-1 (default 0/1: all)")
    g.add_argument("--shards", type=int, default=1, help="merge: how many shards the extraction used")
    g = p.add_argument_group("training")
    g.add_argument("--folds", type=int, default=5)
    g.add_argument("--epochs", type=int, default=20)
    g = p.add_argument_group("publishing")
    g.add_argument("--publish-dir", type=Path, default=None, help="copy checkpoints + model card here")
    g.add_argument(
        "--publish-repo", default=None, help="Hub model repo id (needs HF_TOKEN with write access)"
    )
    g.add_argument("--private", action="store_true", help="create the Hub repo private")
    g.add_argument(
        "--with-audio-mamba-weights",
        action="store_true",
        help="also upload the converted Audio-MAMBA weights to the repo's root, so it can serve as "
        "NVER_AUDIO_MAMBA_REPO (check the weights' terms first)",
    )
    p.set_defaults(func=run)  # fmt: skip


def _dataset(args):
    from . import datasets, paper_pairs

    ds = datasets.read_emogator(*(args.data or []))
    return paper_pairs.select_speakers(ds, args.speakers, args.seed)


def run(args) -> None:
    from . import paper_pairs, publish, weights
    from .train import TrainConfig

    work = paper_pairs.Work(args.work)
    plan = paper_pairs.Plan(
        tuple(paper_pairs.select_pairs(args.pairs)),
        tuple(args.pair_heads),
        None if args.no_singles else "cnn",
    )
    stage = args.stage
    shard = paper_pairs.parse_shard(args.shard)
    if shard != (0, 1) and stage != "extract":
        raise ValueError("--shard only goes with --stage extract (then --stage merge --shards n)")
    ds = _dataset(args) if stage != "publish" else None
    if ds is not None:
        print(f"{len(ds)} clips of {len(set(ds.speakers or []))} speakers; {len(plan.pairs)} pairs, "
              f"{len(plan.models())} models on {', '.join(plan.backbones)}")  # fmt: skip
    timings = {}
    if stage in ("all", "weights"):
        t0 = time.perf_counter()
        src = args.audio_mamba_source or weights.AUDIO_MAMBA_DRIVE
        got = weights.fetch(
            plan.backbones, work.weights, random_init=args.random_init, audio_mamba_source=src
        )
        timings["weights"] = time.perf_counter() - t0
        for b, where in got.items():
            print(f"  weights {b}: {where}")
    if stage in ("all", "extract"):
        stats = paper_pairs.extract(ds, plan.backbones, work, shard, device=args.device)
        for b, s in stats.items():
            print(f"  extract {b}: {s['clips']} clips in {s['seconds']:.0f} s, {s['cpu_seconds']:.0f} s CPU "
                  f"(shard {args.shard})")  # fmt: skip
        timings["extract"] = stats
    if stage in ("all", "merge"):
        n = 1 if stage == "all" else args.shards
        for b, s in paper_pairs.merge(ds, plan.backbones, work, n).items():
            print(f"  merged {b}: {s['clips']} clips from {s['shards']} shard(s), "
                  f"{s['undecodable']} undecodable, {s['near_silent']} near-silent")  # fmt: skip
    paths = []
    if stage in ("all", "train"):
        t0 = time.perf_counter()
        config = TrainConfig(epochs=args.epochs, seed=args.seed)
        paths = paper_pairs.train_models(ds, plan, work, config, args.folds)
        timings["train"] = time.perf_counter() - t0
        for p in paths:
            cv = json.loads((p / "config.json").read_text())["metrics"].get("cv", {})
            print(f"  trained {p.name}: CV accuracy {cv.get('accuracy_mean', float('nan')):.1f} %, "
                  f"macro-F1 {cv.get('macro_f1_mean', float('nan')):.1f} %")  # fmt: skip
    if stage in ("all", "publish"):
        if not paths:
            names = {paper_pairs.model_name(h, b) for h, b in plan.models()}
            paths = sorted(p.parent for p in work.checkpoints.glob("*/config.json") if p.parent.name in names)
        if not (args.publish_dir or args.publish_repo):
            print(f"  checkpoints in {work.checkpoints} (pass --publish-dir or --publish-repo to publish)")
        if args.publish_dir:
            print(f"  published {len(paths)} checkpoints to {publish.publish_local(paths, args.publish_dir)}")
            print(f"  run the app on them: NVER_CHECKPOINT_DIRS={args.publish_dir.resolve()} python app.py")
        if args.publish_repo:
            extra = (
                sorted(work.weights.glob("audio-mamba-*.safetensors"))
                if args.with_audio_mamba_weights
                else []
            )
            url = publish.publish_hub(paths, args.publish_repo, private=args.private, extra_files=extra)
            print(f"  published {len(paths)} checkpoints to {url}; on the Space: "
                  f"NVER_CHECKPOINT_REPO={args.publish_repo}")  # fmt: skip
    if timings:
        log.info("timings: %s", timings)
    if stage in ("all", "weights"):
        env = " ".join(f"{k}={v}" for k, v in weights.env_for(work.weights).items())
        print(f"  the app (or predict) reads these same backbone weights with: {env}")
