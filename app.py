"""NVER demo: which emotion is in a non-verbal vocal sound? (Gradio app, Hugging Face Space.)

Lays out and wires the UI only. What happens on each click lives in the package:
``nver_demo.app.clips`` (read and check the clip), ``nver_demo.app.service`` (load and run models),
``nver_demo.app.report`` (figures and text), ``nver_demo.app.catalog`` (which models exist).

    python app.py          # http://127.0.0.1:7860 (GRADIO_SERVER_PORT / GRADIO_SERVER_NAME to change)

API: ``/analyze`` (audio, model, map method, map view), ``/compare`` (audio, models) and ``/timeline``
(recording, model); see README.md.
"""

from __future__ import annotations

from nver_demo import configure_threads, spaces_compat

spaces_compat.init()  # ZeroGPU: `spaces` must be imported before anything initialises CUDA
#: Analyze/Compare runs at once (shared): two, so one slow first download of Hub weights does
#: not block every other visitor; more would only split two CPU cores further.
MODEL_RUNS = 2
if __name__ == "__main__":  # `python app.py` (also on Spaces); importing the module changes nothing
    # Before torch loads, so its OpenMP runtime also reads the wait policy: cores // MODEL_RUNS
    # threads per run in every pool, or $NVER_THREADS (nver_demo/threads.py).
    configure_threads(runs=MODEL_RUNS)

import logging  # noqa: E402
import threading  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import gradio as gr  # noqa: E402

from nver_demo import audio, paper  # noqa: E402
from nver_demo.app import bursts, catalog, clips, downloads, report, service, timeline, timeline_view  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent / "examples"
MAX_FILE_SIZE = "150mb"  # a 10-minute 48 kHz stereo WAV is 115 MB; only its start is decoded
THEME = gr.themes.Soft(primary_hue="orange", neutral_hue="slate")
CSS = (Path(__file__).resolve().parent / "nver_demo" / "app" / "style.css").read_text(encoding="utf-8")
#: On a phone the result is below the inputs: scroll to it when a run starts (desktop: no-op).
SCROLL_TO = (
    "() => {{ const el = document.getElementById('{}'); if (el && window.innerWidth < 700) "
    "el.scrollIntoView({{behavior: 'smooth', block: 'start'}}); }}"
)
#: How the app is launched (main() and the tests): look, upload limit, the example clips' folder.
LAUNCH = {"theme": THEME, "css": CSS, "max_file_size": MAX_FILE_SIZE, "allowed_paths": [str(EXAMPLES)]}
INTRO = """# What emotion is in this sound?
Record or upload a short **non-verbal** sound — a laugh, a sigh, a scream, a cry, a moan — and see which of
30 emotions audio foundation models hear in it, alone or in pairs fused by the **RENO**, Concat or **MATA** heads.
*A research demo: expect mistakes.*"""
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


def _unchecked(group: gr.CheckboxGroup) -> gr.CheckboxGroup:
    """Let a CheckboxGroup's values reach the handler unchecked, so that a model name it does not
    list gets the catalogue's "Unknown model" sentence (shortened), as on /analyze, instead of
    Gradio's "not in the list of choices" echoing the whole value back. Set on the instance: a
    subclass would make Gradio write an app.pyi stub beside this file."""

    def preprocess(payload):
        return list(payload) if isinstance(payload, (list, tuple)) else payload

    group.preprocess = preprocess
    return group


HUMAN_ERRORS = (audio.AudioError, catalog.ModelUnavailable)


def _human_errors(fn):
    """For the API: the package's human-readable errors become gr.Error, the clip's warnings gr.Warning."""

    def wrapped(*args):
        try:
            result = fn(*args)
        except HUMAN_ERRORS as e:
            raise gr.Error(str(e), print_exception=False) from e
        for w in result.clip.warnings:
            gr.Warning(w)
        return result

    return wrapped


