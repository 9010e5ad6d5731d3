"""Who runs a model next (nver_demo.app.scheduler): the model-run gate serves short requests
before long batches, never lets long batches take every slot, and never starves them; long jobs
have their own concurrency group and a bounded queue, as docs/app.md says. No timing assertions:
threads are driven step by step and the tests wait (bounded) for the gate's own counters."""

from __future__ import annotations

import re
import threading
import time
from types import SimpleNamespace

import pytest
import soundfile as sf

from nver_demo.app import catalog, scheduler, timeline
from nver_demo.app.scheduler import LONG, SHORT, RunGate
from nver_demo.predict import Predictor
from tests import app_server
from tests.app_server import ROOT
from tests.test_bursts import SR, _recording

app_checkpoints = app_server.app_checkpoints


class Worker:
    """A thread that takes a slot of ``kind``, records when it got it, and holds it until released."""

    def __init__(self, gate: RunGate, kind: str, name: str, started: list[str]) -> None:
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(gate, kind, name, started), daemon=True)
        self.thread.start()

    def _run(self, gate, kind, name, started) -> None:
        with gate.slot(kind):
            started.append(name)
            self.release.wait(60)

    def done(self) -> None:
        self.release.set()
        self.thread.join(60)
        assert not self.thread.is_alive()


def until(condition, what: str) -> None:
    """Wait (bounded, 60 s) for a condition on the gate's counters; no timing is asserted."""
    end = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < end, f"never happened: {what}"
        time.sleep(0.005)


def test_a_waiting_short_request_gets_the_next_slot_before_a_waiting_long_batch():
    gate, started = RunGate(slots=2), []
    long_a = Worker(gate, LONG, "long A", started)
    short_1 = Worker(gate, SHORT, "short 1", started)
    until(lambda: len(started) == 2, "both slots taken")
    long_b = Worker(gate, LONG, "long B", started)  # arrives first...
    until(lambda: gate.snapshot()["long waiting"] == 1, "long B waits")
    short_2 = Worker(gate, SHORT, "short 2", started)  # ...but the short request arrives later
    until(lambda: gate.snapshot()["short waiting"] == 1, "short 2 waits")
    long_a.done()  # a long slot frees: the short request takes it, not the next batch
    until(lambda: len(started) == 3, "someone got the freed slot")
    assert started[2] == "short 2" and gate.snapshot()["long waiting"] == 1
    short_1.done()
    until(lambda: len(started) == 4, "long B runs once no short request waits")
    assert started[3] == "long B"
    short_2.done(), long_b.done()
    assert gate.snapshot() == {"short running": 0, "long running": 0, "short waiting": 0, "long waiting": 0}


def test_long_batches_always_leave_a_slot_for_short_requests():
    gate, started = RunGate(slots=2), []
    long_a = Worker(gate, LONG, "long A", started)
    until(lambda: started == ["long A"], "long A runs")
    long_b = Worker(gate, LONG, "long B", started)
    until(lambda: gate.snapshot()["long waiting"] == 1, "long B waits")
    assert gate.snapshot()["long running"] == 1  # a slot is free, yet long B may not take it
    short = Worker(gate, SHORT, "short", started)
    until(lambda: "short" in started, "the short request runs at once beside long A")
    short.done(), long_a.done()
    until(lambda: started[-1] == "long B", "long B runs after long A")
    long_b.done()


