"""Publish checkpoint folders with a generated model card: to a local folder or a Hub model repo.

The result is what the app lists: a folder of checkpoint folders (``NVER_CHECKPOINT_DIRS``) or a
Hub repo of them (``NVER_CHECKPOINT_REPO``, shown as ``hub:<name>``). The card (``README.md``)
says what the heads were trained on, our cross-validated numbers, and, in a separate table
labelled as such, the papers' reported numbers for the same head and backbones (other datasets).
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path

from .. import paper

log = logging.getLogger(__name__)

CHECKPOINT_FILES = ("config.json", "model.safetensors", "references.safetensors")


def _meta(folder: Path) -> dict:
    return json.loads((folder / "config.json").read_text(encoding="utf-8"))


def _pm(cv: dict, key: str) -> str:
    mean, std = cv.get(f"{key}_mean"), cv.get(f"{key}_std")
    return "—" if mean is None else f"{mean:.1f} ± {std:.1f}" if std is not None else f"{mean:.1f}"


def _head_title(head: str) -> str:
    return "Concat" if head == "concat" else head.upper()


def _papers_section(metas: list[tuple[str, dict]]) -> list[str]:
    """The model card's table of the papers' own numbers for the heads and pairs in ``metas``."""
    lines = [
        "",
        "## The papers' numbers (reported by the papers, not measured here)",
        "",
        f"From the {paper.SOURCE}. Other datasets, other splits: beside ours for orientation only.",
        "",
        "| head | backbones | " + " | ".join(f"{d} acc / F1" for d in paper.DATASETS.values()) + " |",
        "|---|---|" + "---|" * len(paper.DATASETS),
    ]
    shown = set()
    for _, m in metas:
        row = paper.lookup(m["head"], m["backbones"])
        if row is None or (row.head, row.backbones) in shown:
            continue
        shown.add((row.head, row.backbones))
        cells = [f"{a:.2f} / {f:.2f}" if f is not None else f"{a:.2f}" for a, f in row.scores.values()]
        lines.append(f"| {_head_title(row.head)} (Table {row.table}) | {' + '.join(row.backbones)} | "
                     + " | ".join(cells) + " |")  # fmt: skip
    return lines


def model_card(folders: list[Path], repo_hint: str = "<user>/<repo>") -> str:
    """Markdown model card for the checkpoint ``folders`` (Hub front matter included)."""
    metas = [(f.name, _meta(f)) for f in folders]
    backbone_names = sorted({b for _, m in metas for b in m["backbones"]})
    origins = {m["training"].get("weights_origin", "pretrained") for _, m in metas}
    random = "random-init" in origins
    first = metas[0][1]["training"] if metas else {}
    lines = [
        "---",
        "license: apache-2.0",
        "library_name: nver-demo",
        "pipeline_tag: audio-classification",
        "tags: [audio-classification, emotion-recognition, vocal-bursts, non-verbal, reno, emogator]",
        "datasets: [EmoGator]",
        "---",
        "",
        "# Heads for the RENO paper's backbone pairs, trained on EmoGator",
        "",
    ]
    if random:
        lines += [
            "> **Pipeline test, not a model.** These heads were trained on embeddings of backbones with",
            "> *random* weights (`--random-init`): their scores are near chance and mean nothing about",
            "> the backbones. A real run fetches the pretrained weights instead.",
            "",
        ]
    lines += [
        f"{len(metas)} classifier heads (CNN on single backbones; Concat and RENO on the pairs of the seed "
        "paper's Table II), made by `python -m nver_demo paper-pairs` "
        "(the NVER demo project). Each folder is a self-describing checkpoint: "
        "`config.json` (head, backbones, labels, per-fold CV metrics, confusion matrix, training data), "
        "`model.safetensors`, `references.safetensors` (embeddings of held-out clips for the embedding map). "
        "The frozen backbones are not in this repository; the app fetches them.",
        "",
        "## Data",
        "",
        f"{first.get('data', '?')}. Clips quieter than −50 dBFS are left out "
        f"(excluded: {first.get('excluded', {})}).",
        "",
        "## Our results: 5-fold cross-validation grouped by speaker",
        "",
        "Every fold's test speakers are unseen in training and in early stopping. "
        f"Chance is {100 / max(1, len(metas[0][1]['labels'])) if metas else 0:.1f} %.",
        "",
        "| checkpoint | head | backbones | params | accuracy % | macro-F1 % | folds | clips |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, m in metas:
        cv = m.get("metrics", {}).get("cv", {})
        folds = cv.get("folds")
        lines.append(
            f"| `{name}` | {_head_title(m['head'])} | {' + '.join(m['backbones'])} | "
            f"{m.get('parameters', 0) / 1e6:.2f}M | {_pm(cv, 'accuracy')} | {_pm(cv, 'macro_f1')} | "
            f"{len(folds) if isinstance(folds, list) else '—'} | {m['training'].get('n_clips', '—')} |"
        )
    lines += _papers_section(metas)
    lines += ["", "## Backbone weights used for training", ""]
    sources: dict[str, str] = {}
    for _, m in metas:
        sources.update(m["training"].get("backbone_weights", {}))
    lines += [f"- `{b}`: {sources.get(b, '?')}" for b in backbone_names]
    lines += _use_section(metas, repo_hint)
    return "\n".join(lines) + "\n"


def _use_section(metas: list[tuple[str, dict]], repo_hint: str) -> list[str]:
    """The model card's "Use" section: how the app finds these heads, and a Python snippet."""
    return [
        "",
        "## Use",
        "",
        "In the NVER demo app (or its Space), either",
        "",
        f"- `NVER_CHECKPOINT_REPO={repo_hint}`: the app lists these as `hub:<name>`, or",
        "- download the folders and set `NVER_CHECKPOINT_DIRS=/path/to/this/folder`.",
        "",
        "Hub backbones (WavLM, UniSpeech-SAT, wav2vec 2.0, HuBERT) download on first use. Audio-MAMBA "
        "has no Hub copy: convert the official checkpoint (`python -m nver_demo.convert_audio_mamba`) and "
        "set `NVER_AUDIO_MAMBA_DIR`, or `NVER_AUDIO_MAMBA_REPO` to a repo holding "
        "`audio-mamba-<size>.safetensors`.",
        "",
        "```python",
        "from nver_demo import Predictor",
        f"p = Predictor.load('{metas[-1][0] if metas else '<name>'}')  # with NVER_CHECKPOINT_DIRS set",
        "p.predict_file('burst.wav').top(5)",
        "```",
        "",
        "Training: Adam 1e-3, batch 32, up to 20 epochs, early stopping on 15 % of the training speakers. "
        "Data: EmoGator (F. Buhl, arXiv 2301.00508, Apache-2.0).",
    ]


