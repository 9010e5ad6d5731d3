"""nver_demo/space.py: the deploy set, `space deploy` against a recorded stand-in for the Hub API,
the Space's front matter, packages.txt. The install rehearsal: tests/test_space_rehearsal.py."""

from __future__ import annotations

import ast
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest
from huggingface_hub import SpaceCard, metadata_load
from huggingface_hub.utils import filter_repo_objects

from nver_demo import backbones, cli, space
from tests.conftest import ROOT

NOT_SHIPPED = ("tests/", "bench/", "scripts/", "results/", "records/", "docs/", "runs/", ".ci/", ".git/")


def _paths(files) -> set[str]:
    return {f.path for f in files}


def test_deploy_set_holds_the_runtime_and_nothing_else():
    paths = _paths(space.deploy_files())
    assert {"app.py", "requirements.txt", "packages.txt", "README.md", "nver_demo/app/style.css",
            "weights/whisper-base-ft.safetensors"} <= paths  # fmt: skip
    assert any(p.startswith("checkpoints/") and p.endswith("/config.json") for p in paths)
    assert any(p.startswith("examples/") and p.endswith(".mp3") for p in paths)
    assert not [p for p in paths if p.startswith(NOT_SHIPPED) or "__pycache__" in p]
    assert "requirements-test.txt" not in paths and "pyproject.toml" not in paths


def test_deploy_set_follows_the_layout_not_a_file_list(tmp_path):
    """A moved module, a new checkpoint or stray caches: the patterns decide, not today's files."""
    for rel in ("app.py", "requirements.txt", "README.md", "nver_demo/app/tabs/analyze.py",
                "nver_demo/app/tabs/__pycache__/analyze.cpython-311.pyc", "nver_demo/data/t.csv",
                "tests/test_x.py", "bench/b.py", "records/r.json", "docs/screenshots/a.png",
                "checkpoints/new/config.json", "checkpoints/new/cache.pkl", "examples/a.mp3"):  # fmt: skip
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "big.safetensors").write_bytes(b"\0\1")
    files = {f.path: f for f in space.deploy_files(tmp_path)}
    assert set(files) == {"app.py", "requirements.txt", "README.md", "nver_demo/app/tabs/analyze.py",
                          "nver_demo/data/t.csv", "checkpoints/new/config.json", "examples/a.mp3",
                          "weights/big.safetensors"}  # fmt: skip


def test_big_files_are_marked_lfs(tmp_path, capsys):
    for rel in ("app.py", "requirements.txt", "README.md"):
        (tmp_path / rel).write_text("---\nsdk: gradio\n---\n")
    (tmp_path / "weights").mkdir()
    with open(tmp_path / "weights" / "big.safetensors", "wb") as f:
        f.truncate(space.LFS_LIMIT + 1)  # sparse: 10 MB + 1 byte
    (tmp_path / "weights" / "edge.bin").write_bytes(b"\0" * space.LFS_LIMIT)  # exactly at the limit
    files = {f.path: f for f in space.deploy_files(tmp_path)}
    assert files["weights/big.safetensors"].lfs and not files["weights/edge.bin"].lfs
    space.deploy(space.DeployOptions("me/x", dry_run=True), root=tmp_path)
    rows = {ln.split()[-1]: ln for ln in capsys.readouterr().out.splitlines() if ln.endswith(tuple(files))}
    assert " LFS " in rows["weights/big.safetensors"] and " LFS " not in rows["weights/edge.bin"]


def test_dry_run_lists_the_deploy_set_with_sizes_and_uploads_nothing(capsys, monkeypatch):
    monkeypatch.setattr("huggingface_hub.HfApi", None)  # any Hub client use would fail
    assert cli.main(["space", "deploy", "me/nver-demo", "--dry-run"]) == 0
    out = capsys.readouterr().out
    listed = {
        m.group(2): m.group(1)
        for m in re.finditer(r"^ *([\d.]+ [kM]B) +(?:LFS +|binary +)?(\S+)$", out, re.M)
    }
    files = space.deploy_files()
    assert set(listed) == _paths(files)
    lfs = {ln.split()[-1] for ln in out.splitlines() if re.match(r"^ *[\d.]+ [kM]B +LFS ", ln)}
    assert (
        lfs == {f.path for f in files if f.size > 10_000_000} and "weights/whisper-base-ft.safetensors" in lfs
    )
    total = sum(f.size for f in files) / 1e6
    assert f"{len(files)} files, {total:.1f} MB in all" in out and "nothing uploaded" in out


