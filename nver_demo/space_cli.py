"""``python -m nver_demo space {deploy,rehearse}``: the command line of :mod:`.space` (publish the
app as a Hugging Face Space) and :mod:`.space_rehearsal` (a Space's own install, rehearsed here).
Kept apart from both so that neither imports the other's caller."""

from __future__ import annotations

import argparse

from . import space, space_rehearsal


def cmd_deploy(args) -> None:
    try:
        opts = space.DeployOptions(
            args.space, private=args.private, hardware=args.hardware,
            variables=space.pairs(args.variable, "--variable"), secrets=space.pairs(args.secret, "--secret"),
            preload=tuple(args.preload), mirror=not args.keep_remote, dry_run=args.dry_run,
        )  # fmt: skip
        space.deploy(opts)
    except space.SpaceError as e:
        raise SystemExit(f"error: {e}") from e


def cmd_rehearse(args) -> None:
    try:
        space_rehearsal.rehearse(keep=args.keep, timeout_s=args.timeout)
    except space_rehearsal.RehearsalFailed as e:
        raise SystemExit(f"rehearsal failed: {e}") from e


DEPLOY_HELP = """Examples:
  hf auth login                                          # once (or export HF_TOKEN=hf_...)
  python -m nver_demo space deploy me/nver-demo --dry-run  # the file list, sizes, LFS; uploads nothing
  python -m nver_demo space deploy me/nver-demo            # create the Space if missing, upload
  python -m nver_demo space deploy me/nver-demo --variable NVER_CHECKPOINT_REPO=me/nver-paper-pairs
See docs/deploy.md."""


def add_parser(sub) -> None:
    """``space deploy`` and ``space rehearse`` under the package's CLI."""
    group = sub.add_parser("space", help="publish the app as a Hugging Face Space; rehearse its install")
    actions = group.add_subparsers(dest="space_command", required=True)
    p = actions.add_parser(
        "deploy", help="create the Space (gradio SDK) and upload what it needs at run time",
        epilog=DEPLOY_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("space", metavar="USER/SPACE", help="the Space's id (a bare name goes under your user)")
    p.add_argument(
        "--private", action="store_true", help="create it private (an existing Space keeps its own)"
    )
    p.add_argument(
        "--hardware",
        choices=space.hardware_choices(),
        default=None,
        metavar="NAME",
        help="request this hardware: cpu-basic, cpu-upgrade, t4-small, ... any huggingface_hub.SpaceHardware "
        "(default: the Hub's, cpu-basic)",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="print the file list, sizes and LFS files; upload nothing"
    )
    p.add_argument(
        "--variable",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"a Space variable, e.g. {space.CHECKPOINT_REPO_ENV}=<user>/<repo> (repeatable)",
    )
    p.add_argument(
        "--secret",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a Space secret, e.g. HF_TOKEN=hf_... for a private checkpoint repo (repeatable)",
    )
    p.add_argument(
        "--preload",
        action="append",
        default=[],
        metavar="REPO",
        help="a Hub model repo for the front matter's preload_from_hub (downloaded at build time)",
    )
    p.add_argument(
        "--keep-remote",
        action="store_true",
        help="keep files on the Space that are not in the deploy set (default: delete them)",
    )
    p.set_defaults(func=cmd_deploy)
    p = actions.add_parser("rehearse", help="stage the deploy set, fresh venv, requirements.txt only, "
                           "start app.py, answer /analyze")  # fmt: skip
    p.add_argument("--keep", action="store_true", help="keep the staged folder and venv (prints where)")
    p.add_argument("--timeout", type=float, default=600, help="seconds for the server to come up")
    p.set_defaults(func=cmd_rehearse)