def _status(message: str = "", kind: str = "error") -> dict:
    """The panel above a tab's result: an error (kept until the next run), a note that the result
    is out of date, or hidden."""
    if not message:
        return gr.update(value="", visible=False)
    text = report.error_markdown(message) if kind == "error" else report.md_text(message)
    return gr.update(
        value=text, visible=True, elem_classes=[f"{kind}-panel" if kind != "error" else "status-panel"]
    )


@dataclass
class Handlers:
    """Event functions bound to this app's model catalogue (no module-level state).

    Two kinds per tab: the API ones (``analyze``, ``compare``) raise ``gr.Error`` so an API caller
    gets the sentence as an exception; the page ones (``analyze_page``, ``compare_page``) never
    raise for bad input: they clear the previous result and show the sentence in the page, where
    it stays (a toast vanishes after seconds and leaves red "Error" pills behind)."""

    infos: list[catalog.ModelInfo]

    def __post_init__(self) -> None:
        self.default = catalog.default_model(self.infos)
        self.selection = catalog.default_selection(self.infos)
        self.runner = spaces_compat.gpu(service.run_models, duration=20)  # the only GPU step
        self.downloads = downloads.Downloads()
        self._api_analysis = _human_errors(self._analysis)
        self._api_comparison = _human_errors(self._comparison)

    def _analysis(self, clip, model, method, view):
        model, method, view = model or self.default, method or "PCA", view or "fused"
        return service.analyze(clip, model, self.infos, method.lower(), view, runner=self.runner)

    def _comparison(self, clip, models):
        return service.compare(clip, models, self.infos, runner=self.runner)

    # --- Analyze ---

    def analyze(self, clip, model, method, view):
        """API /analyze: label, bars, map, summary, details."""
        v = report.analysis_view(self._api_analysis(clip, model, method, view))
        return v.label, v.bars, v.map, v.markdown, v.details

    #: What the page's analysis updates, in order (see ``_analyze_tab``).
    ANALYSIS_OUTPUTS = ("status", "top", "family", "bars", "map", "map_note", "summary", "details", "files",
                        "state")  # fmt: skip

    def analyze_page(self, clip, model, method, view):
        try:
            a = self._analysis(clip, model, method, view)
        except HUMAN_ERRORS as e:
            return self.cleared_analysis(str(e))
        for w in a.clip.warnings:
            gr.Warning(w)
        v = report.analysis_view(a)
        stem = f"{Path(a.clip.name or 'recording').stem}-{a.name}"
        files = self.downloads.write(stem, report.probabilities_csv(a), v.details)
        state = {"source": a.source, "pred": a.pred}
        return (_status(), v.label, report.family_markdown(a.pred), v.bars, v.map,
                report.map_note(a.map, a.map_note), v.markdown, v.details, files, state)  # fmt: skip

    @staticmethod
    def cleared_analysis(error: str = ""):
        """No result on screen (and the error, if any): never an old result under a new clip or model."""
        return (_status(error), None, "", None, None, "", f"*{report.DISCLAIMER}*", None, None, None)

    def rerun(self, clip, model, method, view):
        """The model changed: run it on the clip on screen, or clear the result when there is none."""
        return self.analyze_page(clip, model, method, view) if clip else self.cleared_analysis()

    def remap(self, state, method, view):
        if not state:
            return gr.skip(), gr.skip()
        predictor = service.get_predictor(state["source"])
        data, note = service.remap(predictor, state["pred"], method.lower(), view)
        return report.map_figure(data, note), report.map_note(data, note)

    def on_model(self, model):
        m = next((i for i in self.infos if i.name == model), None)
        keys = service.view_choices(m.backbones if m else [])
        return report.md_text(catalog.describe(model, self.infos)), gr.update(choices=keys, value="fused")

    # --- the head/backbone picker ---

    @staticmethod
    def combination(head, b1, b2):
        names = [b1] if catalog.head_inputs().get(head, 1) == 1 else [b1, b2]
        return catalog.combination_name(head, [n for n in names if n])

    def on_combination(self, head, b1, b2):
        """Second backbone only for fusion heads; a line saying whether the combination runs here."""
        pair = catalog.head_inputs().get(head, 1) > 1
        text = catalog.describe(self.combination(head, b1, b2), self.infos)
        return gr.update(visible=pair), report.md_text(text)

    # --- Compare ---

    def compare(self, clip, models):
        """API /compare: plot, table, summary, details."""
        v = report.comparison_view(self._api_comparison(clip, models))
        return v.bars, v.rows, v.markdown, v.details

    def compare_page(self, clip, models):
        try:
            c = self._comparison(clip, models)
        except HUMAN_ERRORS as e:
            return self.cleared_comparison(str(e))
        for w in c.clip.warnings:
            gr.Warning(w)
        v = report.comparison_view(c)
        stem = f"{Path(c.clip.name or 'recording').stem}-compare"
        files = self.downloads.write(stem, report.comparison_csv(c), v.details)
        papers = gr.update(value=v.paper_rows, visible=bool(v.paper_rows))
        return _status(), v.bars, v.rows, papers, v.markdown, v.details, files, clip

    @staticmethod
    def cleared_comparison(error: str = "", note: str = ""):
        status = _status(error) if error else _status(note, kind="stale")
        papers = gr.update(value=None, visible=False)
        return status, None, None, papers, f"*{report.DISCLAIMER}*", None, None, None

    def compare_clip_changed(self, clip, shown):
        """A new clip in the Compare tab: the result on screen belongs to another one."""
        if not shown or clip == shown:
            return tuple(gr.skip() for _ in range(8))
        return self.cleared_comparison(note="A new clip: press **Compare** to run the models on it.")

    @staticmethod
    def selection_changed(shown):
        if not shown:
            return gr.skip()
        return _status("The selection changed since this result: press **Compare** to update it.", "stale")


