"""The Analyze tab: one clip through one model: top emotions, all probabilities, the embedding
map, a summary and downloads. API: ``/analyze`` (audio, model, map method, map view) -> label,
bars, map, summary, details."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from .. import choices, clips, meant, report, service, voice_enrolment
from ..service import Analysis
from . import feedback, pickers
from .common import (
    EMPTY_SUMMARY,
    MAX_FILE_SIZE,
    SCROLL_TO,
    Context,
    attempt,
    for_api,
    status,
    status_panel,
    warn,
)

LONG_CLIPS = (
    "To record, click the **microphone** under the box. "
    f"Best on 0.5–2 s bursts · {clips.FORMATS} · up to {MAX_FILE_SIZE.upper()}. "
    f"Silence around recordings longer than {clips.TRIM_LONGER_THAN_S:g} s is trimmed, then at most the "
    f"first {clips.MAX_ANALYSIS_S:g} s of sound are analysed; the result says which part."
)
MAP_NOTE = """Each dot is a reference clip from speakers the model did not train on, coloured by the
family of its true label (hover for the label); the star is your clip. PCA projects your clip exactly; UMAP places it at the weighted mean of
its nearest reference clips in a layout fixed at training time. No t-SNE: it cannot place a new clip
without refitting the whole map."""
#: What the page's analysis updates, in order (see :func:`build`).
OUTPUTS = ("status", "top", "family", "bars", "map", "map_note", "summary", "details", "files", "state", "pick",
           "voice", "voice_md")  # fmt: skip
#: The map views an API call may name (any model: a missing one falls back to the fused map).
VIEW_KEYS = tuple(k for _, k in service.view_choices([""] * max(choices.head_inputs().values())))


class Analyze:
    """Event functions of the Analyze tab (plain functions of the context: testable without a
    browser). ``analyze`` is the API event; ``page`` and ``rerun`` follow the page rule of
    :mod:`~nver_demo.app.tabs.common` and return :data:`OUTPUTS`."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.examples = clips.examples(ctx.examples) if ctx.examples else []

    def analysis(self, clip, model, method, view, enrol=None) -> Analysis:
        model, method, view = model or self.ctx.default, method or "PCA", view or "fused"
        return service.analyze(clip, model, self.ctx.infos, method.lower(), view, runner=self.ctx.runner,
                               enrol=enrol)  # fmt: skip

    def analyze(self, clip, model, method, view, enrol_files=None):
        """API /analyze: label, bars, map, summary, details. ``enrol_files``: other clips of the
        same speaker (never kept), from the model's break-even on the answer is tuned to them."""
        if enrol_files:
            enrol = for_api(
                service.enrolment_embeddings, enrol_files, model or self.ctx.default, self.ctx.infos
            )
            a = for_api(self.analysis, clip, model, method, view, enrol)
        else:
            a = for_api(self.analysis, clip, model, method, view)
        warn(a.clip.warnings)
        v = report.analysis_view(a)
        return v.label, v.bars, v.map, v.markdown, v.details

    def page(self, clip, model, method, view, tune=False, voice=None):
        a, error = attempt(self.analysis, clip, model, method, view, voice if tune else None)
        if error:
            return self.cleared(error)
        if tune:  # after the analysis: a clip is never its own enrolment
            voice = voice_enrolment.remember(voice, a.pred)
        warn(a.clip.warnings)
        v = report.analysis_view(a)
        stem = f"{Path(a.clip.name or 'recording').stem}-{a.name}"
        files = self.ctx.downloads.write(stem, report.probabilities_csv(a), v.details)
        state = {"source": a.source, "pred": a.pred, "model": a.name}
        family = "\n\n".join(filter(None, [self.meant_line(a), report.family_markdown(a.pred)]))
        buttons = gr.update(sample_labels=meant.button_labels(self.examples, a.clip.name, a.pred.label))
        return (status(), v.label, family, v.bars, v.map, report.map_note(a.map, a.map_note), v.markdown,
                v.details, gr.update(value=files, visible=True), state, buttons, voice,
                voice_enrolment.status(voice))  # fmt: skip

    def meant_line(self, a: Analysis) -> str:
        """For an example clip: what it was meant to be, and whether the model got it."""
        return meant.meant_markdown(meant.meant_label(a.clip.name, self.examples), a.pred.probs)

    def cleared(self, error: str = ""):
        """No result on screen (and the error, if any): never an old result under a new clip or model."""
        buttons = gr.update(sample_labels=meant.button_labels(self.examples))
        return (status(error), None, "", None, None, "", EMPTY_SUMMARY, None,
                gr.update(value=None, visible=False), None, buttons, gr.skip(), gr.skip())  # fmt: skip

    def rerun(self, clip, model, method, view, tune=False, voice=None):
        """The model changed: run it on the clip on screen (not kept again for the voice), or clear."""
        if not clip:
            return self.cleared()
        out = self.page(clip, model, method, view, tune, voice)
        return (*out[:-2], gr.skip(), gr.skip()) if tune else out

    @staticmethod
    def remap(state, method, view):
        """The map method or view changed: redraw the map of the result on screen (no model run)."""
        if not state:
            return gr.skip(), gr.skip()
        predictor = service.get_predictor(state["source"])
        data, note = service.remap(predictor, state["pred"], method.lower(), view)
        return report.map_figure(data, note), report.map_note(data, note)

    def on_model(self, model):
        """The note under the picker, and the map views (one per backbone of the model, and fused)."""
        m = self.ctx.info(model)
        keys = service.view_choices(m.backbones if m else [])
        return report.md_text(choices.describe(model, self.ctx.infos)), gr.update(choices=keys, value="fused")


