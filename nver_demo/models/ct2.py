"""Read CTranslate2 ``model.bin`` files (the faster-whisper format) into named numpy arrays,
and map a Whisper model's encoder onto :class:`~nver_demo.models.whisper_encoder.WhisperEncoder`.

Format (CTranslate2 ``models/model.cc``, binary version >= 4): uint32 version, string spec
name, uint32 spec revision, uint32 variable count, then per variable: string name, uint8 rank,
uint32 dims[rank], uint8 dtype, uint32 byte count, raw little-endian data; then uint32 alias
count and (alias, target) string pairs. Strings are uint16 length (with the NUL) + bytes.
"""

from __future__ import annotations

import struct

import numpy as np
import torch

_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16, 5: "bfloat16"}


class _Reader:
    def __init__(self, buf: bytes | memoryview) -> None:
        self.buf, self.pos = memoryview(buf), 0

    def unpack(self, fmt: str):
        vals = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return vals[0] if len(vals) == 1 else vals

    def string(self) -> str:
        n = self.unpack("H")
        s = bytes(self.buf[self.pos : self.pos + n - 1]).decode("utf-8")
        self.pos += n
        return s

    def array(self, dtype_code: int, nbytes: int, shape: tuple[int, ...]) -> np.ndarray:
        raw = self.buf[self.pos : self.pos + nbytes]
        self.pos += nbytes
        if dtype_code not in _DTYPES:
            raise ValueError(f"Unknown CTranslate2 dtype code {dtype_code}")
        if _DTYPES[dtype_code] == "bfloat16":  # widen to float32: bf16 is the top half of fp32
            a = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(raw, _DTYPES[dtype_code])
        return a.reshape(shape)


def read_model_bin(buf: bytes | memoryview) -> tuple[str, dict[str, np.ndarray]]:
    """Parse a whole ``model.bin`` -> (spec name, {variable name: array}). Aliases resolved."""
    r = _Reader(buf)
    version = r.unpack("I")
    if version < 4:
        raise ValueError(f"CTranslate2 binary version {version} is too old (need >= 4)")
    spec = r.string()
    r.unpack("I")  # spec revision
    out: dict[str, np.ndarray] = {}
    for _ in range(r.unpack("I")):
        name = r.string()
        rank = r.unpack("B")
        shape = tuple(r.unpack("I") for _ in range(rank))
        dtype, nbytes = r.unpack("B"), r.unpack("I")
        out[name] = r.array(dtype, nbytes, shape)
    if r.pos < len(r.buf):
        for _ in range(r.unpack("I")):
            alias, target = r.string(), r.string()
            out[alias] = out[target]
    return spec, out


def _weight(v: dict[str, np.ndarray], name: str) -> torch.Tensor:
    """A float32 tensor; int8 weights are de-quantised with their per-row ``_scale``."""
    a = v[name]
    if a.dtype == np.int8:
        scale = v[name + "_scale"].astype(np.float32)
        a = a.astype(np.float32) / scale.reshape(-1, *([1] * (a.ndim - 1)))
    return torch.from_numpy(np.array(a, dtype=np.float32))


def whisper_encoder_state_dict(variables: dict[str, np.ndarray]) -> tuple[dict[str, torch.Tensor], dict]:
    """Map CTranslate2 Whisper ``encoder/*`` variables to WhisperEncoder parameter names.

    Returns (state dict, inferred sizes {"d_model", "layers", "heads", "n_mels"}).
    """
    v = variables
    layers = sum(1 for k in v if k.startswith("encoder/layer_") and k.endswith("/ffn/linear_0/weight"))
    if layers == 0:
        raise ValueError("No Whisper encoder layers found in this CTranslate2 model")
    d = v["encoder/conv1/weight"].shape[0]
    sd: dict[str, torch.Tensor] = {}
    for i in ("1", "2"):
        sd[f"conv{i}.weight"] = _weight(v, f"encoder/conv{i}/weight")
        sd[f"conv{i}.bias"] = _weight(v, f"encoder/conv{i}/bias")
    sd["embed_positions.weight"] = _weight(v, "encoder/position_encodings/encodings")
    for i in range(layers):
        src, dst = f"encoder/layer_{i}/", f"layers.{i}."
        qkv_w = _weight(v, src + "self_attention/linear_0/weight")
        qkv_b = _weight(v, src + "self_attention/linear_0/bias")
        for j, p in enumerate(("q", "k", "v")):
            sd[dst + f"self_attn.{p}_proj.weight"] = qkv_w[j * d : (j + 1) * d]
            if p != "k":  # CTranslate2 stores zeros for the (absent) key bias
                sd[dst + f"self_attn.{p}_proj.bias"] = qkv_b[j * d : (j + 1) * d]
        sd[dst + "self_attn.out_proj.weight"] = _weight(v, src + "self_attention/linear_1/weight")
        sd[dst + "self_attn.out_proj.bias"] = _weight(v, src + "self_attention/linear_1/bias")
        for norm, name in (
            ("self_attention/layer_norm", "self_attn_layer_norm"),
            ("ffn/layer_norm", "final_layer_norm"),
        ):
            sd[dst + f"{name}.weight"] = _weight(v, src + f"{norm}/gamma")
            sd[dst + f"{name}.bias"] = _weight(v, src + f"{norm}/beta")
        for k, name in (("0", "fc1"), ("1", "fc2")):
            sd[dst + f"{name}.weight"] = _weight(v, src + f"ffn/linear_{k}/weight")
            sd[dst + f"{name}.bias"] = _weight(v, src + f"ffn/linear_{k}/bias")
    sd["layer_norm.weight"] = _weight(v, "encoder/layer_norm/gamma")
    sd["layer_norm.bias"] = _weight(v, "encoder/layer_norm/beta")
    heads = (
        int(np.asarray(v["encoder/num_heads"]).reshape(-1)[0])
        if "encoder/num_heads" in v
        else max(1, d // 64)
    )
    sizes = {"d_model": d, "layers": layers, "heads": heads, "n_mels": v["encoder/conv1/weight"].shape[1]}
    return sd, sizes
