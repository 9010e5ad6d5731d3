"""Plotly figures from plain data (dicts, arrays, label lists): never from models.

Gradio's front end ships plotly.js 3 while plotly.py 7 targets plotly.js 4, so only plain
bar / scatter / heatmap traces are used, with explicit heights.

Figures work in the page's light and dark themes alike: their backgrounds are transparent (the
page's block colour shows through), their marks use colours readable on both, and the app's CSS
recolours axis text and grid lines in dark mode (the server does not know the visitor's theme).
They do not react to dragging, so a finger on a phone scrolls the page instead of zooming a chart;
the toolbar keeps the PNG download (and zoom buttons on the map).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from .. import families

#: 30+ distinguishable colours, for label sets without emotion families (other datasets, tests).
PALETTE = qualitative.Alphabet + qualitative.Dark24
TOP_COLOUR, BAR_COLOUR, CHANCE_COLOUR = "#e4572e", "#8fa8c8", "#888888"
GRID_COLOUR = "rgba(128, 128, 128, 0.25)"  # visible on white and on a dark page
NOTE_COLOUR = "#888888"
TRANSPARENT = "rgba(0, 0, 0, 0)"
_FONT = {"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 12}
#: Toolbar buttons removed: everything but "download plot as a PNG" (and, on the map, zoom).
_NO_BUTTONS = ["zoom2d", "pan2d", "select2d", "lasso2d", "autoScale2d", "hoverClosestCartesian",
               "hoverCompareCartesian", "toggleSpikelines", "zoomIn2d", "zoomOut2d", "resetScale2d"]  # fmt: skip
_MAP_KEEPS = {"zoomIn2d", "zoomOut2d", "resetScale2d"}
#: Heatmap scale from transparent (0 %: the page shows through, light or dark) to the top colour.
HEAT = [[0.0, "rgba(228, 87, 46, 0.0)"], [1.0, "rgba(228, 87, 46, 1.0)"]]


def label_colours(labels: Sequence[str]) -> dict[str, str]:
    """A fixed colour per label, by its position in the sorted label set."""
    return {lab: PALETTE[i % len(PALETTE)] for i, lab in enumerate(sorted(set(labels)))}


def _layout(fig: go.Figure, height: int, keep: set[str] = frozenset(), **kw) -> go.Figure:
    """Height, margins, font; transparent backgrounds; no drag interaction; a small toolbar."""
    modebar = {"remove": [b for b in _NO_BUTTONS if b not in keep], "bgcolor": TRANSPARENT,
               "color": NOTE_COLOUR, "activecolor": TOP_COLOUR}  # fmt: skip
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10}, font=_FONT,
                      plot_bgcolor=TRANSPARENT, paper_bgcolor=TRANSPARENT, dragmode=False,
                      modebar=modebar, hoverlabel={"bgcolor": "#222222", "font": {"color": "#ffffff"}},
                      **kw)  # fmt: skip
    return fig


def wrap_title(text: str, width: int = 48) -> str:
    """Plotly titles do not wrap, and a long one runs under the toolbar on a phone: break it."""
    return _wrap_words(text, width)


def message(text: str, height: int = 200) -> go.Figure:
    """An empty figure that says why there is nothing to show. Plotly does not wrap an
    annotation: lines of at most 36 characters keep it inside a phone's 390 px."""
    fig = go.Figure()
    fig.add_annotation(text="<br>".join(textwrap.wrap(text, 36)) or text, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font={"size": 14, "color": NOTE_COLOUR})  # fmt: skip
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, height)


#: Bars of an answer that is a guess (out of domain) or no answer (not a voice): one muted grey.
MUTED_COLOUR = "#b8bec7"