def test_a_steady_stream_of_short_requests_slows_a_long_job_but_never_stops_it():
    gate, started = RunGate(slots=1, long_slots=1, patience=2), []
    running = Worker(gate, SHORT, "short 0", started)
    until(lambda: started == ["short 0"], "short 0 runs")
    long_job = Worker(gate, LONG, "long", started)
    until(lambda: gate.snapshot()["long waiting"] == 1, "the long batch waits")
    for i in (1, 2, 3):  # a short request is always waiting when the slot frees
        nxt = Worker(gate, SHORT, f"short {i}", started)
        until(lambda: gate.snapshot()["short waiting"] == 1, f"short {i} waits")
        running.done()
        until(lambda i=i: len(started) == i + 1, "the freed slot is taken")
        running = nxt if started[-1] == f"short {i}" else long_job
    # shorts 1 and 2 went ahead of the waiting batch (patience 2); then the batch, before short 3
    assert started == ["short 0", "short 1", "short 2", "long"]
    long_job.done()
    until(lambda: started[-1] == "short 3", "short 3 runs after the batch")
    nxt.done()


def test_the_gate_refuses_nonsense():
    with pytest.raises(ValueError, match="slots must be at least 1"):
        RunGate(slots=0)
    with pytest.raises(ValueError, match="long_slots must be between 1 and slots=2"):
        RunGate(slots=2, long_slots=3)
    with pytest.raises(ValueError, match="kind must be 'short' or 'long'"), RunGate().slot("medium"):
        pass


def test_how_many_long_jobs_run_at_once(monkeypatch):
    monkeypatch.delenv(scheduler.ENV, raising=False)
    assert scheduler.long_jobs(gpu=False) == scheduler.LONG_JOBS_CPU == 1
    assert scheduler.long_jobs(gpu=True) == scheduler.LONG_JOBS_GPU == 2
    monkeypatch.setenv(scheduler.ENV, "3")
    assert scheduler.long_jobs(gpu=False) == 3
    monkeypatch.setenv(scheduler.ENV, "zero")
    with pytest.raises(ValueError, match=r"\$NVER_LONG_JOBS must be a whole number"):
        scheduler.long_jobs()


def _blocks_with(waiting: int) -> SimpleNamespace:
    """An object shaped like a launched Blocks whose "long" group has ``waiting`` events queued."""
    group = SimpleNamespace(queue=list(range(waiting)), concurrency_limit=1)
    return SimpleNamespace(
        _queue=SimpleNamespace(event_queue_per_concurrency_id={scheduler.LONG_GROUP: group})
    )


def test_the_long_queue_refuses_a_job_once_full_with_a_sentence():
    blocks = _blocks_with(3)
    validate = scheduler.long_queue_validator(lambda: blocks, jobs=1, limit=4)
    assert [v["is_valid"] for v in validate("party.mp3", "model", True)] == [True, True, True]
    assert validate("party.mp3")["is_valid"] is True  # one input: the verdict itself (Gradio's rule)
    blocks.__dict__.update(_blocks_with(4).__dict__)
    refused, *others = validate("party.mp3", "model", True)  # one verdict per input, as Gradio wants
    assert refused["is_valid"] is False and [v["is_valid"] for v in others] == [True, True]
    assert refused["message"].startswith(
        "4 long recordings are already waiting for the Timeline, which runs 1 at"
    )
    assert "Analyze and Compare are not held up" in refused["message"]


def test_timeline_batches_take_the_gate_as_long_jobs(tmp_path, tiny_checkpoint):
    x, _ = _recording(-60, seed=5)
    path = tmp_path / "party.wav"
    sf.write(path, x, SR, subtype="PCM_16")
    gate, started, said, out = RunGate(slots=1, long_slots=1), [], [], {}
    short = Worker(gate, SHORT, "short", started)  # holds the only slot
    until(lambda: started == ["short"], "the short request runs")
    predictor = Predictor.load(tiny_checkpoint)

    def run() -> None:
        out["tl"] = timeline.run(path, predictor, gate=False, slots=gate, batch_size=3,
                                 progress=lambda f, what: said.append(what))  # fmt: skip

    t = threading.Thread(target=run, daemon=True)
    t.start()
    until(lambda: gate.snapshot()["long waiting"] == 1, "the first batch waits for the slot")
    assert "rows" not in out and said[-1] == timeline.WAITING  # the visitor is told why it waits
    short.done()
    t.join(120)
    tl = out["tl"]
    assert len(tl.rows) > 3 and timeline.WAIT in tl.timings  # several batches, each through the gate
    assert gate.snapshot()["long running"] == 0