def _model_picker(h: Handlers) -> tuple[gr.Dropdown, gr.Markdown]:
    choices = [(m.choice_label(), m.name) for m in h.infos]
    model = gr.Dropdown(
        choices,
        value=h.default,
        label="2 · Model (the default is a good start)",
        allow_custom_value=True,
        elem_id="model",
        info="Offline-ready: runs anywhere. Papers' models: the RENO paper's backbone pairs and "
        "backbones. Those and Needs Hub weights fetch pretrained backbones on first use (or read a "
        "local copy).",
    )
    described = catalog.describe(h.default, h.infos) if h.default else catalog.no_models_message()
    return model, gr.Markdown(report.md_text(described), elem_classes="small-note")


def _combination_picker(h: Handlers, model: gr.Dropdown) -> None:
    """Any head with any backbones: offline backbones first, preselected with a pair that runs."""
    with gr.Accordion("Another head or backbone pair…", open=False, elem_id="pair-picker"):
        gr.Markdown(
            "Any head with any backbones from the registries. If nobody trained that combination "
            "yet, the page says how to.",
            elem_classes="small-note",
        )
        bbs = catalog.backbone_choices()
        head0, names0 = catalog.default_combination(h.infos)
        names0 = [*names0, *(b for _, b in bbs if b not in names0)][:2] if bbs else [None, None]
        pair = catalog.head_inputs().get(head0, 1) > 1
        head = gr.Dropdown(list(catalog.head_inputs()), value=head0, label="head", elem_id="pair-head")
        b1 = gr.Dropdown(bbs, value=names0[0], label="backbone 1", elem_id="pair-b1")
        b2 = gr.Dropdown(
            bbs, value=names0[1], label="backbone 2 (fusion heads)", visible=pair, elem_id="pair-b2"
        )
        line = catalog.describe(h.combination(head0, *names0), h.infos)
        status = gr.Markdown(report.md_text(line), elem_classes="small-note")
        use = gr.Button("Use this combination", size="sm")
    for dd in (head, b1, b2):
        dd.change(h.on_combination, [head, b1, b2], [b2, status], api_visibility="private", queue=False)
    use.click(h.combination, [head, b1, b2], model, api_visibility="private", queue=False)