def probability_bars(probs: Mapping[str, float], chance: float | None = None, title: str = "",
                     muted: bool = False) -> go.Figure:  # fmt: skip
    """Horizontal bars for every class, most likely on top; the top class highlighted and a
    dashed line at chance level. Values sit in a column right of the bars, so the chance line
    never runs through them; the axis title says what the line is."""
    items = sorted(probs.items(), key=lambda kv: kv[1])  # plotly draws the first bar at the bottom
    labels = [k for k, _ in items]
    values = [100 * v for _, v in items]
    colours = [MUTED_COLOUR if muted else BAR_COLOUR] * len(items)
    if colours and not muted:
        colours[-1] = TOP_COLOUR
    fig = go.Figure(go.Bar(
        x=values, y=labels, orientation="h", marker={"color": colours},
        hovertemplate="%{y}: %{x:.1f} %<extra></extra>",
    ))  # fmt: skip
    for lab, v in zip(labels, values):
        fig.add_annotation(x=1, xref="paper", xanchor="left", y=lab, text=f"{v:.1f} %", showarrow=False,
                           font={"size": 11}, xshift=4)  # fmt: skip
    axis = "probability (%)"
    if chance is not None:
        _chance_line(fig, 100 * chance)
        axis += f"<br>dashed line: chance, {100 * chance:.1f} %"
    fig.update_xaxes(title=axis, range=[0, max([*values, 1.0]) * 1.04], gridcolor=GRID_COLOUR, zeroline=False)
    fig.update_yaxes(automargin=True)
    _layout(fig, 90 + 19 * len(items), title={"text": wrap_title(title), "x": 0.01}, showlegend=False,
            bargap=0.25)  # fmt: skip
    fig.update_layout(margin={"r": 58})  # the value column
    return fig


def _chance_line(fig: go.Figure, x: float, **where) -> None:
    fig.add_vline(x=x, line={"dash": "dash", "color": CHANCE_COLOUR, "width": 1}, layer="below", **where)


def embedding_map(
    ref_xy: np.ndarray,
    ref_labels: Sequence[str],
    ref_clips: Sequence[str],
    point_xy: Sequence[float],
    point_label: str,
    title: str = "",
    axis_name: str = "PC",
) -> go.Figure:
    """Reference clips coloured by emotion family (six colours; each clip's label, family and file
    on hover), the new clip as a star on top.
    Label sets without families (other datasets) get one colour per label instead."""
    fig = go.Figure()
    labels = np.asarray(ref_labels)
    for name, colour, members in _groups(ref_labels):
        idx = np.flatnonzero(np.isin(labels, members))
        if not len(idx):
            continue
        prefix = "" if name in members else f" ({name})"
        fig.add_trace(go.Scatter(
            x=ref_xy[idx, 0], y=ref_xy[idx, 1], mode="markers", name=name,
            marker={"size": 7, "color": colour, "opacity": 0.75, "line": {"width": 0}},
            text=[f"<b>{labels[i]}</b>{prefix}" + (f"<br>{ref_clips[i]}" if ref_clips[i] else "") for i in idx],
            hovertemplate="%{text}<extra></extra>",
        ))  # fmt: skip
    fam = families.family_of(point_label)
    predicted = f"{point_label} ({fam.name})" if fam else point_label
    fig.add_trace(go.Scatter(
        x=[point_xy[0]], y=[point_xy[1]], mode="markers", name="your clip",
        marker={"size": 20, "symbol": "star", "color": "#111111", "line": {"width": 2, "color": "white"}},
        hovertemplate=f"your clip<br>predicted: {predicted}<extra></extra>",
    ))  # fmt: skip
    fig.update_xaxes(title=f"{axis_name} 1", showticklabels=False, gridcolor=GRID_COLOUR, zeroline=False)
    fig.update_yaxes(title=f"{axis_name} 2", showticklabels=False, gridcolor=GRID_COLOUR, zeroline=False)
    # Six families fit in a legend under the plot, so the map keeps the page's full width.
    legend = {"orientation": "h", "x": 0, "xanchor": "left", "y": -0.08, "yanchor": "top",
              "font": {"size": 11}, "itemsizing": "constant", "title": {"text": ""}}  # fmt: skip
    _layout(fig, 600, keep=_MAP_KEEPS, title={"text": wrap_title(title), "x": 0.01, "font": {"size": 13}},
            legend=legend)  # fmt: skip
    return fig