def test_the_app_gives_long_jobs_their_own_group_and_bounded_queue(app_checkpoints):
    """The events as built, against the numbers docs/app.md gives."""
    import app

    demo = app.build_demo(catalog.models(app_checkpoints, hub=False, local=False))
    fns = [f for f in demo.fns.values() if f.concurrency_id in (scheduler.SHORT_GROUP, scheduler.LONG_GROUP)]
    by_group = {}
    for f in fns:
        by_group.setdefault(f.concurrency_id, set()).add(
            (f.fn.__qualname__.split(".")[0], f.concurrency_limit)
        )
    assert by_group[scheduler.LONG_GROUP] == {("TimelineTab", scheduler.long_jobs())}
    # The Live tab's closing analysis of the whole recording is an Analyze run; its per-chunk
    # stream has a group of its own (tests/test_live.py), so it never holds a model slot.
    assert {cls for cls, _ in by_group[scheduler.SHORT_GROUP]} == {"Analyze", "Compare", "LiveTab"}
    assert {lim for _, lim in by_group[scheduler.SHORT_GROUP]} == {app.MODEL_RUNS}
    long_fns = [f for f in fns if f.concurrency_id == scheduler.LONG_GROUP]
    assert len(long_fns) == 2 and all(f.validator is not None for f in long_fns)  # API and page
    assert scheduler.waiting(demo, scheduler.LONG_GROUP) == 0  # Gradio's queue is readable as assumed
    assert demo._queue.max_size == app.QUEUE_SIZE > scheduler.LONG_QUEUE
    docs = (ROOT / "docs" / "app.md").read_text(encoding="utf-8")
    docs = " ".join(docs.split())  # one line: the sentence is wrapped
    said = re.search(r'`concurrency_id="long"`, one at a time on a CPU Space, two with a GPU[^.]*?'
                     r"at most (\d+) waiting", docs)  # fmt: skip
    assert said and int(said.group(1)) == scheduler.LONG_QUEUE
    assert (scheduler.LONG_JOBS_CPU, scheduler.LONG_JOBS_GPU) == (1, 2)  # the words above
    assert f"`concurrency_limit={app.MODEL_RUNS}`" in docs and f"holds at most {app.QUEUE_SIZE}" in docs


def test_a_refused_long_job_reaches_an_api_caller_as_the_sentence(app_checkpoints):
    """Through Gradio for real: the validator runs before queueing, and gradio_client raises
    its ValidationError with the sentence (a long queue of size 0 refuses every job)."""
    import gradio as gr
    from gradio_client import Client
    from gradio_client.exceptions import ValidationError

    from nver_demo.app.tabs import common

    ctx = common.Context(catalog.models(app_checkpoints, hub=False, local=False), long_queue=0)
    ran = []
    with gr.Blocks() as demo:
        ctx.blocks = demo
        ins, out = [gr.Textbox(), gr.Textbox(), gr.Checkbox()], gr.Textbox()  # shaped like /timeline's
        one = gr.Textbox()
        gr.Button().click(lambda *x: ran.append(x) or "ran", ins, out, api_name="job", **ctx.long_event())
        gr.Button().click(lambda x: ran.append(x) or "ran", one, out, api_name="one", **ctx.long_event())
    app_server.launch(demo.queue(max_size=5))
    try:
        client = Client(demo.local_url, verbose=False, download_files=False)
        for args, api in ((("party.mp3", "model", True), "/job"), (("party.mp3",), "/one")):
            with pytest.raises(
                ValidationError, match="0 long recordings are already waiting for the Timeline"
            ):
                client.predict(*args, api_name=api)
        assert ran == []  # refused before it ran
    finally:
        demo.close()
