"""Whether ``torch.compile`` works on this machine, asked in a child process.

Inductor compiles C++ kernels with the machine's compiler and runs them with its OpenMP
runtime. Where that breaks, it does not raise: on one CI machine a compiled conv block aborted
the whole process (SIGABRT inside the generated kernel), taking every other test with it. So
the opt-in ``--compile`` training speed-up first runs this module in a child process: it
compiles a small :class:`~nver_demo.heads.blocks.ConvBlock`, runs one training-mode forward
pass and compares it with eager mode. Only if the child exits cleanly with matching numbers
does the parent compile; otherwise training stays eager and says why.

``python -m nver_demo.heads.compile_probe`` prints the child's JSON verdict.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys

#: Largest |compiled - eager| accepted (float32 conv + batch norm on a 64-value input).
TOLERANCE = 1e-4
#: Seconds the child may take (the first compile writes C++ and builds it: ~20 s on 2 cores).
TIMEOUT_S = 300


def _measure() -> dict:
    """Compile a small conv block and compare one training-mode pass with eager mode."""
    import torch

    from nver_demo.heads.blocks import ConvBlock

    torch.manual_seed(0)
    block = ConvBlock(64, 4).train()
    keys = sorted(block.state_dict())
    x = torch.randn(8, 64)
    torch.manual_seed(1)
    eager = block(x).detach()
    block.compile()
    torch.manual_seed(1)
    compiled = block(x).detach()
    return {
        "max_abs_diff": float((compiled - eager).abs().max()),
        "state_dict_unchanged": sorted(block.state_dict()) == keys,
    }


@functools.lru_cache(maxsize=1)
def compile_works() -> tuple[bool, str]:
    """(True, "") when a child process compiled a conv block and matched eager mode; else
    (False, a sentence saying what went wrong). Asked once per process."""
    try:
        child = subprocess.run(
            [sys.executable, "-m", __name__], capture_output=True, text=True, timeout=TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        return False, f"torch.compile took over {TIMEOUT_S} s on a small conv block"
    tail = (child.stderr or "").strip().splitlines()[-3:]
    if child.returncode < 0:
        return False, f"torch.compile killed the process (signal {-child.returncode}): {' | '.join(tail)}"
    if child.returncode != 0:
        return False, f"torch.compile failed (exit {child.returncode}): {' | '.join(tail)}"
    try:
        verdict = json.loads(child.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return False, f"torch.compile's probe printed no verdict: {child.stdout[-200:]!r}"
    if not verdict["state_dict_unchanged"]:
        return False, "torch.compile changed the conv block's state dict"
    if not verdict["max_abs_diff"] <= TOLERANCE:
        return False, f"torch.compile's numbers differ from eager mode by {verdict['max_abs_diff']:.2g}"
    return True, ""


if __name__ == "__main__":
    print(json.dumps(_measure()))