def _inputs(ctx: Context):  # pragma: no mutate block
    """The left column: the clip, the example clips, the buttons."""
    examples = clips.examples(ctx.examples) if ctx.examples else []
    clip = gr.Audio(
        sources=["upload", "microphone"],
        type="filepath",
        label="1 · Record or upload a sound",
        elem_id="clip",
    )
    # A Dataset, not gr.Examples: Examples probes every file with ffprobe at start-up (~1 s).
    pick = gr.Dataset(
        components=["textbox"],
        samples=[[e.path.name] for e in examples],
        sample_labels=meant.button_labels(examples),
        samples_per_page=8,
        type="index",
        label="…or click a real vocal burst from EmoGator (Apache-2.0), named by the emotion it was meant as",
        elem_id="examples",
    )
    run = gr.Button("Analyze", variant="primary", size="lg", elem_id="analyze-btn")
    api_run = gr.Button(visible=False)  # carries the /analyze API endpoint (errors raise)
    gr.Markdown(LONG_CLIPS, elem_classes="small-note")
    return clip, pick, examples, run, api_run


def _result() -> dict[str, gr.components.Component]:  # pragma: no mutate block
    """The right column's result: status panel, top emotions, family, glossary, summary, files."""
    with gr.Column(elem_id="result"):
        out = {"status": status_panel("analyze-status")}
        out["top"] = gr.Label(num_top_classes=5, label="Top emotions", elem_id="top-label")
        out["family"] = gr.Markdown(elem_id="family")
        with gr.Accordion("What the 30 emotions mean (glossary, by family)", open=False, elem_id="glossary"):
            gr.Markdown(report.glossary_markdown())
        out["summary"] = gr.Markdown(EMPTY_SUMMARY, label="summary", elem_id="summary")
        # A link that reopens this page as it is now (Gradio's deep links; proven per visitor in
        # tests/test_visit_browser.py, against gradio issue #11201).
        gr.DeepLinkButton("Share this result (copies a link)", copied_value="Link copied", size="sm",
                          elem_classes="share-link")  # fmt: skip
        out["files"] = gr.File(label="Download the result (CSV of probabilities, JSON)", file_count="multiple",
                               interactive=False, visible=False, elem_id="analyze-files")  # fmt: skip
        out["state"] = gr.State(None)
    return out


