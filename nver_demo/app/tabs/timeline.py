"""The Timeline tab: every vocal burst of a long recording, classified, on a timeline; a table
and a player for each burst. API: ``/timeline`` (recording, model, check_speech) -> plot, table,
summary, details, files. The analysis itself is :mod:`nver_demo.app.timeline`; what it shows,
:mod:`nver_demo.app.timeline_view`."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from ... import spaces_compat
from .. import bursts, clips, service, timeline, timeline_view, upload_cache
from ..timeline import Timeline
from .common import EMPTY_SUMMARY, Context, attempt, for_api, model_dropdown, status, status_panel

INTRO = f"""A long recording — a minute of a baby, a party, a match — cut into its vocal bursts, each
classified. Up to {bursts.MAX_RECORDING_S // 60} minutes · {clips.FORMATS}. Colours are the six emotion families;
hatched bursts sound like speech (the models only know non-verbal sounds). Hover for the top 3; click a row
of the table or pick a burst to hear it."""
#: What the API returns, in order; the page also updates :data:`PAGE_OUTPUTS`' others.
API_OUTPUTS = ("plot", "table", "summary", "details", "files")
#: What the page's run updates, in order (see :func:`build`): the status panel, the result, the
#: state it keeps (the file and the timeline) and the burst on show.
PAGE_OUTPUTS = ("status", *API_OUTPUTS, "state", "pick", "player", "bars", "burst_md")


class TimelineTab:
    """Event functions of the Timeline tab (testable without a browser). ``run`` is the API
    event; ``page`` follows the page rule of :mod:`~nver_demo.app.tabs.common` and returns
    :data:`PAGE_OUTPUTS`."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.runner = spaces_compat.gpu(timeline.run, duration=120)

    def timeline(self, path, model, check_speech, progress) -> tuple[Path, Timeline]:
        with upload_cache.admit(path):  # room in the upload cache or a polite refusal; held while run
            path = timeline.check_file(path)
            [predictor], _ = service.load_models([model or self.ctx.default], self.ctx.infos)
            progress(0, desc="Decoding and finding bursts…")
            # On ZeroGPU the run happens in a worker process: no callback into this one.
            report = None if spaces_compat.on_zero_gpu() else (lambda f, what: progress(f, desc=what))
            return path, self.runner(path, predictor, gate=check_speech is not False, progress=report,
                                     slots=self.ctx.long_slots)  # fmt: skip

    @staticmethod
    def result(tl: Timeline) -> tuple:
        """:data:`API_OUTPUTS` of a timeline."""
        files = timeline_view.downloads(tl) if tl.rows else None
        return (
            timeline_view.figure(tl),
            timeline_view.table(tl),
            timeline_view.markdown(tl),
            tl.to_dict(),
            files,
        )

    def run(self, path, model, check_speech=True, progress=gr.Progress()):
        # API /timeline: plot, table, summary, details, files. A comment, not a docstring: Gradio
        # shows a docstring as the endpoint's description, and /timeline's has always been empty.
        _, tl = for_api(self.timeline, path, model, check_speech, progress)
        return self.result(tl)

    def page(self, path, model, check_speech=True, progress=gr.Progress()):
        done, error = attempt(self.timeline, path, model, check_speech, progress)
        if error:
            return self.cleared(error)
        path, tl = done
        state = {"path": str(path), "timeline": tl}
        picks = timeline_view.choices(tl)
        first = picks[0][1] if picks else None
        burst = self.show(state, first)[:3] if picks else (None, None, "")
        shown = list(self.result(tl))
        shown[0] = timeline_view.figure(tl, selected=first)  # the burst on show, outlined
        shown[-1] = gr.update(value=shown[-1], visible=bool(shown[-1]))
        return (status(), *shown, state, gr.update(choices=picks, value=first), *burst)

    @staticmethod
    def cleared(error: str = ""):
        """No result on screen (and the error, if any): never an old timeline or burst under a new run."""
        return (status(error), timeline_view.figure(None), None, EMPTY_SUMMARY, None,
                gr.update(value=None, visible=False), None, gr.update(choices=[], value=None), None, None, "")  # fmt: skip

    @staticmethod
    def show(state, i):
        """The burst picked: its audio, all its probabilities, a line about it, and the timeline
        with it outlined."""
        if not state or i is None or not 0 <= int(i) < len(state["timeline"].rows):
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        tl, i = state["timeline"], int(i)
        r = tl.rows[i]
        sr, wave = timeline.burst_audio(state["path"], r.start, r.end)
        return ((sr, wave), timeline_view.burst_bars(tl, i), timeline_view.burst_markdown(tl, i),
                timeline_view.figure(tl, selected=i))  # fmt: skip

    @staticmethod
    def row_selected(evt: gr.SelectData):
        return evt.index[0] if evt and evt.index is not None else gr.skip()


def build(ctx: Context) -> None:  # pragma: no mutate block
    """Lay out the tab and wire its events."""
    h = TimelineTab(ctx)
    gr.Markdown(INTRO, elem_classes="small-note")
    with gr.Row(equal_height=False):
        with gr.Column(scale=5):
            rec = gr.Audio(sources=["upload", "microphone"], type="filepath", label="Long recording",
                           elem_id="timeline-audio")  # fmt: skip
        with gr.Column(scale=4):
            model = model_dropdown(ctx, label="Model", elem_id="timeline-model")
            speech = gr.Checkbox(True, label="Check each burst for speech (Whisper-base; slower)",
                                 elem_id="timeline-speech")  # fmt: skip
            find = gr.Button("Find bursts", variant="primary", elem_id="timeline-btn")
            api_find = gr.Button(visible=False)  # carries the /timeline API endpoint (errors raise)
    out = {"status": status_panel("timeline-status")}
    out["summary"] = gr.Markdown(EMPTY_SUMMARY, elem_id="timeline-summary")
    out["plot"] = gr.Plot(timeline_view.figure(None), label="Timeline (one lane per emotion family)",
                          elem_id="timeline-plot")  # fmt: skip
    with gr.Row(equal_height=False):
        with gr.Column(scale=6):
            out["table"] = gr.Dataframe(headers=timeline_view.TABLE_HEADERS, label="Bursts (click a row)",
                                        interactive=False, wrap=True, max_height=420, elem_id="timeline-table",
                                        elem_classes="wide-table",
                                        column_widths=["6%", "11%", "11%", "19%", "7%", "17%", "18%", "11%"])  # fmt: skip
            out["files"] = gr.File(label="Download (CSV, JSON)", file_count="multiple", interactive=False,
                                   visible=False, elem_id="timeline-files")  # fmt: skip
        with gr.Column(scale=5):
            out["pick"] = gr.Dropdown([], label="Burst", elem_id="timeline-pick")
            out["burst_md"] = gr.Markdown()
            out["player"] = gr.Audio(label="This burst", interactive=False, elem_id="timeline-player")
            out["bars"] = gr.Plot(label="All probabilities of this burst")
    with gr.Accordion("Raw result (JSON, as the API returns it)", open=False):
        out["details"] = gr.JSON(label="details")
    out["state"] = gr.State(None)

    ins, progress_on = [rec, model, speech], {"show_progress_on": out["plot"]}
    api_find.click(
        h.run, ins, [out[k] for k in API_OUTPUTS], api_name="timeline", **ctx.long_event(), **progress_on
    )
    find.click(h.page, ins, [out[k] for k in PAGE_OUTPUTS], api_visibility="private", **ctx.long_event(),
               **progress_on)  # fmt: skip
    burst = [out["player"], out["bars"], out["burst_md"], out["plot"]]
    out["pick"].change(h.show, [out["state"], out["pick"]], burst, api_visibility="private")
    out["table"].select(h.row_selected, None, out["pick"], api_visibility="private", queue=False)
