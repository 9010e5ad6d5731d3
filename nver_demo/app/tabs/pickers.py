"""The Analyze tab's model pickers: the model dropdown with its note (what the model is, its
scores, what it needs), and "Another head or backbone pair…": any registered head with any
registered backbones, offline backbones first."""

from __future__ import annotations

import gradio as gr

from .. import catalog, choices, report
from .common import Context, model_dropdown

#: What each group of the model dropdown means (the help text names only the groups it lists).
GROUP_HELP = {
    catalog.OFFLINE: "runs anywhere",
    catalog.PAPERS: "the RENO paper's backbone pairs and backbones (pretrained backbones fetched on first use)",
    catalog.NEEDS_HUB: "fetches pretrained backbones on first use (or reads a local copy)",
}


def model_info(ctx: Context) -> str:
    """The dropdown's help text: its groups, in its order, and where other pairs are."""
    groups = list(dict.fromkeys(m.group for m in ctx.infos))
    parts = [f"{g}: {GROUP_HELP[g]}" if g in GROUP_HELP else g for g in groups]
    return ". ".join([*parts, "Any other pair: “Another head or backbone pair…” below"]) + "."


class Pickers:
    """Event functions of the pickers (plain functions of the catalogue: no Gradio state)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @staticmethod
    def combination(head: str, b1: str | None, b2: str | None) -> str:
        """The model choice the head/backbone picker names: ``"reno-ge2e+compare"``."""
        names = [b1] if choices.head_inputs().get(head, 1) == 1 else [b1, b2]
        return choices.combination_name(head, [n for n in names if n])

    def on_combination(self, head: str, b1: str | None, b2: str | None):
        """Second backbone only for fusion heads; a line saying whether the combination runs here."""
        pair = choices.head_inputs().get(head, 1) > 1
        text = choices.describe(self.combination(head, b1, b2), self.ctx.infos)
        return gr.update(visible=pair), report.md_text(text)

    def first_combination(self) -> tuple[str, list[str | None]]:
        """What the head/backbone picker shows first: a head and two backbones (the second one
        used by fusion heads only), a combination that runs here when there is one."""
        bbs = [b for _, b in choices.backbone_choices()]
        head, names = choices.default_combination(self.ctx.infos)
        return head, ([*names, *(b for b in bbs if b not in names)][:2] if bbs else [None, None])


def model_picker(ctx: Context) -> tuple[gr.Dropdown, gr.Markdown]:  # pragma: no mutate block
    """The Analyze tab's model dropdown and the note under it."""
    model = model_dropdown(
        ctx, label="2 · Model (the default is a good start)", elem_id="model", info=model_info(ctx)
    )
    described = choices.describe(ctx.default, ctx.infos) if ctx.default else choices.no_models_message()
    return model, gr.Markdown(report.md_text(described), elem_classes="small-note")


def combination_picker(ctx: Context, model: gr.Dropdown) -> None:  # pragma: no mutate block
    """Any head with any backbones; "Use this combination" puts its name in ``model``."""
    p = Pickers(ctx)
    with gr.Accordion("Another head or backbone pair…", open=False, elem_id="pair-picker"):
        gr.Markdown(
            "Any head with any backbones from the registries. If nobody trained that combination "
            "yet, the page says how to.",
            elem_classes="small-note",
        )
        bbs = choices.backbone_choices()
        head0, names0 = p.first_combination()
        pair = choices.head_inputs().get(head0, 1) > 1
        head = gr.Dropdown(list(choices.head_inputs()), value=head0, label="head", elem_id="pair-head")
        b1 = gr.Dropdown(bbs, value=names0[0], label="backbone 1", elem_id="pair-b1")
        b2 = gr.Dropdown(
            bbs, value=names0[1], label="backbone 2 (fusion heads)", visible=pair, elem_id="pair-b2"
        )
        line = choices.describe(p.combination(head0, *names0), ctx.infos)
        status = gr.Markdown(report.md_text(line), elem_classes="small-note")
        use = gr.Button("Use this combination", size="sm")
    for dd in (head, b1, b2):
        dd.change(p.on_combination, [head, b1, b2], [b2, status], api_visibility="private", queue=False)
    use.click(p.combination, [head, b1, b2], model, api_visibility="private", queue=False)