def _glossary() -> None:
    with gr.Accordion("What the 30 emotions mean (glossary, by family)", open=False, elem_id="glossary"):
        gr.Markdown(report.glossary_markdown())


def _analyze_tab(h: Handlers) -> gr.Audio:
    info = next((m for m in h.infos if m.name == h.default), None)
    examples = clips.examples(EXAMPLES)
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=300):
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
                sample_labels=[e.label for e in examples],
                samples_per_page=8,
                type="index",
                label="…or click a real vocal burst from EmoGator (Apache-2.0)",
            )
            run = gr.Button("Analyze", variant="primary", size="lg", elem_id="analyze-btn")
            api_run = gr.Button(visible=False)  # carries the /analyze API endpoint (errors raise)
            gr.Markdown(LONG_CLIPS, elem_classes="small-note")
        with gr.Column(scale=6, min_width=300):
            model, model_md = _model_picker(h)
            _combination_picker(h, model)
            with gr.Column(elem_id="result"):
                status = gr.Markdown(visible=False, elem_id="analyze-status", elem_classes="status-panel")
                top = gr.Label(num_top_classes=5, label="Top emotions", elem_id="top-label")
                family = gr.Markdown(elem_id="family")
                _glossary()
                summary = gr.Markdown(f"*{report.DISCLAIMER}*", label="summary", elem_id="summary")
                files = gr.File(label="Download the result (CSV of probabilities, JSON)", file_count="multiple",
                                interactive=False, elem_id="analyze-files")  # fmt: skip
    with gr.Row(equal_height=False):
        bars = gr.Plot(label="Probabilities of all classes", elem_id="bars", min_width=300)
        with gr.Column(min_width=300):
            emap = gr.Plot(label="Embedding map", elem_id="map")
            map_note = gr.Markdown(elem_classes="small-note")
            with gr.Row():
                method = gr.Radio(["PCA", "UMAP"], value="PCA", label="map method", min_width=120)
                widest = max(catalog.head_inputs().values())  # API calls may name any view key
                views = service.view_choices(info.backbones if info else [], pad_to=widest)
                view = gr.Radio(views, value="fused", label="map of", min_width=200)
            gr.Markdown(MAP_NOTE, elem_classes="small-note")
    with gr.Accordion("Raw result (JSON, as the API returns it)", open=False):
        details = gr.JSON(label="details")
    state = gr.State(None)

    ins = [clip, model, method, view]
    outs = dict(zip(Handlers.ANALYSIS_OUTPUTS, [status, top, family, bars, emap, map_note, summary, details,
                                                  files, state]))  # fmt: skip
    page = {"api_visibility": "private", "concurrency_id": "models", "concurrency_limit": MODEL_RUNS}
    api_run.click(h.analyze, ins, [top, bars, emap, summary, details], api_name="analyze",
                  concurrency_id="models", concurrency_limit=MODEL_RUNS)  # fmt: skip
    # Runs by itself when a sound arrives or the model changes; the button re-runs.
    gr.on([run.click, clip.upload, clip.stop_recording], h.analyze_page, ins, list(outs.values()), **page)
    pick.click(lambda i: str(examples[i].path), pick, clip, api_visibility="private", queue=False).then(
        h.analyze_page, ins, list(outs.values()), **page
    )
    gr.on([run.click, clip.upload, clip.stop_recording, pick.click], None, js=SCROLL_TO.format("result"))
    clip.clear(h.cleared_analysis, None, list(outs.values()), api_visibility="private", queue=False)
    model.change(h.on_model, model, [model_md, view], api_visibility="private", queue=False).then(
        h.rerun, ins, list(outs.values()), **page
    )
    for radio in (method, view):
        radio.change(h.remap, [state, method, view], [emap, map_note], api_visibility="private",
                     show_progress="minimal")  # fmt: skip
    return clip