def test_no_token_says_how_to_log_in(monkeypatch, tmp_path, capsys):
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr("huggingface_hub.constants.HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setattr("huggingface_hub.constants.HF_STORED_TOKENS_PATH", str(tmp_path / "no-tokens"))
    with pytest.raises(SystemExit) as e:
        cli.main(["space", "deploy", "me/nver-demo"])
    assert e.value.code != 0 and "hf auth login" in str(e.value.code) and "HF_TOKEN" in str(e.value.code)


class RecordingHub:
    """Stands in for huggingface_hub.HfApi: records every call; the upload resolves which files
    go up with the client's own filter (huggingface_hub.utils.filter_repo_objects)."""

    calls: ClassVar[list[tuple[str, tuple, dict]]] = []
    uploaded: ClassVar[dict[str, bytes]] = {}

    def __init__(self, token=None):
        self.calls.append(("__init__", (), {"token": token}))

    def __getattr__(self, name):
        def record(*args, **kwargs):
            self.calls.append((name, args, kwargs))
            return {
                "whoami": {"name": "alice"},
                "create_repo": "https://huggingface.co/spaces/alice/nver",
            }.get(name)

        return record

    def upload_folder(self, **kw):
        self.calls.append(("upload_folder", (), kw))
        folder = Path(kw["folder_path"])
        rels = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]
        for rel in filter_repo_objects(
            rels, allow_patterns=kw["allow_patterns"], ignore_patterns=kw.get("ignore_patterns")
        ):
            self.uploaded[rel] = (folder / rel).read_bytes() if rel == "README.md" else b""


def test_deploy_creates_a_gradio_space_and_uploads_the_deploy_set(monkeypatch):
    RecordingHub.calls, RecordingHub.uploaded = [], {}
    monkeypatch.setattr("huggingface_hub.HfApi", RecordingHub)
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token")

    def no_network(*a, **k):
        raise AssertionError("space deploy opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    argv = ["space", "deploy", "nver", "--hardware", "cpu-basic", "--variable", "NVER_CHECKPOINT_REPO=alice/ck",
            "--secret", "HF_TOKEN=hf_read"]  # fmt: skip
    assert cli.main(argv) == 0
    calls = {name: kw | {"args": a} for name, a, kw in RecordingHub.calls}
    assert calls["__init__"]["token"] == "hf_not_a_real_token"
    create = calls["create_repo"]
    assert create["args"] == ("alice/nver",)  # a bare name goes under the logged-in user
    assert create["repo_type"] == "space" and create["space_sdk"] == "gradio" and create["exist_ok"] is True
    assert create["space_hardware"] == "cpu-basic"
    assert calls["add_space_variable"]["args"] == ("alice/nver", "NVER_CHECKPOINT_REPO", "alice/ck")
    assert calls["add_space_secret"]["args"] == ("alice/nver", "HF_TOKEN", "hf_read")
    up = calls["upload_folder"]
    assert up["repo_id"] == "alice/nver" and up["repo_type"] == "space" and up["delete_patterns"] == ["*"]
    assert set(RecordingHub.uploaded) == _paths(space.deploy_files())
    assert not [p for p in RecordingHub.uploaded if p.startswith(NOT_SHIPPED)]
    card = SpaceCard(RecordingHub.uploaded["README.md"].decode()).data  # the Space's copy of the card
    assert card.preload_from_hub == ["alice/ck"] and "alice/ck" in card.models and card.sdk == "gradio"
    names = [n for n, _, _ in RecordingHub.calls]
    assert names.index("add_space_secret") < names.index("upload_folder")  # set before the build starts


def _default_hub_models() -> set[str]:
    """Hub ids of the backbones the app loads by default (the default model and the Compare tab's
    default selection, which app.py warms up at start-up)."""
    from nver_demo.app import catalog

    infos = catalog.models(hub=False)
    names = set(catalog.default_selection(infos))
    used = {b for m in infos if m.name in names for b in m.backbones}
    hub = "https://huggingface.co/"
    return {backbones.spec(b).source[len(hub) :] for b in used if backbones.spec(b).source.startswith(hub)}


def test_front_matter_parses_with_the_hubs_parser_and_tells_the_truth():
    card = SpaceCard.load(ROOT / "README.md")  # huggingface_hub's own parser (offline)
    data = card.data
    assert metadata_load(ROOT / "README.md") == data.to_dict()
    assert data.sdk == "gradio" and (ROOT / data.app_file).is_file()
    pins = dict(
        ln.split("==")
        for ln in (ROOT / "requirements.txt").read_text().split("\n")
        if ln.startswith("gradio==")
    )
    assert data.sdk_version == pins["gradio"]
    # The pins (transformers 5.23, numpy 2.4, scipy 1.17, scikit-learn 1.9) need Python >= 3.11.
    assert data.python_version in ("3.11", "3.12")
    assert data.suggested_hardware in space.hardware_choices()
    assert set(data.models) == _default_hub_models() == {"openai/whisper-base"}
    assert data.get("preload_from_hub") is None  # no Hub weights are configured by default


def test_packages_txt_provides_every_program_the_runtime_runs():
    """Every executable app.py and the package (outside training) look up or run comes from a
    Debian package that packages.txt lists."""
    provided_by = {"ffmpeg": "ffmpeg", "ffprobe": "ffmpeg"}
    packages = set((ROOT / "packages.txt").read_text().split())
    programs = set()
    for path in [ROOT / "app.py", *(ROOT / "nver_demo").rglob("*.py")]:
        if "training" in path.relative_to(ROOT).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "which" and node.args:
                programs.add(node.args[0].value)
            if isinstance(node, ast.List) and node.elts and isinstance(node.elts[0], ast.Constant):
                first = node.elts[0].value
                if isinstance(first, str) and first in provided_by:
                    programs.add(first)
    assert programs == {"ffmpeg", "ffprobe"}, "a new program: add its Debian package to packages.txt"
    assert {provided_by[p] for p in programs} <= packages


