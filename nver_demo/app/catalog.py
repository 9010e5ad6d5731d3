"""Which trained models exist: the checkpoints on disk (the shipped folder or
``$NVER_CHECKPOINTS``, the folders of ``$NVER_CHECKPOINT_DIRS``) and in a Hub repo
(``$NVER_CHECKPOINT_REPO``), read into :class:`ModelInfo` entries, ordered as the pickers list
them, with the default model and the Compare tab's default selection. Everything is derived from
the backbone and head registries and from the checkpoints' own config.json, never from a
hand-typed list.

What a model *choice* may be, and the messages for one that cannot run, are in
:mod:`~nver_demo.app.choices`; the Models tab's tables in :mod:`~nver_demo.app.model_tables`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from .. import backbones, checkpoint, paper

log = logging.getLogger(__name__)

HUB_ENV = "NVER_CHECKPOINT_REPO"
#: The groups of the model picker, in the order it lists them. "Papers' models": a head and
#: backbones the papers report (the RENO paper's Table II pairs and Table I backbones).
OFFLINE, PAPERS, NEEDS_HUB = "Offline-ready", "Papers' models", "Needs Hub weights"
GROUPS = (OFFLINE, PAPERS, NEEDS_HUB)


class ModelUnavailable(RuntimeError):
    """A model choice that cannot run here; the message says what is missing and how to get it."""


@dataclass(frozen=True)
class ModelInfo:
    """What the catalogue knows about a trained checkpoint, read from its config.json."""

    name: str  # the value the UI and API pass around
    source: str  # what Predictor.load takes: a checkpoint folder, or "hub:<name>"
    head: str
    backbones: tuple[str, ...]
    labels: tuple[str, ...]
    cv: dict = field(default_factory=dict)  # metrics.cv: accuracy_mean, macro_f1_mean, folds, confusion...
    parameters: int | None = None
    training: dict = field(default_factory=dict)
    #: Where it comes from: "shipped" (or $NVER_CHECKPOINTS), "hub", or the label of a
    #: $NVER_CHECKPOINT_DIRS folder.
    origin: str = "shipped"

    @property
    def local(self) -> bool:
        return self.origin not in ("shipped", "hub")

    @property
    def needs_hub(self) -> list[str]:
        """Backbones whose weights come from a model hub (or an unknown backbone)."""
        return [b for b in self.backbones if not is_offline(b)]

    @property
    def group(self) -> str:
        """Picker group: the shipped offline-ready models, local folders by their label, the
        papers' models (a head and backbones the papers report), then the other Hub models."""
        papers = paper.lookup(self.head, self.backbones) is not None
        if self.local:
            kind = " · papers' models" if papers else ""
            return f"Local ({self.origin}){kind}" + (" · needs Hub weights" if self.needs_hub else "")
        if not self.needs_hub:
            return OFFLINE
        return PAPERS if papers else NEEDS_HUB

    @property
    def random_backbones(self) -> bool:
        """Trained on random-init backbones (``paper-pairs --random-init``): a pipeline test."""
        return self.training.get("weights_origin") == "random-init"

    @property
    def title(self) -> str:
        """``"RENO · ge2e + compare"``."""
        return f"{head_title(self.head)} · {' + '.join(self.backbones)}"

    @property
    def chance(self) -> float:
        return 1.0 / max(1, len(self.labels))

    def cv_text(self) -> str:
        """``"CV accuracy 31.2 ± 1.0 %, macro-F1 29.8 %"`` or a note that there is none."""
        if not self.cv:
            return "no cross-validation results in this checkpoint"
        acc, f1 = self.cv.get("accuracy_mean"), self.cv.get("macro_f1_mean")
        std = self.cv.get("accuracy_std")
        folds = self.cv.get("folds")
        folds = len(folds) if isinstance(folds, list) else folds
        spread = f" ± {std:.1f}" if std is not None else ""
        where = f" ({folds}-fold, unseen speakers)" if folds else ""
        return f"CV accuracy {acc:.1f}{spread} %, macro-F1 {f1:.1f} %{where}"

    def choice_label(self) -> str:
        """Dropdown text: group first, so offline-ready and Hub models read as two groups."""
        acc = self.cv.get("accuracy_mean")
        score = f" · CV acc {acc:.1f}\u00a0%" if acc is not None else ""  # no lone "%" on a new line
        test = " · random-init backbones (pipeline test)" if self.random_backbones else ""
        return f"{self.group} · {self.title}{score}{test}"

    def paper_result(self) -> paper.PaperResult | None:
        """The papers' numbers for this head and backbones; for MATA, the paper's only row
        (LanguageBind + ImageBind) whatever the backbones (the table says which)."""
        head = paper_head(self.head)
        return paper.lookup(head, self.backbones) or paper.head_reference(head)


#: Display names of heads that are a second reading of a paper's method.
_TITLES = {
    "concat": "Concat",
    "reno_token": "RENO (token reading)",
    "mata_batch": "MATA (batch transport)",
}


def head_title(name: str) -> str:
    """Display name of a head: ``reno`` -> ``RENO``, ``reno_token`` -> ``RENO (token reading)``."""
    return _TITLES.get(name, name.upper())