def _compare_tab(h: Handlers, source: gr.Audio) -> None:
    gr.Markdown(
        "The same clip through several models side by side. Models that share a backbone share its "
        "work: each backbone runs once per clip."
    )
    with gr.Row(equal_height=False):
        with gr.Column(scale=4, min_width=300):
            clip = gr.Audio(
                sources=["upload", "microphone"],
                type="filepath",
                label="Clip (from Analyze, or new)",
                elem_id="compare-clip",
            )
            models = _unchecked(
                gr.CheckboxGroup(
                    [(m.choice_label(), m.name) for m in h.infos],
                    value=h.selection,
                    label=f"Models (any number that needs at most {service.MAX_BACKBONES} different backbones)",
                    elem_id="compare-models",
                )
            )
            go = gr.Button("Compare", variant="primary", elem_id="compare-btn")
            api_go = gr.Button(visible=False)  # carries the /compare API endpoint (errors raise)
        with gr.Column(scale=7, min_width=300, elem_id="compare-result"):
            status = gr.Markdown(visible=False, elem_id="compare-status", elem_classes="status-panel")
            md = gr.Markdown(f"*{report.DISCLAIMER}*", label="summary", elem_id="compare-summary")
            files = gr.File(label="Download the result (CSV, JSON)", file_count="multiple", interactive=False)
    table = gr.Dataframe(headers=report.COMPARE_HEADERS, label="Agreement (measured here, on EmoGator)",
                         interactive=False, wrap=True, elem_id="compare-table",
                         elem_classes="wide-table")  # fmt: skip
    papers = gr.Dataframe(headers=report.PAPER_HEADERS, visible=False, interactive=False, wrap=True,
                          label="Reported by the papers, on other datasets: not measured here")  # fmt: skip
    bars = gr.Plot(label="Probabilities per model (orange: that model's top emotion)", elem_id="compare-bars")
    with gr.Accordion("Raw result (JSON)", open=False):
        details = gr.JSON(label="details")
    shown = gr.State(None)  # the clip the result on screen belongs to

    outs = [status, bars, table, papers, md, details, files, shown]
    page = {"api_visibility": "private", "concurrency_id": "models", "concurrency_limit": MODEL_RUNS}
    source.change(lambda x: x, source, clip, api_visibility="private", queue=False)
    api_go.click(h.compare, [clip, models], [bars, table, md, details], api_name="compare",
                 concurrency_id="models", concurrency_limit=MODEL_RUNS)  # fmt: skip
    gr.on([go.click, clip.upload, clip.stop_recording], h.compare_page, [clip, models], outs, **page)
    gr.on([go.click, clip.upload, clip.stop_recording], None, js=SCROLL_TO.format("compare-result"))
    clip.change(h.compare_clip_changed, [clip, shown], outs, api_visibility="private", queue=False)
    models.change(h.selection_changed, shown, status, api_visibility="private", queue=False)