def _voice(out: dict) -> None:  # pragma: no mutate block
    """'Tune to my voice': the switch, what is kept (embeddings, this session only) and how to forget."""
    with gr.Row(elem_id="voice-row"):
        out["tune"] = gr.Checkbox(False, label="Tune to my voice", elem_id="tune",
                                  info="Use the clips you analyse here to tune later answers to your voice")  # fmt: skip
        out["forget"] = gr.Button("Forget my clips", size="sm", elem_id="forget", min_width=120)
    out["voice_md"] = gr.Markdown(voice_enrolment.status([]), elem_classes="small-note", elem_id="voice-md")
    # Per browser session, in server memory only; Gradio drops it when the session ends.
    out["voice"] = gr.State([], time_to_live=3600)


def _plots(ctx: Context, out: dict) -> tuple[gr.Radio, gr.Radio]:  # pragma: no mutate block
    """The bars and the embedding map with its method and view radios (fills ``out``)."""
    info = ctx.info(ctx.default)
    with gr.Row(equal_height=False):
        out["bars"] = gr.Plot(label="Probabilities of all classes", elem_id="bars", min_width=300)
        with gr.Column(min_width=300):
            out["map"] = gr.Plot(label="Embedding map", elem_id="map")
            out["map_note"] = gr.Markdown(elem_classes="small-note")
            with gr.Row():
                method = gr.Radio(["PCA", "UMAP"], value="PCA", label="map method", min_width=120)
                views = service.view_choices(info.backbones if info else [])
                view = lenient(gr.Radio(views, value="fused", label="map of", min_width=200))
            gr.Markdown(MAP_NOTE, elem_classes="small-note")
    with gr.Accordion("Raw result (JSON, as the API returns it)", open=False):
        out["details"] = gr.JSON(label="details")
    return method, view


def lenient(radio: gr.Radio) -> gr.Radio:
    """The map-view radio lists only the views of the model on screen, yet an API call may name any
    of :data:`VIEW_KEYS` (a one-backbone model then shows its fused map, with a note)."""

    def preprocess(payload):
        if payload is not None and payload not in VIEW_KEYS:
            raise gr.Error(f"Unknown map view {payload!r}: use one of {', '.join(VIEW_KEYS)}.")
        return payload

    radio.preprocess = preprocess
    return radio


def build(ctx: Context) -> None:  # pragma: no mutate block
    """Lay out the tab and wire its events; publishes its clip as ``ctx.components["clip"]``."""
    h = Analyze(ctx)
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=300):
            clip, pick, examples, run, api_run = _inputs(ctx)
        with gr.Column(scale=6, min_width=300):
            model, model_md = pickers.model_picker(ctx)
            pickers.combination_picker(ctx, model)
            out = _result()
            _voice(out)
            feedback.build(clip, out["state"])
    out["pick"] = pick
    method, view = _plots(ctx, out)
    ctx.components["clip"] = clip

    ins, outs = [clip, model, method, view, out["tune"], out["voice"]], [out[k] for k in OUTPUTS]
    page, private = ctx.page_event(), {"api_visibility": "private", "queue": False}
    enrol_files = gr.File(file_count="multiple", visible=False)  # /analyze's optional 5th input
    api_run.click(h.analyze, [clip, model, method, view, enrol_files],
                  [out[k] for k in ("top", "bars", "map", "summary", "details")],
                  api_name="analyze", **ctx.api_event())  # fmt: skip
    # Runs by itself when a sound arrives or the model changes; the button re-runs.
    gr.on([run.click, clip.upload, clip.stop_recording], h.page, ins, outs, **page)
    pick.click(lambda i: str(examples[i].path), pick, clip, **private).then(h.page, ins, outs, **page)
    gr.on([run.click, clip.upload, clip.stop_recording, pick.click], None, js=SCROLL_TO.format("result"))
    clip.clear(h.cleared, None, outs, **private)
    out["forget"].click(
        lambda: ([], voice_enrolment.status([])), None, [out["voice"], out["voice_md"]], **private
    )
    model.change(h.on_model, model, [model_md, view], **private).then(h.rerun, ins, outs, **page)
    for radio in (method, view):
        radio.change(h.remap, [out["state"], method, view], [out["map"], out["map_note"]],
                     api_visibility="private", show_progress="minimal")  # fmt: skip
