"""What each output shows: figures, sentences and JSON about a result — which part of the clip
was analysed, what ran and how long it took, how far to trust it. No Gradio."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

import plotly.graph_objects as go

from .. import families
from ..predict import Prediction
from . import catalog, plots, trust_text
from .clips import Clip
from .service import Agreement, Analysis, Comparison, MapData, neighbour_summary

DISCLAIMER = (
    "Research demo: the models guess among 30 emotion categories from short vocal bursts and are "
    "often wrong; do not use the output to judge a person."
)
COMPARE_HEADERS = [
    "model",
    "top emotion",
    "its family",
    "top %",
    "majority %",
    "agrees",
    "CV acc %",
    "CV F1 %",
]
PAPER_HEADERS = ["model", "papers' accuracy % (ASVP-ESD / JNV / VIVAE)", "the papers' backbones"]
CALIBRATED = "Probabilities are calibrated: temperature-scaled on speakers the model never trained on."
UNCALIBRATED = "Probabilities are not calibrated: read them as the model's scores, not as odds."


def md_text(text: str) -> str:
    """Text for a Markdown component: ``<`` and ``>`` outside code spans become entities, so a
    message such as ``<head>-<backbone>`` is shown instead of being swallowed as an HTML tag."""
    parts = re.split(r"(`[^`]*`)", text)
    return "".join(
        part if part.startswith("`") else part.replace("<", "&lt;").replace(">", "&gt;") for part in parts
    )


def error_markdown(message: str) -> str:
    """The persistent error panel: what went wrong, in the page until the next run."""
    return f"### ⚠️ Could not analyse this\n\n{md_text(message)}"


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


#: What the label shows instead of an emotion for a sound that is not a voice.
NO_ANSWER = "Not a voice: no emotion given"


def analysis_view(a: Analysis) -> AnalysisView:
    title = f"{a.info.title if a.info else a.name}: all {len(a.pred.probs)} classes"
    withheld, muted = trust_text.answer_withheld(a.pred), trust_text.muted(a.pred)
    if withheld:
        title += " (not a voice: not an answer)"
    elif muted:
        title += " (unlike the training bursts: a guess)"
    return AnalysisView(
        label={NO_ANSWER: 1.0} if withheld else a.pred.probs,
        bars=plots.probability_bars(a.pred.probs, _chance(a), title=title, muted=muted or withheld),
        map=map_figure(a.map, a.map_note),
        markdown=analysis_markdown(a),
        details=analysis_details(a),
    )


def _chance(a: Analysis) -> float:
    return a.info.chance if a.info else 1.0 / len(a.pred.probs)


def family_markdown(pred: Prediction) -> str:
    """Beside the top emotions: the top category's family and its summed probability, how often
    an answer this confident was right, and whether the probabilities are calibrated."""
    lines = []
    fam = families.family_of(pred.label)
    if fam is not None and pred.families:
        total = pred.families.get(fam.name, 0.0)
        lines.append(
            f"<span class='family-swatch' style='background:{fam.color}'></span>"
            f"**Family: {fam.name}** ({fam.valence}, {fam.arousal}): **{total * 100:.0f} %** in total "
            f"across its {len(fam.members)} emotions; {pred.label} alone has {pred.probs[pred.label] * 100:.0f} %."
        )
    if trust_text.answer_withheld(pred):
        return "**No emotion is given**: this does not sound like a voice (the bars are not an answer)."
    if reliable := trust_text.reliability_sentence(pred):
        lines.append(reliable)
    lines.append(CALIBRATED if pred.calibrated else UNCALIBRATED)
    return "\n\n".join(lines)


def analysis_markdown(a: Analysis) -> str:
    top, chance = a.pred.probs[a.pred.label], _chance(a)
    fam = f" (family: {a.pred.family})" if a.pred.family else ""
    lines = [
        f"**{a.pred.label}**{fam} at {top * 100:.0f} %: {top / chance:.1f}× the chance level of "
        f"{chance * 100:.1f} % ({len(a.pred.probs)} classes)."
    ]
    if trust_text.answer_withheld(a.pred):
        lines = ["**No emotion is given:** this does not sound like a voice, and the models only know human "
                 f"vocal bursts (their closest guess, {a.pred.label}, is not an answer)."]  # fmt: skip
    elif trust_text.muted(a.pred):
        lines[0] = "**A guess:** " + lines[0]
    if a.enrolment_note:
        lines.append(f"**Your voice:** {a.enrolment_note}")
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


def probabilities_csv(a: Analysis) -> str:
    """The download: one row per class, most likely first, with its family."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["emotion", "probability", "family", "model", "clip"])
    for label, p in a.pred.probs.items():
        fam = families.family_of(label)
        w.writerow([label, f"{p:.6f}", fam.name if fam else "", a.name, a.clip.name])
    return out.getvalue()


def analysis_details(a: Analysis) -> dict:
    """Everything an API caller may want, as plain JSON."""
    cv = a.info.cv if a.info else {}
    clip = a.clip
    return {
        "model": a.name,
        "label": a.pred.label,
        "probs": {k: round(v, 6) for k, v in a.pred.probs.items()},
        "family": None
        if a.pred.family is None
        else {"name": a.pred.family, "prob": round(a.pred.families.get(a.pred.family, 0.0), 6)},
        "families": {k: round(v, 6) for k, v in a.pred.families.items()},
        "reliability": a.pred.reliability,
        **a.pred.trust(),
        "calibrated": a.pred.calibrated,
        # Speaker enrolment: how many of the speaker's other clips the answer used (0: the plain head).
        "enrolment": {"clips": a.pred.enrolment_clips, "note": a.enrolment_note or None},
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
    )


