"""Plotly figures from plain data (dicts, arrays, label lists): never from models.

Gradio's front end ships plotly.js 3 while plotly.py 7 targets plotly.js 4, so only plain
bar / scatter / heatmap traces are used, with explicit heights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

#: 30+ distinguishable colours (EmoGator has 30 classes); a label keeps its colour everywhere.
PALETTE = qualitative.Alphabet + qualitative.Dark24
TOP_COLOUR, BAR_COLOUR, CHANCE_COLOUR = "#e4572e", "#8fa8c8", "#555555"
_FONT = {"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 12}


def label_colours(labels: Sequence[str]) -> dict[str, str]:
    """A fixed colour per label, by its position in the sorted label set."""
    return {lab: PALETTE[i % len(PALETTE)] for i, lab in enumerate(sorted(set(labels)))}


def _layout(fig: go.Figure, height: int, **kw) -> go.Figure:
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10}, font=_FONT,
                      plot_bgcolor="white", paper_bgcolor="white", **kw)  # fmt: skip
    return fig


def message(text: str, height: int = 200) -> go.Figure:
    """An empty figure that says why there is nothing to show."""
    fig = go.Figure()
    fig.add_annotation(text=text, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font={"size": 14, "color": "#666"})  # fmt: skip
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, height)


def probability_bars(probs: Mapping[str, float], chance: float | None = None, title: str = "") -> go.Figure:
    """Horizontal bars for every class, most likely on top; the top class highlighted and a
    dashed line at chance level."""
    items = sorted(probs.items(), key=lambda kv: kv[1])  # plotly draws the first bar at the bottom
    labels = [k for k, _ in items]
    values = [100 * v for _, v in items]
    colours = [BAR_COLOUR] * len(items)
    if colours:
        colours[-1] = TOP_COLOUR
    fig = go.Figure(go.Bar(
        x=values, y=labels, orientation="h", marker={"color": colours},
        text=[f"{v:.1f} %" for v in values], textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: %{x:.1f} %<extra></extra>",
    ))  # fmt: skip
    if chance is not None:
        font = {"size": 10, "color": CHANCE_COLOUR}
        label = f"chance {100 * chance:.1f} %"
        _chance_line(
            fig, 100 * chance, annotation_text=label, annotation_position="bottom right", annotation_font=font
        )
    fig.update_xaxes(title="probability (%)", range=[0, max([*values, 1.0]) * 1.18], gridcolor="#eee")
    fig.update_yaxes(automargin=True)
    return _layout(fig, 70 + 19 * len(items), title={"text": title, "x": 0.01}, showlegend=False, bargap=0.25)


def _chance_line(fig: go.Figure, x: float, **where) -> None:
    fig.add_vline(x=x, line={"dash": "dash", "color": CHANCE_COLOUR, "width": 1}, **where)


def embedding_map(
    ref_xy: np.ndarray,
    ref_labels: Sequence[str],
    ref_clips: Sequence[str],
    point_xy: Sequence[float],
    point_label: str,
    title: str = "",
    axis_name: str = "PC",
    note: str = "",
) -> go.Figure:
    """Reference clips coloured by their label, the new clip as a star on top; hover shows
    each reference clip's file and label; ``note`` (how the map was made) under the plot."""
    colours = label_colours(ref_labels)
    fig = go.Figure()
    labels = np.asarray(ref_labels)
    for lab in sorted(set(ref_labels)):
        idx = np.flatnonzero(labels == lab)
        fig.add_trace(go.Scatter(
            x=ref_xy[idx, 0], y=ref_xy[idx, 1], mode="markers", name=lab,
            marker={"size": 7, "color": colours[lab], "opacity": 0.75, "line": {"width": 0}},
            text=[f"{lab}<br>{ref_clips[i]}" if ref_clips[i] else lab for i in idx],
            hovertemplate="%{text}<extra></extra>",
        ))  # fmt: skip
    fig.add_trace(go.Scatter(
        x=[point_xy[0]], y=[point_xy[1]], mode="markers", name="your clip",
        marker={"size": 20, "symbol": "star", "color": "black", "line": {"width": 2, "color": "white"}},
        hovertemplate=f"your clip<br>predicted: {point_label}<extra></extra>",
    ))  # fmt: skip
    fig.update_xaxes(title=f"{axis_name} 1", showticklabels=False, gridcolor="#eee", zeroline=False)
    fig.update_yaxes(title=f"{axis_name} 2", showticklabels=False, gridcolor="#eee", zeroline=False)
    if note:
        fig.add_annotation(
            text=_wrap_words(note, 95), showarrow=False, x=0, y=-0.1, xref="paper", yref="paper",
            xanchor="left", yanchor="top", align="left", font={"size": 10, "color": "#666"},
        )  # fmt: skip
    legend = {
        "font": {"size": 10},
        "itemsizing": "constant",
        "tracegroupgap": 0,
        "title": {"text": "true label"},
    }
    _layout(fig, 560, title={"text": title, "x": 0.01, "font": {"size": 13}}, legend=legend)
    fig.update_layout(margin={"b": 80})
    return fig


