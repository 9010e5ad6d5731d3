"""What the tabs share: the app's context (model catalogue, model choices, runners), the one
error-handling rule, the status panel, and small Gradio helpers.

The error-handling rule, the same in every tab:

- an **API** event (``/analyze``, ``/compare``, ``/timeline``) raises ``gr.Error`` with the
  package's sentence, so an API caller gets it as an exception (:func:`for_api`);
- a **page** event never raises for bad input: it clears the previous result and shows the
  sentence in the tab's status panel, where it stays until the next run (a toast vanishes after
  seconds and leaves red "Error" pills behind) (:func:`attempt` + :func:`status`).

Human errors are :data:`HUMAN_ERRORS`; anything else is a bug and propagates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr

from ... import audio, spaces_compat
from .. import catalog, downloads, report, scheduler, service

T = TypeVar("T")

#: The package's errors whose message is a sentence for the visitor (bad clip, model that cannot run).
HUMAN_ERRORS = (audio.AudioError, catalog.ModelUnavailable)
#: The upload limit app.py launches with (the Analyze tab's note says it).
MAX_FILE_SIZE = "150mb"  # a 10-minute 48 kHz stereo WAV is 115 MB; only its start is decoded
#: On a phone the result is below the inputs: scroll to it when a run starts (desktop: no-op).
SCROLL_TO = (
    "() => {{ const el = document.getElementById('{}'); if (el && window.innerWidth < 700) "
    "el.scrollIntoView({{behavior: 'smooth', block: 'start'}}); }}"
)
#: What a result area shows when there is no result.
EMPTY_SUMMARY = f"*{report.DISCLAIMER}*"


@dataclass
class Context:
    """What every tab's ``build(ctx)`` gets: built once per app, no module-level state.

    ``choices`` are the pickers' ``(label, name)`` pairs, built here once and shared by every
    picker. ``components`` holds what one tab publishes for another (``"clip"``: the Analyze clip,
    which Compare follows)."""

    infos: list[catalog.ModelInfo]
    model_runs: int = scheduler.MODEL_RUNS  # Analyze/Compare runs at once ("models" group; the gate's slots)
    long_jobs: int = scheduler.LONG_JOBS_CPU  # Timeline runs at once ("long" group)
    long_queue: int = scheduler.LONG_QUEUE  # Timeline runs that may wait in the "long" group
    examples: Path | None = None  # folder of the example clips Analyze offers
    components: dict[str, gr.components.Component] = field(default_factory=dict)
    blocks: gr.Blocks | None = None  # the app, once built (the long queue's validator counts its queue)

    def __post_init__(self) -> None:
        self.default = catalog.default_model(self.infos)
        self.selection = catalog.default_selection(self.infos)
        self.choices = [(m.choice_label(), m.name) for m in self.infos]
        # Every model run takes a slot of one gate: short requests first, long batches between.
        self.gate = scheduler.RunGate(self.model_runs)
        # The only GPU step of a clip; its slot is taken outside the GPU call (in this process).
        self.runner = self.gate.wrap(spaces_compat.gpu(service.run_models, duration=20))
        self.downloads = downloads.Downloads()

    @property
    def long_slots(self) -> scheduler.RunGate | None:
        """The gate a long job's batches take, or None on ZeroGPU, where a long job runs in a GPU
        worker process that cannot share this process's lock (the "long" group bounds it there)."""
        return None if spaces_compat.on_zero_gpu() else self.gate

    def info(self, name: str | None) -> catalog.ModelInfo | None:
        return next((m for m in self.infos if m.name == name), None)

    def page_event(self) -> dict[str, Any]:
        """Keyword arguments of a page event that runs models: not in the API, one shared queue."""
        return {"api_visibility": "private", **self.api_event()}

    def api_event(self) -> dict[str, Any]:
        """Keyword arguments of an API event that runs models (add its ``api_name``)."""
        return {"concurrency_id": scheduler.SHORT_GROUP, "concurrency_limit": self.model_runs}

    def long_event(self) -> dict[str, Any]:
        """Keyword arguments of an event that runs a long job (Timeline; any future batch work):
        its own concurrency group, ``long_jobs`` at once, at most ``long_queue`` waiting (a
        validator refuses the next one before it is queued). Add ``api_name`` or
        ``api_visibility``."""
        validator = scheduler.long_queue_validator(lambda: self.blocks, self.long_jobs, self.long_queue)
        return {
            "concurrency_id": scheduler.LONG_GROUP,
            "concurrency_limit": self.long_jobs,
            "validator": validator,
        }


def for_api(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args)`` for an API event: a human error becomes ``gr.Error`` (its sentence, no trace)."""
    try:
        return fn(*args, **kwargs)
    except HUMAN_ERRORS as e:
        raise gr.Error(str(e), print_exception=False) from e


def attempt(fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T | None, str]:
    """``(fn(*args), "")`` for a page event, or ``(None, sentence)`` on a human error; the caller
    then returns its cleared result with ``status(sentence)``."""
    try:
        return fn(*args, **kwargs), ""
    except HUMAN_ERRORS as e:
        return None, str(e)


def warn(messages: list[str] | tuple[str, ...]) -> None:
    """The clip's warnings (trimmed, resampled, clipped…) as toasts: they need no panel."""
    for w in messages:
        gr.Warning(w)


def status(message: str = "", kind: str = "error") -> dict:
    """The panel above a tab's result: an error (kept until the next run), a note that the result
    is out of date (``kind="stale"``), or hidden (no message)."""
    if not message:
        return gr.update(value="", visible=False)
    text = report.error_markdown(message) if kind == "error" else report.md_text(message)
    return gr.update(
        value=text, visible=True, elem_classes=[f"{kind}-panel" if kind != "error" else "status-panel"]
    )


def status_panel(elem_id: str) -> gr.Markdown:  # pragma: no mutate block
    """A tab's status panel: hidden until :func:`status` fills it."""
    return gr.Markdown(visible=False, elem_id=elem_id, elem_classes="status-panel")


def model_dropdown(ctx: Context, **kwargs: Any) -> gr.Dropdown:  # pragma: no mutate block
    """A model picker over the shared choices, on the default model. ``allow_custom_value``: a
    name it does not list (a registry combination, ``hub:``) gets the catalogue's sentence."""
    return gr.Dropdown(ctx.choices, value=ctx.default, allow_custom_value=True, **kwargs)


def unchecked(group: gr.CheckboxGroup) -> gr.CheckboxGroup:
    """Let a CheckboxGroup's values reach the handler unchecked, so that a model name it does not
    list gets the catalogue's "Unknown model" sentence (shortened), as on /analyze, instead of
    Gradio's "not in the list of choices" echoing the whole value back. Set on the instance: a
    subclass would make Gradio write a .pyi stub beside its module."""

    def preprocess(payload):
        return list(payload) if isinstance(payload, (list, tuple)) else payload

    group.preprocess = preprocess
    return group
