"""What the app does, without Gradio: load the chosen models, run them on a clip (each
backbone once, however many models share it), place the clip on the embedding map, and let
models vote. Functions return named results of plain data; ``app.py`` turns them into
components, and :class:`~nver_demo.audio.AudioError` / :class:`~nver_demo.app.catalog.ModelUnavailable`
into ``gr.Error``.

Order of work in :func:`analyze` and :func:`compare`: read and validate the clip, resolve and
load the models (CPU), and only then call ``runner`` — the one step that uses the accelerator,
which the app wraps in ``spaces.GPU`` on ZeroGPU.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import backbones, projection
from ..audio import AudioError
from ..predict import Prediction, Predictor, embed_clip, get_backbone
from . import catalog, clips, speech_gate, trust_text, upload_cache, voice_enrolment
from .agreement import Agreement, agreement, check_selection
from .choices import resolve

log = logging.getLogger(__name__)

#: Most *different backbones* one comparison may run. Backbones are the cost of a comparison
#: (each runs once per clip however many selected models share it; a head takes milliseconds),
#: so the limit is on them, not on the number of models: every shipped model can be compared at
#: once while they share a few backbones, whatever number of checkpoints ships.
MAX_BACKBONES = 4


# --- models -----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def get_predictor(name: str) -> Predictor:
    """Cached accessor: a checkpoint's head is read once per process."""
    return Predictor.load(name)


def load_models(
    choices: list[str], infos: list[catalog.ModelInfo], max_backbones: int | None = None
) -> tuple[list[Predictor], dict[str, float]]:
    """Resolve model choices and load their heads and backbones (no clip is run here, so a
    ZeroGPU Space spends no GPU time on it). Raises :class:`catalog.ModelUnavailable`, also when
    the models need more than ``max_backbones`` different backbones (checked before any loads)."""
    timings: dict[str, float] = {}
    predictors = []
    for choice in dict.fromkeys(choices):
        name = resolve(choice, infos)
        t0 = time.perf_counter()
        try:
            p = get_predictor(name)
        except (OSError, ValueError, KeyError) as e:
            raise catalog.ModelUnavailable(f"Could not load model '{choice}': {e}") from e
        timings[f"load head {p.name}"] = time.perf_counter() - t0
        predictors.append(p)
    needed = list(dict.fromkeys(b for p in predictors for b in p.backbones))
    if max_backbones is not None and len(needed) > max_backbones:
        raise catalog.ModelUnavailable(
            f"These {len(predictors)} models need {len(needed)} different backbones ({', '.join(needed)}); "
            f"a comparison runs at most {max_backbones} to stay quick. Untick the models that use the "
            "backbones you care least about (models sharing backbones cost almost nothing extra)."
        )
    for b in needed:
        t0 = time.perf_counter()
        try:
            get_backbone(b)
        except backbones.WeightsUnavailable as e:
            raise catalog.ModelUnavailable(str(e).replace("\n", "  \n")) from e
        except ValueError as e:  # unknown backbone name in a checkpoint
            raise catalog.ModelUnavailable(
                f"This model needs backbone '{b}', which this app lacks: {e}"
            ) from e
        timings[f"load {b}"] = time.perf_counter() - t0
    return predictors, timings


@dataclass
class Run:
    """Predictions of several models on one clip, and the seconds each stage took."""

    predictions: dict[str, Prediction]  # model name -> prediction
    timings: dict[str, float]
    device: str


def run_models(predictors: list[Predictor], wave: np.ndarray, sr: int) -> Run:
    """Embed the clip with every backbone the models need — each once — then run each head.

    This is the only function that touches the accelerator (the app wraps it in
    ``spaces.GPU`` on ZeroGPU); inputs are validated before it.
    """
    names = [b for p in predictors for b in p.backbones]
    embs, timings = embed_clip(names, wave, sr)
    timings = {k: v for k, v in timings.items() if not k.startswith("load ")}  # loaded already
    preds = {}
    for p in predictors:
        pred = p.predict_embeddings(embs)
        timings[f"head {p.name}"] = pred.timings["head"]
        preds[p.name] = pred
    device = str(get_backbone(names[0]).device) if names else "cpu"
    return Run(preds, timings, device)