def map_note(data: MapData | None, note: str = "") -> str:
    """How this map was made (shown under it, so the legend and axes keep the plot's room)."""
    text = note if data is None else data.note
    return f"*{md_text(text.strip())}*" if text.strip() else ""


# --- Compare ---------------------------------------------------------------------------------------


@dataclass
class ComparisonView:
    bars: go.Figure
    rows: list[list]
    markdown: str
    details: dict
    paper_rows: list[list]


def comparison_view(c: Comparison) -> ComparisonView:
    titles = {n: (c.infos[n].title if n in c.infos else n) for n in c.predictions}
    chances = [i.chance for i in c.infos.values()]
    models = {
        n: {
            "label": p.label,
            "family": p.family,
            "probs": {k: round(v, 6) for k, v in p.probs.items()},
            **p.trust(),
        }
        for n, p in c.predictions.items()
    }
    return ComparisonView(
        bars=plots.compare_bars(
            {titles[n]: p.probs for n, p in c.predictions.items()}, chances[0] if chances else None
        ),
        rows=compare_rows(c.agreement, c.infos),
        paper_rows=paper_rows(c.infos),
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
    """Per model: title, top label, its family, its %, % for the majority label, agrees, CV acc,
    CV F1; numbers as text with one decimal, so 24.0 does not read "24" beside 29.9."""
    rows = []
    for name, top, p_top, p_major, ok in agree.rows:
        info = infos.get(name)
        cv = info.cv if info else {}
        fam = families.family_of(top)
        rows.append(
            [info.title if info else name, top, fam.name if fam else "—", _num(p_top), _num(p_major), ok,
             _num(cv.get("accuracy_mean")), _num(cv.get("macro_f1_mean"))]
        )  # fmt: skip
    return rows


def paper_rows(infos: dict[str, catalog.ModelInfo]) -> list[list]:
    """The papers' reported accuracy (other datasets, not measured here) for the compared models
    whose head the papers tested: a table of its own, so nobody reads it as ours."""
    rows = []
    for info in infos.values():
        paper = info.paper_result()
        if paper is None:
            continue
        same = sorted(paper.backbones) == sorted(info.backbones)
        reported = " / ".join(f"{acc:.1f}" for acc, _ in paper.scores.values())
        rows.append([info.title, reported, "the same" if same else " + ".join(paper.backbones)])
    return rows


def _num(v: float | None) -> str:
    return f"{v:.1f}" if v is not None else "—"


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
        family_agreement(c),
        clip_line(c.clip),
        *clip_notes(c.clip),
        f"Each backbone ran once for all models: {', '.join(ran)}.",
        "*CV acc / F1*: each checkpoint's cross-validated scores on EmoGator, on speakers it never heard. "
        "The papers' own numbers (other datasets, not measured here) are in a separate table below.",
        timings_line(c.timings, c.run.device),
        f"*{DISCLAIMER}*",
    ]
    return "\n\n".join(line for line in lines if line)


def family_agreement(c: Comparison) -> str:
    """How the models' top emotions fall into families: ``"All 6 agree on the family: Distress."``."""
    fams = [p.family or "no family" for p in c.predictions.values()]
    if len(fams) < 2:
        return ""
    counts = {f: fams.count(f) for f in dict.fromkeys(fams)}
    if len(counts) == 1:
        return f"**All {len(fams)} agree on the family: {fams[0]}.**"
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    return "**Families:** " + ", ".join(f"{n} of {len(fams)} say {f}" for f, n in ranked) + "."


def comparison_csv(c: Comparison) -> str:
    """The download: one row per model and class."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["model", "emotion", "probability", "family", "top", "clip"])
    for name, p in c.predictions.items():
        for label, v in p.probs.items():
            fam = families.family_of(label)
            w.writerow([name, label, f"{v:.6f}", fam.name if fam else "", label == p.label, c.clip.name])
    return out.getvalue()


def glossary_markdown() -> str:
    """The 30 labels, grouped by family, each with what it means and what tells it apart."""
    parts = []
    for fam in families.FAMILIES:
        parts.append(
            f"#### <span class='family-swatch' style='background:{fam.color}'></span>{fam.name} "
            f"({fam.valence}, {fam.arousal})"
        )
        parts += [f"- **{lab}**: {families.GLOSSARY[lab]}" for lab in fam.members if lab in families.GLOSSARY]
    return "\n".join(parts)


# --- Models ----------------------------------------------------------------------------------------


def confusion_figure(name: str, infos: list[catalog.ModelInfo]) -> go.Figure:
    """The cross-validation confusion matrix stored in a checkpoint's metadata."""
    m = next((i for i in infos if i.name == name), None)
    if m is None or not m.cv.get("confusion"):
        return plots.message("No confusion matrix stored for this model.")
    return plots.confusion_heatmap(m.cv["confusion"], m.labels, title=f"{m.title}: {m.cv_text()}")
