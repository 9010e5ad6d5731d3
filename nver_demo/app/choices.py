"""Model choices: what the UI and the API may name, what each resolves to, and what the pickers
say about it (how to get what is missing). The catalogue of trained checkpoints it resolves
against is :mod:`~nver_demo.app.catalog`.

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

import os
import re

from .. import backbones, checkpoint, heads
from .catalog import (
    HUB_ENV,
    ModelInfo,
    ModelUnavailable,
    checkpoints_dir,
    default_model,
    head_title,
    is_offline,
)


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
    lines += [f"- {weights_hint(b)}" for b in names if not is_offline(b)]
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


def head_inputs() -> dict[str, int]:
    """Head name -> how many backbones it takes, from the head registry."""
    return {name: heads.spec(name).n_inputs for name in heads.available()}


def backbone_choices() -> list[tuple[str, str]]:
    """(label, name) for backbone pickers: the offline ones first, saying which need Hub weights."""
    names = sorted(backbones.available(), key=lambda b: not is_offline(b))  # stable: registry order
    return [(f"{b} ({'offline' if is_offline(b) else 'needs Hub weights'})", b) for b in names]


def default_combination(infos: list[ModelInfo]) -> tuple[str, list[str]]:
    """What the head/backbone picker shows first: a combination that runs here (the best trained
    offline fusion model, else the default model), else RENO over the first two offline backbones."""
    runs = [m for m in infos if not m.needs_hub]
    pairs = [m for m in runs if len(m.backbones) > 1]
    first = pairs[0] if pairs else next((m for m in runs if m.name == default_model(infos)), None)
    if first is not None:
        return first.head, list(first.backbones)
    offline = [b for _, b in backbone_choices() if is_offline(b)]
    return "reno", offline[:2]