def _groups(ref_labels: Sequence[str]) -> list[tuple[str, str, list[str]]]:
    """(legend name, colour, labels) per colour group: the emotion families when every label has
    one, else one group per label."""
    present = sorted(set(ref_labels))
    if families.covers(present):
        return [(f.name, f.color, list(f.members)) for f in families.FAMILIES]
    colours = label_colours(present)
    return [(lab, colours[lab], [lab]) for lab in present]


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
    probs_by_model: Mapping[str, Mapping[str, float]],
    chance: float | None = None,
    top: int | None = 12,
    columns: int = 2,
) -> go.Figure:
    """Bars per model over a shared class axis (ordered by mean probability, most likely on top),
    at most ``columns`` models side by side so each stays readable on a phone; each model's own
    top class highlighted. ``top`` keeps the classes with most mean probability plus every
    model's top class (the rest are near zero); None keeps all."""
    names = list(probs_by_model)
    classes = sorted({c for p in probs_by_model.values() for c in p})
    mean = {c: np.mean([p.get(c, 0.0) for p in probs_by_model.values()]) for c in classes}
    best = {n: (max(p, key=p.get) if p else None) for n, p in probs_by_model.items()}
    order = sorted(classes, key=lambda c: mean[c])
    if top is not None and len(order) > top:
        keep = set(order[-top:]) | {b for b in best.values() if b}
        order = [c for c in order if c in keep]
    cols = max(1, min(columns, len(names)))
    rows = max(1, -(-len(names) // cols))
    fig = make_subplots(rows=rows, cols=cols, shared_yaxes=True, horizontal_spacing=0.04,
                        vertical_spacing=min(0.3, 90 / (rows * (60 + 19 * len(order)))),
                        subplot_titles=[_wrap_words(n, 20) if " " in n else _wrap(n, 20) for n in names])  # fmt: skip
    xmax = max([100 * v for p in probs_by_model.values() for v in p.values()] + [1.0]) * 1.1
    for i, name in enumerate(names):
        row, col = divmod(i, cols)
        p = probs_by_model[name]
        fig.add_trace(go.Bar(
            x=[100 * p.get(c, 0.0) for c in order], y=order, orientation="h", name=name,
            marker={"color": [TOP_COLOUR if c == best[name] else BAR_COLOUR for c in order]},
            hovertemplate=f"{name}<br>%{{y}}: %{{x:.1f}} %<extra></extra>",
        ), row=row + 1, col=col + 1)  # fmt: skip
        fig.update_xaxes(range=[0, xmax], gridcolor=GRID_COLOUR, zeroline=False, nticks=4, tickangle=0,
                         title="%" if row == rows - 1 else None, row=row + 1, col=col + 1)  # fmt: skip
        if chance is not None:
            _chance_line(fig, 100 * chance, row=row + 1, col=col + 1)
    fig.update_yaxes(automargin=True, tickfont={"size": 11})
    fig.update_annotations(font={"size": 11})
    _layout(fig, 60 + rows * (70 + 19 * len(order)), showlegend=False, bargap=0.25)
    fig.update_layout(margin={"t": 90})  # room for the block's label, the toolbar and two-line model names
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
        z=pct, x=list(labels), y=list(labels), colorscale=HEAT, zmin=0, zmax=max(1.0, pct.max()),
        customdata=m, colorbar={"title": {"text": "% of row"}},
        hovertemplate="true %{y}<br>predicted %{x}<br>%{z:.0f} % (%{customdata:.0f} clips)<extra></extra>",
    ))  # fmt: skip
    fig.update_yaxes(autorange="reversed", title="true emotion", tickfont={"size": 10})
    fig.update_xaxes(title="predicted emotion", tickangle=-50, tickfont={"size": 10})
    return _layout(fig, 300 + 16 * len(labels), title={"text": wrap_title(title, 70), "x": 0.01})
