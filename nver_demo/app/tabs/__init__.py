"""The app's tabs, one module each: layout and event functions. Each tab module exposes
``build(ctx)``, which lays the tab out inside the current ``gr.Tab`` and wires its events; its
event functions are plain methods of a class built on the :class:`~.common.Context` (testable
without a browser). What the tabs share (the context with the model choices built once, the
error-handling rule, the status panel) is :mod:`.common`; the Analyze tab's pickers are
:mod:`.pickers`. ``app.py`` lists the tabs in :data:`TABS` order."""

from __future__ import annotations

from . import analyze, compare, live, models, timeline
from .common import Context

#: (title, id, build) of each tab, in page order. Analyze comes before Compare: Compare follows its clip.
TABS = (
    ("Analyze", "analyze", analyze.build),
    ("Live", "live", live.build),
    ("Compare", "compare", compare.build),
    ("Timeline", "timeline", timeline.build),
    ("Models", "models", models.build),
)

__all__ = ["TABS", "Context"]