def _models_tab(h: Handlers) -> None:
    gr.Markdown(
        "### Backbones\nFrozen audio encoders: each turns a clip into one vector, its embedding. "
        + catalog.families_line()
    )
    gr.Dataframe(
        catalog.backbone_rows(),
        headers=catalog.BACKBONE_HEADERS,
        interactive=False,
        wrap=True,
        elem_classes="wide-table",
        column_widths=["14%", "9%", "10%", "9%", "12%", "46%"],
        max_height=1200,  # every backbone visible without scrolling inside the table
    )
    gr.Markdown(
        "### Heads\nSmall classifiers trained on the embeddings (sizes for 768-d inputs, 30 classes)."
    )
    gr.Dataframe(
        catalog.head_rows(),
        headers=catalog.HEAD_HEADERS,
        interactive=False,
        wrap=True,
        elem_classes="wide-table",
        column_widths=["10%", "18%", "10%", "62%"],
    )
    gr.Markdown(
        "### Trained models here\nCross-validated on EmoGator with whole speakers held out: how often a "
        "model is right on voices it never heard. Chance is 3.3 % (30 classes)."
    )
    gr.Dataframe(
        catalog.model_rows(h.infos),
        headers=catalog.MODEL_HEADERS,
        interactive=False,
        wrap=True,
        elem_classes="wide-table",
        column_widths=["34%", "12%", "11%", "11%", "6%", "8%", "9%", "9%"],
        max_height=1200,
    )
    with_cm = [m for m in h.infos if m.cv.get("confusion")]
    if with_cm:
        first = h.default if h.default in {m.name for m in with_cm} else with_cm[0].name
        pick = gr.Dropdown([(m.title, m.name) for m in with_cm], value=first, label="Confusion matrix of")
        cm = gr.Plot(report.confusion_figure(first, h.infos), label="Confusion matrix (cross-validation)")
        pick.change(lambda n: report.confusion_figure(n, h.infos), pick, cm, api_visibility="private")
    gr.Markdown(
        f"### The seed paper's numbers\nAs **reported by the paper, not measured here**: {paper.SOURCE}."
    )
    headers = paper.table_headers()
    tall = {"headers": headers, "interactive": False, "max_height": 2400}  # every row, no hidden scroll area
    gr.Dataframe(paper.table_rows("I"), label="Table I: one backbone", **tall)
    gr.Dataframe(paper.table_rows("II"), label="Table II: pairs, Concat vs RENO", **tall)
    gr.Markdown(f"As **reported by the MATA paper, not measured here**: {paper.MATA_SOURCE}.")
    gr.Dataframe(paper.table_rows("MATA"), label="MATA (second paper)", **tall)


# --- Timeline tab: every vocal burst of a long recording (issue 11) ------------------------------

TIMELINE_INTRO = f"""A long recording — a minute of a baby, a party, a match — cut into its vocal bursts, each
classified. Up to {bursts.MAX_RECORDING_S // 60} minutes · {clips.FORMATS}. Colours are the six emotion families;
hatched bursts sound like speech (the models only know non-verbal sounds). Hover for the top 3; click a row
of the table or pick a burst to hear it."""


class TimelineHandlers:
    """Events of the Timeline tab (the model catalogue comes from the app's :class:`Handlers`)."""

    def __init__(self, h: Handlers) -> None:
        self.h = h
        self.runner = spaces_compat.gpu(timeline.run, duration=120)

    def run(self, path, model, check_speech=True, progress=gr.Progress()):
        try:
            path = timeline.check_file(path)
            [predictor], _ = service.load_models([model or self.h.default], self.h.infos)
            progress(0, desc="Decoding and finding bursts…")
            # On ZeroGPU the run happens in a worker process: no callback into this one.
            report = None if spaces_compat.on_zero_gpu() else (lambda f, what: progress(f, desc=what))
            tl = self.runner(path, predictor, gate=check_speech is not False, progress=report)
        except (audio.AudioError, catalog.ModelUnavailable) as e:
            raise gr.Error(str(e), print_exception=False) from e
        state = {"path": str(path), "timeline": tl}
        return (
            timeline_view.figure(tl), timeline_view.table(tl), timeline_view.markdown(tl), tl.to_dict(),
            timeline_view.downloads(tl) if tl.rows else None, state,
        )  # fmt: skip

    @staticmethod
    def picker(state):
        picks = timeline_view.choices(state["timeline"] if state else None)
        return gr.update(choices=picks, value=picks[0][1] if picks else None)

    @staticmethod
    def show(state, i):
        if not state or i is None or not 0 <= int(i) < len(state["timeline"].rows):
            return gr.skip(), gr.skip(), gr.skip()
        tl, i = state["timeline"], int(i)
        r = tl.rows[i]
        sr, wave = timeline.burst_audio(state["path"], r.start, r.end)
        return (sr, wave), timeline_view.burst_bars(tl, i), timeline_view.burst_markdown(tl, i)

    @staticmethod
    def row_selected(evt: gr.SelectData):
        return evt.index[0] if evt and evt.index is not None else gr.skip()