def paper_head(name: str) -> str:
    """The papers' method a head reads: ``reno_token`` -> ``reno``, ``mata_batch`` -> ``mata``."""
    return name.split("_", 1)[0]


def is_offline(backbone: str) -> bool:
    """Whether a backbone's weights are at hand without a model hub (False for an unknown name)."""
    try:
        return not backbones.spec(backbone).needs_hub
    except ValueError:
        return False  # a backbone this version does not know cannot run offline either


def _info(name: str, source: str, meta: dict, origin: str = "shipped") -> ModelInfo:
    return ModelInfo(
        name=name,
        source=source,
        head=meta["head"],
        backbones=tuple(meta["backbones"]),
        labels=tuple(meta["labels"]),
        cv=dict(meta.get("metrics", {}).get("cv", {})),
        parameters=meta.get("parameters"),
        training=dict(meta.get("training", {})),
        origin=origin,
    )


def models(directory: str | Path | None = None, hub: bool = True, local: bool = True) -> list[ModelInfo]:
    """Trained checkpoints in ``directory`` (default: the shipped folder or ``$NVER_CHECKPOINTS``),
    when ``local`` in the folders of ``$NVER_CHECKPOINT_DIRS`` (named ``<label>/<name>``), and
    when ``hub`` in the Hub repo named by ``$NVER_CHECKPOINT_REPO``. Ordered: shipped offline-ready,
    then local folders (in the variable's order), then those needing Hub weights; within a
    group pairs before single backbones, then by CV accuracy (best first). Checkpoints whose
    config.json fails :func:`nver_demo.checkpoint.validate` are logged and left out. A
    snapshot: the app serves what it found at start-up."""
    root = Path(directory) if directory is not None else checkpoints_dir()
    found = [
        _checked(cfg.parent.name, cfg.parent, "shipped")
        for cfg in sorted(root.glob("*/config.json"))
        if checkpoint.NAME.fullmatch(cfg.parent.name)
    ]
    if local:
        found += [
            _checked(name, path, name.split("/")[0]) for name, path in checkpoint.local_checkpoints().items()
        ]
    if hub:
        found += hub_models()
    labels = [label for label, _ in checkpoint.local_dirs()]
    return sorted((m for m in found if m is not None), key=lambda m: _order(m, labels))


def _checked(name: str, folder: Path, origin: str) -> ModelInfo | None:
    try:
        return _info(name, str(folder), checkpoint.read_meta(folder), origin)
    except (OSError, ValueError, KeyError) as e:
        log.warning("skipping checkpoint %s: %s", folder, e)
        return None


def _order(m: ModelInfo, local_labels: list[str]) -> tuple:
    group = 1 + local_labels.index(m.origin) if m.origin in local_labels else 0 if m.group == OFFLINE else 999
    return (group, len(m.backbones) == 1, -(m.cv.get("accuracy_mean") or 0.0), m.name)


def checkpoints_dir() -> Path:
    return checkpoint.checkpoints_dir()


def hub_models() -> list[ModelInfo]:
    """Checkpoints in the Hub repo named by ``$NVER_CHECKPOINT_REPO`` (their config.json only)."""
    repo = os.environ.get(HUB_ENV)
    if not repo:
        return []
    from huggingface_hub import snapshot_download

    try:
        root = Path(snapshot_download(repo_id=repo, allow_patterns=["*/config.json"]))
    except Exception as e:  # offline, unknown repo, auth: the shipped checkpoints still work
        log.warning("cannot list checkpoints in Hub repo %s: %s: %s", repo, type(e).__name__, e)
        return []
    out = []
    for cfg in sorted(root.glob("*/config.json")):
        try:
            name = f"hub:{cfg.parent.name}"
            out.append(_info(name, name, checkpoint.read_meta(cfg.parent), "hub"))
        except (OSError, ValueError, KeyError) as e:
            log.warning("skipping hub checkpoint %s: %s", cfg.parent.name, e)
    return out


def default_model(infos: list[ModelInfo]) -> str | None:
    """The shipped default when present, else the first in catalogue order (best offline pair)."""
    names = [m.name for m in infos]
    if checkpoint.DEFAULT in names:
        return checkpoint.DEFAULT
    return names[0] if names else None


def default_selection(infos: list[ModelInfo], k: int = 6) -> list[str]:
    """A comparison that says something and costs little: the default model, the fusion heads
    over its backbones, one single-backbone head on each backbone those pairs add, then other
    single heads on the same backbones (each backbone runs once per clip however many models
    share it), topped up with other offline-ready models."""
    first = default_model(infos)
    if first is None:
        return []
    base = set(next(m for m in infos if m.name == first).backbones)
    offline = [m for m in infos if m.name != first and not m.needs_hub]
    pairs = [m for m in offline if len(m.backbones) > 1 and base & set(m.backbones)]
    used = base.union(*(m.backbones for m in pairs))
    singles = [m for m in offline if m not in pairs and set(m.backbones) <= used]
    covered = set(base) if len(base) == 1 else set()
    new, again = [], []
    for m in singles:  # catalogue order: best first
        (again if set(m.backbones) <= covered else new).append(m)
        covered |= set(m.backbones)
    others = [m for m in offline if m not in pairs and m not in singles]
    return [first, *(m.name for m in [*pairs, *new, *again, *others])][:k]
