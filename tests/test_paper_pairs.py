"""paper-pairs: pair selection, shards and merge, weights from a stand-in of the official Drive
release, and the whole command from random-init weights to a published folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from nver_demo import paper
from nver_demo.training import datasets, paper_pairs, weights
from tests.conftest import tone
from tests.test_convert_audio_mamba import fake_official_checkpoint

RELEASE = "ssam_{size}_200_16x4_4x256_fp16_r1/checkpoints/checkpoint-{epoch}.pth"


# --- which pairs --------------------------------------------------------------------------------


def test_table_ii_has_twelve_mafm_and_six_aafm_pairs() -> None:
    pairs = paper_pairs.select_pairs(["all"])
    assert len(pairs) == 18 and len(set(pairs)) == 18
    assert len(paper_pairs.select_pairs(["mafm+aafm"])) == 12
    assert len(paper_pairs.select_pairs(["aafm+aafm"])) == 6
    for p in pairs:  # every pair has both rows of Table II
        assert paper.lookup("reno", p).table == "II" and paper.lookup("concat", p).table == "II"


def test_pairs_by_name_in_either_order_and_unknown_ones_listed() -> None:
    assert paper_pairs.select_pairs(["wavlm-base+audio-mamba-base"]) == [("audio-mamba-base", "wavlm-base")]
    with pytest.raises(ValueError, match=r"not a pair of the paper's Table II.*audio-mamba-tiny"):
        paper_pairs.select_pairs(["ge2e+wavlm-base"])


def test_plan_trains_a_cnn_per_backbone_then_both_heads_per_pair() -> None:
    plan = paper_pairs.Plan((("audio-mamba-tiny", "wavlm-base"), ("hubert-base", "wavlm-base")))
    assert plan.backbones == ["audio-mamba-tiny", "wavlm-base", "hubert-base"]
    names = [paper_pairs.model_name(h, b) for h, b in plan.models()]
    assert names[:3] == ["cnn-audio-mamba-tiny", "cnn-wavlm-base", "cnn-hubert-base"]
    assert names[3:] == [
        "concat-audio-mamba-tiny+wavlm-base", "reno-audio-mamba-tiny+wavlm-base",
        "concat-hubert-base+wavlm-base", "reno-hubert-base+wavlm-base",
    ]  # fmt: skip


@pytest.mark.parametrize("bad", ["3", "4/4", "-1/2", "a/b", "1/0"])
def test_bad_shards_are_refused(bad) -> None:
    with pytest.raises(ValueError, match="i/n"):
        paper_pairs.parse_shard(bad)


# --- weights: the official Drive release, through a local stand-in --------------------------------


def _release(root: Path, size: str = "tiny", epochs=(9, 99)) -> Path:
    """A folder laid out like the official Drive release, holding official-format checkpoints."""
    for e in epochs:
        p = root / RELEASE.format(size=size, epoch=e)
        p.parent.mkdir(parents=True, exist_ok=True)
        fake_official_checkpoint(p, size, seed=e)
    return root


def test_pick_official_takes_run_1_and_the_highest_epoch_numerically() -> None:
    paths = [RELEASE.format(size="base", epoch=e) for e in (9, 10, 100)] + [
        RELEASE.format(size="tiny", epoch=500),
        "ssam_base_200_16x4_4x256_fp16_r2/checkpoints/checkpoint-999.pth",
    ]
    assert paper_pairs.weights.pick_official(paths, "base").endswith("checkpoint-100.pth")
    with pytest.raises(FileNotFoundError, match="Audio-MAMBA small"):
        weights.pick_official(paths, "small")


def test_audio_mamba_from_a_local_copy_of_the_release(tmp_path) -> None:
    import torch

    from nver_demo.models.audio_mamba_weights import load_safetensors

    src = _release(tmp_path / "release")
    out = weights.fetch_audio_mamba("tiny", tmp_path / "w", source=str(src))
    assert out == tmp_path / "w" / "audio-mamba-tiny.safetensors"
    expected = fake_official_checkpoint(tmp_path / "again.pth", "tiny", seed=99)  # epoch 99's weights
    got = load_safetensors(out, "tiny").state_dict()
    assert all(torch.equal(got[k], expected[k]) for k in expected)
    stamp = out.stat().st_mtime_ns
    assert weights.fetch_audio_mamba("tiny", tmp_path / "w", source=str(src)) == out
    assert out.stat().st_mtime_ns == stamp  # cached: not converted again


def test_audio_mamba_through_gdown_downloads_only_the_file_it_needs(tmp_path, monkeypatch) -> None:
    """gdown lists the Drive folder, then fetches one file; here both calls serve the stand-in."""
    import shutil

    import gdown
    from gdown.download import GoogleDriveFileToDownload

    src = _release(tmp_path / "release", "tiny", epochs=(9, 99))
    _release(src, "small", epochs=(5,))
    ids = {f"id{i}": p for i, p in enumerate(sorted(src.rglob("*.pth")))}
    downloaded = []

    def download_folder(url=None, output=None, skip_download=False, **kw):
        assert url == weights.AUDIO_MAMBA_DRIVE and skip_download
        return [GoogleDriveFileToDownload(i, str(p.relative_to(src)), os.path.join(output, p.name))
                for i, p in ids.items()]  # fmt: skip

    def download(id=None, output=None, resume=False, **kw):
        assert resume
        downloaded.append(ids[id].name)
        shutil.copy(ids[id], output)
        return output

    monkeypatch.setattr(gdown, "download_folder", download_folder)
    monkeypatch.setattr(gdown, "download", download)
    out = weights.fetch_audio_mamba("tiny", tmp_path / "w")
    assert out.is_file() and downloaded == ["checkpoint-99.pth"]
    assert (tmp_path / "w" / "drive" / RELEASE.format(size="tiny", epoch=99)).is_file()


def test_a_drive_failure_says_how_to_download_by_hand(tmp_path, monkeypatch) -> None:
    import gdown

    from nver_demo.backbones import WeightsUnavailable

    def offline(**kw):
        raise ConnectionError("no route to drive.google.com")

    monkeypatch.setattr(gdown, "download_folder", offline)
    with pytest.raises(WeightsUnavailable, match="--audio-mamba-source"):
        weights.fetch_audio_mamba("base", tmp_path / "w")


def test_random_and_pretrained_weights_never_share_a_work_folder(tmp_path) -> None:
    weights.fetch(["audio-mamba-tiny"], tmp_path, random_init=True)
    with pytest.raises(ValueError, match="random-init weights"):
        weights.fetch(["audio-mamba-tiny"], tmp_path, random_init=False)


# --- the whole command --------------------------------------------------------------------------

#: Small WavLM / HuBERT (the architecture at 1 layer, narrow convs) so CI stays quick; the
#: embedding width stays the registry's 768. A by-hand run uses the full-size models (README).
SMALL_HF = {"num_hidden_layers": 1, "intermediate_size": 256, "conv_dim": (64,) * 7,
            "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 16}  # fmt: skip
PAIR = "reno-audio-mamba-tiny+wavlm-base"


def _emogator_like(root: Path, speakers: int = 6) -> Path:
    """Synthetic clips named like EmoGator files (no labels.csv): 3 categories told apart by pitch."""
    root.mkdir(parents=True)
    for s in range(speakers):
        for cat, f in ((1, 150.0), (2, 400.0), (3, 900.0)):
            for i in (1, 2):
                x = tone(0.8, 16000, f * (1 + 0.03 * s + 0.02 * i), seed=s * 10 + i)
                sf.write(root / f"{s:06d}-{cat:02d}-{i}.mp3", x, 16000, format="MP3")
    return root


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> dict:
    from nver_demo.cli import main

    tmp = tmp_path_factory.mktemp("pairs")
    data, work, out = _emogator_like(tmp / "emogator"), tmp / "work", tmp / "published"
    weights.fetch(
        ["audio-mamba-tiny", "wavlm-base"], work / "weights", random_init=True, hf_overrides=SMALL_HF
    )
    args = ["paper-pairs", "--work", str(work), "--random-init", "--data", str(data), "--speakers", "5",
            "--pairs", "audio-mamba-tiny+wavlm-base", "--folds", "3", "--epochs", "3"]  # fmt: skip
    # Extraction fanned out in two shards (as two array tasks would), merged, trained, published.
    for i in (0, 1):
        assert main([*args, "--stage", "extract", "--shard", f"{i}/2"]) == 0
    assert main([*args, "--stage", "merge", "--shards", "2"]) == 0
    assert main([*args, "--stage", "train"]) == 0
    assert main([*args, "--stage", "publish", "--publish-dir", str(out)]) == 0
    return {"work": work, "out": out, "args": args, "data": data}


def test_merge_refuses_missing_shards(published, tmp_path) -> None:
    ds = paper_pairs.select_speakers(datasets.read_emogator(published["data"]), 5)
    with pytest.raises(ValueError, match=r"shards \[0, 1, 2\] of 3 are missing"):
        paper_pairs.merge(ds, ["wavlm-base"], paper_pairs.Work(published["work"]), 3)


def test_published_folder_holds_the_checkpoints_and_a_card(published) -> None:
    out = published["out"]
    names = sorted(p.parent.name for p in out.glob("*/config.json"))
    assert names == sorted(
        ["cnn-audio-mamba-tiny", "cnn-wavlm-base", "concat-audio-mamba-tiny+wavlm-base", PAIR]
    )
    meta = json.loads((out / PAIR / "config.json").read_text())
    assert meta["training"]["weights_origin"] == "random-init"
    assert meta["training"]["n_clips"] == 5 * 3 * 2 and len(meta["metrics"]["cv"]["folds"]) == 3
    assert set(meta["training"]["backbone_weights"]) == {"audio-mamba-tiny", "wavlm-base"}
    card = (out / "README.md").read_text()
    assert "Pipeline test, not a model" in card and f"`{PAIR}`" in card
    row = paper.lookup("reno", ["audio-mamba-tiny", "wavlm-base"])
    assert "reported by the papers, not measured here" in card
    assert f"{row.scores['ASVP-ESD'][0]:.2f} / {row.scores['ASVP-ESD'][1]:.2f}" in card


def test_train_stage_resumes_without_retraining(published) -> None:
    from nver_demo.cli import main

    cfg = published["work"] / "checkpoints" / PAIR / "config.json"
    stamp = cfg.stat().st_mtime_ns
    assert main([*published["args"], "--stage", "train"]) == 0
    assert cfg.stat().st_mtime_ns == stamp


@pytest.fixture
def app_on_published(published, monkeypatch):
    """The app as `NVER_CHECKPOINT_DIRS=<published> python app.py` starts it, with the backbone
    loaders pointed at the run's weights (what the command prints)."""
    from gradio_client import Client

    import app
    from nver_demo import predict
    from nver_demo.app import catalog, service

    monkeypatch.setenv("NVER_CHECKPOINT_DIRS", str(published["out"]))
    for k, v in weights.env_for(published["work"] / "weights").items():
        monkeypatch.setenv(k, v)
    predict._cached_backbone.cache_clear()
    infos = catalog.models(hub=False)
    demo = app.build_demo(infos)
    demo.launch(prevent_thread_lock=True, quiet=True, **app.LAUNCH)
    try:
        yield infos, Client(demo.local_url, verbose=False, download_files=False)
    finally:
        demo.close()
        # Backbones built from this run's weights must not leak into other tests' processes' caches.
        predict._cached_backbone.cache_clear()
        service.get_predictor.cache_clear()


