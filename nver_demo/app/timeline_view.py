"""What the Timeline tab shows: the timeline figure (bursts coloured by emotion family), the table,
the summary, the downloads, and one burst's bars. Plain data in, plotly figures and text out; no
Gradio, no models."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import plotly.graph_objects as go

from .. import families
from . import plots
from .timeline import Timeline

#: Lane of labels outside the six families (checkpoints trained on other datasets).
OTHER = "other labels"
TABLE_HEADERS = ["#", "start", "end", "emotion", "%", "family", "2nd / 3rd", "speech gate"]
SPEECH_NOTE = (
    "⚠ {n} of {total} bursts sound like **speech** (hatched in the timeline). The models were trained on "
    "non-verbal sounds only, so the emotions shown for spoken words are unreliable."
)


def _clock(seconds: float) -> str:
    m, s = divmod(seconds, 60)
    return f"{int(m)}:{s:04.1f}"


def figure(tl: Timeline | None, selected: int | None = None) -> go.Figure:
    """One lane per emotion family; each burst a bar from its start to its end, in the family's
    colour; hover gives the time, the top 3 and the speech gate's verdict. The ``selected``
    burst (row index) gets a thick outline and a marker line across the lanes."""
    if tl is None:
        return plots.message("Upload or record a recording, then press Find bursts.", height=300)
    if not tl.rows:
        return plots.message("No vocal bursts found in this recording.", height=300)
    fig = go.Figure()
    lanes = [(f.name, f.color) for f in families.FAMILIES] + [(OTHER, "#888888")]
    for lane, color in lanes:
        idx = [i for i, r in enumerate(tl.rows) if (r.family or OTHER) == lane]
        if not idx:
            continue
        rows = [tl.rows[i] for i in idx]
        hover = [
            f"<b>#{i + 1} · {_clock(r.start)}–{_clock(r.end)}</b><br>"
            + "<br>".join(f"{lab}: {p * 100:.0f}%" for lab, p in r.top(3))
            + ("<br><i>speech: emotion unreliable</i>" if r.verdict == "speech" else "")
            for i, r in zip(idx, rows)
        ]
        fig.add_trace(
            go.Bar(
                x=[max(r.end - r.start, 0.05) for r in rows], base=[r.start for r in rows],
                y=[lane] * len(rows), orientation="h", name=lane, marker_color=color,
                marker_line_color="#333", marker_line_width=[1.5 if r.verdict == "speech" else 0 for r in rows],
                marker_pattern_shape=["/" if r.verdict == "speech" else "" for r in rows],
                customdata=idx, hovertext=hover, hoverinfo="text", width=0.7,
            )
        )  # fmt: skip
    if selected is not None and 0 <= selected < len(tl.rows):
        _highlight(fig, tl, selected)
    order = [lane for lane, _ in lanes][::-1]
    fig.update_yaxes(categoryorder="array", categoryarray=order, title=None)
    fig.update_xaxes(title="time in the recording (s)", range=[0, max(tl.duration_s, 1.0)])
    fig.update_layout(barmode="overlay", showlegend=False, hovermode="closest", bargap=0.2)
    plots._layout(fig, height=320)
    return fig.update_layout(margin={"l": 10, "r": 10, "t": 30, "b": 40})


def _highlight(fig: go.Figure, tl: Timeline, i: int) -> None:
    r = tl.rows[i]
    fig.add_trace(
        go.Bar(x=[max(r.end - r.start, 0.05)], base=[r.start], y=[r.family or OTHER], orientation="h",
               name=f"#{i + 1} (selected)", marker_color="rgba(0,0,0,0)", marker_line_color="#111111",
               marker_line_width=4, width=0.95, hoverinfo="skip")
    )  # fmt: skip
    fig.add_vline(x=(r.start + r.end) / 2, line_color="#888888", line_width=1, line_dash="dot",
                  annotation_text=f"#{i + 1}", annotation_position="top")  # fmt: skip


def table(tl: Timeline | None) -> list[list]:
    if tl is None:
        return []
    return [
        [i + 1, _clock(r.start), _clock(r.end), r.label, round(100 * r.probs[r.label]), r.family or "",
         " / ".join(lab for lab, _ in r.top(3)[1:]), r.verdict]
        for i, r in enumerate(tl.rows)
    ]  # fmt: skip


def choices(tl: Timeline | None) -> list[tuple[str, int]]:
    """Burst picker entries: ``("#3 · 0:12.4 · Amusement", 2)``."""
    if tl is None:
        return []
    return [(f"#{i + 1} · {_clock(r.start)} · {r.label}", i) for i, r in enumerate(tl.rows)]


def markdown(tl: Timeline) -> str:
    total = f"{_clock(tl.duration_s)} min" if tl.duration_s >= 60 else f"{tl.duration_s:.1f} s"
    if not tl.rows:
        return (
            f"**No vocal bursts found** in {tl.name} ({total}): nothing rose clearly above the background "
            "as a voice. Try a recording where the sounds are louder than the noise around them."
        )
    fams = " · ".join(f"{k} **{v}**" for k, v in tl.family_counts().items())
    labels = ", ".join(f"{k} {v}" for k, v in list(tl.label_counts().items())[:5])
    lines = [
        f"**{len(tl.rows)} vocal bursts** in {tl.name} ({total}), classified by `{tl.model}`.",
        f"By family: {fams}.  ",
        f"Most frequent emotions: {labels}.",
    ]
    speech = sum(r.verdict == "speech" for r in tl.rows)
    if speech:
        lines.append(SPEECH_NOTE.format(n=speech, total=len(tl.rows)))
    lines += [f"Note: {n}" for n in tl.notes]
    run = sum(tl.timings.values())
    lines.append(
        f"<span class='small-note'>Took {run:.1f} s on `{tl.device}` ("
        + ", ".join(f"{k} {v:.1f} s" for k, v in tl.timings.items())
        + "). Click a row of the table or pick a burst to hear it and see all its probabilities.</span>"
    )
    return "\n\n".join(lines)


def downloads(tl: Timeline, folder: str | Path | None = None) -> list[str]:
    """The timeline as CSV and JSON files, in a fresh folder under ``folder`` (default: the system
    temp dir); folders from earlier runs older than an hour are removed (Gradio keeps its own copy)."""
    root = Path(folder or tempfile.gettempdir()) / "nver_timeline"
    root.mkdir(parents=True, exist_ok=True)
    for old in root.iterdir():
        if old.is_dir() and time.time() - old.stat().st_mtime > 3600:
            shutil.rmtree(old, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(dir=root))
    stem = Path(tl.name).stem or "recording"
    csv_path, json_path = folder / f"{stem}_timeline.csv", folder / f"{stem}_timeline.json"
    csv_path.write_text(tl.to_csv(), encoding="utf-8")
    json_path.write_text(tl.to_json(), encoding="utf-8")
    return [str(csv_path), str(json_path)]


def burst_markdown(tl: Timeline, i: int) -> str:
    r = tl.rows[i]
    gate = ""
    if r.gate is not None:
        heard = f' (Whisper heard: "{r.gate.text.strip()[:80]}")' if r.gate.text.strip() else ""
        gate = f"  \nSpeech gate: **{r.verdict}**{heard}."
        if r.gate.warning:
            gate += f"  \n⚠ {r.gate.warning}"
    return (
        f"**Burst #{i + 1}**, {_clock(r.start)}–{_clock(r.end)} ({r.end - r.start:.1f} s, "
        f"{r.level_dbfs:.0f} dBFS): **{r.label}** ({r.probs[r.label] * 100:.0f}%), family {r.family or '–'}.{gate}"
    )


def burst_bars(tl: Timeline, i: int) -> go.Figure:
    r = tl.rows[i]
    return plots.probability_bars(r.probs, chance=1 / len(r.probs), title=f"Burst #{i + 1}: {r.label}")
