"""NVER demo: which emotion is in a non-verbal vocal sound? (Gradio app, Hugging Face Space.)

Lays out and wires the UI only. What happens on each click lives in the package:
``nver_demo.app.clips`` (read and check the clip), ``nver_demo.app.service`` (load and run models),
``nver_demo.app.report`` (figures and text), ``nver_demo.app.catalog`` (which models exist).

    python app.py          # http://127.0.0.1:7860 (GRADIO_SERVER_PORT / GRADIO_SERVER_NAME to change)

API: ``/analyze`` (audio, model, map method, map view) and ``/compare`` (audio, models); see README.md.
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
from nver_demo.app import catalog, clips, report, service  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent / "examples"
MAX_FILE_SIZE = "150mb"  # a 10-minute 48 kHz stereo WAV is 115 MB; only its start is decoded
THEME = gr.themes.Soft(primary_hue="orange", neutral_hue="slate")
CSS = """
.gradio-container {max-width: 1280px !important; margin: auto}
.small-note {font-size: 0.9em; opacity: 0.85}
"""
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
MAP_NOTE = """Each dot is a reference clip from speakers the model did not train on, coloured by its
true label; the star is your clip. PCA projects your clip exactly; UMAP places it at the weighted mean of
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


def _human_errors(fn):
    """The package's human-readable errors become gr.Error, the clip's warnings gr.Warning."""

    def wrapped(*args):
        try:
            result = fn(*args)
        except (audio.AudioError, catalog.ModelUnavailable) as e:
            raise gr.Error(str(e), print_exception=False) from e
        for w in result.clip.warnings:
            gr.Warning(w)
        return result

    return wrapped


@dataclass
class Handlers:
    """Event functions bound to this app's model catalogue (no module-level state)."""

    infos: list[catalog.ModelInfo]

    def __post_init__(self) -> None:
        self.default = catalog.default_model(self.infos)
        self.selection = catalog.default_selection(self.infos)
        self.runner = spaces_compat.gpu(service.run_models, duration=20)  # the only GPU step
        self._analysis = _human_errors(self._analysis)
        self._comparison = _human_errors(self._comparison)

    def _analysis(self, clip, model, method, view):
        return service.analyze(clip, model, self.infos, method.lower(), view, runner=self.runner)

    def _comparison(self, clip, models):
        return service.compare(clip, models, self.infos, runner=self.runner)

    def analyze(self, clip, model, method, view):
        a = self._analysis(clip, model or self.default, method or "PCA", view or "fused")
        v = report.analysis_view(a)
        return v.label, v.bars, v.map, v.markdown, v.details, {"source": a.source, "pred": a.pred}

    def compare(self, clip, models):
        v = report.comparison_view(self._comparison(clip, models))
        return v.bars, v.rows, v.markdown, v.details

    def remap(self, state, method, view):
        if not state:
            return gr.skip()
        predictor = service.get_predictor(state["source"])
        return report.map_figure(*service.remap(predictor, state["pred"], method.lower(), view))

    def on_model(self, model):
        m = next((i for i in self.infos if i.name == model), None)
        keys = service.view_choices(m.backbones if m else [])
        return catalog.describe(model, self.infos), gr.update(choices=keys, value="fused")

    @staticmethod
    def combination(head, b1, b2):
        names = [b1] if catalog.head_inputs().get(head, 1) == 1 else [b1, b2]
        return catalog.combination_name(head, [n for n in names if n])


