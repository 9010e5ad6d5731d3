"""The CLI's commands run in-process on what they would see for real: ``extract`` (what lands in
the embedding cache), ``evaluate`` (the printed line and the JSON report), ``predict --top`` and
``--json``, ``timeline`` (its bursts, ``--json`` and ``--csv``), and the exit status of a bad
argument. The model is an LDA checkpoint built in milliseconds (tests/quick_checkpoints.py)."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from nver_demo import calibration, checkpoint, cli
from nver_demo.predict import Predictor, get_backbone
from nver_demo.training import cache
from tests import quick_checkpoints as qc
from tests.app_server import burst

#: One bar line of ``predict``: "   97.3%  #######...  label".
BAR = re.compile(r"^  +(\d+\.\d)%  [# ]{40}  (\S.*)$")


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    rc = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """A CSV dataset: every label of every speaker (30 tones), one near-silent clip and one text
    file named .wav."""
    root = tmp_path_factory.mktemp("cli_ds")
    rows = ["path,label,speaker"]
    for spk in range(qc.SPEAKERS):
        for lab in qc.LABELS:
            sf.write(root / f"s{spk}_{lab}.wav", qc.clip(lab, spk), qc.SR)
            rows.append(f"s{spk}_{lab}.wav,{lab},spk{spk}")
    x = qc.clip("mid", 0)
    quiet = x * 10 ** (-55 / 20) / np.sqrt(np.mean(x**2))  # -55 dBFS: near-silent, not silent
    sf.write(root / "quiet.wav", quiet.astype(np.float32), qc.SR, subtype="FLOAT")
    (root / "notes.wav").write_text("not a sound\n" * 20)
    rows += ["quiet.wav,mid,spk0", "notes.wav,high,spk1"]
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root / "labels.csv"


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """The LDA checkpoint with a calibration block (temperature and a reliability table)."""
    bins = [{"lo": i / 10, "hi": (i + 1) / 10, "count": 50, "accuracy": 0.5} for i in range(10)]
    meta = {"calibration": {"temperature": 2.0, "bins_after": bins}}
    return qc.save(tmp_path_factory.mktemp("cli_ckpt") / "lda-quick", meta=meta)


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli_clip") / "higher.wav"
    sf.write(path, qc.clip("higher", 2, seconds=0.8), qc.SR)
    return path


# --- extract, evaluate -------------------------------------------------------------------------


def test_extract_caches_every_decodable_clip_with_the_backbones_embedding(dataset, tmp_path, capsys):
    store = tmp_path / "cache"
    rc, out, _ = _run(["extract", "--dataset", "csv", "--data", dataset, "--cache", store,
                       "--backbones", "logmel-stats", "egemaps"], capsys)  # fmt: skip
    assert rc == 0
    lines = out.splitlines()
    for name in ("logmel-stats", "egemaps"):  # one summary line per backbone, in the order asked
        [line] = [i for i, s in enumerate(lines) if s.startswith(f"{name}: ")]
        assert re.match(
            rf"{name}: 32 clips, 1 undecodable, 1 near-silent -> {re.escape(str(store))}/", lines[line]
        )
    assert [s for s in lines if "undecodable:" in s] == [
        f"  undecodable: {dataset.parent / 'notes.wav'}: {s.split(': ', 2)[2]}"
        for s in lines
        if "undecodable:" in s
    ] and sum("undecodable: " in s and "notes.wav" in s for s in lines) == 2
    # What is cached under the file's content hash is the backbone's embedding of that file.
    tag = next(s for s in lines if s.startswith("logmel-stats: ")).rsplit("/", 1)[1]
    c = cache.EmbeddingCache(store)
    for name in ("s0_low.wav", "s5_highest.wav", "quiet.wav"):
        wave, sr = sf.read(dataset.parent / name, dtype="float32")
        got = c.get(tag, cache.file_key(dataset.parent / name))
        np.testing.assert_allclose(got, get_backbone("logmel-stats").embed(wave, sr), rtol=1e-5, atol=1e-6)
    assert len(list((store / tag).glob("*.npy"))) == 31  # 30 tones + the near-silent one, not the text


def test_evaluate_prints_and_writes_the_cross_validation(dataset, tmp_path, capsys):
    report = tmp_path / "out" / "results.json"
    rc, out, _ = _run(["evaluate", "--dataset", "csv", "--data", dataset, "--cache", tmp_path / "cache",
                       "--head", "lda", "--backbones", "logmel-stats", "--folds", "3",
                       "--out", report], capsys)  # fmt: skip
    assert rc == 0
    r = json.loads(report.read_text())
    assert {"head", "backbones", "data", "n_clips", "excluded", "labels", "config", "folds",
            "accuracy_mean", "accuracy_std", "macro_f1_mean", "confusion"} <= set(r)  # fmt: skip
    assert r["head"] == "lda" and r["backbones"] == ["logmel-stats"]
    assert r["n_clips"] == 30 and r["excluded"] == {"undecodable": 1, "near-silent": 1}
    assert sorted(r["labels"]) == sorted(qc.LABELS) and len(r["folds"]) == 3
    assert np.sum(r["confusion"]) == 30  # every kept clip scored once, out of fold
    assert r["accuracy_mean"] > 80  # five pitches, chance is 20 %
    assert r["accuracy_mean"] == pytest.approx(np.mean([f["accuracy"] for f in r["folds"]]), abs=0.01)
    line = (f"lda on logmel-stats: accuracy {r['accuracy_mean']:.2f} ± {r['accuracy_std']:.2f}  "
            f"macro-F1 {r['macro_f1_mean']:.2f} ± {r['macro_f1_std']:.2f}")  # fmt: skip
    assert out.splitlines() == [line, f"wrote {report}"]


# --- predict: --top, --json --------------------------------------------------------------------


@pytest.mark.parametrize("top", [1, 2, 4])
def test_predict_top_prints_exactly_that_many_classes_most_likely_first(model, clip_file, capsys, top):
    rc, out, _ = _run(["predict", "--model", model, "--top", str(top), clip_file], capsys)
    assert rc == 0
    bars = [m.groups() for m in map(BAR.match, out.splitlines()) if m]
    assert len(bars) == top
    expected = Predictor.load(model).predict_file(clip_file).top(top)
    assert [lab for _, lab in bars] == [lab for lab, _ in expected]
    assert [float(p) for p, _ in bars] == pytest.approx([p * 100 for _, p in expected], abs=0.051)
    assert bars[0][1] == "higher"


def test_predict_shows_five_classes_by_default(model, clip_file, capsys):
    _, out, _ = _run(["predict", "--model", model, clip_file], capsys)
    assert out.splitlines()[0] == f"{clip_file}  (lda-quick)"
    assert len([line for line in out.splitlines() if BAR.match(line)]) == 5
    assert "of the time on speakers it never heard" in out  # the checkpoint's reliability table


def test_predict_json_is_one_record_per_file_with_the_calibrated_probabilities(model, clip_file, capsys):
    rc, out, _ = _run(["predict", "--json", "--model", model, clip_file, clip_file], capsys)
    assert rc == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 2 and records[0] == records[1]
    r = records[0]
    assert {"file", "model", "label", "probs", "family", "families", "calibrated", "reliability",
            "analysed_seconds", "warnings", "novelty", "out_of_domain", "voice"} <= set(r)  # fmt: skip
    assert r["file"] == str(clip_file) and r["model"] == "lda-quick" and r["label"] == "higher"
    assert set(r["probs"]) == set(qc.LABELS) and sum(r["probs"].values()) == pytest.approx(1.0, abs=1e-6)
    assert r["label"] == max(r["probs"], key=r["probs"].get) and r["calibrated"] is True
    assert r["analysed_seconds"] == pytest.approx([0.0, 0.8], abs=0.01) and r["warnings"] == []
    # The printed probabilities are the head's logits at the checkpoint's temperature (2.0).
    ck = checkpoint.load(model)
    wave, sr = sf.read(clip_file, dtype="float32")
    emb = get_backbone("logmel-stats").embed(wave, sr)
    import torch

    with torch.inference_mode():
        logits = ck.head(torch.from_numpy(emb[None])).logits[0].double().numpy()
    expect = calibration.softmax(logits, 2.0)
    np.testing.assert_allclose([r["probs"][lab] for lab in qc.LABELS], expect, rtol=1e-4, atol=1e-6)


# --- timeline ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> tuple[Path, list[tuple[float, float]]]:
    """Three bursts at known times in 9 s of near-silence."""
    sr = 16000
    spans = [(1.0, 2.0), (4.0, 5.0), (7.0, 7.8)]
    x = 1e-4 * np.random.default_rng(0).standard_normal(9 * sr)
    for i, (a, b) in enumerate(spans):
        b_wave = burst(b - a, sr, seed=i)
        x[int(a * sr) : int(a * sr) + len(b_wave)] += b_wave
    path = tmp_path_factory.mktemp("cli_tl") / "party.wav"
    sf.write(path, x.astype(np.float32), sr)
    return path, spans


def test_timeline_lists_every_burst_at_its_time(model, recording, capsys):
    path, spans = recording
    rc, out, _ = _run(["timeline", "--quiet", "--no-gate", "--model", model, path], capsys)
    assert rc == 0
    lines = out.splitlines()
    assert lines[0] == f"{path}: 3 vocal bursts in 9.0 s (lda-quick)"
    rows = [re.match(r"^ +([\d.]+)- +([\d.]+) s  (\S+)", s) for s in lines[1:4]]
    for m, (a, b) in zip(rows, spans):
        assert abs(float(m[1]) - a) < 0.2 and abs(float(m[2]) - b) < 0.2 and m[3] in qc.LABELS
    assert lines[4].startswith("families: ") and len(lines) == 5


def test_timeline_text_rows_say_what_the_json_says(model, recording, capsys):
    """Each printed row: times, label, family, the top three at whole percents; then the families."""
    path, _ = recording
    rc, text, _ = _run(["timeline", "--quiet", "--no-gate", "--model", model, path], capsys)
    rc_json, out, _ = _run(["timeline", "--quiet", "--no-gate", "--json", "--model", model, path], capsys)
    assert rc == rc_json == 0
    d = json.loads(out)
    lines = text.splitlines()
    for line, b in zip(lines[1:-1], d["bursts"], strict=True):
        top = ", ".join(f"{lab} {p * 100:.0f}%" for lab, p in b["top3"])
        assert line == f"  {b['start']:7.2f}-{b['end']:7.2f} s  {b['label']:<20} {'':<20} {top}"
        assert len(b["top3"]) == 3 and "[speech" not in line  # the gate was off: no speech tag
    assert lines[-1] == "families: none"  # these labels belong to no EmoGator family


def test_timeline_json_and_csv_hold_the_same_bursts(model, recording, tmp_path, capsys):
    path, spans = recording
    table = tmp_path / "party.csv"
    rc, out, err = _run(["timeline", "--quiet", "--no-gate", "--json", "--csv", table, "--model", model, path],
                        capsys)  # fmt: skip
    assert rc == 0 and f"wrote {table} (3 bursts)" in err
    d = json.loads(out)
    assert d["file"] == "party.wav" and d["model"] == "lda-quick" and d["duration_s"] == pytest.approx(9.0)
    found = [t for b in d["bursts"] for t in (b["start"], b["end"])]
    assert found == pytest.approx([t for span in spans for t in span], abs=0.2)
    assert all(b["speech_gate"] == "not checked" for b in d["bursts"])
    rows = list(csv.DictReader(io.StringIO(table.read_text())))
    assert [r["emotion"] for r in rows] == [b["label"] for b in d["bursts"]]
    assert [float(r["start_s"]) for r in rows] == pytest.approx([b["start"] for b in d["bursts"]], abs=0.01)


# --- exit status -------------------------------------------------------------------------------


def test_a_malformed_argument_exits_2_before_anything_runs(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["predict", "--top", "two", "clip.wav"])
    assert e.value.code == cli.EXIT_ERROR == 2 and "invalid int value: 'two'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--head", "concat", "--backbones", "logmel-stats"], "head 'concat' takes 2 backbone(s), got 1"),
        (["--head", "lda", "--backbones", "logmel-stats", "--set", "shrinkage"], "--set expects KEY=VALUE"),
        (["--head", "lda", "--backbones", "no-such-backbone"], "Unknown backbone 'no-such-backbone'"),
    ],
)
def test_a_bad_training_argument_is_an_error_not_an_input_failure(dataset, tmp_path, capsys, extra, says):
    """Exit status 2 with "error: <why>" (cli.py's contract): 1 means some input file failed."""
    rc, out, err = _run(
        ["evaluate", "--dataset", "csv", "--data", dataset, "--cache", tmp_path, *extra], capsys
    )
    last = err.strip().splitlines()[-1]  # after extraction's progress bar, for --set
    assert rc == cli.EXIT_ERROR and last.startswith("error: ") and says in last and out == ""
    if "--set" not in extra:
        assert not list(tmp_path.iterdir())  # refused before any clip was embedded
