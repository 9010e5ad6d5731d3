"""Figures from plain data: the right traces, sorted, serialisable."""

from __future__ import annotations

import numpy as np

from nver_demo import families
from nver_demo.app import plots

PROBS = {"Amusement": 0.5, "Awe": 0.3, "Fear": 0.2}


def test_probability_bars_show_every_class_sorted_top_highlighted():
    fig = plots.probability_bars(PROBS, chance=1 / 3)
    bar = fig.data[0]
    assert list(bar.y) == ["Fear", "Awe", "Amusement"]  # most likely drawn on top
    assert bar.marker.color[-1] == plots.TOP_COLOUR
    assert fig.layout.shapes  # the chance line
    fig.to_json()


def test_embedding_map_without_families_has_a_trace_per_label_and_the_clip():
    xy = np.arange(12, dtype=float).reshape(6, 2)
    labels = ["a", "b", "a", "c", "b", "a"]
    fig = plots.embedding_map(xy, labels, [f"clip{i}.mp3" for i in range(6)], [0.5, 0.5], "a")
    assert [t.name for t in fig.data] == ["a", "b", "c", "your clip"]
    assert "clip0.mp3" in fig.data[0].text[0]
    assert plots.label_colours(labels)["a"] == plots.label_colours(["c", "a", "b"])["a"]


def test_embedding_map_of_emogator_labels_is_coloured_by_family():
    labels = sorted(families.GLOSSARY)
    xy = np.random.default_rng(0).standard_normal((len(labels), 2))
    fig = plots.embedding_map(xy, labels, [""] * len(labels), [0.0, 0.0], "Fear")
    names = [t.name for t in fig.data]
    assert names == [f.name for f in families.FAMILIES] + ["your clip"]  # six legend entries, not 30
    joy = fig.data[0]
    assert joy.marker.color == families.FAMILIES[0].color and len(joy.x) == len(families.FAMILIES[0].members)
    assert "<b>Amusement</b> (Joy & triumph)" in joy.text[0]  # the label in the hover text
    assert fig.layout.legend.orientation == "h"


def test_figures_have_transparent_backgrounds_and_no_drag():
    for fig in (plots.probability_bars(PROBS, 0.1), plots.message("x"), plots.compare_bars({"m": PROBS})):
        assert fig.layout.paper_bgcolor == plots.TRANSPARENT == fig.layout.plot_bgcolor
        assert fig.layout.dragmode is False and "toImage" not in fig.layout.modebar.remove


def test_probability_values_sit_in_a_column_right_of_the_bars():
    fig = plots.probability_bars(PROBS, chance=1 / 3)
    values = [a for a in fig.layout.annotations if a.xref == "paper"]
    assert [a.text for a in values] == ["20.0 %", "30.0 %", "50.0 %"] and all(a.x == 1 for a in values)
    assert "chance, 33.3 %" in fig.layout.xaxis.title.text


def test_compare_bars_one_panel_per_model_at_most_two_across():
    fig = plots.compare_bars({"m1": PROBS, "m2": {"Amusement": 0.1, "Awe": 0.1, "Fear": 0.8}}, chance=1 / 3)
    assert len(fig.data) == 2 and list(fig.data[0].y) == list(fig.data[1].y)
    fig.to_json()
    seven = plots.compare_bars({f"m{i}": PROBS for i in range(7)})
    assert len(seven.data) == 7 and {t.xaxis for t in seven.data} == {
        f"x{i}" if i > 1 else "x" for i in range(1, 8)
    }
    assert seven.data[2].yaxis != seven.data[0].yaxis  # the third model starts a second row


def test_confusion_heatmap_is_row_normalised():
    fig = plots.confusion_heatmap([[3, 1], [0, 0]], ["x", "y"])
    assert np.allclose(np.asarray(fig.data[0].z), [[75, 25], [0, 0]])


def test_message_figure():
    assert plots.message("nothing here").layout.annotations[0].text == "nothing here"
    # plotly never wraps an annotation: a long one is broken into lines that fit a phone
    long = plots.message("Upload or record a recording, then press Find bursts.").layout.annotations[0].text
    assert long == "Upload or record a recording, then<br>press Find bursts."
