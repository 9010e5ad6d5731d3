"""Publish the app as a Hugging Face Space: ``python -m nver_demo space deploy <user>/<space>``.

What a Space needs at run time is an explicit allow-list (:data:`INCLUDE`): ``app.py``, the
runtime requirements, ``packages.txt``, ``README.md`` (its front matter configures the Space), the
package's code and data, the shipped checkpoints and weights, and the example clips. Everything
else (tests, benchmarks, scripts, records, docs, caches) stays home. The files go up with
``huggingface_hub.HfApi.upload_folder``, which sends large and binary files through LFS/Xet
itself: a plain ``git push`` of ``weights/whisper-base-ft.safetensors`` (27 MB, a plain git blob)
would be refused by the Hub, which takes no file over 10 MB outside LFS.

    python -m nver_demo space deploy me/nver-demo --dry-run      # what would go up; no token needed
    python -m nver_demo space deploy me/nver-demo                # create (gradio SDK) and upload
    python -m nver_demo space rehearse                           # a Space's own install, here

No training code is imported here (the app and its deployment never need it).
"""

from __future__ import annotations

import glob
import logging
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
#: What a Space needs at run time, as globs relative to the repository root. Derived from where
#: things live, not from a list of today's files, so moving a module or adding a checkpoint needs
#: no change here. ``nver_demo/**`` ships whole (code and package data: the app's CSS, the
#: papers' tables): the package is what ``app.py`` imports.
INCLUDE = (
    "app.py", "requirements.txt", "packages.txt", "README.md", "LICENSE",
    "nver_demo/**/*.py", "nver_demo/**/*.css", "nver_demo/**/*.csv", "nver_demo/**/*.json",
    "checkpoints/**/*", "weights/**/*", "examples/**/*",
)  # fmt: skip
#: Never shipped even where an INCLUDE pattern matches: caches and pickles (nothing here unpickles).
EXCLUDE = ("__pycache__", ".ipynb_checkpoints", ".DS_Store", ".gradio")
EXCLUDE_SUFFIXES = (".pyc", ".pyo", ".pkl", ".pickle", ".pt", ".pth", ".ckpt")
#: The Hub refuses files over 10 MB that are not in LFS (Xet); upload_folder routes them itself.
LFS_LIMIT = 10 * 1000 * 1000
CHECKPOINT_REPO_ENV = "NVER_CHECKPOINT_REPO"
LOGIN_HINT = (
    "Not logged in to the Hugging Face Hub: run `hf auth login` (or set HF_TOKEN to a write token "
    "from https://huggingface.co/settings/tokens), then run this command again."
)


def hardware_choices() -> list[str]:
    """The Space hardware names this huggingface_hub knows (``cpu-basic`` is the free default)."""
    from huggingface_hub import SpaceHardware

    return [h.value for h in SpaceHardware]


class SpaceError(RuntimeError):
    """A deployment step that cannot go on; the message says what to do."""


@dataclass(frozen=True)
class DeployFile:
    path: str  # relative to the root, POSIX
    size: int
    binary: bool

    @property
    def lfs(self) -> bool:
        """Over the Hub's 10 MB limit for plain git files: must go (and goes) through LFS."""
        return self.size > LFS_LIMIT


def _shipped(rel: str) -> bool:
    parts = rel.split("/")
    return not any(p in EXCLUDE for p in parts) and not rel.endswith(EXCLUDE_SUFFIXES)


def _is_binary(path: Path) -> bool:
    with open(path, "rb") as f:
        return b"\0" in f.read(8000)  # git's own test


def deploy_files(root: Path = ROOT) -> list[DeployFile]:
    """Every file a Space needs, sorted by path. Raises :class:`SpaceError` naming a required file
    that is missing (``app.py``, ``requirements.txt``, ``README.md``)."""
    for required in ("app.py", "requirements.txt", "README.md"):
        if not (root / required).is_file():
            raise SpaceError(f"{root / required} is missing: run this from a checkout of the project.")
    rels = set()
    for pattern in INCLUDE:
        for p in root.glob(pattern):
            rel = p.relative_to(root).as_posix()
            if p.is_file() and _shipped(rel):
                rels.add(rel)
    return [DeployFile(r, (root / r).stat().st_size, _is_binary(root / r)) for r in sorted(rels)]


def _mb(n: int) -> str:
    return f"{n / 1e3:8.1f} kB" if n < 1e6 else f"{n / 1e6:8.1f} MB"


def describe(files: list[DeployFile]) -> str:
    """The dry-run table: each file, its size and how it is uploaded, then the total."""
    lines = [f"{'size':>11}  {'upload':<8} path"]
    for f in files:
        how = "LFS" if f.lfs else ("binary" if f.binary else "")
        lines.append(f"{_mb(f.size)}  {how:<8} {f.path}")
    n_lfs = sum(f.lfs for f in files)
    total = sum(f.size for f in files)
    lines += [
        f"{len(files)} files, {_mb(total).strip()} in all; {n_lfs} file(s) over 10 MB, sent through LFS "
        f"({_mb(sum(f.size for f in files if f.lfs)).strip()}).",
        "LFS: over 10 MB, the Hub takes it only through LFS (upload_folder does that itself). binary: "
        "the Hub decides per file from a sample; binary files usually go through LFS/Xet too.",
    ]
    return "\n".join(lines)


