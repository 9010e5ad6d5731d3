"""Convert an official Audio-MAMBA training checkpoint into weights-only safetensors.

    python -m nver_demo.convert_audio_mamba checkpoint-<epoch>.pth audio-mamba-<size>.safetensors

The official files (``ssam_{size}_200_16x4_4x256_fp16_r1/checkpoints/checkpoint-<epoch>.pth``)
are full training checkpoints ``{'model', 'optimizer', 'epoch', 'scaler', 'args'}`` whose
``args`` is a pickled argparse.Namespace, so reading them means unpickling, which can run
arbitrary code. This module is the only place in the project that does it; everything else
reads the safetensors file it writes (encoder weights, official names, size in the metadata).
"""

from __future__ import annotations

import argparse
import logging
import pickle
import sys
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from .models.audio_mamba import config_for, sincos_pos_embed
from .models.audio_mamba_weights import encoder_state, save_safetensors, size_of

log = logging.getLogger(__name__)

TRUST_WARNING = (
    "Reading %s with pickle (torch.load(weights_only=False)): a pickle can execute arbitrary code. "
    "Only convert checkpoints you trust, such as the official release."
)


class _Unresolved(dict):
    """Stand-in for a pickled class whose module is not installed (e.g. ml_collections.ConfigDict
    inside ``args``); it swallows whatever state the pickle restores. Only ``ckpt['model']`` is used."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def __setstate__(self, state: Any) -> None:
        self["__state__"] = state


class _LenientUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError):
            log.info(
                "Class %s.%s is not installed; reading it as a placeholder",
                module,
                name,
            )
            return type(name, (_Unresolved,), {"__module__": f"unresolved.{module}"})


_lenient_pickle = types.SimpleNamespace(
    Unpickler=_LenientUnpickler, load=pickle.load, __name__="lenient_pickle"
)


def read_official(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Unpickle an official checkpoint; return the encoder state dict and descriptive metadata."""
    log.warning(TRUST_WARNING, path)
    ckpt = torch.load(str(path), map_location="cpu", weights_only=False, pickle_module=_lenient_pickle)
    model = ckpt.get("model", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(model, dict):
        raise TypeError(f"{path} holds no 'model' state dict (found {type(ckpt).__name__})")
    keys = [k.removeprefix("module.") for k in model]
    dropped = sorted(k for k in keys if k == "mask_token" or k.startswith("pred."))
    log.info("Dropping %d pretraining-only entries: %s", len(dropped), ", ".join(dropped))
    meta = {"source_file": Path(path).name}
    if isinstance(ckpt, dict) and "epoch" in ckpt:
        meta["epoch"] = str(ckpt["epoch"])
    return encoder_state(model), meta


def convert(src: str | Path, dst: str | Path) -> str:
    """Official ``.pth`` -> ``.safetensors`` verified to load strictly; returns the size."""
    state, meta = read_official(src)
    size = size_of(state)
    ref = sincos_pos_embed(config_for(size).dim, config_for(size).grid)
    if "pos_embed" in state and not torch.allclose(state["pos_embed"], ref, atol=1e-5):
        log.warning(
            "pos_embed in the checkpoint differs from the sin-cos table this port computes; keeping the file's"
        )
    save_safetensors(state, dst, metadata=meta)
    n_params = sum(v.numel() for k, v in state.items() if k != "pos_embed")
    log.info(
        "Wrote %s: Audio-MAMBA %s, %d tensors, %.2fM parameters (+ pos_embed)",
        dst,
        size,
        len(state),
        n_params / 1e6,
    )
    return size


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m nver_demo.convert_audio_mamba",
        description=(
            "Turn an official Audio-MAMBA checkpoint (checkpoint-<epoch>.pth from the Google Drive folder "
            "linked in github.com/SarthakYadav/audio-mamba-official) into weights-only safetensors that "
            "nver_demo loads without unpickling. Keeps ckpt['model'], drops pred.* and mask_token, records "
            "the size (tiny/small/base) in the file's metadata and checks the result loads with strict=True."
        ),
        epilog=(
            "WARNING: the input is read with pickle, which can run code; convert only files you trust. "
            "Then point NVER_AUDIO_MAMBA_DIR at the folder holding audio-mamba-<size>.safetensors."
        ),
    )
    parser.add_argument("checkpoint", type=Path, help="official checkpoint-<epoch>.pth")
    parser.add_argument(
        "output",
        type=Path,
        help="output file, e.g. weights/audio-mamba-base.safetensors",
    )
    parser.add_argument("--force", action="store_true", help="overwrite the output file if it exists")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if not args.checkpoint.is_file():
        parser.error(f"no such checkpoint file: {args.checkpoint}")
    if args.output.exists() and not args.force:
        parser.error(f"{args.output} exists; pass --force to overwrite it")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    try:
        size = convert(args.checkpoint, args.output)
    except (ValueError, TypeError) as e:
        log.error("%s", e)
        return 1
    expected = f"audio-mamba-{size}.safetensors"
    if args.output.name != expected:
        log.warning(
            "The loaders look for the name %s; rename the file or point NVER_AUDIO_MAMBA_%s at it.",
            expected,
            size.upper(),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