def test_the_app_lists_and_runs_the_published_pairs(app_on_published) -> None:
    from gradio_client import handle_file

    from nver_demo import checkpoint
    from nver_demo.app import catalog
    from tests.app_server import REAL_CLIP

    infos, client = app_on_published
    by_name = {m.name: m for m in infos}
    [(label, _)] = checkpoint.local_dirs()
    pair = f"{label}/{PAIR}"  # a local folder's checkpoints are listed as <folder>/<name>
    assert by_name[pair].group == f"Local ({label}) · papers' models · needs Hub weights"
    assert by_name[pair].random_backbones and "random-init backbones" in by_name[pair].choice_label()
    groups = [m.group for m in infos]
    assert groups.index(by_name[pair].group) > groups.index(catalog.OFFLINE)  # after the shipped models
    api = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    choices = api["/analyze"]["parameters"][1]["type"]["enum"]
    assert pair in choices and checkpoint.DEFAULT in choices

    *_, details = client.predict(handle_file(str(REAL_CLIP)), pair, "PCA", "fused", api_name="/analyze")
    assert details["model"].endswith(PAIR) and sum(details["probs"].values()) == pytest.approx(1, abs=1e-4)
    assert {"embed audio-mamba-tiny", "embed wavlm-base"} <= set(details["timings_s"])

    _, table, _, details = client.predict(
        handle_file(str(REAL_CLIP)), [checkpoint.DEFAULT, pair], api_name="/compare"
    )
    names = {n.split("/")[-1]: n for n in details["models"]}  # a checkpoint reports its own name
    assert set(names) == {checkpoint.DEFAULT, PAIR}
    got = details["models"][names[PAIR]]
    assert len(table["data"]) == 2 and np.isfinite(got["probs"][got["label"]])