def _analyze_tab(h: Handlers) -> gr.Audio:
    info = next((m for m in h.infos if m.name == h.default), None)
    choices = [(m.choice_label(), m.name) for m in h.infos]
    examples = clips.examples(EXAMPLES)
    with gr.Row(equal_height=False):
        with gr.Column(scale=5):
            clip = gr.Audio(
                sources=["upload", "microphone"],
                type="filepath",
                label="1 · Upload or record a vocal burst",
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
            gr.Markdown(LONG_CLIPS, elem_classes="small-note")
        with gr.Column(scale=6):
            model = gr.Dropdown(
                choices,
                value=h.default,
                label="2 · Model (the default is a good start)",
                allow_custom_value=True,
                elem_id="model",
                info="Offline-ready: runs anywhere. Needs Hub weights: pretrained backbones are fetched on "
                "first use (or read from a local copy).",
            )
            described = catalog.describe(h.default, h.infos) if h.default else catalog.no_models_message()
            model_md = gr.Markdown(described, elem_classes="small-note")
            with gr.Accordion("Another head or backbone pair…", open=False):
                gr.Markdown(
                    "Any head with any backbones from the registries. If nobody trained that combination "
                    "yet, the page says how to.",
                    elem_classes="small-note",
                )
                bbs = catalog.backbone_choices()
                with gr.Row():
                    head = gr.Dropdown(list(catalog.head_inputs()), value="reno", label="head")
                    b1 = gr.Dropdown(bbs, value=bbs[0][1] if bbs else None, label="backbone 1")
                    b2 = gr.Dropdown(bbs, value=bbs[-1][1] if bbs else None, label="backbone 2 (pairs)")
                use = gr.Button("Use this combination", size="sm")
            top = gr.Label(num_top_classes=5, label="Top emotions", elem_id="top-label")
            summary = gr.Markdown(f"*{report.DISCLAIMER}*", label="summary", elem_id="summary")
    with gr.Row(equal_height=False):
        bars = gr.Plot(label="Probabilities of all classes", elem_id="bars")
        with gr.Column():
            emap = gr.Plot(label="Embedding map", elem_id="map")
            with gr.Row():
                method = gr.Radio(["PCA", "UMAP"], value="PCA", label="map method")
                widest = max(catalog.head_inputs().values())  # API calls may name any view key
                views = service.view_choices(info.backbones if info else [], pad_to=widest)
                view = gr.Radio(views, value="fused", label="map of")
            gr.Markdown(MAP_NOTE, elem_classes="small-note")
    with gr.Accordion("Raw result (JSON, as the API returns it)", open=False):
        details = gr.JSON(label="details")
    state = gr.State(None)

    ins, outs = [clip, model, method, view], [top, bars, emap, summary, details, state]
    limits = {"concurrency_id": "models", "concurrency_limit": MODEL_RUNS}
    run.click(h.analyze, ins, outs, api_name="analyze", **limits)
    pick.click(lambda i: str(examples[i].path), pick, clip, api_visibility="private", queue=False).then(
        h.analyze, ins, outs, api_visibility="private", **limits
    )
    for radio in (method, view):
        radio.change(h.remap, [state, method, view], emap, api_visibility="private", show_progress="minimal")
    model.change(h.on_model, model, [model_md, view], api_visibility="private", queue=False)
    use.click(h.combination, [head, b1, b2], model, api_visibility="private", queue=False)
    return clip


def _compare_tab(h: Handlers, source: gr.Audio) -> None:
    gr.Markdown(
        "The same clip through several models side by side. Models that share a backbone share its "
        "work: each backbone runs once per clip."
    )
    with gr.Row(equal_height=False):
        with gr.Column(scale=4):
            clip = gr.Audio(
                sources=["upload", "microphone"],
                type="filepath",
                label="Clip (the one from Analyze, or another)",
            )
            models = _unchecked(
                gr.CheckboxGroup(
                    [(m.choice_label(), m.name) for m in h.infos],
                    value=h.selection,
                    label=f"Models (up to {service.MAX_COMPARE})",
                )
            )
            go = gr.Button("Compare", variant="primary")
        with gr.Column(scale=7):
            md = gr.Markdown(f"*{report.DISCLAIMER}*", label="summary", elem_id="compare-summary")
    table = gr.Dataframe(headers=report.COMPARE_HEADERS, label="Agreement", interactive=False, wrap=True)
    bars = gr.Plot(label="Probabilities per model (orange: that model's top emotion)")
    with gr.Accordion("Raw result (JSON)", open=False):
        details = gr.JSON(label="details")
    source.change(lambda x: x, source, clip, api_visibility="private", queue=False)
    go.click(
        h.compare,
        [clip, models],
        [bars, table, md, details],
        api_name="compare",
        concurrency_id="models",
        concurrency_limit=MODEL_RUNS,
    )


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
    gr.Dataframe(paper.table_rows("I"), headers=headers, label="Table I: one backbone", interactive=False)
    gr.Dataframe(
        paper.table_rows("II"), headers=headers, label="Table II: pairs, Concat vs RENO", interactive=False
    )
    gr.Markdown(f"As **reported by the MATA paper, not measured here**: {paper.MATA_SOURCE}.")
    gr.Dataframe(paper.table_rows("MATA"), headers=headers, label="MATA (second paper)", interactive=False)


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
