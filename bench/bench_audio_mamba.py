"""Benchmark the Audio-MAMBA port on CPU (random weights: same compute as the real ones).

    python bench/bench_audio_mamba.py                  # 1 and 2 threads, 5 s clip, 10 s memory
    python bench/bench_audio_mamba.py --threads 2 --profile

Prints, for the same 5 s clip in one run: Audio-MAMBA tiny/small/base time per clip, WavLM base
per clip (transformers, random init), our scan against a naive per-step loop (scan alone, and
the whole base model with the naive scan swapped in), transformers' MambaMixer slow path against
our mixer on identical weights, then the peak memory (RSS) of embedding a 10 s clip, measured
in a fresh process per size.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nver_demo import backbones
from nver_demo.models import audio_mamba as am
from nver_demo.models.selective_scan import selective_scan

SR = 16000
SIZES = ("tiny", "small", "base")


def test_clip(seconds: float) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * SR)) / SR
    voice = np.sin(2 * np.pi * 220 * t * (1 + 0.1 * np.sin(2 * np.pi * 3 * t)))
    return (0.3 * voice + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


@dataclass(frozen=True)
class Timing:
    wall: float  # median wall seconds
    wall_min: float
    cpu: float  # median process CPU seconds (all threads): less sensitive to other jobs

    def __str__(self) -> str:
        return f"{self.wall * 1e3:8.1f} ms (min {self.wall_min * 1e3:.1f}, cpu {self.cpu * 1e3:.1f})"


def timeit(fn: Callable[[], object], repeats: int) -> Timing:
    """Median / min wall and median CPU time over ``repeats`` runs after one warm-up run."""
    fn()
    walls, cpus = [], []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return Timing(statistics.median(walls), min(walls), statistics.median(cpus))


def naive_scan(u, delta, A, B, C, D=None, z=None, **_: object) -> torch.Tensor:
    """The textbook loop (transformers' slow path / mamba-minimal): precompute (batch, E, L, N)
    discretised tensors, then one step at a time. Same time-major interface as ours."""
    u, delta, B, C = (t.float().permute(1, 2, 0) for t in (u, delta, B, C))  # (batch, X, L)
    dA = torch.exp(A[None, :, None, :] * delta[..., None])  # (batch, E, L, N)
    dBu = delta[..., None] * B[:, None, :, :].transpose(2, 3) * u[..., None]
    h = u.new_zeros(u.shape[0], u.shape[1], A.shape[1])
    ys = []
    for t in range(u.shape[2]):
        h = dA[:, :, t] * h + dBu[:, :, t]
        ys.append(torch.matmul(h, C[:, :, t].unsqueeze(-1))[..., 0])
    y = torch.stack(ys, dim=-1)  # (batch, E, L)
    if D is not None:
        y = y + u * D[None, :, None]
    if z is not None:
        y = y * torch.nn.functional.silu(z.float().permute(1, 2, 0))
    return y.permute(2, 0, 1)


def scan_inputs(model: backbones.Backbone, wave: np.ndarray) -> tuple[torch.Tensor, ...]:
    """The real inputs of the first block's scan for this clip (all its windows)."""
    mm = model.model
    windows, _ = mm.windows(torch.from_numpy(wave))
    enc, mixer = mm.encoder, mm.encoder.blocks[0].mixer
    E, N, R = mixer.d_inner, mixer.d_state, mixer.dt_rank
    x = enc.patch_embed(windows) + enc.pos_embed[:, 1:]
    cls = (enc.cls_token + enc.pos_embed[:, :1]).expand(x.shape[0], -1, -1)
    x = enc.blocks[0].norm(torch.cat([cls, x], 1).transpose(0, 1).contiguous())
    u, z = mixer.in_proj(x).split(E, dim=-1)
    u = am.causal_depthwise_conv(u, mixer.conv1d.weight, mixer.conv1d.bias)
    dt, B, C = mixer.x_proj(u).split([R, N, N], dim=-1)
    delta = torch.nn.functional.softplus(mixer.dt_proj(dt))
    return u, delta, -torch.exp(mixer.A_log), B, C, mixer.D, z


def hf_mixer(mixer: torch.nn.Module) -> torch.nn.Module:
    from transformers import MambaConfig
    from transformers.models.mamba.modeling_mamba import MambaMixer

    cfg = MambaConfig(
        hidden_size=mixer.out_proj.out_features,
        state_size=mixer.d_state,
        intermediate_size=mixer.d_inner,
        conv_kernel=mixer.conv1d.kernel_size[0],
        time_step_rank=mixer.dt_rank,
        use_bias=False,
        use_conv_bias=True,
        num_hidden_layers=1,
    )
    ref = MambaMixer(cfg, layer_idx=0).eval()
    ref.load_state_dict(mixer.state_dict(), strict=True)
    return ref


def run_threads(threads: int, repeats: int, models: dict, wavlm: torch.nn.Module, wave: np.ndarray) -> None:
    torch.set_num_threads(threads)
    print(f"\n== {threads} thread(s), 5 s clip ({len(wave)} samples, 3 windows) ==")
    per_clip = {}
    for size, bb in models.items():
        per_clip[size] = timeit(lambda bb=bb: bb.embed(wave, SR), repeats)
        print(f"audio-mamba-{size:<5} {per_clip[size]} per clip")
    x = torch.from_numpy((wave - wave.mean()) / (wave.std() + 1e-7))[None]
    with torch.inference_mode():
        wl = timeit(lambda: wavlm(x).last_hidden_state.mean(1), repeats)
    print(f"wavlm-base        {wl} per clip")
    print(
        f"ratio base / wavlm-base: {per_clip['base'].wall / wl.wall:.2f}x wall, "
        f"{per_clip['base'].cpu / wl.cpu:.2f}x cpu  (target <= 3)"
    )

    base = models["base"]
    with torch.inference_mode():
        args = scan_inputs(base, wave)
        ours = timeit(lambda: selective_scan(*args), repeats).wall
        naive = timeit(lambda: naive_scan(*args), max(1, repeats // 2)).wall
        err = (selective_scan(*args) - naive_scan(*args)).abs().max().item()
        print(f"scan, one base layer (3 windows x 251 steps x 2304 x 24): ours {ours * 1e3:.1f} ms, "
              f"naive loop {naive * 1e3:.1f} ms -> {naive / ours:.1f}x (max abs diff {err:.1e})")  # fmt: skip
        mixer = base.model.encoder.blocks[0].mixer
        tokens = torch.randn(3, 251, mixer.out_proj.out_features)
        tokens_tm = tokens.transpose(0, 1).contiguous()  # ours takes time-major tokens
        ref = hf_mixer(mixer)
        ours_m = timeit(lambda: mixer(tokens_tm), repeats).wall
        hf_m = timeit(lambda: ref(tokens), max(1, repeats // 2)).wall
        print(f"mixer, one base layer: ours {ours_m * 1e3:.1f} ms, transformers MambaMixer slow path "
              f"{hf_m * 1e3:.1f} ms -> {hf_m / ours_m:.1f}x")  # fmt: skip
    original = am.selective_scan
    am.selective_scan = naive_scan  # whole model with the naive scan
    try:
        naive_clip = timeit(lambda: base.embed(wave, SR), 1).wall
    finally:
        am.selective_scan = original
    print(f"whole base model, naive scan: {naive_clip * 1e3:.1f} ms/clip -> ours is {naive_clip / per_clip['base'].wall:.1f}x "
          "faster (target >= 2)")  # fmt: skip


def profile_base(model: backbones.Backbone, wave: np.ndarray, threads: int) -> None:
    from torch.profiler import ProfilerActivity, profile

    torch.set_num_threads(threads)
    model.embed(wave, SR)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        model.embed(wave, SR)
    print(f"\n== torch.profiler, audio-mamba-base, 5 s clip, {threads} thread(s) ==")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


def rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def memory_child(size: str) -> None:
    """Run in a fresh process: peak RSS growth while embedding a 10 s clip."""
    torch.set_num_threads(1)
    bb = backbones.load(f"audio-mamba-{size}", random_init=True, device="cpu")
    wave = test_clip(10.0)
    before = rss_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
    bb.embed(wave, SR)
    peak = rss_kib("VmHWM")
    weights_mib = sum(p.numel() * 4 for p in bb.model.parameters()) / 2**20
    print(f"audio-mamba-{size:<5} weights {weights_mib:6.1f} MiB, peak RSS growth for a 10 s clip "
          f"(6 windows): {(peak - before) / 1024:6.1f} MiB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per measurement (median)")
    parser.add_argument("--profile", action="store_true", help="print a torch.profiler table for base")
    parser.add_argument("--memory-child", choices=SIZES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return
    from transformers import WavLMConfig, WavLMModel

    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average at start {os.getloadavg()[0]:.2f}")  # fmt: skip
    wave = test_clip(5.0)
    models = {s: backbones.load(f"audio-mamba-{s}", random_init=True, device="cpu") for s in SIZES}
    torch.manual_seed(0)
    wavlm = WavLMModel(WavLMConfig()).eval()
    for threads in (int(t) for t in args.threads.split(",")):
        run_threads(threads, args.repeats, models, wavlm, wave)
    if args.profile:
        profile_base(models["base"], wave, int(args.threads.split(",")[-1]))
    print("\n== peak memory, 10 s clip, fresh process per size, 1 thread ==")
    for size in SIZES:
        out = subprocess.run(
            [sys.executable, __file__, "--memory-child", size],
            capture_output=True,
            text=True,
            check=False,
        )
        print(out.stdout.strip() or out.stderr.strip().splitlines()[-1])
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
