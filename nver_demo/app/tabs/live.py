"""The Live tab: the microphone streams, and every half second the last two seconds go through the
default model; the bars, the family and a 20-s history strip update in place (silence is skipped:
"listening…"). When the recording stops, the whole recording is analysed as on the Analyze tab.
What happens per chunk is :mod:`nver_demo.app.live` (no Gradio).

The streaming event has its own concurrency group (:data:`LIVE_ID`, :data:`LIVE_RUNS` at once) and
a processing-time limit, so live visitors never take the Analyze/Compare model slots."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import gradio as gr
import numpy as np
import soundfile as sf

from ... import families
from ...predict import Prediction
from .. import live, report, service
from .common import EMPTY_SUMMARY, Context, attempt, status, status_panel

#: Concurrency group of the live stream: its own, never the model runs' ("models").
LIVE_ID = "live"
#: Live chunks processed at once (each is one ~2-s window through the default model).
LIVE_RUNS = 2
INTRO = f"""**Live meter.** Press **Record** and make sounds: every {live.EVERY_S:g} s the last
{live.WINDOW_S:g} s go through the default model, and the bars follow you. Silence is skipped
("listening…"); the meter stops by itself after {live.MAX_S:.0f} s. When you press **Stop**, the whole
recording is analysed as on the Analyze tab."""
#: What a streamed chunk updates, in order.
STREAM_OUTPUTS = ("label", "family", "meter", "strip", "session")
#: What the end of a recording updates, in order.
FINISH_OUTPUTS = ("status", "final_label", "final_family", "summary")


class LiveTab:
    """Event functions of the Live tab (testable without a browser)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.folder = Path(tempfile.mkdtemp(prefix="nver-live-"))

    def predict(self, wave: np.ndarray, sr: int) -> Prediction:
        """One window through the default model (loaded once, cached by the service)."""
        [predictor], _ = service.load_models([self.ctx.default], self.ctx.infos)
        return self.ctx.runner([predictor], wave, sr).predictions[predictor.name]

    @staticmethod
    def start():
        """A new recording: a new session, an empty meter."""
        s = live.Session()
        return None, "", "listening…", live.history_html(s), s

    def stream(self, chunk, session):
        """A chunk from the browser: the bars and family when there is a new answer, else as they are."""
        session = session if isinstance(session, live.Session) else live.Session()
        if chunk is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), session
        sr, x = chunk
        u, error = attempt(live.step, session, sr, x, self.predict)
        if error:
            session.stopped = True
            return gr.skip(), gr.skip(), report.md_text(error), gr.skip(), session
        meter = u.status or gr.skip()
        if u.prediction is None:
            return gr.skip(), gr.skip(), meter, live.history_html(session), session
        return u.prediction.probs, family_line(u.prediction), meter, live.history_html(session), session

    def finish(self, session):
        """The recording stopped: the whole of it through the Analyze pipeline."""
        if not isinstance(session, live.Session) or session.samples == 0:
            return status(), gr.skip(), gr.skip(), gr.skip()
        path = self.folder / f"live-recording-{uuid.uuid4().hex[:8]}.wav"
        sf.write(path, session.recording(), live.SR, subtype="PCM_16")
        try:
            a, error = attempt(
                service.analyze, path, self.ctx.default, self.ctx.infos, runner=self.ctx.runner
            )
        finally:
            path.unlink(missing_ok=True)
        if error:
            return status(error), None, "", EMPTY_SUMMARY
        v = report.analysis_view(a)
        return status(), v.label, report.family_markdown(a.pred), v.markdown


def family_line(pred: Prediction) -> str:
    fam = families.family_of(pred.label)
    if fam is None:
        return f"**{pred.label}**"
    total = pred.families.get(fam.name, 0.0) if pred.families else 0.0
    return (
        f"<span class='family-swatch' style='background:{fam.color}'></span>**{fam.name}** "
        f"({fam.valence}, {fam.arousal}) · {total * 100:.0f} % · top: {pred.label}"
    )


def build(ctx: Context) -> None:  # pragma: no mutate block
    """Lay out the tab and wire its events."""
    h = LiveTab(ctx)
    gr.Markdown(INTRO, elem_classes="small-note")
    out: dict = {}
    with gr.Row(equal_height=False):
        with gr.Column(scale=4, min_width=300):
            mic = gr.Audio(sources=["microphone"], streaming=True, type="numpy", label="Microphone",
                           elem_id="live-mic")  # fmt: skip
            out["meter"] = gr.Markdown("Press Record to start.", elem_id="live-meter")
            out["strip"] = gr.HTML(live.history_html(None), elem_id="live-strip")
        with gr.Column(scale=5, min_width=300):
            out["family"] = gr.Markdown(elem_id="live-family")
            out["label"] = gr.Label(num_top_classes=5, label="Now (last 2 s)", elem_id="live-label")
    gr.Markdown("#### The whole recording (when it stops)")
    out["status"] = status_panel("live-status")
    with gr.Row(equal_height=False):
        out["final_label"] = gr.Label(num_top_classes=5, label="Whole recording", elem_id="live-final")
        with gr.Column():
            out["final_family"] = gr.Markdown()
            out["summary"] = gr.Markdown(EMPTY_SUMMARY, elem_id="live-summary")
    out["session"] = gr.State(None)

    private = {"api_visibility": "private"}
    mic.start_recording(h.start, None, [out[k] for k in STREAM_OUTPUTS], queue=False, **private)
    mic.stream(h.stream, [mic, out["session"]], [out[k] for k in STREAM_OUTPUTS], stream_every=live.EVERY_S,
               time_limit=int(live.MAX_S), concurrency_id=LIVE_ID, concurrency_limit=LIVE_RUNS,
               show_progress="hidden", **private)  # fmt: skip
    mic.stop_recording(h.finish, out["session"], [out[k] for k in FINISH_OUTPUTS],
                       **ctx.page_event())  # fmt: skip
