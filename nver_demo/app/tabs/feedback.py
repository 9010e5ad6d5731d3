"""The Analyze tab's "That was wrong" box: the visitor picks the emotion they meant and, with the
consent text beside the button ticked, the clip and both labels are kept
(:mod:`nver_demo.app.feedback`). Shown only where the operator enabled it (``NVER_FEEDBACK=1``)."""

from __future__ import annotations

import gradio as gr

from .. import feedback, report
from ..feedback import FeedbackRefused, FeedbackStore

CONSENT = (
    "I agree that this clip, the model's label and the label I pick are kept {where} to check and "
    "improve the models. Nothing is kept unless this box is ticked."
)


class FeedbackBox:
    """Event functions of the box (testable without a browser)."""

    def __init__(self, store: FeedbackStore) -> None:
        self.store = store

    def send(self, clip, state, meant, consent):
        """Keep the report (or say why not); the consent box is unticked again after a report."""
        if not state:
            return report.md_text("Analyse a sound first: there is no result to correct."), gr.skip()
        try:
            self.store.keep(clip, state.get("model", ""), state["pred"].label, meant, consent)
        except FeedbackRefused as e:
            return report.md_text(str(e)), gr.skip()
        return f"Thank you: kept, with **{meant}** as the emotion you meant.", False

    @staticmethod
    def choices(state):
        """The labels the model on screen knows, for the "I meant" menu."""
        labels = sorted(state["pred"].probs) if state else []
        return gr.update(choices=labels, value=None)


def build(
    clip: gr.Audio, state: gr.State, store: FeedbackStore | None = None
) -> FeedbackBox | None:  # pragma: no mutate block
    """The box, under the result; nothing at all when feedback is off."""
    store = store or FeedbackStore.from_env()
    if not store.enabled:
        return None
    box = FeedbackBox(store)
    with gr.Accordion("That was wrong? Tell us what you meant", open=False, elem_id="feedback"):
        meant = gr.Dropdown([], label="The emotion I meant", elem_id="feedback-meant")
        consent = gr.Checkbox(False, label=CONSENT.format(where=store.where()), elem_id="feedback-consent")
        send = gr.Button("Send (keeps the clip and both labels)", size="sm", elem_id="feedback-send")
        done = gr.Markdown(elem_id="feedback-status")
    private = {"api_visibility": "private"}
    state.change(box.choices, state, meant, queue=False, **private)
    send.click(box.send, [clip, state, meant, consent], [done, consent], concurrency_id="feedback", **private)
    return box


__all__ = ["FeedbackBox", "build", "feedback"]