def _wrap_words(text: str, width: int) -> str:
    """Plotly annotations do not wrap: break lines with <br> at word boundaries."""
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "<br>".join([*lines, line])


def compare_bars(
    probs_by_model: Mapping[str, Mapping[str, float]], chance: float | None = None, top: int | None = None
) -> go.Figure:
    """One column of bars per model over a shared class axis (ordered by mean probability, most
    likely on top); each model's own top class highlighted."""
    names = list(probs_by_model)
    classes = sorted({c for p in probs_by_model.values() for c in p})
    mean = {c: np.mean([p.get(c, 0.0) for p in probs_by_model.values()]) for c in classes}
    order = sorted(classes, key=lambda c: mean[c])
    if top is not None:
        order = order[-top:]
    fig = make_subplots(rows=1, cols=len(names), shared_yaxes=True, horizontal_spacing=0.02,
                        subplot_titles=[_wrap(n) for n in names])  # fmt: skip
    xmax = max([100 * v for p in probs_by_model.values() for v in p.values()] + [1.0]) * 1.15
    for col, name in enumerate(names, start=1):
        p = probs_by_model[name]
        best = max(p, key=p.get) if p else None
        fig.add_trace(go.Bar(
            x=[100 * p.get(c, 0.0) for c in order], y=order, orientation="h", name=name,
            marker={"color": [TOP_COLOUR if c == best else BAR_COLOUR for c in order]},
            hovertemplate=f"{name}<br>%{{y}}: %{{x:.1f}} %<extra></extra>",
        ), row=1, col=col)  # fmt: skip
        fig.update_xaxes(range=[0, xmax], gridcolor="#eee", title="%", row=1, col=col)
        if chance is not None:
            _chance_line(fig, 100 * chance, row=1, col=col)
    fig.update_yaxes(automargin=True)
    fig.update_annotations(font={"size": 11})
    _layout(fig, 120 + 19 * len(order), showlegend=False, bargap=0.25)
    fig.update_layout(margin={"t": 80})  # room for two-line model names under the plot's label badge
    return fig


def _wrap(name: str, width: int = 24) -> str:
    """Break long model names at '+' or '-' so subplot titles do not overlap."""
    if len(name) <= width:
        return name
    for sep in ("+", "-"):
        i = name.rfind(sep, 0, width)
        if i > 0:
            return name[: i + 1] + "<br>" + _wrap(name[i + 1 :], width)
    return name


def confusion_heatmap(matrix: Sequence[Sequence[float]], labels: Sequence[str], title: str = "") -> go.Figure:
    """Row-normalised confusion matrix (% of each true class), counts on hover."""
    m = np.asarray(matrix, dtype=float)
    rows = m.sum(1, keepdims=True)
    pct = np.divide(100 * m, rows, out=np.zeros_like(m), where=rows > 0)
    fig = go.Figure(go.Heatmap(
        z=pct, x=list(labels), y=list(labels), colorscale="Blues", zmin=0, zmax=max(1.0, pct.max()),
        customdata=m, colorbar={"title": {"text": "% of row"}},
        hovertemplate="true %{y}<br>predicted %{x}<br>%{z:.0f} % (%{customdata:.0f} clips)<extra></extra>",
    ))  # fmt: skip
    fig.update_yaxes(autorange="reversed", title="true emotion", tickfont={"size": 10})
    fig.update_xaxes(title="predicted emotion", tickangle=-50, tickfont={"size": 10})
    return _layout(fig, 300 + 16 * len(labels), title={"text": title, "x": 0.01})
