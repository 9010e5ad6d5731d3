"""nver_demo.app.meant: an example clip names the label it was recorded as, and whether the
model's answer is a hit or a miss."""

from __future__ import annotations

from pathlib import Path

from nver_demo.app import clips, meant
from tests.conftest import EXAMPLES

EXAMPLE = [clips.Example(Path("/x/amusement_000292-02-2.mp3"), "Amusement", "000292"),
           clips.Example(Path("/x/fear_000348-15-2.mp3"), "Fear", "000348")]  # fmt: skip


def test_an_example_is_found_by_file_name_wherever_gradio_copied_it():
    assert meant.meant_label("/tmp/gradio/abc123/amusement_000292-02-2.mp3", EXAMPLE) == "Amusement"
    assert meant.meant_label("/tmp/recording.wav", EXAMPLE) is None
    assert meant.meant_label(None, EXAMPLE) is None


def test_the_shipped_examples_all_have_a_label():
    shipped = clips.examples(EXAMPLES)
    assert len(shipped) == 8
    assert all(meant.meant_label(e.path.name, shipped) == e.label for e in shipped)


def test_a_miss_names_the_rank_of_the_meant_label():
    probs = {"Contempt": 0.46, "Fear": 0.3, "Amusement": 0.2, "Awe": 0.04}
    text = meant.meant_markdown("Amusement", probs)
    assert "Meant: Amusement" in text and "a miss" in text and "Contempt" in text
    assert "ranks 3rd of 4 (20 %)" in text
    assert "a hit" in meant.meant_markdown("Contempt", probs)
    assert meant.meant_markdown(None, probs) == ""


def test_the_button_of_the_example_run_says_what_the_model_heard():
    assert meant.button_labels(EXAMPLE) == ["Amusement", "Fear"]
    labels = meant.button_labels(EXAMPLE, "/tmp/g/fear_000348-15-2.mp3", "Fear")
    assert labels == ["Amusement", "Fear → heard Fear ✓"]
    assert meant.button_labels(EXAMPLE, "/tmp/g/amusement_000292-02-2.mp3", "Contempt")[0].endswith("✗")
