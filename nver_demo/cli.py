"""Command line: ``python -m nver_demo {list,extract,evaluate,train,predict,timeline,paper-pairs,finetune} ...``.

Typical session on the EmoGator sample (../shared/data/emogator)::

    python -m nver_demo list
    python -m nver_demo extract --backbones ge2e compare
    python -m nver_demo evaluate --head reno --backbones ge2e compare --out results.json
    python -m nver_demo train --head reno --backbones ge2e compare --out checkpoints/my-reno
    python -m nver_demo predict clip.wav --model checkpoints/my-reno
    python -m nver_demo timeline party.mp3 --csv party.csv

Exit status: 0 when every input was used; 1 when some input file could not be (each one said
why, on stderr or as a JSON record with an "error" key under --json, then a summary line on
stderr names them); 2 for any other error (unknown model, missing weights, bad arguments).
Input files go through the package's input gate (nver_demo/inputs.py): the same sentences as the app.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from . import audio, backbones, checkpoint, heads
from .threads import configure_threads
from .training import datasets

EPILOG = __doc__.split("Typical session", 1)[1].split("\n", 1)[1]
EXIT_INPUTS_FAILED = 1  # some input file could not be used (the others were)
EXIT_ERROR = 2  # nothing could run: unknown model, missing weights, bad arguments


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dataset",
        choices=sorted(datasets.READERS),
        default="emogator",
        help="dataset reader (default: emogator)",
    )
    p.add_argument(
        "--data",
        type=Path,
        default=None,
        help="CSV file (csv: path,label[,speaker]) or folder (vivae, emogator); "
        "emogator defaults to ../shared/data/emogator",
    )
    p.add_argument("--limit", type=int, default=None, help="use only the first N clips (quick trials)")
    p.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="embedding cache folder (default $NVER_CACHE or ~/.cache/nver_demo)",
    )
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: CUDA when available)")
    p.add_argument("--random-init", action="store_true", help="random-init backbones (tests, timing only)")


def _add_train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--head", required=True, choices=heads.available())
    p.add_argument(
        "--backbones",
        nargs="+",
        required=True,
        metavar="NAME",
        help=f"one backbone for fcn/cnn, two for fusion heads; from: {', '.join(backbones.available())}",
    )
    p.add_argument(
        "--folds", type=int, default=5, help="cross-validation folds, grouped by speaker (default 5)"
    )
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--patience", type=int, default=5, help="early-stopping patience in epochs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--compile",
        action="store_true",
        help="train conv blocks through torch.compile (same results, faster)",
    )
    p.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="head options, e.g. --set beta=0.5 lam=0.7 attention=false",
    )
    p.add_argument("--include-quiet", action="store_true", help="keep near-silent clips (< -50 dBFS)")
    p.add_argument(
        "--work",
        type=Path,
        default=None,
        help="keep finished CV folds here; a rerun resumes at the first missing one",
    )


def _dataset(args) -> datasets.Dataset:
    ds = datasets.read(args.dataset, args.data)
    return ds.subset(range(min(args.limit, len(ds)))) if args.limit else ds


def _head_config(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"--set expects KEY=VALUE, got {pair!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _features(args):
    from .training import cache, experiment

    n_in = heads.spec(args.head).n_inputs
    if len(args.backbones) != n_in:
        raise ValueError(f"head {args.head!r} takes {n_in} backbone(s), got {len(args.backbones)}")
    for b in args.backbones:
        backbones.spec(b)
    return experiment.load_features(
        _dataset(args), args.backbones, cache.EmbeddingCache(args.cache),
        include_quiet=args.include_quiet, random_init=args.random_init, device=args.device,
    )  # fmt: skip


def _config(args):
    from .training.train import TrainConfig

    return TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, patience=args.patience,
                       seed=args.seed, head_config=_head_config(args.set),
                       compile=args.compile)  # fmt: skip


def cmd_list(args) -> None:
    print("Backbones:")
    for name in backbones.available():
        s = backbones.spec(name)
        where = f"needs weights (Hub or ${s.env_var})" if s.needs_hub else "offline"
        print(f"  {name:<20} {s.family:<12} dim {s.dim:<5} {where}")
    print("\nHeads:")
    for name in heads.available():
        s = heads.spec(name)
        print(f"  {name:<8} {s.n_inputs} input(s)  {s.description}")
    for root in [checkpoint.checkpoints_dir(), *checkpoint.extra_dirs()]:  # + $NVER_CHECKPOINT_DIRS
        print(f"\nCheckpoints ({root}):")
        for cfg in sorted(root.glob("*/config.json")):
            m = checkpoint.read_meta(cfg.parent)
            cv = m.get("metrics", {}).get("cv", {})
            score = f"CV acc {cv['accuracy_mean']:.1f}  macro-F1 {cv['macro_f1_mean']:.1f}" if cv else "no CV"
            print(f"  {cfg.parent.name:<28} {m['head']:<7} {'+'.join(m['backbones']):<22} {score}")


def cmd_extract(args) -> None:
    from .training import cache

    ds = _dataset(args)
    c = cache.EmbeddingCache(args.cache)
    for b in args.backbones:
        ex = cache.extract(ds, b, c, random_init=args.random_init, device=args.device)
        print(
            f"{b}: {len(ds)} clips, {len(ex.failed)} undecodable, {len(ex.quiet)} near-silent"
            f" -> {c.root / ex.backbone}"
        )
        for i, reason in list(ex.failed.items())[:10]:
            print(f"  undecodable: {ds.items[i].path}: {reason}")


def cmd_evaluate(args) -> None:
    from .training import train

    feats = _features(args)
    cv = train.cross_validate(
        args.head, feats.xs, feats.y, feats.n_classes, feats.groups, _config(args), args.folds, args.work
    )
    result = {"head": args.head, "backbones": args.backbones, "data": feats.dataset.description,
              "n_clips": len(feats.y), "excluded": feats.excluded, "labels": feats.dataset.labels,
              "config": _config(args).to_dict(), **cv.to_dict()}  # fmt: skip
    _print_cv(args.head, args.backbones, cv.summary)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.out}")


def _print_cv(head: str, names: list[str], s: dict) -> None:
    print(f"{head} on {'+'.join(names)}: accuracy {s['accuracy_mean']:.2f} ± {s['accuracy_std']:.2f}  "
          f"macro-F1 {s['macro_f1_mean']:.2f} ± {s['macro_f1_std']:.2f}")  # fmt: skip


def cmd_train(args) -> None:
    from .training import experiment, train

    feats = _features(args)
    config = _config(args)
    cv = None
    if args.folds > 1:
        cv = train.cross_validate(
            args.head, feats.xs, feats.y, feats.n_classes, feats.groups, config, args.folds, args.work
        )
        _print_cv(args.head, args.backbones, cv.summary)
    out = args.out or checkpoint.checkpoints_dir() / f"{args.head}-{'+'.join(args.backbones)}"
    ck = experiment.train_checkpoint(feats, args.head, out, config, cv)
    print(f"saved {ck.path} ({ck.meta['parameters']:,} parameters)")


def _report_failure(f: Path, error: str, args, model: str | None = None) -> None:
    """A file that could not be used: a JSON line (``--json``) or a line on stderr."""
    if args.json:
        print(json.dumps({"file": str(f), "model": model, "error": error}, ensure_ascii=False))
    else:
        print(f"{f}: {error}", file=sys.stderr)


def _summary(failed: list[Path], total: int) -> int:
    """Exit status of a run over input files: 0, or 1 with a line on stderr naming the failed ones."""
    if not failed:
        return 0
    noun = "input" if total == 1 else "inputs"
    print(f"{len(failed)} of {total} {noun} failed: {', '.join(str(f) for f in failed)}", file=sys.stderr)
    return EXIT_INPUTS_FAILED


def cmd_predict(args) -> int:
    from .clip_select import read_clip
    from .predict import Predictor

    model: Predictor | None = None  # loaded at the first usable file: bad inputs fail fast
    failed: list[Path] = []
    for f in args.files:
        try:
            clip = read_clip(f)  # the input gate: the same checks and sentences as the app
        except audio.AudioError as e:
            failed.append(f)
            _report_failure(f, str(e), args, model.name if model else args.model or checkpoint.DEFAULT)
            continue
        model = model or Predictor.load(args.model or checkpoint.DEFAULT, device=args.device)
        pred = model.predict(clip.wave, clip.sr)
        if args.json:
            print(json.dumps({"file": str(f), "model": model.name, "label": pred.label, "probs": pred.probs,
                              "family": pred.family, "families": pred.families,
                              "calibrated": pred.calibrated, "reliability": pred.reliability,
                              "analysed_seconds": [round(clip.start_s, 3), round(clip.end_s, 3)],
                              "warnings": clip.warnings, **pred.trust()}, ensure_ascii=False))  # fmt: skip
            continue
        for w in clip.warnings:
            print(f"{f}: warning: {w}", file=sys.stderr)
        print(f"{f}  ({model.name})")
        for label, p in pred.top(args.top):
            print(f"  {p * 100:5.1f}%  {'#' * round(p * 40):<40}  {label}")
        if pred.family:
            print(
                f"  family of the top emotion: {pred.family} ({pred.families[pred.family] * 100:.0f} % in all)"
            )
        if pred.reliability:
            print(f"  {pred.reliability}")
        print(f"  {pred.novelty_line()}")
    return _summary(failed, len(args.files))


def cmd_timeline(args) -> int:
    from tqdm import tqdm

    from .app import timeline
    from .predict import Predictor

    try:
        timeline.check_file(args.file)  # the input gate, before loading any model
    except audio.AudioError as e:
        _report_failure(args.file, str(e), args, args.model or checkpoint.DEFAULT)
        return _summary([args.file], 1)
    model = Predictor.load(args.model or checkpoint.DEFAULT, device=args.device)
    with tqdm(total=100, unit="%", desc=Path(args.file).name, disable=args.quiet, leave=False) as bar:

        def progress(frac: float, what: str) -> None:
            bar.n = round(100 * frac)
            bar.set_postfix_str(what, refresh=True)

        try:
            tl = timeline.run(args.file, model, gate=not args.no_gate, progress=progress)
        except audio.AudioError as e:  # found while streaming: NaN samples, corrupt further in
            bar.close()
            _report_failure(args.file, str(e), args, model.name)
            return _summary([args.file], 1)
    if args.csv:
        args.csv.write_text(tl.to_csv(), encoding="utf-8")
        print(f"wrote {args.csv} ({len(tl.rows)} bursts)", file=sys.stderr)
    if args.json:
        print(tl.to_json())
        return 0
    print(f"{args.file}: {len(tl.rows)} vocal bursts in {tl.duration_s:.1f} s ({model.name})")
    for r in tl.rows:
        top = ", ".join(f"{lab} {p * 100:.0f}%" for lab, p in r.top(3))
        speech = "  [speech: emotion unreliable]" if r.verdict == "speech" else ""
        print(f"  {r.start:7.2f}-{r.end:7.2f} s  {r.label:<20} {r.family or '':<20} {top}{speech}")
    fams = ", ".join(f"{k} {v}" for k, v in tl.family_counts().items())
    print(f"families: {fams or 'none'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nver_demo",
        description="Non-verbal vocal emotion recognition: extract embeddings, cross-validate and "
                    "train heads, predict.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress (INFO)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="backbones, heads and shipped checkpoints").set_defaults(func=cmd_list)

    p = sub.add_parser("extract", help="embed a dataset with backbones into the cache (resumable)")
    _add_data_args(p)
    p.add_argument("--backbones", nargs="+", required=True, metavar="NAME")
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser("evaluate", help="k-fold cross-validation of a head; writes a JSON report")
    _add_data_args(p)
    _add_train_args(p)
    p.add_argument("--out", type=Path, default=None, help="results JSON path")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("train", help="cross-validate, then train on all clips and save a checkpoint")
    _add_data_args(p)
    _add_train_args(p)
    p.add_argument("--out", type=Path, default=None, help="checkpoint folder (default checkpoints/<name>)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("predict", help="top emotions for audio files")
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--model", default=None, help=f"checkpoint name or folder (default {checkpoint.DEFAULT})")
    p.add_argument("--top", type=int, default=5)
    p.add_argument("--json", action="store_true", help='one JSON line per file (failed ones: an "error" key)')
    p.add_argument("--device", default=None)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser(
        "timeline", help="find every vocal burst in a recording (up to 30 min) and classify it"
    )
    p.add_argument("file", type=Path)
    p.add_argument("--model", default=None, help=f"checkpoint name or folder (default {checkpoint.DEFAULT})")
    p.add_argument("--csv", type=Path, default=None, help="also write one row per burst to this CSV file")
    p.add_argument("--json", action="store_true", help="print the whole timeline as JSON")
    p.add_argument("--no-gate", action="store_true", help="skip the speech gate (faster)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--device", default=None)
    p.set_defaults(func=cmd_timeline)

    from .training import finetune, pairs_cli

    pairs_cli.add_parser(sub)
    finetune.add_parser(sub)
    from . import space_cli  # space deploy / space rehearse (no training imports)

    space_cli.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")  # fmt: skip
    try:
        configure_threads(runs=1)  # one run at a time: all cores, or $NVER_THREADS
        status = args.func(args)
    except (ValueError, FileNotFoundError, backbones.WeightsUnavailable) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERROR
    return status or 0