def test_publish_to_the_hub_uploads_the_folders_the_card_and_asked_for_weights(
    published, monkeypatch
) -> None:
    """The Hub path (no network here): the repo is created, and one upload holds what the app lists."""
    import huggingface_hub

    from nver_demo.training import publish

    calls = {}

    class FakeApi:
        def __init__(self, token=None) -> None:
            calls["token"] = token

        def create_repo(self, repo_id, repo_type, private, exist_ok):
            calls["create"] = (repo_id, repo_type, private, exist_ok)

        def upload_folder(self, folder_path, repo_id, repo_type, commit_message):
            root = Path(folder_path)
            calls["files"] = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
            calls["card"] = (root / "README.md").read_text()

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    folders = sorted(p.parent for p in (published["work"] / "checkpoints").glob("*/config.json"))
    extra = [published["work"] / "weights" / "audio-mamba-tiny.safetensors"]
    url = publish.publish_hub(folders, "me/pairs", private=True, extra_files=extra)
    assert url == "https://huggingface.co/me/pairs" and calls["create"] == ("me/pairs", "model", True, True)
    assert "audio-mamba-tiny.safetensors" in calls["files"] and "README.md" in calls["files"]
    assert (
        f"{PAIR}/model.safetensors" in calls["files"] and f"{PAIR}/references.safetensors" in calls["files"]
    )
    assert "NVER_CHECKPOINT_REPO=me/pairs" in calls["card"]
