import json

import numpy as np
import pytest
import torch

from nver_demo import checkpoint, heads


def test_round_trip_gives_identical_outputs(tmp_path):
    torch.manual_seed(0)
    head = heads.build("reno", (20, 12), 4, beta=0.7, lam=0.2)
    head.fit_normalization([torch.randn(30, 20) * 5, torch.randn(30, 12) + 3])
    head.eval()
    refs = checkpoint.References(
        np.array([0, 1, 3]),
        {"fused": np.random.default_rng(0).random((3, 128), dtype=np.float32)},
        ["a", "b", "c"],
    )
    checkpoint.save(tmp_path / "ck", head, "reno", ["x", "y"], list("abcd"), {"metrics": {"note": 1}}, refs)
    ck = checkpoint.load(tmp_path / "ck")
    assert ck.head.config()["beta"] == 0.7 and ck.labels == list("abcd") and ck.backbones == ["x", "y"]
    xs = [torch.randn(5, 20), torch.randn(5, 12)]
    with torch.no_grad():
        assert torch.equal(head(*xs).logits, ck.head(*xs).logits)
    assert ck.references.clips == ["a", "b", "c"]
    np.testing.assert_array_equal(ck.references.views["fused"], refs.views["fused"])


def test_checkpoint_is_self_describing_and_pickle_free(tiny_checkpoint):
    files = sorted(p.name for p in tiny_checkpoint.iterdir())
    assert files == ["config.json", "model.safetensors", "references.safetensors"]
    meta = json.loads((tiny_checkpoint / "config.json").read_text())
    for key in (
        "format",
        "head",
        "head_config",
        "backbones",
        "dims",
        "labels",
        "metrics",
        "training",
        "parameters",
    ):
        assert key in meta
    cv = meta["metrics"]["cv"]
    assert len(cv["folds"]) == 3 and "macro_f1_mean" in cv and len(cv["confusion"]) == 3
    assert meta["training"]["data"].startswith("54 clips")
    # The authors' RENO values and alignment width are recorded (method.md, RENO step 5).
    assert {k: meta["head_config"][k] for k in ("beta", "delta", "lam", "align_dim")} == {
        "beta": 2.0,
        "delta": 0.2,
        "lam": 0.4,
        "align_dim": 256,
    }


def test_references_come_from_held_out_speakers(tiny_checkpoint):
    ck = checkpoint.load(tiny_checkpoint)
    refs = ck.references
    assert set(refs.views) == {"logmel-stats", "egemaps", "fused"}
    assert refs.views["logmel-stats"].shape == (len(refs.labels), 128)
    assert 0 < len(refs.labels) <= 9


def test_resolve_errors_list_shipped(tmp_path, monkeypatch):
    monkeypatch.setenv("NVER_CHECKPOINTS", str(tmp_path))
    with pytest.raises(ValueError, match="Unknown checkpoint 'nope'"):
        checkpoint.resolve("nope")


