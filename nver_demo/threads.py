"""Thread policy: how many CPU threads each model run may use.

Torch (OpenMP) and numpy/scipy (OpenBLAS) each default to one thread per core. When anything
else competes for those cores — a second request, another process on a shared Space — their
threads spin waiting for each other: on 2 cores with one competing process, Audio-MAMBA base
on a 5 s clip took 41x longer at 2 threads, and 1.0-1.05x at 1 thread per run. So the app and
the CLI call :func:`configure_threads` once at start-up, which gives each concurrent model run
``cores // runs`` threads (at least one) in every pool:

- torch's intra-op pool (``torch.set_num_threads``, or ``OMP_NUM_THREADS`` when torch is not
  imported yet),
- every BLAS/OpenMP pool already loaded (threadpoolctl), and, through ``OMP_NUM_THREADS``,
  ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``, the ones loaded later,
- ``OMP_WAIT_POLICY=PASSIVE`` unless set: idle OpenMP threads sleep instead of spinning
  (takes effect for OpenMP runtimes not yet loaded, e.g. when torch is imported afterwards).

``cores`` is what this process may really use: the CPU affinity mask, capped by a cgroup CPU
quota (containers, Spaces). The operator sets the count with ``NVER_THREADS=<n>``; failing that,
an ``OMP_NUM_THREADS`` already in the environment is kept (``OMP_NUM_THREADS=1 python -m
nver_demo ...`` means one thread).
"""

from __future__ import annotations

import logging
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

#: Environment variable that overrides the computed threads per model run.
ENV = "NVER_THREADS"
_POOL_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
_WRITTEN = "NVER_THREADS_APPLIED"  # what this module last wrote into OMP_NUM_THREADS


@dataclass(frozen=True)
class ThreadPolicy:
    """What :func:`configure_threads` decided and applied."""

    threads: int  # threads per model run, in torch and every BLAS/OpenMP pool
    cores: int  # cores this process may use
    runs: int  # model runs expected at once
    source: str  # "NVER_THREADS", "OMP_NUM_THREADS" or "cores // runs"
    pools: tuple[str, ...]  # libraries limited now ("torch", "openblas", "openmp", ...)

    def describe(self) -> str:
        return (
            f"{self.threads} thread(s) per model run ({self.source}; {self.cores} core(s), "
            f"{self.runs} concurrent run(s)); pools: {', '.join(self.pools) or 'none loaded yet'}"
        )


def available_cores(cgroup_cpu_max: Path = _CGROUP_CPU_MAX) -> int:
    """Cores this process may use: the affinity mask, capped by a cgroup v2 CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:
        quota, period = cgroup_cpu_max.read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass  # no cgroup v2 quota visible: the affinity mask is all we know
    return max(1, cores)


def _override() -> tuple[int, str] | None:
    """(threads, variable) from ``NVER_THREADS``, else from an ``OMP_NUM_THREADS`` set before
    the first call (not one this module wrote)."""
    for var in (ENV, "OMP_NUM_THREADS"):
        raw = os.environ.get(var, "").strip()
        if not raw or (var != ENV and raw == os.environ.get(_WRITTEN)):
            continue
        try:
            n = int(raw)
        except ValueError:
            raise ValueError(f"{var}={raw!r}: expected a whole number of threads, e.g. {var}=1") from None
        if not 1 <= n <= 1024:
            raise ValueError(f"{var}={n}: expected between 1 and 1024 threads")
        return n, var
    return None


def configure_threads(runs: int = 1) -> ThreadPolicy:
    """Size every thread pool for ``runs`` model runs at once on the cores available.

    Call once at start-up (calling again re-applies). Returns the policy it applied.
    Raises ValueError for a malformed ``NVER_THREADS`` or ``OMP_NUM_THREADS``.
    """
    runs = max(1, int(runs))
    cores = available_cores()
    threads, source = _override() or (max(1, cores // runs), "cores // runs")
    for var in _POOL_VARS:  # libraries loaded from now on read these at load time
        os.environ[var] = str(threads)
    if source == "cores // runs":  # ours: a later call (or a child process) may recompute it
        os.environ[_WRITTEN] = str(threads)
    else:
        os.environ.pop(_WRITTEN, None)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    pools: list[str] = []
    if "torch" in sys.modules:  # already imported: its pool size is fixed unless set directly
        import torch

        torch.set_num_threads(threads)
        pools.append("torch")
    from threadpoolctl import threadpool_info, threadpool_limits

    threadpool_limits(limits=threads)  # applies now, to every pool loaded (no context needed)
    pools += sorted({p["internal_api"] for p in threadpool_info()})
    policy = ThreadPolicy(threads, cores, runs, source, tuple(dict.fromkeys(pools)))
    log.info("thread policy: %s", policy.describe())
    return policy