def stage(folders: list[Path], dest: Path, repo_hint: str = "<user>/<repo>",
          extra_files: list[Path] | None = None) -> Path:  # fmt: skip
    """Copy the checkpoint folders (their three files only) and the card into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for f in folders:
        out = dest / f.name
        out.mkdir(exist_ok=True)
        for name in CHECKPOINT_FILES:
            if (f / name).is_file():
                shutil.copy2(f / name, out / name)
    for extra in extra_files or []:
        shutil.copy2(extra, dest / extra.name)
    (dest / "README.md").write_text(model_card(folders, repo_hint), encoding="utf-8")
    return dest


def publish_local(folders: list[Path], dest: str | Path) -> Path:
    """A folder the app lists with ``NVER_CHECKPOINT_DIRS=<dest>``."""
    if not folders:
        raise ValueError("nothing to publish: no trained checkpoints")
    path = stage(folders, Path(dest), repo_hint="<user>/<repo>")
    log.info("published %d checkpoints to %s", len(folders), path)
    return path


def publish_hub(folders: list[Path], repo_id: str, *, private: bool = False,
                extra_files: list[Path] | None = None, token: str | None = None) -> str:  # fmt: skip
    """Create (or update) the Hub model repo ``repo_id`` with the folders and the card; returns its URL.

    Needs a token with write access (``HF_TOKEN`` or ``huggingface-cli login``). ``extra_files``
    land at the repo's root (e.g. converted ``audio-mamba-<size>.safetensors``, so the same repo
    can serve as ``NVER_AUDIO_MAMBA_REPO``).
    """
    from huggingface_hub import HfApi

    if not folders:
        raise ValueError("nothing to publish: no trained checkpoints")
    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        stage(folders, Path(tmp), repo_hint=repo_id, extra_files=extra_files)
        api.upload_folder(
            folder_path=tmp,
            repo_id=repo_id,
            repo_type="model",
            commit_message=f"paper-pairs: {len(folders)} checkpoints",
        )
    url = f"https://huggingface.co/{repo_id}"
    log.info("published %d checkpoints to %s", len(folders), url)
    return url
