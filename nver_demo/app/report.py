"""What each output shows: figures, sentences and JSON about a result — which part of the clip
was analysed, what ran and how long it took, how far to trust it. No Gradio."""

from __future__ import annotations

from dataclasses import dataclass

import plotly.graph_objects as go

from . import catalog, plots
from .clips import Clip
from .service import Agreement, Analysis, Comparison, MapData, neighbour_summary

DISCLAIMER = (
    "Research demo: the models guess among 30 emotion categories from short vocal bursts and are "
    "often wrong; do not use the output to judge a person."
)
COMPARE_HEADERS = [
    "model",
    "top emotion",
    "top %",
    "majority %",
    "agrees",
    "CV acc %",
    "CV F1 %",
    "paper acc %",
]


def clip_line(clip: Clip) -> str:
    total = f" of {clip.source_seconds:.1f} s" if clip.source_seconds else ""
    return (
        f"**Clip:** {clip.name or 'recording'} ({clip.format}, {clip.sr / 1000:g} kHz, "
        f"level {clip.stats.level_dbfs:.0f} dBFS): analysed {clip.start_s:.1f}–{clip.end_s:.1f} s{total}."
    )


def clip_notes(clip: Clip) -> list[str]:
    return [f"⚠ {w}" for w in clip.warnings] + [f"Note: {n}" for n in clip.notes]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def timings_line(timings: dict[str, float], device: str) -> str:
    """``**What ran** (on `cpu`, 420 ms in all): decode + check 3 ms · embed ge2e 120 ms · …``."""
    if not timings:
        return ""
    slowest = max(timings, key=timings.get)
    parts = [f"**{k} {_ms(v)}**" if k == slowest else f"{k} {_ms(v)}" for k, v in timings.items()]
    return f"**What ran** (on `{device}`, {_ms(sum(timings.values()))} in all): " + " · ".join(parts)


# --- Analyze ---------------------------------------------------------------------------------------


@dataclass
class AnalysisView:
    label: dict[str, float]
    bars: go.Figure
    map: go.Figure
    markdown: str
    details: dict


def analysis_view(a: Analysis) -> AnalysisView:
    title = f"{a.info.title if a.info else a.name}: all {len(a.pred.probs)} classes"
    return AnalysisView(
        label=a.pred.probs,
        bars=plots.probability_bars(a.pred.probs, _chance(a), title=title),
        map=map_figure(a.map, a.map_note),
        markdown=analysis_markdown(a),
        details=analysis_details(a),
    )


def _chance(a: Analysis) -> float:
    return a.info.chance if a.info else 1.0 / len(a.pred.probs)


def analysis_markdown(a: Analysis) -> str:
    top, chance = a.pred.probs[a.pred.label], _chance(a)
    lines = [
        f"**{a.pred.label}** at {top * 100:.0f} %: {top / chance:.1f}× the chance level of "
        f"{chance * 100:.1f} % ({len(a.pred.probs)} classes)."
    ]
    if a.info is not None:
        lines.append(f"**Model:** {a.info.title}: {a.info.cv_text()}.")
    lines += [clip_line(a.clip), *clip_notes(a.clip)]
    if a.map is not None:
        near = neighbour_summary(a.map.neighbours)
        lines.append(f"**Map:** its {len(a.map.neighbours)} nearest reference clips are {near}.")
    elif a.map_note:
        lines.append(f"**Map:** {a.map_note}")
    lines += [timings_line(a.timings, a.run.device), f"*{DISCLAIMER}*"]
    return "\n\n".join(lines)


def analysis_details(a: Analysis) -> dict:
    """Everything an API caller may want, as plain JSON."""
    cv = a.info.cv if a.info else {}
    clip = a.clip
    return {
        "model": a.name,
        "label": a.pred.label,
        "probs": {k: round(v, 6) for k, v in a.pred.probs.items()},
        "chance": _chance(a),
        "cv": {k: v for k, v in cv.items() if k not in ("confusion", "folds")},
        "clip": {
            "name": clip.name,
            "format": clip.format,
            "sample_rate": clip.sr,
            "analysed_seconds": [round(clip.start_s, 3), round(clip.end_s, 3)],
            "file_seconds": clip.source_seconds,
            "level_dbfs": round(clip.stats.level_dbfs, 1),
        },
        "notes": clip.notes,
        "warnings": clip.warnings,
        "map": None
        if a.map is None
        else {"method": a.map.method, "view": a.map.view, "neighbours": a.map.neighbours},
        "device": a.run.device,
        "timings_s": {k: round(v, 4) for k, v in a.timings.items()},
    }


