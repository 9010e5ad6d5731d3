"""nver_demo.app.timeline_view: the burst on show is outlined on the timeline."""

from __future__ import annotations

from nver_demo import families
from nver_demo.app import timeline_view
from nver_demo.app.timeline import Row, Timeline


def _timeline() -> Timeline:
    rows = []
    for i, label in enumerate(["Amusement", "Fear", "Sadness"]):
        fam = families.family_of(label)
        rows.append(
            Row(2.0 * i, 2.0 * i + 0.8, label, fam.name, fam.color, {label: 0.7, "Awe": 0.3}, None, -20.0)
        )
    return Timeline("party.wav", "m", 6.0, rows)


def test_the_selected_burst_gets_an_outline_in_its_lane_and_a_marker_line():
    tl = _timeline()
    plain, picked = timeline_view.figure(tl), timeline_view.figure(tl, selected=1)
    assert len(picked.data) == len(plain.data) + 1
    outline = picked.data[-1]
    assert list(outline.base) == [2.0] and list(outline.y) == [families.family_of("Fear").name]
    assert outline.marker.line.width > 1 and outline.hoverinfo == "skip"
    assert [s.x0 for s in picked.layout.shapes] == [2.4]  # the marker line at the burst's middle
    assert len(timeline_view.figure(tl, selected=7).data) == len(plain.data)  # out of range: none
