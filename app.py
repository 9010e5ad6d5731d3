"""NVER demo: which emotion is in a non-verbal vocal sound? (Gradio app, Hugging Face Space.)

Start-up only: the thread policy, ZeroGPU's import order, the page around the tabs, the launch.
Each tab's layout and events live in ``nver_demo.app.tabs`` (one module per tab); what happens on
a click, in the package: ``nver_demo.app.clips`` (read and check the clip), ``nver_demo.app.service``
(load and run models), ``nver_demo.app.report`` (figures and text), ``nver_demo.app.catalog`` (which
models exist) and ``nver_demo.app.choices`` (what a model name resolves to).

    python app.py          # http://127.0.0.1:7860 (GRADIO_SERVER_PORT / GRADIO_SERVER_NAME to change)

API: ``/analyze`` (audio, model, map method, map view), ``/compare`` (audio, models) and ``/timeline``
(recording, model, speech check); see README.md.
"""

from __future__ import annotations

from nver_demo import configure_threads, spaces_compat
from nver_demo.app import scheduler

spaces_compat.init()  # ZeroGPU: `spaces` must be imported before anything initialises CUDA
#: Model runs at once in the process, whatever the endpoint (nver_demo/app/scheduler.py): two, so
#: one slow first download of Hub weights does not block every other visitor; more would only
#: split two CPU cores further. Analyze/Compare may use both; Timeline batches one, between them.
MODEL_RUNS = scheduler.MODEL_RUNS
#: Requests waiting in the whole queue (all endpoints); the Timeline's own share of it is
#: bounded lower (scheduler.LONG_QUEUE), so long recordings never fill it for short requests.
QUEUE_SIZE = 20
if __name__ == "__main__":  # `python app.py` (also on Spaces); importing the module changes nothing
    # Before torch loads, so its OpenMP runtime also reads the wait policy: cores // MODEL_RUNS
    # threads per run in every pool, or $NVER_THREADS (nver_demo/threads.py).
    configure_threads(runs=MODEL_RUNS)

import logging  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402

import gradio as gr  # noqa: E402

from nver_demo.app import catalog, service, upload_cache  # noqa: E402
from nver_demo.app.tabs import TABS, Context, common  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent / "examples"
MAX_FILE_SIZE = common.MAX_FILE_SIZE
THEME = gr.themes.Soft(primary_hue="orange", neutral_hue="slate")
CSS = (Path(__file__).resolve().parent / "nver_demo" / "app" / "style.css").read_text(encoding="utf-8")
#: How the app is launched (main() and the tests): look, upload limit, the example clips' folder.
LAUNCH = {"theme": THEME, "css": CSS, "max_file_size": MAX_FILE_SIZE, "allowed_paths": [str(EXAMPLES)]}
INTRO = """# What emotion is in this sound?
Record or upload a short **non-verbal** sound — a laugh, a sigh, a scream, a cry, a moan — and see which of
30 emotions audio foundation models hear in it, alone or in pairs fused by the **RENO**, Concat or **MATA** heads.
*A research demo: expect mistakes.*"""


def build_demo(infos: list[catalog.ModelInfo] | None = None) -> gr.Blocks:
    """The whole app, queued with explicit limits. ``infos`` defaults to the trained checkpoints.

    Concurrency: Analyze and Compare share the "models" group (MODEL_RUNS at once); Timeline has
    the "long" group (scheduler.long_jobs(): one on CPU, two with a GPU) with at most
    scheduler.LONG_QUEUE waiting; every model run takes a slot of one gate, short requests first."""
    infos = catalog.models() if infos is None else infos
    ctx = Context(infos, model_runs=MODEL_RUNS, long_jobs=scheduler.long_jobs(), examples=EXAMPLES)
    with gr.Blocks(title="NVER demo: emotion in vocal bursts", delete_cache=(3600, 3600)) as demo:
        ctx.blocks = demo
        gr.Markdown(INTRO)
        with gr.Tabs():
            for title, tab_id, build in TABS:
                with gr.Tab(title, id=tab_id):
                    build(ctx)
        gr.Markdown(
            f"Running: {spaces_compat.where()} · examples: EmoGator (F. Buhl, arXiv 2301.00508, "
            "Apache-2.0) · API: “Use via API” below.",
            elem_classes="small-note",
        )
    upload_cache.attach(demo)  # cap on the upload folder ($NVER_UPLOAD_CACHE_MB) besides the hourly clean
    return demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=2)


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