# --- embedding map ----------------------------------------------------------------------------


@dataclass
class MapData:
    """Plain data for the embedding map plot."""

    method: str
    view: str
    ref_xy: np.ndarray  # (n, 2)
    ref_labels: list[str]
    ref_clips: list[str]
    point_xy: np.ndarray  # (2,)
    point_label: str  # the model's prediction for the clip
    neighbours: list[str]  # labels of the clip's nearest reference clips
    note: str


def views(predictor: Predictor) -> list[str]:
    """Maps a model offers: ``fused`` (the head's own features) first, then each backbone."""
    refs = predictor.checkpoint.references
    if refs is None:
        return []
    return sorted(refs.views, key=lambda v: (v != "fused", v))


def view_choices(backbone_names: list[str] | tuple[str, ...], pad_to: int = 0) -> list[tuple[str, str]]:
    """(label, key) pairs for the map picker. Keys are stable whatever the model —
    ``fused``, ``backbone1``, ``backbone2`` — so an API call never names a missing choice;
    ``pad_to`` adds keys up to that many backbones (a model without one falls back to fused)."""
    out = [("fused (the head's own features)", "fused")]
    out += [(f"{b} embedding", f"backbone{i}") for i, b in enumerate(backbone_names, start=1)]
    return out + [
        (f"backbone {i} (pairs only)", f"backbone{i}") for i in range(len(backbone_names) + 1, pad_to + 1)
    ]


def view_name(predictor: Predictor, key: str) -> str:
    """A picker key -> the reference view it means for this model (``backbone2`` -> ``compare``)."""
    if key.startswith("backbone") and key[8:].isdigit():
        i = int(key[8:]) - 1
        return predictor.backbones[i] if 0 <= i < len(predictor.backbones) else key
    return key


def embedding_map(
    predictor: Predictor, pred: Prediction, method: str = "pca", view: str = "fused"
) -> MapData:
    """Place the clip among the checkpoint's reference clips. Raises ValueError for a model
    without references or an unknown method/view."""
    refs = predictor.checkpoint.references
    if refs is None:
        raise ValueError(f"Model {predictor.name} ships no reference clips for a map")
    method = method.lower()
    if view not in refs.views:
        raise ValueError(f"Unknown map view {view!r}; valid: {', '.join(views(predictor))}")
    point = pred.views[view] if view in pred.views else pred.embeddings[view]
    coords = refs.coords.get(f"umap.{view}")
    note = ""
    if method == "umap" and coords is None:
        method, note = "pca", "No UMAP layout stored for this view; showing PCA. "
    ref_mat, point = refs.views[view], np.asarray(point, dtype=np.float64)
    finite = np.isfinite(ref_mat).all(0) & np.isfinite(point)
    if not finite.all():  # e.g. ComParE values beyond float16's range in stored references
        bad = int((~finite).sum())
        note += f"{bad} of {len(finite)} dimensions are not finite in the stored reference clips; left out. "
        ref_mat, point = ref_mat[:, finite], point[finite]
    m = projection.project(method, ref_mat, point[None], coords)
    labels = [predictor.labels[i] for i in refs.labels]
    names = refs.clips if len(refs.clips) == len(labels) else [""] * len(labels)
    return MapData(
        method=m.method,
        view=view,
        ref_xy=m.refs,
        ref_labels=labels,
        ref_clips=names,
        point_xy=m.points[0],
        point_label=pred.label,
        neighbours=[labels[i] for i in m.neighbours[0]],
        note=note + m.note,
    )