def test_wrong_format_is_rejected(tiny_checkpoint, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(tiny_checkpoint, bad)
    meta = json.loads((bad / "config.json").read_text())
    meta["format"] = "something-else/9"
    (bad / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="format"):
        checkpoint.load(bad)


def test_umap_layouts_are_stored_for_every_view(tiny_checkpoint):
    refs = checkpoint.load(tiny_checkpoint).references
    assert set(refs.coords) == {f"umap.{v}" for v in refs.views}
    assert all(xy.shape == (len(refs.labels), 2) for xy in refs.coords.values())


def test_checkpoints_from_before_the_authors_reno_load_as_the_token_reading(tmp_path):
    # A RENO checkpoint written before issue 9: head "reno" with alpha/eps; same modules as reno_token.
    torch.manual_seed(0)
    head = heads.build("reno_token", (20, 12), 4, beta=0.5, delta=1e-8, lam=0.1).eval()
    checkpoint.save(tmp_path / "old", head, "reno_token", ["x", "y"], list("abcd"), {})
    cfg_path = tmp_path / "old" / "config.json"
    meta = json.loads(cfg_path.read_text())
    meta["head"] = "reno"
    meta["head_config"] = {"tokens": 20, "heads": 2, "alpha": 0.5, "eps": 1e-8, "lam": 0.1, "dropout": 0.3}
    cfg_path.write_text(json.dumps(meta))
    assert checkpoint.read_meta(tmp_path / "old")["head"] == "reno_token"
    ck = checkpoint.load(tmp_path / "old")
    assert ck.meta["head"] == "reno_token" and ck.head.config()["beta"] == 0.5
    xs = [torch.randn(3, 20), torch.randn(3, 12)]
    with torch.no_grad():
        assert torch.equal(ck.head(*xs).logits, head(*xs).logits)


def _with_config(src, dst, **changes):
    import shutil

    shutil.copytree(src, dst)
    meta = json.loads((dst / "config.json").read_text())
    (dst / "config.json").write_text(json.dumps({**meta, **changes}))
    return dst


def _spy_builds(monkeypatch) -> list[str]:
    """Record the default device of every head build: "meta" allocates nothing."""
    devices = []
    real = heads.build

    def build(*args, **kwargs):
        devices.append(torch.empty(0).device.type)
        return real(*args, **kwargs)

    monkeypatch.setattr(heads, "build", build)
    return devices


def test_oversized_dims_are_refused_before_any_tensor_is_built(tiny_checkpoint, tmp_path, monkeypatch):
    """The 548-byte upload of the issue: dims [4000000] grew the server by 474 MiB before failing."""
    bad = _with_config(tiny_checkpoint, tmp_path / "huge", dims=[4_000_000, 88])
    (bad / "model.safetensors").unlink()  # refused before the weights are even looked for
    devices = _spy_builds(monkeypatch)
    with pytest.raises(ValueError, match=r"dims must be a list of whole numbers from 1 to 16384"):
        checkpoint.load(bad)
    assert devices == []


def test_a_head_too_large_is_counted_on_the_meta_device_and_refused(tiny_checkpoint, tmp_path, monkeypatch):
    bad = _with_config(tiny_checkpoint, tmp_path / "wide", dims=[16384, 16384], head_config={"tokens": 5000})
    devices = _spy_builds(monkeypatch)
    with pytest.raises(ValueError, match=r"would have [\d,]+ parameters; at most 50,000,000"):
        checkpoint.load(bad)
    assert devices == ["meta"]  # counted without allocating, never built for real


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"head": "transformer"}, "unknown head 'transformer'"),
        ({"dims": [128, "88"]}, "dims must be"),
        ({"dims": [128, True]}, "dims must be"),
        ({"dims": [128]}, "takes 2 backbone"),
        ({"labels": ["a"]}, "labels must be a list of 2 to 1000"),
        ({"labels": [str(i) for i in range(1001)]}, "labels must be a list of 2 to 1000"),
        ({"labels": ["low", "low", "high"]}, "distinct"),
        ({"backbones": ["../../etc", "egemaps"]}, "backbones must be a list of backbone names"),
        ({"head_config": {"tokens": 10**9}}, "head_config 'tokens'"),
        ({"head_config": {"beta": "0.5"}}, "head_config 'beta'"),
        ({"head_config": {"nope": 1}}, "cannot build the reno head"),
        ({"format": None}, "unsupported checkpoint format"),
    ],
)
def test_malformed_configs_are_refused_with_a_reason(tiny_checkpoint, tmp_path, changes, message):
    bad = _with_config(tiny_checkpoint, tmp_path / "bad", **changes)
    with pytest.raises(ValueError, match=message):
        checkpoint.load(bad)
    with pytest.raises(ValueError, match=message):
        checkpoint.read_meta(bad)


def test_config_that_is_not_json_or_too_big_is_refused(tiny_checkpoint, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(tiny_checkpoint, bad)
    (bad / "config.json").write_bytes(b"\xff\xfe not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        checkpoint.load(bad)
    (bad / "config.json").write_bytes(b" " * (checkpoint.MAX_CONFIG_BYTES + 1))
    with pytest.raises(ValueError, match="bytes; a checkpoint config is at most"):
        checkpoint.load(bad)


def test_hub_names_cannot_leave_the_repo(monkeypatch):
    monkeypatch.setenv("NVER_CHECKPOINT_REPO", "someone/ckpts")
    for name in ("../x", "a/b", "", "x" * 200):
        with pytest.raises(ValueError, match="not a checkpoint folder name"):
            checkpoint.resolve(f"hub:{name}")


def test_shipped_checkpoints_pass_validation():
    for name in checkpoint.available():
        checkpoint.validate(checkpoint.read_meta(name), name)