AUDIT = r"""
import json, os, sys
root = os.path.realpath(sys.argv[1]); seen = set()
def hook(event, args):
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        mode, flags = args[1], args[2] if len(args) > 2 else 0
        writing = any(c in mode for c in "wax+") if isinstance(mode, str) else bool(flags & (os.O_WRONLY | os.O_RDWR))
        p = os.path.realpath(os.fsdecode(args[0]))
        if not writing and p.startswith(root + os.sep):
            seen.add(p)
sys.addaudithook(hook)
import safetensors, safetensors.torch  # they open files in Rust, unseen by the hook: record their calls
def recorded(fn):
    def call(path, *a, **k):
        hook("open", (path, "rb", 0))
        return fn(path, *a, **k)
    return call
safetensors.safe_open = recorded(safetensors.safe_open)
safetensors.torch.load_file = recorded(safetensors.torch.load_file)
sys.path.insert(0, root); os.chdir(root)
import app  # what `python app.py` runs: build the demo, warm the models up, answer one analysis
from nver_demo.app import catalog, service
infos = catalog.models()
app.build_demo(infos)
service.warm_up(catalog.default_selection(infos), infos)
from nver_demo.app.tabs.analyze import Analyze
from nver_demo.app.tabs.common import Context
Analyze(Context(infos)).analyze(os.path.join(root, "examples", sys.argv[2]), None, None, None)
files = [getattr(m, "__file__", None) for m in list(sys.modules.values())]
seen |= {os.path.realpath(f) for f in files if f and os.path.isabs(f)}  # torch._ops has a bare "_ops.py"
print(json.dumps(sorted(os.path.relpath(p, root) for p in seen if p.startswith(root + os.sep) and os.path.isfile(p))))
"""


def test_deploy_set_covers_what_the_app_imports_and_opens(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NVER_", "GRADIO_"))}
    env.update(HF_HUB_OFFLINE="1", GRADIO_TEMP_DIR=str(tmp_path), GRADIO_ANALYTICS_ENABLED="False",
               NVER_CACHE=str(tmp_path / "cache"), OMP_NUM_THREADS="1")  # fmt: skip
    clip = sorted(p.name for p in (ROOT / "examples").glob("*.mp3"))[0]
    out = subprocess.run([sys.executable, "-c", AUDIT, str(ROOT), clip], capture_output=True, text=True,
                         env=env, timeout=600, check=True).stdout  # fmt: skip
    # The venv of the checkout (.ci/run makes .venv at the root) is the Space's installed packages,
    # not the project's files: leave out everything under a site-packages folder.
    used = {p for p in json.loads(out.splitlines()[-1]) if "__pycache__" not in p and "site-packages" not in p}
    # Non-vacuous: the hook saw the default model's files, the app's CSS and the clip.
    assert {"app.py", "nver_demo/app/style.css", "weights/whisper-base-ft.safetensors",
            "checkpoints/lda-whisper-base-ft/model.safetensors", f"examples/{clip}"} <= used  # fmt: skip
    assert not [p for p in used if p.startswith("nver_demo/training/")]  # the app never imports training
    assert not [p for p in used if p.startswith(NOT_SHIPPED)]
    assert used - _paths(space.deploy_files()) == set()  # nothing the app reads is left behind


def test_deploy_without_hub_weights_ships_the_readme_unchanged(monkeypatch):
    RecordingHub.calls, RecordingHub.uploaded = [], {}
    monkeypatch.setattr("huggingface_hub.HfApi", RecordingHub)
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token")
    assert cli.main(["space", "deploy", "alice/nver", "--private", "--keep-remote"]) == 0
    calls = {name: kw for name, _, kw in RecordingHub.calls}
    assert calls["create_repo"]["private"] is True and calls["upload_folder"]["delete_patterns"] is None
    assert "request_space_hardware" not in calls and "add_space_variable" not in calls
    assert RecordingHub.uploaded["README.md"] == (ROOT / "README.md").read_bytes()


def test_a_refusal_from_the_hub_is_a_sentence_with_what_to_do(monkeypatch):
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError

    class PaymentRequired(RecordingHub):
        def create_repo(self, *a, **k):
            response = httpx2.Response(
                402, request=httpx2.Request("POST", "https://huggingface.co/api/repos/create")
            )
            raise HfHubHTTPError("402 Payment Required", response=response)

    RecordingHub.calls, RecordingHub.uploaded = [], {}
    monkeypatch.setattr("huggingface_hub.HfApi", PaymentRequired)
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token")
    with pytest.raises(SystemExit) as e:
        cli.main(["space", "deploy", "alice/nver"])
    assert "create the Space alice/nver" in str(e.value.code) and "HTTP 402" in str(e.value.code)
    assert "PRO subscription" in str(e.value.code) and not RecordingHub.uploaded
