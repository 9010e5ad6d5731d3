"""The seed paper's numbers, copied into the package."""

from nver_demo import paper


def test_tables_have_every_row():
    assert len(paper.table_rows("I")) == 14 and len(paper.table_rows("II")) == 36
    assert len(paper.table_headers()) == len(paper.table_rows("I")[0])


def test_lookup_ignores_pair_order_and_knows_the_head():
    r = paper.lookup("reno", ["wavlm-base", "audio-mamba-base"])
    assert r is not None and r.scores["ASVP-ESD"] == (83.56, 82.54)
    assert paper.lookup("concat", ("audio-mamba-base", "wavlm-base")).scores["ASVP-ESD"][0] == 75.21
    assert paper.lookup("cnn", ["hubert-base"]).scores["VIVAE"] == (49.04, 48.36)
    assert paper.lookup("reno", ["ge2e", "compare"]) is None


def test_source_says_it_is_not_our_measurement():
    assert "not EmoGator" in paper.SOURCE


def test_mata_row_is_the_second_papers_accuracy_only():
    r = paper.head_reference("mata")
    assert r is not None and r.backbones == ("languagebind", "imagebind")
    assert {d: acc for d, (acc, _) in r.scores.items()} == {"ASVP-ESD": 76.47, "JNV": 77.40, "VIVAE": 75.12}
    assert all(f1 is None for _, f1 in r.scores.values())
    assert "MATA paper" in r.source and "not EmoGator" in paper.MATA_SOURCE
    assert paper.head_reference("reno") is None  # many rows: only exact pairs are shown
