"""Figures from plain data: the right traces, sorted, serialisable."""

from __future__ import annotations

import numpy as np

from nver_demo.app import plots

PROBS = {"Amusement": 0.5, "Awe": 0.3, "Fear": 0.2}


def test_probability_bars_show_every_class_sorted_top_highlighted():
    fig = plots.probability_bars(PROBS, chance=1 / 3)
    bar = fig.data[0]
    assert list(bar.y) == ["Fear", "Awe", "Amusement"]  # most likely drawn on top
    assert bar.marker.color[-1] == plots.TOP_COLOUR
    assert fig.layout.shapes  # the chance line
    fig.to_json()


def test_embedding_map_has_a_trace_per_label_and_the_clip():
    xy = np.arange(12, dtype=float).reshape(6, 2)
    labels = ["a", "b", "a", "c", "b", "a"]
    fig = plots.embedding_map(xy, labels, [f"clip{i}.mp3" for i in range(6)], [0.5, 0.5], "a")
    assert [t.name for t in fig.data] == ["a", "b", "c", "your clip"]
    assert "clip0.mp3" in fig.data[0].text[0]
    assert plots.label_colours(labels)["a"] == plots.label_colours(["c", "a", "b"])["a"]


def test_compare_bars_one_column_per_model():
    fig = plots.compare_bars({"m1": PROBS, "m2": {"Amusement": 0.1, "Awe": 0.1, "Fear": 0.8}}, chance=1 / 3)
    assert len(fig.data) == 2 and list(fig.data[0].y) == list(fig.data[1].y)
    fig.to_json()


def test_confusion_heatmap_is_row_normalised():
    fig = plots.confusion_heatmap([[3, 1], [0, 0]], ["x", "y"])
    assert np.allclose(np.asarray(fig.data[0].z), [[75, 25], [0, 0]])


def test_message_figure():
    assert plots.message("nothing here").layout.annotations[0].text == "nothing here"
