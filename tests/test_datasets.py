import pytest

from nver_demo.training import datasets
from tests.conftest import needs_emogator


def test_csv_reader(tiny_dataset):
    ds = datasets.read_csv(tiny_dataset)
    assert len(ds) == 54
    assert ds.labels == ["high", "low", "mid"]
    assert len(set(ds.speakers)) == 6
    assert all(it.path.exists() for it in ds.items)
    assert ds.subset([0, 1]).labels == ds.labels


def test_csv_without_speakers(tmp_path):
    (tmp_path / "l.csv").write_text("path,label\na.wav,x\nb.wav,y\n")
    ds = datasets.read_csv(tmp_path / "l.csv")
    assert ds.speakers is None and ds.targets == [0, 1]


def test_csv_requires_columns(tmp_path):
    (tmp_path / "l.csv").write_text("file,emotion\na.wav,x\n")
    with pytest.raises(ValueError, match="path"):
        datasets.read_csv(tmp_path / "l.csv")


def test_vivae_names(tmp_path):
    for name in ["S01_achievement_low_01.wav", "S11_pain_peak_104.wav", "notes.wav"]:
        (tmp_path / name).write_bytes(b"")
    ds = datasets.read_vivae(tmp_path)
    assert [(it.label, it.speaker) for it in ds.items] == [("achievement", "S01"), ("pain", "S11")]


def test_unknown_kind():
    with pytest.raises(ValueError, match="emogator"):
        datasets.read("jnv", "x")


@needs_emogator
def test_emogator():
    ds = datasets.read_emogator(datasets.EMOGATOR_DIR)
    assert len(ds) == 9000 and len(ds.labels) == 30
    assert len(set(ds.speakers)) == 100
    assert "Amusement" in ds.labels
    assert ds.sources == [{"folder": "emogator", "clips": 9000, "speakers": 100}]


@needs_emogator
def test_emogator_all_three_folders():
    """data.md: emogator 9,000 clips / 100 speakers, emogator_extra 9,000 / 100, emogator_more
    (Opus) 8,730 / 97: 297 speakers, 26,730 clips, 30 classes, every speaker in one folder only."""
    roots = datasets.default_emogator_roots()
    if len(roots) < 3:
        pytest.skip("../shared/data/emogator_extra or emogator_more not present")
    ds = datasets.read_emogator()
    assert len(ds) == 26730 and len(set(ds.speakers)) == 297 and len(ds.labels) == 30
    assert [s["folder"] for s in ds.sources] == ["emogator", "emogator_extra", "emogator_more"]
    assert [s["speakers"] for s in ds.sources] == [100, 100, 97]
    assert all(it.path.exists() for it in ds.items[::997])
    assert any(it.path.suffix == ".opus" for it in ds.items)
    assert "297 speakers" in ds.description


def test_emogator_file_names_include_opus(tmp_path):
    """A folder without labels.csv is read from its file names, mp3 and Opus alike."""
    (tmp_path / "000001-02-1.mp3").write_bytes(b"")
    (tmp_path / "000002-30-3.opus").write_bytes(b"")
    (tmp_path / "notes.opus").write_bytes(b"")
    ds = datasets.read_emogator(tmp_path)
    assert sorted((it.speaker, it.label) for it in ds.items) == [("000001", "Amusement"), ("000002", "Triumph")]


def test_emogator_speaker_in_two_folders_refused(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "labels.csv").write_text("path,label,speaker\nx.mp3,Awe,000001\n")
    with pytest.raises(ValueError, match="000001"):
        datasets.read_emogator(tmp_path / "a", tmp_path / "b")