def neighbour_summary(neighbours: list[str], top: int = 3) -> str:
    """``"4× Amusement, 2× Elation, 1× Awe, 1× each of 3 other labels"``: the ``top`` commonest
    labels and the rest in one count, so the counts always add up to ``len(neighbours)``."""
    counts: dict[str, int] = {}
    for lab in neighbours:
        counts[lab] = counts.get(lab, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    parts = [f"{n}× {lab}" for lab, n in ranked[:top]]
    rest = ranked[top:]
    if len(rest) == 1:
        parts.append(f"{rest[0][1]}× {rest[0][0]}")
    elif rest and all(n == 1 for _, n in rest):
        parts.append(f"1× each of {len(rest)} other labels")
    elif rest:
        parts.append(f"{sum(n for _, n in rest)}× among {len(rest)} other labels")
    return ", ".join(parts)


# --- the two things the app does ---------------------------------------------------------------

Runner = Callable[[list[Predictor], np.ndarray, int], Run]


@dataclass
class Analysis:
    """One clip through one model, with its map and what it took."""

    name: str
    source: str  # the checkpoint folder it was loaded from (for re-mapping without a re-run)
    info: catalog.ModelInfo | None
    clip: clips.Clip
    pred: Prediction
    run: Run
    timings: dict[str, float]
    map: MapData | None
    map_note: str  # why there is no map, when there is none
    views: list[str]
    #: How the answer used the visitor's earlier clips (speaker enrolment), in a sentence, or "".
    enrolment_note: str = ""


def find_info(predictor: Predictor, infos: list[catalog.ModelInfo]) -> catalog.ModelInfo | None:
    for m in infos:
        if m.name == predictor.name:
            return m
    for m in infos:
        if m.head == predictor.meta.get("head") and list(m.backbones) == predictor.backbones:
            return m
    return None


def check_speech(clip: clips.Clip, timings: dict[str, float]) -> speech_gate.GateResult | None:
    """Run the speech gate on the clip; a speech verdict adds its warning to the clip's warnings.
    Never fails the analysis: without the gate's model the clip is simply not checked."""
    t0 = time.perf_counter()
    try:
        result = speech_gate.get_gate().classify([clip.wave], clip.sr)[0]
    except (backbones.WeightsUnavailable, ImportError, RuntimeError) as e:
        log.warning("speech gate unavailable: %s: %s", type(e).__name__, e)
        return None
    timings["speech gate"] = time.perf_counter() - t0
    if result.warning:
        clip.warnings.append(result.warning)
    return result


def _stage(timings: dict[str, float], loads: dict[str, float]) -> None:
    """Keep load times that were real work (first use), not cache hits."""
    timings.update({k: v for k, v in loads.items() if v > 0.005})


def analyze(
    path: str | Path | None,
    choice: str,
    infos: list[catalog.ModelInfo],
    method: str = "pca",
    view: str = "fused",
    runner: Runner = run_models,
    enrol: list[dict] | None = None,
) -> Analysis:
    """Read and check the clip, load the model, run it, map it. Raises AudioError/ModelUnavailable
    before ``runner`` is called when the clip or the model cannot be used.

    ``enrol``: embeddings (``{backbone: vector}``) of the same visitor's *other* clips; from the
    model's break-even on, the speaker-enrolled head answers (:mod:`.voice_enrolment`)."""
    t0 = time.perf_counter()
    with upload_cache.admit(path):  # room in the upload cache, or a polite refusal; held while read
        clip = clips.read_clip(path)
    timings = {"decode + check": time.perf_counter() - t0}
    clips.check_length(clip)
    check_speech(clip, timings)
    [predictor], loads = load_models([choice], infos)
    _stage(timings, loads)
    run = runner([predictor], clip.wave, clip.sr)
    timings.update(run.timings)
    timings["voice check"] = trust_text.check_clip(
        clip.wave, clip.sr, clip.warnings, run.predictions, [predictor]
    )
    pred = run.predictions[predictor.name]
    # enrol=None: the visitor did not ask to be tuned to (no sentence); [] asked, nothing kept yet.
    pred, enrol_note = (pred, "") if enrol is None else voice_enrolment.enrolled(predictor, pred, enrol)
    t0 = time.perf_counter()
    map_data, note = remap(predictor, pred, method, view)
    timings["map"] = time.perf_counter() - t0
    info = find_info(predictor, infos)
    source = str(predictor.checkpoint.path)
    return Analysis(predictor.name, source, info, clip, pred, run, timings, map_data, note, views(predictor),
                    enrol_note)  # fmt: skip


def remap(predictor: Predictor, pred: Prediction, method: str, view: str) -> tuple[MapData | None, str]:
    """The map for another method or view of the same prediction (no model run)."""
    available = views(predictor)
    if not available:
        return None, "This model ships no reference clips, so there is no embedding map."
    note = ""
    view = view_name(predictor, view)
    if view not in available:
        note = f"This model has no '{view}' map; showing '{available[0]}'. "
        view = available[0]
    data = embedding_map(predictor, pred, method, view)
    data.note = note + data.note
    return data, ""


@dataclass
class Comparison:
    """One clip through several models."""

    clip: clips.Clip
    predictions: dict[str, Prediction]
    infos: dict[str, catalog.ModelInfo]  # model name -> catalogue entry (when known)
    agreement: Agreement
    run: Run
    timings: dict[str, float]


def compare(
    path: str | Path | None,
    choices: list[str] | str | None,
    infos: list[catalog.ModelInfo],
    runner: Runner = run_models,
) -> Comparison:
    """The same clip through every selected model; each backbone runs once."""
    t0 = time.perf_counter()
    with upload_cache.admit(path):  # room in the upload cache, or a polite refusal; held while read
        clip = clips.read_clip(path)
    timings = {"decode + check": time.perf_counter() - t0}
    clips.check_length(clip)
    check_speech(clip, timings)
    predictors, loads = load_models(check_selection(choices), infos, max_backbones=MAX_BACKBONES)
    _stage(timings, loads)
    run = runner(predictors, clip.wave, clip.sr)
    timings.update(run.timings)
    timings["voice check"] = trust_text.check_clip(
        clip.wave, clip.sr, clip.warnings, run.predictions, predictors
    )
    found = {p.name: find_info(p, infos) for p in predictors}
    known = {k: v for k, v in found.items() if v is not None}
    return Comparison(clip, run.predictions, known, agreement(run.predictions), run, timings)


def warm_up(choice: str | list[str] | None, infos: list[catalog.ModelInfo]) -> float:
    """Load models (one choice, or a list: the app passes the Compare tab's default selection)
    and run them once on a synthetic second of sound, so the first visitor does not wait for
    weights and JIT caches (GE2E's first call spends seconds in numba). Returns the seconds it
    took; failures are logged, never raised (the app serves regardless)."""
    t0 = time.perf_counter()
    choices = [choice] if isinstance(choice, str) else list(choice or [])
    try:
        predictors, _ = load_models(choices, infos)
        sr = 16000
        t = np.arange(sr) / sr
        wave = (0.1 * np.sin(2 * np.pi * 220 * t) * np.hanning(sr)).astype(np.float32)
        run = run_models(predictors, wave, sr)
        for p in predictors:  # the first map imports scikit-learn
            remap(p, run.predictions[p.name], "pca", "fused")
        speech_gate.get_gate()  # Whisper-base for the speech gate: ~2 s to load
    except Exception as e:  # a warm-up must never take the server down
        log.warning("warm-up of %s failed: %s: %s", choice, type(e).__name__, e)
    else:
        log.info("warm-up of %s done in %.1f s", choice, time.perf_counter() - t0)
    return time.perf_counter() - t0


def enrolment_embeddings(paths: list, choice: str, infos: list[catalog.ModelInfo]) -> list[dict]:
    """The embeddings of an API call's enrolment files for the model ``choice``, each read through
    the same input gate as the clip itself; nothing is kept."""
    paths = [getattr(p, "name", p) for p in paths or []]
    if len(paths) > voice_enrolment.MAX_FILES:
        raise AudioError(
            f"At most {voice_enrolment.MAX_FILES} enrolment clips per request (got {len(paths)})."
        )
    [predictor], _ = load_models([choice], infos)
    out = []
    for p in paths:
        clip = clips.read_clip(p)
        out.append(embed_clip(predictor.backbones, clip.wave, clip.sr)[0])
    return out