def map_figure(data: MapData | None, note: str = "") -> go.Figure:
    if data is None:
        return plots.message(note or "No embedding map for this model.")
    what = "the head's fused features" if data.view == "fused" else f"{data.view} embeddings"
    return plots.embedding_map(
        data.ref_xy,
        data.ref_labels,
        data.ref_clips,
        data.point_xy,
        data.point_label,
        title=f"{data.method.upper()} of {what} · nearest: {neighbour_summary(data.neighbours)}",
        axis_name="PC" if data.method == "pca" else "UMAP",
        note=data.note,
    )


# --- Compare ---------------------------------------------------------------------------------------


@dataclass
class ComparisonView:
    bars: go.Figure
    rows: list[list]
    markdown: str
    details: dict


def comparison_view(c: Comparison) -> ComparisonView:
    titles = {n: (c.infos[n].title if n in c.infos else n) for n in c.predictions}
    chances = [i.chance for i in c.infos.values()]
    models = {
        n: {"label": p.label, "probs": {k: round(v, 6) for k, v in p.probs.items()}}
        for n, p in c.predictions.items()
    }
    return ComparisonView(
        bars=plots.compare_bars(
            {titles[n]: p.probs for n, p in c.predictions.items()}, chances[0] if chances else None
        ),
        rows=compare_rows(c.agreement, c.infos),
        markdown=compare_markdown(c),
        details={
            "majority": c.agreement.majority,
            "votes": c.agreement.votes,
            "models": models,
            "device": c.run.device,
            "timings_s": {k: round(v, 4) for k, v in c.timings.items()},
            "warnings": c.clip.warnings,
        },
    )


def compare_rows(agree: Agreement, infos: dict[str, catalog.ModelInfo]) -> list[list]:
    """Per model: title, top label, its %, % for the majority label, agrees, CV acc, CV F1, paper acc."""
    rows = []
    for name, top, p_top, p_major, ok in agree.rows:
        info = infos.get(name)
        cv = info.cv if info else {}
        paper = info.paper_result() if info else None
        reported = " / ".join(f"{acc:.1f}" for acc, _ in paper.scores.values()) if paper else "—"
        if paper and info and sorted(paper.backbones) != sorted(info.backbones):
            reported += f" (on {' + '.join(paper.backbones)})"
        rows.append(
            [info.title if info else name, top, p_top, p_major, ok,
             _num(cv.get("accuracy_mean")), _num(cv.get("macro_f1_mean")), reported]
        )  # fmt: skip
    return rows


def _num(v: float | None) -> float | str:
    return round(v, 1) if v is not None else "—"


def compare_markdown(c: Comparison) -> str:
    agree = c.agreement
    if agree.n == 1:
        verdict = f"### The model says {agree.majority}"
    elif agree.votes == agree.n:
        verdict = f"### All {agree.n} models say {agree.majority}"
    elif agree.votes == 1:
        verdict = (
            f"### No agreement: {agree.n} models, {agree.n} different top emotions\n"
            f"Most probability in total: {agree.majority}."
        )
    else:
        verdict = f"### {agree.votes} of {agree.n} models say {agree.majority}"
    ran = [k.removeprefix("embed ") for k in c.run.timings if k.startswith("embed ")]
    lines = [
        verdict,
        clip_line(c.clip),
        *clip_notes(c.clip),
        f"Each backbone ran once for all models: {', '.join(ran)}.",
        "*CV acc / F1*: each checkpoint's cross-validated scores on EmoGator, on speakers it never heard. "
        "*Paper acc*: **the seed paper's reported accuracy on other datasets** (ASVP-ESD / JNV / VIVAE), "
        "only where the paper tested the same head and backbones; not measured here.",
        timings_line(c.timings, c.run.device),
        f"*{DISCLAIMER}*",
    ]
    return "\n\n".join(lines)


# --- Models ----------------------------------------------------------------------------------------


def confusion_figure(name: str, infos: list[catalog.ModelInfo]) -> go.Figure:
    """The cross-validation confusion matrix stored in a checkpoint's metadata."""
    m = next((i for i in infos if i.name == name), None)
    if m is None or not m.cv.get("confusion"):
        return plots.message("No confusion matrix stored for this model.")
    return plots.confusion_heatmap(m.cv["confusion"], m.labels, title=f"{m.title}: {m.cv_text()}")
