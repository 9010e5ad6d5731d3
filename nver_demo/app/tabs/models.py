"""The Models tab: the registered backbones and heads, the trained models here with their
cross-validation scores and confusion matrices, and the papers' own numbers (read-only: no
model runs here)."""

from __future__ import annotations

import gradio as gr

from ... import paper
from .. import model_tables, report
from .common import Context


def _registries() -> None:  # pragma: no mutate block
    gr.Markdown(
        "### Backbones\nFrozen audio encoders: each turns a clip into one vector, its embedding. "
        + model_tables.families_line()
    )
    gr.Dataframe(
        model_tables.backbone_rows(),
        headers=model_tables.BACKBONE_HEADERS,
        interactive=False,
        wrap=True,
        elem_classes="wide-table",
        column_widths=["14%", "9%", "10%", "9%", "12%", "46%"],
        max_height=2400,  # every backbone visible without scrolling inside the table
    )
    gr.Markdown(
        "### Heads\nSmall classifiers trained on the embeddings (sizes for 768-d inputs, 30 classes)."
    )
    gr.Dataframe(
        model_tables.head_rows(),
        headers=model_tables.HEAD_HEADERS,
        interactive=False,
        wrap=True,
        elem_classes="wide-table",
        column_widths=["10%", "18%", "10%", "62%"],
        max_height=2400,
    )


def _trained(ctx: Context) -> None:  # pragma: no mutate block
    gr.Markdown(
        "### Trained models here\nCross-validated on EmoGator with whole speakers held out: how often a "
        "model is right on voices it never heard. Chance is 3.3 % (30 classes)."
    )
    gr.Dataframe(
        model_tables.model_rows(ctx.infos),
        headers=model_tables.MODEL_HEADERS,
        interactive=False,
        wrap=True,
        elem_classes="wide-table",
        column_widths=["34%", "12%", "11%", "11%", "6%", "8%", "9%", "9%"],
        max_height=2400,
    )
    with_cm = [m for m in ctx.infos if m.cv.get("confusion")]
    if with_cm:
        first = ctx.default if ctx.default in {m.name for m in with_cm} else with_cm[0].name
        pick = gr.Dropdown([(m.title, m.name) for m in with_cm], value=first, label="Confusion matrix of")
        cm = gr.Plot(report.confusion_figure(first, ctx.infos), label="Confusion matrix (cross-validation)")
        pick.change(lambda n: report.confusion_figure(n, ctx.infos), pick, cm, api_visibility="private")


def _papers() -> None:  # pragma: no mutate block
    gr.Markdown(
        f"### The seed paper's numbers\nAs **reported by the paper, not measured here**: {paper.SOURCE}."
    )
    headers = paper.table_headers()
    tall = {"headers": headers, "interactive": False, "max_height": 2400}  # every row, no hidden scroll area
    gr.Dataframe(paper.table_rows("I"), label="Table I: one backbone", **tall)
    gr.Dataframe(paper.table_rows("II"), label="Table II: pairs, Concat vs RENO", **tall)
    gr.Markdown(f"As **reported by the MATA paper, not measured here**: {paper.MATA_SOURCE}.")
    gr.Dataframe(paper.table_rows("MATA"), label="MATA (second paper)", **tall)


def build(ctx: Context) -> None:  # pragma: no mutate block
    """Lay out the tab (its one event redraws the confusion matrix picked): three sub-tabs, so the
    page is as tall as one of them, and every table shows all its rows (no scroll box inside the
    page that a full-page view would cut)."""
    with gr.Tabs(elem_id="models-tabs"):
        with gr.Tab("Trained models here", id="models-trained"):
            _trained(ctx)
        with gr.Tab("Backbones and heads", id="models-registries"):
            _registries()
        with gr.Tab("The papers' numbers", id="models-papers"):
            _papers()
