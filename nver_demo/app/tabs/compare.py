"""The Compare tab: the same clip through several models side by side (models that share a
backbone share its work). API: ``/compare`` (audio, models) -> plot, table, summary, details."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from .. import report, service
from ..service import Comparison
from .common import EMPTY_SUMMARY, SCROLL_TO, Context, attempt, for_api, status, status_panel, unchecked, warn

#: What the page's comparison updates, in order (see :func:`build`).
OUTPUTS = ("status", "bars", "table", "papers", "summary", "details", "files", "shown")


class Compare:
    """Event functions of the Compare tab (testable without a browser). ``compare`` is the API
    event; ``page`` follows the page rule of :mod:`~nver_demo.app.tabs.common` and returns
    :data:`OUTPUTS` (``shown``: the clip the result on screen belongs to)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def comparison(self, clip, models) -> Comparison:
        return service.compare(clip, models, self.ctx.infos, runner=self.ctx.runner)

    def compare(self, clip, models):
        """API /compare: plot, table, summary, details."""
        c = for_api(self.comparison, clip, models)
        warn(c.clip.warnings)
        v = report.comparison_view(c)
        return v.bars, v.rows, v.markdown, v.details

    def page(self, clip, models):
        c, error = attempt(self.comparison, clip, models)
        if error:
            return self.cleared(error)
        warn(c.clip.warnings)
        v = report.comparison_view(c)
        stem = f"{Path(c.clip.name or 'recording').stem}-compare"
        files = self.ctx.downloads.write(stem, report.comparison_csv(c), v.details)
        papers = gr.update(value=v.paper_rows, visible=bool(v.paper_rows))
        return status(), v.bars, v.rows, papers, v.markdown, v.details, gr.update(value=files, visible=True), clip

    @staticmethod
    def cleared(error: str = "", note: str = ""):
        """No result on screen, with the error (or a note saying why the result went)."""
        panel = status(error) if error else status(note, kind="stale")
        papers = gr.update(value=None, visible=False)
        return panel, None, None, papers, EMPTY_SUMMARY, None, gr.update(value=None, visible=False), None

    def clip_changed(self, clip, shown):
        """A new clip in the Compare tab: the result on screen belongs to another one."""
        if not shown or clip == shown:
            return tuple(gr.skip() for _ in OUTPUTS)
        return self.cleared(note="A new clip: press **Compare** to run the models on it.")

    @staticmethod
    def selection_changed(shown):
        if not shown:
            return gr.skip()
        return status("The selection changed since this result: press **Compare** to update it.", "stale")


def build(ctx: Context) -> None:  # pragma: no mutate block
    """Lay out the tab and wire its events; its clip follows ``ctx.components["clip"]`` (Analyze's)."""
    h = Compare(ctx)
    gr.Markdown(
        "The same clip through several models side by side. Models that share a backbone share its "
        "work: each backbone runs once per clip."
    )
    with gr.Row(equal_height=False):
        with gr.Column(scale=4, min_width=300):
            clip = gr.Audio(sources=["upload", "microphone"], type="filepath", label="Clip (from Analyze, or new)",
                            elem_id="compare-clip")  # fmt: skip
            label = f"Models (any number that needs at most {service.MAX_BACKBONES} different backbones)"
            models = unchecked(gr.CheckboxGroup(ctx.choices, value=ctx.selection, label=label,
                                                elem_id="compare-models"))  # fmt: skip
            go = gr.Button("Compare", variant="primary", elem_id="compare-btn")
            api_go = gr.Button(visible=False)  # carries the /compare API endpoint (errors raise)
        with gr.Column(scale=7, min_width=300, elem_id="compare-result"):
            panel = status_panel("compare-status")
            md = gr.Markdown(EMPTY_SUMMARY, label="summary", elem_id="compare-summary")
            files = gr.File(label="Download the result (CSV, JSON)", file_count="multiple", interactive=False,
                            visible=False, elem_id="compare-files")  # fmt: skip
    table = gr.Dataframe(headers=report.COMPARE_HEADERS, label="Agreement (measured here, on EmoGator)",
                         interactive=False, wrap=True, elem_id="compare-table", elem_classes="wide-table",
                         column_widths=["24%", "14%", "13%", "8%", "11%", "8%", "11%", "11%"])  # fmt: skip
    papers = gr.Dataframe(headers=report.PAPER_HEADERS, visible=False, interactive=False, wrap=True,
                          label="Reported by the papers, on other datasets: not measured here")  # fmt: skip
    bars = gr.Plot(label="Probabilities per model (orange: that model's top emotion)", elem_id="compare-bars")
    with gr.Accordion("Raw result (JSON)", open=False):
        details = gr.JSON(label="details")
    shown = gr.State(None)  # the clip the result on screen belongs to

    outs = [panel, bars, table, papers, md, details, files, shown]
    private = {"api_visibility": "private", "queue": False}
    if "clip" in ctx.components:
        ctx.components["clip"].change(lambda x: x, ctx.components["clip"], clip, **private)
    api_go.click(h.compare, [clip, models], [bars, table, md, details], api_name="compare", **ctx.api_event())
    gr.on([go.click, clip.upload, clip.stop_recording], h.page, [clip, models], outs, **ctx.page_event())
    gr.on([go.click, clip.upload, clip.stop_recording], None, js=SCROLL_TO.format("compare-result"))
    clip.change(h.clip_changed, [clip, shown], outs, **private)
    models.change(h.selection_changed, shown, panel, **private)
