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
def test_emogator_both_folders():
    roots = datasets.default_emogator_roots()
    if len(roots) < 2:
        pytest.skip("../shared/data/emogator_extra not present")
    ds = datasets.read_emogator()
    assert len(ds) == 18000 and len(set(ds.speakers)) == 200 and len(ds.labels) == 30
    assert [s["folder"] for s in ds.sources] == ["emogator", "emogator_extra"]
    assert all(it.path.exists() for it in ds.items[::997])
    assert "200 speakers" in ds.description


def test_emogator_speaker_in_two_folders_refused(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "labels.csv").write_text("path,label,speaker\nx.mp3,Awe,000001\n")
    with pytest.raises(ValueError, match="000001"):
        datasets.read_emogator(tmp_path / "a", tmp_path / "b")
