"""Who runs a model next: short requests first, long jobs between their batches.

Two layers keep a 2-second Analyze short while a 30-minute Timeline runs:

- **Gradio's queue**, per concurrency group (``app.py``, :mod:`~nver_demo.app.tabs.common`):
  Analyze and Compare share the ``"models"`` group (:data:`MODEL_RUNS` at once); long jobs
  (Timeline, and any future batch work) have their own ``"long"`` group (:func:`long_jobs` at
  once) with a bounded queue of their own (:data:`LONG_QUEUE` waiting, :func:`long_queue_validator`),
  so they never hold a slot, or a place in the queue, that a short request needs.
- **The model-run gate** (:class:`RunGate`), one per app: every model run, short or long, takes a
  slot of it; at most :data:`MODEL_RUNS` run at once in the process (what the thread policy,
  ``cores // MODEL_RUNS`` threads per run, assumes). A long job takes a slot per batch of bursts
  and gives it back after each batch; a waiting short request always gets the next free slot
  before a waiting batch, and long batches together never hold more than ``slots - 1`` slots
  (one is always left for short requests).

On ZeroGPU a Timeline runs inside one ``spaces.GPU`` worker process, which cannot share a lock
with this one: there its batches do not take the gate (ZeroGPU schedules GPU calls itself) and the
``"long"`` group alone bounds long jobs.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Model runs at once in the process (Analyze/Compare slots; the gate's size): two, so one slow
#: first download of Hub weights does not block every other visitor; more would only split two
#: CPU cores further.
MODEL_RUNS = 2
#: Long jobs (Timeline) running at once: one on a CPU Space (cpu-basic has 2 vCPUs; a second
#: would only halve the first's share, and short requests are owed the other core), two with a
#: GPU (the GPU runs a batch in a fraction of a second, so the CPU-bound decoding and burst
#: detection of a second recording overlaps the first's model batches). ``$NVER_LONG_JOBS`` overrides.
LONG_JOBS_CPU, LONG_JOBS_GPU = 1, 2
#: Long jobs that may wait in the ``"long"`` group's queue; the next one is refused with a sentence.
#: Small against the global queue (``app.py``: 20), so long jobs never fill it for short requests.
LONG_QUEUE = 4
#: Gradio concurrency ids of the two kinds of work.
SHORT_GROUP, LONG_GROUP = "models", "long"
ENV = "NVER_LONG_JOBS"

SHORT, LONG = "short", "long"


class RunGate:
    """A counting semaphore of model-run slots that serves short requests before long batches.

    ``slots`` runs at once; long batches hold at most ``long_slots`` of them (default
    ``slots - 1``, at least 1). Waiters of one kind are served in arrival order; a long batch
    starts only when no short request is waiting, unless short requests have already gone ahead
    of it ``patience`` times (so a steady stream of short requests slows a long job down but
    never stops it). Thread-safe; no timing involved."""

    def __init__(self, slots: int = MODEL_RUNS, long_slots: int | None = None, patience: int = 8) -> None:
        if slots < 1:
            raise ValueError(f"slots must be at least 1, got {slots}")
        self.slots = slots
        self.long_slots = max(1, slots - 1) if long_slots is None else long_slots
        if not 1 <= self.long_slots <= slots:
            raise ValueError(f"long_slots must be between 1 and slots={slots}, got {long_slots}")
        self._cond = threading.Condition()
        self._tickets = itertools.count()
        self._waiting: dict[str, list[int]] = {SHORT: [], LONG: []}
        self._running = {SHORT: 0, LONG: 0}
        self.patience = patience
        self._passed = 0  # short runs started while a long batch waited, since the last long start

    def snapshot(self) -> dict[str, int]:
        """Runs and waiters of each kind now (for logs, tests and the bench)."""
        with self._cond:
            return {
                "short running": self._running[SHORT], "long running": self._running[LONG],
                "short waiting": len(self._waiting[SHORT]), "long waiting": len(self._waiting[LONG]),
            }  # fmt: skip

    def _may_start(self, kind: str, ticket: int) -> bool:
        if sum(self._running.values()) >= self.slots or self._waiting[kind][0] != ticket:
            return False
        long_may_run = self._running[LONG] < self.long_slots
        overdue = bool(self._waiting[LONG]) and self._passed >= self.patience and long_may_run
        if kind == SHORT:
            return not overdue
        return long_may_run and (overdue or not self._waiting[SHORT])

    @contextlib.contextmanager
    def slot(
        self, kind: str = SHORT, on_wait: Callable[[dict[str, int]], None] | None = None
    ) -> Iterator[None]:
        """Hold one slot for the ``with`` body. ``on_wait(snapshot)`` is called once, before
        blocking, when the slot is not free at once (to tell the visitor why nothing moves)."""
        if kind not in self._waiting:
            raise ValueError(f"kind must be {SHORT!r} or {LONG!r}, got {kind!r}")
        with self._cond:
            ticket = next(self._tickets)
            self._waiting[kind].append(ticket)
            try:
                if not self._may_start(kind, ticket) and on_wait is not None:
                    on_wait(self.snapshot())
                self._cond.wait_for(lambda: self._may_start(kind, ticket))
            finally:
                self._waiting[kind].remove(ticket)
                self._cond.notify_all()  # the next waiter of either kind may now be first in line
            self._running[kind] += 1
            if kind == LONG:
                self._passed = 0
            elif self._waiting[LONG]:
                self._passed += 1
        try:
            yield
        finally:
            with self._cond:
                self._running[kind] -= 1
                self._cond.notify_all()

    def wrap(self, fn: Callable[..., T], kind: str = SHORT) -> Callable[..., T]:
        """``fn`` run inside a slot of ``kind`` (the app wraps Analyze/Compare's model runner)."""

        def gated(*args: Any, **kwargs: Any) -> T:
            with self.slot(kind):
                return fn(*args, **kwargs)

        gated.__wrapped__ = fn  # type: ignore[attr-defined]
        return gated


def long_jobs(gpu: bool | None = None) -> int:
    """Long jobs at once: ``$NVER_LONG_JOBS`` if set, else :data:`LONG_JOBS_GPU` with a GPU
    (CUDA, or ZeroGPU) and :data:`LONG_JOBS_CPU` without. ``gpu=None`` looks for one (imports torch)."""
    value = os.environ.get(ENV, "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"${ENV} must be a whole number of at least 1, got {value!r}")
        return int(value)
    if gpu is None:
        from .. import spaces_compat

        gpu = spaces_compat.on_zero_gpu()
        if not gpu:
            import torch

            gpu = torch.cuda.is_available()
    return LONG_JOBS_GPU if gpu else LONG_JOBS_CPU


def waiting(blocks: Any, concurrency_id: str) -> int:
    """Events waiting (not yet running) in one concurrency group of a launched app's queue.

    Reads Gradio's queue (``Blocks._queue``, pinned Gradio 6.31): Gradio bounds only the whole
    queue (``max_size``), not one group's share of it."""
    queue = getattr(blocks, "_queue", None)
    groups = getattr(queue, "event_queue_per_concurrency_id", None)
    if groups is None:
        raise RuntimeError("this Gradio has no per-group queue to count (Blocks._queue changed?)")
    group = groups.get(concurrency_id)
    return len(group.queue) if group is not None else 0


def long_queue_validator(
    blocks_of: Callable[[], Any], jobs: int, limit: int = LONG_QUEUE
) -> Callable[..., list[dict] | dict]:
    """An event ``validator=`` for long jobs: refuses a new one with a sentence while ``limit``
    are already waiting in the ``"long"`` group (Gradio runs it before queueing the event: a
    refused job never takes a place in the queue). ``blocks_of()`` returns the app's Blocks;
    ``jobs`` is how many long jobs run at once (said in the sentence)."""
    import gradio as gr

    def validate(*inputs: Any) -> list[dict] | dict:
        # One verdict per input (Gradio's rule; one input: the verdict itself, not a list); a
        # refusal is shown on the first input (the recording).
        n = waiting(blocks_of(), LONG_GROUP)
        verdicts = [gr.validate(True, "") for _ in inputs]
        if n >= limit and verdicts:
            verdicts[0] = gr.validate(
                False,
                f"{n} long recordings are already waiting for the Timeline, which runs {jobs} at a "
                "time here. Try again in a few minutes; Analyze and Compare are not held up by them.",
            )
        return verdicts[0] if len(verdicts) == 1 else verdicts

    return validate