def _timeline_tab(h: Handlers) -> None:
    th = TimelineHandlers(h)
    gr.Markdown(TIMELINE_INTRO, elem_classes="small-note")
    with gr.Row(equal_height=False):
        with gr.Column(scale=5):
            rec = gr.Audio(sources=["upload", "microphone"], type="filepath", label="Long recording",
                           elem_id="timeline-audio")  # fmt: skip
        with gr.Column(scale=4):
            model = gr.Dropdown([(m.choice_label(), m.name) for m in h.infos], value=h.default, label="Model",
                                allow_custom_value=True, elem_id="timeline-model")  # fmt: skip
            speech = gr.Checkbox(True, label="Check each burst for speech (Whisper-base; slower)",
                                 elem_id="timeline-speech")  # fmt: skip
            find = gr.Button("Find bursts", variant="primary", elem_id="timeline-btn")
    summary = gr.Markdown(f"*{report.DISCLAIMER}*", elem_id="timeline-summary")
    plot = gr.Plot(timeline_view.figure(None), label="Timeline (one lane per emotion family)",
                   elem_id="timeline-plot")  # fmt: skip
    with gr.Row(equal_height=False):
        with gr.Column(scale=6):
            table = gr.Dataframe(headers=timeline_view.TABLE_HEADERS, label="Bursts (click a row)",
                                 interactive=False, wrap=True, max_height=420, elem_id="timeline-table",
                                 column_widths=["6%", "11%", "11%", "19%", "7%", "17%", "18%", "11%"])  # fmt: skip
            files = gr.File(label="Download (CSV, JSON)", file_count="multiple", elem_id="timeline-files")
        with gr.Column(scale=5):
            pick = gr.Dropdown([], label="Burst", elem_id="timeline-pick")
            burst_md = gr.Markdown()
            player = gr.Audio(label="This burst", interactive=False, elem_id="timeline-player")
            bars = gr.Plot(label="All probabilities of this burst")
    with gr.Accordion("Raw result (JSON, as the API returns it)", open=False):
        details = gr.JSON(label="details")
    state = gr.State(None)
    find.click(th.run, [rec, model, speech], [plot, table, summary, details, files, state], api_name="timeline",
               concurrency_id="models", concurrency_limit=MODEL_RUNS, show_progress_on=plot).then(
        th.picker, state, pick, api_visibility="private", queue=False
    )  # fmt: skip
    pick.change(th.show, [state, pick], [player, bars, burst_md], api_visibility="private")
    table.select(th.row_selected, None, pick, api_visibility="private", queue=False)


def build_demo(infos: list[catalog.ModelInfo] | None = None) -> gr.Blocks:
    """The whole app, queued with explicit limits. ``infos`` defaults to the trained checkpoints."""
    h = Handlers(catalog.models() if infos is None else infos)
    with gr.Blocks(title="NVER demo: emotion in vocal bursts", delete_cache=(3600, 3600)) as demo:
        gr.Markdown(INTRO)
        with gr.Tabs():
            with gr.Tab("Analyze", id="analyze"):
                clip = _analyze_tab(h)
            with gr.Tab("Compare", id="compare"):
                _compare_tab(h, clip)
            with gr.Tab("Timeline", id="timeline"):
                _timeline_tab(h)
            with gr.Tab("Models", id="models"):
                _models_tab(h)
        gr.Markdown(
            f"Running: {spaces_compat.where()} · examples: EmoGator (F. Buhl, arXiv 2301.00508, "
            "Apache-2.0) · API: “Use via API” below.",
            elem_classes="small-note",
        )
    return demo.queue(max_size=20, default_concurrency_limit=2)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    configure_threads(runs=MODEL_RUNS)  # applied at the top already; again, to log it (idempotent)
    infos = catalog.models()
    demo = build_demo(infos)
    demo.launch(**LAUNCH, prevent_thread_lock=True)
    if not spaces_compat.on_zero_gpu():  # on ZeroGPU models may only run inside a GPU call
        # The Compare tab's default selection starts with the default model: warm all of it.
        warm = catalog.default_selection(infos)
        threading.Thread(target=service.warm_up, args=(warm, infos), daemon=True).start()
    demo.block_thread()


if __name__ == "__main__":
    main()