def space_metadata(meta: dict, variables: dict[str, str], preload: Iterable[str] = ()) -> dict:
    """The front matter the Space gets: the repository's, plus the Hub repos that the deployment
    configures (``NVER_CHECKPOINT_REPO`` and ``--preload`` ones) under ``models`` and
    ``preload_from_hub``, so the Hub links them and the build downloads them before the first
    visitor comes."""
    extra = [variables[CHECKPOINT_REPO_ENV]] if variables.get(CHECKPOINT_REPO_ENV) else []
    extra += [r for r in preload if r not in extra]
    if not extra:
        return dict(meta)
    out = dict(meta)
    out["models"] = [*meta.get("models", []), *(r for r in extra if r not in meta.get("models", []))]
    out["preload_from_hub"] = [*meta.get("preload_from_hub", []), *extra]
    return out


def stage(dest: Path, files: list[DeployFile], root: Path = ROOT, metadata: dict | None = None) -> Path:
    """Copy the deploy set into ``dest`` (the folder that is uploaded, or rehearsed); with
    ``metadata``, the copy of README.md gets it as its front matter."""
    for f in files:
        target = dest / f.path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / f.path, target)
    if metadata is not None:
        from huggingface_hub import metadata_save

        metadata_save(dest / "README.md", metadata)
    return dest


def pairs(items: list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SpaceError(f"{flag} expects KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def _token() -> str:
    from huggingface_hub import get_token

    token = get_token()  # HF_TOKEN, else the token `hf auth login` saved
    if not token:
        raise SpaceError(LOGIN_HINT)
    return token


#: What to do when the Hub answers a deployment step with this HTTP status.
HTTP_HINTS = {
    401: LOGIN_HINT,
    402: "A Gradio Space on free cpu-basic needs a PRO subscription (Team or Enterprise for an "
    "organisation); paid hardware needs billing: https://huggingface.co/settings/billing",
    403: "The token cannot write there: log in with a write token "
    "(https://huggingface.co/settings/tokens) for a namespace you belong to.",
}


def _hub(step: str, fn: Callable, *args, **kwargs):
    """``fn(*args, **kwargs)``; a refusal from the Hub becomes a SpaceError saying which step
    failed and what to do."""
    from httpx2 import TransportError  # huggingface_hub 2.x's HTTP client
    from huggingface_hub.errors import HfHubHTTPError

    try:
        return fn(*args, **kwargs)
    except TransportError as e:
        raise SpaceError(
            f"Could not reach the Hub to {step} ({type(e).__name__}: {e}); check the network."
        ) from e
    except HfHubHTTPError as e:
        status = getattr(e.response, "status_code", None)
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise SpaceError(
            f"The Hub refused to {step} (HTTP {status}: {first}). {HTTP_HINTS.get(status, '')}".strip()
        ) from e


def _repo_id(api, repo_id: str) -> str:
    """``<user>/<space>``; a bare name goes under the logged-in user. Checks the token works."""
    user = _hub("say who the token belongs to", api.whoami)["name"]
    return repo_id if "/" in repo_id else f"{user}/{repo_id}"


@dataclass
class DeployOptions:
    repo_id: str
    private: bool = False
    hardware: str | None = None
    variables: dict[str, str] | None = None
    secrets: dict[str, str] | None = None
    preload: tuple[str, ...] = ()
    mirror: bool = True  # delete files on the Space that are no longer in the deploy set
    dry_run: bool = False


def deploy(opts: DeployOptions, root: Path = ROOT, api_factory: Callable | None = None,
           out: Callable[[str], None] = print) -> str | None:  # fmt: skip
    """Create the Space (gradio SDK) if missing, set its variables and secrets, upload the deploy
    set. Returns the Space's URL (None for a dry run)."""
    from huggingface_hub import HfApi, metadata_load

    if opts.hardware and opts.hardware not in hardware_choices():
        raise SpaceError(
            f"Unknown hardware {opts.hardware!r}; choose one of: {', '.join(hardware_choices())}"
        )
    files = deploy_files(root)
    variables, secrets = opts.variables or {}, opts.secrets or {}
    original = metadata_load(root / "README.md") or {}
    meta = space_metadata(original, variables, opts.preload)
    if opts.dry_run:
        out(describe(files))
        if meta.get("preload_from_hub"):
            out(f"README.md front matter on the Space adds preload_from_hub: {meta['preload_from_hub']}")
        out(f"Dry run: nothing uploaded to {opts.repo_id}.")
        return None
    api = (api_factory or HfApi)(token=_token())
    repo_id = _repo_id(api, opts.repo_id)
    url = _hub(f"create the Space {repo_id}", api.create_repo, repo_id, repo_type="space", space_sdk="gradio",
               exist_ok=True, private=opts.private, space_hardware=opts.hardware)  # fmt: skip
    if opts.hardware:  # create_repo's hardware only applies to a new Space
        _hub(f"give {repo_id} {opts.hardware}", api.request_space_hardware, repo_id, opts.hardware)
    for key, value in variables.items():
        _hub(f"set the variable {key}", api.add_space_variable, repo_id, key, value)
    for key, value in secrets.items():
        _hub(f"set the secret {key}", api.add_space_secret, repo_id, key, value)
    with tempfile.TemporaryDirectory(prefix="nver-space-") as tmp:
        folder = stage(Path(tmp), files, root, meta if meta != original else None)
        _hub(
            f"upload to {repo_id}", api.upload_folder, repo_id=repo_id, repo_type="space", folder_path=folder,
            allow_patterns=[glob.escape(f.path) for f in files],
            delete_patterns=["*"] if opts.mirror else None,
            commit_message=f"Deploy {len(files)} files with python -m nver_demo space deploy",
        )  # fmt: skip
    out(f"Uploaded {len(files)} files to {url}: the Space builds now (requirements.txt, packages.txt).")
    return str(url)
